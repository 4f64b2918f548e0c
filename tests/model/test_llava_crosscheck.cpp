// Ground truth for the native model: an independent PyTorch implementation
// (llava_reference.py, Debian's python3-torch, weights read with json+numpy)
// must give the same activations and logits within 1e-4 on the same inputs.
// Ours runs batched, left-padded, with GQA and a non-final vision feature layer;
// the reference runs each sample alone, so padding/masking bugs show up too.
#include "llava_fixture.h"
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "mike/safetensors.h"

using namespace mike;

TEST_CASE("logits and activations match the independent PyTorch reference within 1e-4") {
  auto model = test::make_tiny_model();
  {
    // Move every weight off its init pattern (LayerNorm/RMSNorm gains of 1,
    // zero biases) so a norm or bias applied wrongly cannot hide.
    torch::NoGradGuard no_grad;
    torch::manual_seed(11);
    for (const auto& name : model->parameter_names()) {
      torch::Tensor p = model->parameter(name);
      p.add_(torch::randn_like(p) * 0.1);
    }
  }
  const std::string dir = test::make_temp_dir("llava_crosscheck");
  model->save_checkpoint(dir + "/ckpt");
  const Tokenizer tokenizer = Tokenizer::load(dir + "/ckpt/tokenizer.model");

  std::vector<ScoreRequest> batch(4);
  batch[0].input = {"<image>\nWhat is the name of this bird?", test::test_image(0)};
  batch[0].target = "Zorvel";
  batch[1].input = {"What is the name of this building? It is a very tall one.", torch::Tensor()};
  batch[1].target = "It is Quintara.";
  batch[2].input = {"Describe:", test::test_image(1, 16)};
  batch[2].target = "a dog called Morrow on a plain background";
  batch[3].input = {"A photo <image> of a tree called", test::test_image(2, 24)};
  batch[3].target = "Praxiel";

  nlohmann::json inputs = nlohmann::json::array();
  TensorMap images;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& in = batch[i].input;
    const bool marker = in.prompt.find(kImageMarker) != std::string::npos;
    // The model's rule: an image without a marker goes first.
    const auto ids = tokenizer.encode_prompt(in.image.defined() && !marker ? kImageMarker + in.prompt : in.prompt);
    inputs.push_back({{"prompt_ids", ids}, {"target_ids", tokenizer.encode(batch[i].target)}});
    if (in.image.defined()) images["image." + std::to_string(i)] = in.image;
  }
  std::ofstream(dir + "/inputs.json") << inputs.dump();
  save_safetensors(dir + "/images.safetensors", images);

  // Our side: batched forward, activations captured through taps.
  const std::vector<std::string> taps = {"vision.layers.0.out", "projector.out", "lm.layers.0.out", "lm.layers.1.out"};
  std::map<std::string, torch::Tensor> seen;
  std::vector<TapHandle> handles;
  for (const auto& tap : taps)
    handles.push_back(model->add_tap(tap, [&seen](const std::string& name, const torch::Tensor& x) {
      seen[name] = x.detach().clone();
      return x;
    }));
  const auto scores = model->score(batch);
  handles.clear();

  const std::string command = "/usr/bin/python3 " + std::string(MIKE_SOURCE_DIR) + "/tests/model/llava_reference.py " +
                              dir + "/ckpt " + dir + "/inputs.json " + dir + "/images.safetensors " + dir +
                              "/reference.safetensors";
  const auto run = test::run_command(command);
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  const TensorMap reference = load_safetensors(dir + "/reference.safetensors").tensors;

  // Final RMSNorm + lm_head on our last block's output give our logits.
  const torch::Tensor hidden = seen.at("lm.layers.1.out");
  const torch::Tensor norm_weight = model->parameter("lm.norm.weight");
  const torch::Tensor normed = norm_weight * (hidden * torch::rsqrt(hidden.pow(2).mean(-1, true) + 1e-5));
  const torch::Tensor logits = torch::matmul(normed, model->parameter("lm.lm_head.weight").t()).detach();

  int image_index = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    CAPTURE(i);
    const std::string prefix = "sample." + std::to_string(i) + ".";
    const torch::Tensor ref_logits = reference.at(prefix + "logits");
    const int64_t length = ref_logits.size(0);
    const int64_t width = logits.size(1);
    // Row i is left-padded: its real tokens are the last `length` columns.
    const torch::Tensor ours = logits[i].slice(0, width - length);
    CHECK((ours - ref_logits).abs().max().item<double>() < 1e-4);
    CHECK(torch::equal(ours.argmax(-1), ref_logits.argmax(-1)));
    for (const std::string tap : {"lm.layers.0.out", "lm.layers.1.out"}) {
      const torch::Tensor mine = seen.at(tap)[i].slice(0, width - length);
      CHECK_MESSAGE((mine - reference.at(prefix + tap)).abs().max().item<double>() < 1e-4, tap);
    }
    CHECK(scores[i].loss == doctest::Approx(reference.at(prefix + "target_nll").item<double>()).epsilon(1e-4));
    if (batch[i].input.image.defined()) {
      CHECK((seen.at("projector.out")[image_index] - reference.at(prefix + "projector.out")).abs().max().item<double>() <
            1e-4);
      // The reference keeps the class token at row 0 of the vision states, as CLIP does.
      CHECK((seen.at("vision.layers.0.out")[image_index] - reference.at(prefix + "vision.layers.0.out"))
                .abs().max().item<double>() < 1e-4);
      ++image_index;
    }
  }
  CHECK(image_index == 3);
}
