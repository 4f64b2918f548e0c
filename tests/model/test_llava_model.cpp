// The native LLaVA model through the mike::Model interface: describe(),
// batched scoring, cached vs. uncached generation, parameters with bitwise
// snapshot/restore, taps, checkpoints, learning, and clear errors.
#include "llava_fixture.h"
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <filesystem>

#include "mike/error.h"
#include "mike/safetensors.h"

using namespace mike;
using mike::test::make_tiny_model;
using mike::test::test_image;
using mike::test::tiny_model_yaml;

namespace {

std::vector<ScoreRequest> sample_requests() {
  std::vector<ScoreRequest> batch(4);
  batch[0].input = {"<image>\nWhat is the name of this bird?", test_image(0)};
  batch[0].target = "Zorvel";
  batch[1].input = {"What is the name of this building?", torch::Tensor()};
  batch[1].target = "It is Quintara.";
  batch[2].input = {"Describe the image:", test_image(1, 16)};  // no marker: image goes first
  batch[2].target = "a dog called Morrow";
  batch[3].input = {"A photo <image> of a tree called", test_image(2, 24)};
  batch[3].target = "Praxiel";
  for (auto& r : batch) r.top_k = 3;
  return batch;
}

// Captures the activation at `tap` during the calls made while it lives.
struct Recorder {
  std::vector<torch::Tensor> seen;
  TapHandle handle;
  Recorder(Model& model, const std::string& tap) {
    handle = model.add_tap(tap, [this](const std::string&, const torch::Tensor& x) {
      seen.push_back(x.detach().clone());
      return x;
    });
  }
};

}  // namespace

TEST_CASE("describe() reports the dimensions and the exact parameter count") {
  auto model = make_tiny_model();
  const std::string text = model->describe();
  std::int64_t total = 0;
  for (const std::string& name : model->parameter_names()) total += model->parameter(name).numel();
  CHECK(text.find("parameters: " + std::to_string(total) + " ") != std::string::npos);
  CHECK(text.find("image 16x16, patch 8 (4 patches), hidden 32, 2 layers (1 used, feature_layer -2)") != std::string::npos);
  CHECK(text.find("hidden 48, 2 layers, 4 heads (2 kv heads), head_dim 12, SwiGLU 96") != std::string::npos);
  CHECK(text.find("vocab 320, untied lm_head") != std::string::npos);
  // GQA: k/v projections are half the width of q.
  CHECK(model->parameter("lm.layers.0.q_proj.weight").sizes().vec() == std::vector<int64_t>{48, 48});
  CHECK(model->parameter("lm.layers.0.k_proj.weight").sizes().vec() == std::vector<int64_t>{24, 48});
  CHECK(model->parameter("lm.lm_head.weight").sizes().vec() == std::vector<int64_t>{320, 48});
  CHECK(model->parameter("projector.linear_1.weight").sizes().vec() == std::vector<int64_t>{48, 32});
}

TEST_CASE("batched scoring with padding equals scoring one request at a time") {
  auto model = make_tiny_model();
  const auto batch = sample_requests();
  const auto together = model->score(batch);
  REQUIRE(together.size() == batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto alone = model->score({batch[i]});
    CAPTURE(i);
    CHECK(alone[0].loss == doctest::Approx(together[i].loss).epsilon(1e-5));
    CHECK(alone[0].target_tokens == together[i].target_tokens);
    CHECK(alone[0].predicted_tokens == together[i].predicted_tokens);
    CHECK(together[i].topk_tokens.size() == together[i].target_tokens.size());
    CHECK(together[i].topk_tokens[0].size() == 3);
    CHECK(together[i].topk_tokens[0][0] == together[i].predicted_tokens[0]);
    // An untrained model over 320 tokens: loss near ln(320) = 5.77.
    CHECK(together[i].loss > 4.5);
    CHECK(together[i].loss < 7.0);
  }
  // eos adds exactly one scored token.
  auto with_eos = batch[0];
  with_eos.end_with_eos = true;
  const auto eos = model->score({with_eos});
  CHECK(eos[0].target_tokens.size() == together[0].target_tokens.size() + 1);
  CHECK(eos[0].target_tokens.back() == 2);
  // loss() is the token-weighted mean of the same NLLs.
  double nll = 0, tokens = 0;
  for (const auto& r : together) {
    nll += r.loss * r.target_tokens.size();
    tokens += r.target_tokens.size();
  }
  CHECK(model->loss(batch).item<double>() == doctest::Approx(nll / tokens).epsilon(1e-5));
}

TEST_CASE("position_top_k reports the top tokens at every position of each row, padding left out") {
  auto model = make_tiny_model();
  auto batch = sample_requests();  // rows of different lengths: the shorter ones are padded
  for (auto& r : batch) r.position_top_k = 10;
  const auto scored = model->score(batch);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    CAPTURE(i);
    const ScoreResult& r = scored[i];
    REQUIRE(r.position_topk_tokens.size() == static_cast<std::size_t>(r.layout.length));
    for (const auto& ids : r.position_topk_tokens) CHECK(ids.size() == 10);
    // Position target_begin - 1 + t predicts target token t: its best token is the argmax there.
    for (std::size_t t = 0; t < r.predicted_tokens.size(); ++t)
      CHECK(r.position_topk_tokens[static_cast<std::size_t>(r.layout.target_begin) - 1 + t][0] ==
            r.predicted_tokens[t]);
    // The same row scored alone (no padding) has the same top tokens.
    const auto alone = model->score({batch[i]});
    CHECK(alone[0].position_topk_tokens.size() == r.position_topk_tokens.size());
    CHECK(alone[0].position_topk_tokens.front()[0] == r.position_topk_tokens.front()[0]);
  }
  CHECK(model->score({sample_requests()[0]})[0].position_topk_tokens.empty());  // off by default
}

TEST_CASE("KV-cached and uncached greedy decoding produce the same tokens") {
  auto model = make_tiny_model();
  std::vector<ModelInput> inputs;
  for (const auto& r : sample_requests()) inputs.push_back(r.input);
  GenerateOptions cached;
  cached.max_new_tokens = 12;
  GenerateOptions uncached = cached;
  uncached.use_kv_cache = false;
  const auto a = model->generate(inputs, cached);
  const auto b = model->generate(inputs, uncached);
  REQUIRE(a.size() == inputs.size());
  CHECK(a == b);
  std::size_t chars = 0;
  for (const auto& s : a) chars += s.size();
  CHECK(chars > 0);  // an untrained model rarely says EOS first; the comparison is not vacuous
  // Sampling is reproducible from its seed.
  GenerateOptions sample = cached;
  sample.greedy = false;
  sample.seed = 7;
  CHECK(model->generate(inputs, sample) == model->generate(inputs, sample));
}

TEST_CASE("snapshot/restore brings outputs back bitwise") {
  auto model = make_tiny_model();
  const auto batch = sample_requests();
  Recorder rec(*model, "lm.layers.1.out");
  const auto before = model->score(batch);
  const auto snap = model->snapshot({"lm.layers.1.down_proj.weight", "projector.linear_2.bias"});
  CHECK(snap.size() == 2);
  {
    torch::NoGradGuard no_grad;
    model->parameter("lm.layers.1.down_proj.weight").add_(0.05);
    model->parameter("projector.linear_2.bias").mul_(3.0);
  }
  const auto edited = model->score(batch);
  CHECK(edited[0].loss != before[0].loss);
  model->restore(snap);
  const auto after = model->score(batch);
  REQUIRE(rec.seen.size() == 3);
  CHECK(torch::equal(rec.seen[0], rec.seen[2]));
  CHECK_FALSE(torch::equal(rec.seen[0], rec.seen[1]));
  for (std::size_t i = 0; i < batch.size(); ++i) {
    CHECK(after[i].loss == before[i].loss);  // exact
    CHECK(after[i].topk_tokens == before[i].topk_tokens);
  }
  CHECK_THROWS_WITH_AS(model->parameter("lm.layers.9.q_proj.weight"),
                       doctest::Contains("model 'llava' has no parameter 'lm.layers.9.q_proj.weight'"), ModelError);
  CHECK_THROWS_WITH_AS(model->set_parameter("lm.norm.weight", torch::zeros({3})),
                       doctest::Contains("shape [3] does not match the parameter's [48]"), ModelError);
}

TEST_CASE("taps read and replace activations, and go away with their handle") {
  auto model = make_tiny_model();
  const auto names = model->tap_names();
  for (const char* expected : {"vision.layers.0.out", "projector.out", "lm.layers.0.in", "lm.layers.1.self_attn.out",
                               "lm.layers.1.mlp.in", "lm.layers.1.mlp.down_proj.in", "lm.layers.1.mlp.down_proj.out",
                               "lm.layers.1.out"})
    CHECK_MESSAGE(std::find(names.begin(), names.end(), expected) != names.end(), expected);
  // feature_layer -2 of 2 layers: only the first vision block runs, so only it is a tap.
  CHECK(std::find(names.begin(), names.end(), "vision.layers.1.out") == names.end());
  const auto batch = sample_requests();
  const auto plain = model->score(batch);
  {
    Recorder in(*model, "lm.layers.0.mlp.down_proj.in");
    Recorder out(*model, "lm.layers.0.mlp.down_proj.out");
    Recorder proj(*model, "projector.out");
    const auto observed = model->score(batch);
    CHECK(observed[1].loss == plain[1].loss);  // reading changes nothing
    REQUIRE(in.seen.size() == 1);
    CHECK(in.seen[0].size(2) == 96);  // SwiGLU width
    CHECK(out.seen[0].size(2) == 48);
    CHECK(in.seen[0].size(0) == 4);
    // down_proj.out = down_proj(down_proj.in): the tap sees the real linear map.
    const torch::Tensor w = model->parameter("lm.layers.0.down_proj.weight");
    CHECK(torch::allclose(torch::matmul(in.seen[0], w.t()), out.seen[0], 1e-5, 1e-5));
    REQUIRE(proj.seen.size() == 1);
    CHECK(proj.seen[0].sizes().vec() == std::vector<int64_t>{3, 4, 48});  // 3 images x 4 patches
  }
  {
    // Zeroing the projector output changes image inputs only.
    TapHandle zero = model->add_tap("projector.out", [](const std::string&, const torch::Tensor& x) {
      return torch::zeros_like(x);
    });
    const auto blind = model->score(batch);
    CHECK(blind[0].loss != plain[0].loss);
    CHECK(blind[1].loss == doctest::Approx(plain[1].loss).epsilon(1e-6));  // text-only row unaffected
  }
  CHECK(model->score(batch)[0].loss == plain[0].loss);  // handle gone: tap removed
  CHECK_THROWS_WITH_AS(model->add_tap("lm.layers.7.out", [](const std::string&, const torch::Tensor& x) { return x; }),
                       doctest::Contains("model 'llava' has no tap 'lm.layers.7.out'"), ModelError);
}

TEST_CASE("a few optimiser steps on loss() teach the model an answer that greedy decoding then gives") {
  auto model = make_tiny_model();
  ScoreRequest request;
  request.input = {"<image>\nWhat is the name of this bird?", test_image(5)};
  request.target = "Zorvel";
  request.end_with_eos = true;
  std::vector<torch::Tensor> params;
  for (const auto& name : model->parameter_names()) params.push_back(model->parameter(name));
  torch::optim::Adam optimizer(params, torch::optim::AdamOptions(1e-2));
  const double first = model->loss({request}).item<double>();
  for (int step = 0; step < 40; ++step) {
    optimizer.zero_grad();
    torch::Tensor loss = model->loss({request});
    loss.backward();
    optimizer.step();
  }
  const double last = model->loss({request}).item<double>();
  CHECK(last < first * 0.1);
  GenerateOptions greedy;
  greedy.max_new_tokens = 10;
  CHECK(model->generate({request.input}, greedy)[0] == "Zorvel");
  CHECK(model->score({request})[0].token_accuracy == 1.0);
}

TEST_CASE("a saved checkpoint loads into identical outputs; a mismatched one is refused") {
  auto model = make_tiny_model();
  {
    torch::NoGradGuard no_grad;
    model->parameter("lm.norm.weight").mul_(1.5);  // differ from a fresh init
  }
  const std::string dir = mike::test::make_temp_dir("llava_checkpoint") + "/ckpt";
  model->save_checkpoint(dir);
  CHECK(std::filesystem::exists(dir + "/model.safetensors"));
  CHECK(std::filesystem::exists(dir + "/tokenizer.model"));
  CHECK(std::filesystem::exists(dir + "/config.json"));
  const std::string yaml_without_tokenizer = tiny_model_yaml("checkpoint: " + dir + "\n");
  // The tokenizer comes from the checkpoint when `tokenizer` is unset.
  const std::string ckpt_yaml = yaml_without_tokenizer.substr(yaml_without_tokenizer.find('\n') + 1);
  auto loaded = make_tiny_model(ckpt_yaml);
  const auto batch = sample_requests();
  const auto a = model->score(batch), b = loaded->score(batch);
  for (std::size_t i = 0; i < batch.size(); ++i) CHECK(a[i].loss == b[i].loss);

  std::string other = tiny_model_yaml("checkpoint: " + dir + "\n");
  other.replace(other.find("intermediate: 96"), 16, "intermediate: 64");
  CHECK_THROWS_WITH_AS(make_tiny_model(other), doctest::Contains("was saved by a different architecture"), Error);

  // config.json is checked too: damaged, or another architecture than the weights say.
  const std::string config_json = mike::test::read_file(dir + "/config.json");
  mike::test::write_file(dir + "/config.json", "{\"architecture\": ");
  CHECK_THROWS_WITH_AS(make_tiny_model(ckpt_yaml), doctest::Contains("config.json' is not valid JSON"), ModelError);
  std::string edited_json = config_json;
  edited_json.replace(edited_json.find("\"intermediate\": 96"), 18, "\"intermediate\": 64");
  mike::test::write_file(dir + "/config.json", edited_json);
  CHECK_THROWS_WITH_AS(make_tiny_model(ckpt_yaml), doctest::Contains("describes another architecture"), ModelError);
  std::filesystem::remove(dir + "/config.json");
  CHECK(make_tiny_model(ckpt_yaml)->score(batch)[0].loss == a[0].loss);  // the weights' metadata says what they are
  mike::test::write_file(dir + "/config.json", config_json);
  {
    // A weight relabelled as integers (same bytes, another dtype) is refused.
    SafetensorsFile saved = load_safetensors(dir + "/model.safetensors");
    TensorMap tensors(saved.tensors.begin(), saved.tensors.end());
    tensors["lm.norm.weight"] = tensors["lm.norm.weight"].view(torch::kInt32);
    const std::string relabelled = mike::test::make_temp_dir("llava_relabelled") + "/ckpt";
    std::filesystem::create_directories(relabelled);
    save_safetensors(relabelled + "/model.safetensors", tensors, saved.metadata);
    std::filesystem::copy_file(dir + "/tokenizer.model", relabelled + "/tokenizer.model");
    std::filesystem::copy_file(dir + "/config.json", relabelled + "/config.json");
    std::string relabelled_yaml = ckpt_yaml;
    relabelled_yaml.replace(relabelled_yaml.find(dir), dir.size(), relabelled);
    CHECK_THROWS_WITH_AS(make_tiny_model(relabelled_yaml),
                         doctest::Contains("'lm.norm.weight' is stored as Int, not as floating-point weights"), ModelError);
  }

  // A damaged weights file is a checkpoint error naming the model (exit 5), not a crash.
  const std::string bytes = mike::test::read_file(dir + "/model.safetensors");
  mike::test::write_file(dir + "/model.safetensors", bytes.substr(0, bytes.size() / 2));
  try {
    make_tiny_model(ckpt_yaml);
    FAIL("must throw");
  } catch (const Error& e) {
    CHECK(e.exit_code() == 5);
    CHECK(std::string(e.what()).rfind("model 'llava': ", 0) == 0);
    CHECK(std::string(e.what()).find("reach past the end of the data section") != std::string::npos);
  }
}

TEST_CASE("bad inputs and configs are clear errors") {
  auto model = make_tiny_model();
  ScoreRequest r;
  r.input = {"<image> what?", torch::Tensor()};
  r.target = "x";
  CHECK_THROWS_WITH_AS(model->score({r}), doctest::Contains("prompt contains <image> but the input has no image"),
                       DataError);
  r.input = {"what?", torch::rand({4, 8, 8})};
  CHECK_THROWS_WITH_AS(model->score({r}), doctest::Contains("image must be a float tensor [3, H, W]"), DataError);
  r.input = {"<image> and <image>", torch::rand({3, 8, 8})};
  CHECK_THROWS_WITH_AS(model->score({r}), doctest::Contains("prompt has 2 <image> markers but one image"), DataError);
  r.input = {"what?", torch::Tensor()};
  r.target = "";
  CHECK_THROWS_WITH_AS(model->score({r}), doctest::Contains("has an empty target"), DataError);

  std::string yaml = tiny_model_yaml();
  yaml.replace(yaml.find("kv_heads: 2"), 11, "kv_heads: 3");
  CHECK_THROWS_WITH_AS(make_tiny_model(yaml), doctest::Contains("config key 'lm.kv_heads' (3) must divide lm.heads (4)"),
                       Error);
  // Without a tokenizer the network exists (describe works) but cannot read text.
  auto untokenized = make_tiny_model("seed: 1\ntokenizer_vocab_size: 100\n");
  CHECK(untokenized->describe().find("vocab 100,") != std::string::npos);
  r.target = "x";
  CHECK_THROWS_WITH_AS(untokenized->score({r}), doctest::Contains("needs a tokenizer to read text"), Error);
}

TEST_CASE("the size presets build from one code path and span at least 10x in parameters (the model-size ablation)") {
  std::vector<std::int64_t> counts;
  for (const char* preset : {"llava_xs", "llava_s", "llava_m", "llava_l"}) {
    const std::string path = std::string(MIKE_SOURCE_DIR) + "/configs/model/" + preset + ".yaml";
    auto model = mike::test::build_registry().create_model("llava", Config::from_file(path));
    std::int64_t total = 0;
    for (const std::string& name : model->parameter_names()) total += model->parameter(name).numel();
    CAPTURE(preset);
    CHECK(model->describe().find("parameters: " + std::to_string(total)) != std::string::npos);
    if (!counts.empty()) CHECK(total > counts.back());
    counts.push_back(total);
  }
  CHECK(counts.back() >= 10 * counts.front());
}

TEST_CASE("image features are encoded once per image and again only after a vision weight changes") {
  auto model = make_tiny_model();
  auto uncached = make_tiny_model(tiny_model_yaml("image_feature_cache_mb: 0\n"));
  auto batch = sample_requests();
  const auto first = model->score(batch);
  const auto reference = uncached->score(batch);
  for (std::size_t i = 0; i < batch.size(); ++i) CHECK(first[i].loss == reference[i].loss);
  // Writing pixels through the data pointer bypasses the tensor's version
  // counter: the caching model keeps answering for the pixels it encoded,
  // which shows that it did not encode the image again; the other one did.
  {
    torch::NoGradGuard no_grad;
    torch::Tensor pixels = batch[0].input.image;
    std::fill_n(pixels.data_ptr<float>(), pixels.numel(), 0.5f);
  }
  CHECK(model->score(batch)[0].loss == first[0].loss);
  CHECK(uncached->score(batch)[0].loss != reference[0].loss);
  // A write the version counter sees (in place under no_grad) is a new image.
  // Only it is encoded (a batch of one, the others come from the cache), so
  // its GEMMs run with other shapes than the uncached model's batch of three:
  // equal up to float reassociation, not bitwise.
  batch[0].input.image.mul_(1.0);
  CHECK(model->score(batch)[0].loss == doctest::Approx(uncached->score(batch)[0].loss).epsilon(1e-5));
  CHECK(model->score(batch)[0].loss != first[0].loss);

  // An in-place change of a vision weight drops every cached feature.
  const auto before = model->score(batch);
  for (auto* m : {model.get(), uncached.get()}) {
    torch::NoGradGuard no_grad;
    m->parameter("vision.layers.0.fc1.weight").add_(0.05);
  }
  const auto after = model->score(batch);
  const auto after_reference = uncached->score(batch);
  CHECK(after[2].loss != before[2].loss);
  for (std::size_t i = 0; i < batch.size(); ++i) CHECK(after[i].loss == after_reference[i].loss);

  // A tap on the vision side sees every forward, cached features or not.
  {
    Recorder projector(*model, "projector.out");
    model->score(batch);
    CHECK(projector.seen.size() == 1);
  }
  // Training a vision weight: the loss reaches it through fresh features.
  torch::Tensor weight = model->parameter("vision.layers.0.fc1.weight");
  for (const auto& name : model->parameter_names()) model->parameter(name).set_requires_grad(false);
  weight.set_requires_grad(true);
  model->loss(batch).backward();
  REQUIRE(weight.grad().defined());
  CHECK(weight.grad().abs().sum().item<double>() > 0.0);
  weight.mutable_grad() = torch::Tensor();
}

TEST_CASE("greedy_prefix: the predicted target up to the first miss, and the next token after a full match") {
  ScoreResult score;
  score.target_tokens = {5, 6, 7};
  score.predicted_tokens = {5, 9, 7};
  CHECK(greedy_prefix(score) == std::vector<std::int64_t>{5, 9});
  score.predicted_tokens = {5, 6, 7};
  CHECK(greedy_prefix(score) == std::vector<std::int64_t>{5, 6, 7});  // next token not reported
  score.next_token = 2;
  CHECK(greedy_prefix(score) == std::vector<std::int64_t>{5, 6, 7, 2});
  score.predicted_tokens = {};
  CHECK(greedy_prefix(score).empty());
}

TEST_CASE("greedy decoding seeded with the teacher-forced prefix gives the tokens full decoding gives") {
  auto model = make_tiny_model();
  // Teach two answers so that some targets are predicted through EOS (rows
  // that then need no decoding) while others miss at once.
  std::vector<ScoreRequest> lessons = sample_requests();
  lessons.resize(2);
  for (auto& r : lessons) r.end_with_eos = true;
  {
    std::vector<torch::Tensor> params;
    for (const auto& name : model->parameter_names()) params.push_back(model->parameter(name));
    torch::optim::Adam optimizer(params, torch::optim::AdamOptions(1e-2));
    for (int step = 0; step < 60; ++step) {
      optimizer.zero_grad();
      model->loss(lessons).backward();
      optimizer.step();
    }
  }
  torch::NoGradGuard no_grad;
  std::vector<ScoreRequest> probes = sample_requests();
  for (const auto& r : sample_requests()) {  // the same inputs with other targets: misses at several depths
    ScoreRequest other = r;
    other.target = "It is Belmuth on a plain background.";
    probes.push_back(other);
  }
  std::vector<ModelInput> inputs;
  for (const auto& r : probes) inputs.push_back(r.input);
  for (int budget : {1, 3, 12}) {
    GenerateOptions full;
    full.max_new_tokens = budget;
    const auto expected = model->generate_tokens(inputs, full);
    GenerateOptions seeded = full;
    int predicted_through_eos = 0;
    const std::int64_t eos = Tokenizer::load(mike::test::tiny_tokenizer_path()).eos_id();
    for (const ScoreResult& score : model->score(probes)) {
      seeded.known_tokens.push_back(greedy_prefix(score));
      CHECK(score.next_token >= 0);
      if (score.token_accuracy == 1.0 && score.next_token == eos) ++predicted_through_eos;
    }
    const auto got = model->generate_tokens(inputs, seeded);
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      CHECK_MESSAGE(got[i].tokens == expected[i].tokens, "input ", i, ", max_new_tokens ", budget);
      CHECK(got[i].text == expected[i].text);
      CHECK(got[i].prompt_tokens == expected[i].prompt_tokens);
    }
    CHECK(predicted_through_eos >= 2);  // the taught answers are the shortcut's case
  }
  GenerateOptions wrong;
  wrong.known_tokens = {{1}};
  CHECK_THROWS_WITH_AS(model->generate_tokens(inputs, wrong), doctest::Contains("known_tokens has 1 lists for 8 inputs"),
                       Error);
}

namespace {
// The loss before each of four Adam steps on `trained`; `after_step(step)`
// runs after each step.
std::vector<double> adam_losses(Model& model, const std::vector<ScoreRequest>& batch, const torch::Tensor& trained,
                                double lr, const std::function<void(int)>& after_step = {}) {
  torch::optim::Adam optimizer(std::vector<torch::Tensor>{trained}, torch::optim::AdamOptions(lr));
  std::vector<double> losses;
  for (int step = 0; step < 4; ++step) {
    optimizer.zero_grad();
    torch::Tensor loss = model.loss(batch);
    losses.push_back(loss.item<double>());
    loss.backward();
    optimizer.step();
    if (after_step) after_step(step);
  }
  return losses;
}
}  // namespace

TEST_CASE("edit steps that resume above the cached lower layers compute the losses of full forwards") {
  auto cached = make_tiny_model();
  auto full = make_tiny_model(tiny_model_yaml("cache_below_edit: false\n"));
  std::vector<ScoreRequest> batch = sample_requests();
  for (auto& r : batch) r.end_with_eos = true;
  // Train one down_proj (resumes at its input), then one whole block (resumes
  // at the block input), then through a tap (a ROME-style value shift).
  const std::string lower = "lm.layers.0.down_proj.weight";
  for (const char* weight : {"lm.layers.1.down_proj.weight", "lm.layers.1.q_proj.weight"}) {
    std::vector<double> losses[2];
    for (int m = 0; m < 2; ++m) {
      Model& model = m == 0 ? *cached : *full;
      for (const auto& name : model.parameter_names()) model.parameter(name).set_requires_grad(false);
      const auto before = model.snapshot({weight, lower});
      torch::Tensor w = model.parameter(weight);
      w.set_requires_grad(true);
      losses[m] = adam_losses(model, batch, w, 1e-2, [&](int step) {
        if (step != 1) return;
        // A lower weight changes: the cached activations must not be used again.
        torch::NoGradGuard no_grad;
        model.parameter(lower).mul_(1.01);
      });
      w.set_requires_grad(false);
      w.mutable_grad() = torch::Tensor();
      model.restore(before);
    }
    CHECK_MESSAGE(losses[0] == losses[1], weight);
    CHECK(losses[0].back() < losses[0].front());  // the steps train
  }
  std::vector<double> losses[2];
  for (int m = 0; m < 2; ++m) {
    Model& model = m == 0 ? *cached : *full;
    torch::Tensor delta = torch::zeros({48}, torch::requires_grad());
    TapHandle shift = model.add_tap("lm.layers.0.mlp.down_proj.out",
                                    [&](const std::string&, const torch::Tensor& x) { return x + delta; });
    losses[m] = adam_losses(model, batch, delta, 5e-2);
  }
  CHECK(losses[0] == losses[1]);
  CHECK(losses[0].back() < losses[0].front());
}
