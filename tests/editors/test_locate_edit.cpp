// Locate-then-edit (plugins/editors/locate_then_edit) on the tiny llava
// model with random weights: the closed forms satisfy the equations of the
// papers on the model's real weights and keys, the statistics cache is reused,
// and every editor's edit -> restore leaves the model bitwise identical.
#include "edit_fixture.h"
#include "mike/editor.h"
#include "mike/error.h"
#include "closed_forms.h"
#include "data/dataset_corpus.h"
#include "key_capture.h"
#include "layer_stats.h"
#include "value_shift.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace mike::test {
namespace {

using namespace mike::locate_edit;

constexpr int kLayer = 1;

// The edit site of LM block kLayer, as the model declares it.
EditSite site_of(const Model& model) { return edit_site(model, kLayer, "test layer"); }
std::string down_proj_input_tap(const Model& model) { return site_of(model).input_tap; }

double rel(const torch::Tensor& a, const torch::Tensor& b) { return ((a - b).norm() / b.norm()).item<double>(); }

// A text-only pretraining corpus (pretrain.jsonl) for the statistics.
const std::string& corpus_dir() { return tiny_corpus_dir(); }

std::shared_ptr<const Corpus> corpus(const std::string& dir = corpus_dir()) {
  return data::dataset_corpus_source()->open(dir, 0);
}


torch::Tensor keys_of(Model& model, const std::vector<EditRequest>& edits) {
  std::vector<ScoreRequest> requests;
  for (const EditRequest& e : edits) requests.push_back(templated_requests(e, {"{}"})[0]);
  return activations_at_key(model, down_proj_input_tap(model), requests, KeyPosition::kLastPromptToken)
      .to(torch::kFloat64);
}

// Every token key of a few prompts: [d_in, N] preserved keys.
torch::Tensor token_keys(Model& model, int prompts) {
  std::vector<torch::Tensor> keys;
  TapHandle h = model.add_tap(down_proj_input_tap(model), [&](const std::string&, const torch::Tensor& x) {
    keys.push_back(x.reshape({-1, x.size(-1)}).to(torch::kFloat64));
    return x;
  });
  for (int i = 0; i < prompts; ++i) model.score({{{tiny_corpus()[i], {}}, "x", 1}});
  return torch::cat(keys).t();
}

std::vector<ScoreResult> probe(Model& model) {
  std::vector<ScoreRequest> requests;
  for (int i = 0; i < 3; ++i) requests.push_back({edit_request(i).input, edit_request(i).target, 3});
  requests.push_back({{"Describe the image: a tree called Zorvel", {}}, " on a plain background.", 3});
  return model.score(requests);
}

void check_identical(const std::vector<ScoreResult>& a, const std::vector<ScoreResult>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].loss == b[i].loss);  // bitwise: restore writes the original values back
    CHECK(a[i].topk_tokens == b[i].topk_tokens);
  }
}

std::string editor_yaml(const std::string& name, const std::string& cache_dir) {
  const PluginRecord* record = build_registry().find("editor", name);
  REQUIRE(record != nullptr);
  std::string yaml = record->default_config;
  auto replace = [&](const std::string& from, const std::string& to) {
    const std::size_t at = yaml.find(from);
    REQUIRE(at != std::string::npos);
    yaml.replace(at, from.size(), to);
  };
  replace("corpus: ${data.dir}", "corpus: " + corpus_dir());
  replace("cache_dir: cache/layer_stats", "cache_dir: " + cache_dir);
  // Fewer value steps than the shipped defaults keep the suite fast.
  const std::size_t steps = yaml.find("\n  steps: ");
  REQUIRE(steps != std::string::npos);
  const std::size_t number = steps + 10;
  yaml.replace(number, yaml.find_first_not_of("0123456789", number) - number, "12");
  return yaml;
}

}  // namespace

TEST_CASE("layer statistics: C = E[k kT] over the corpus, cached by model fingerprint") {
  auto model = make_tiny_model();
  const std::string cache = make_temp_dir("layer_stats_cache");
  const LayerStats first = layer_second_moment(*model, down_proj_input_tap(*model), *corpus(), cache);
  CHECK_FALSE(first.from_cache);
  CHECK(first.tokens > 100);
  CHECK(first.second_moment.size(0) == 96);
  CHECK(torch::allclose(first.second_moment, first.second_moment.t()));
  // Reference: the same mean outer product accumulated independently.
  {
    torch::Tensor sum = torch::zeros({96, 96}, torch::kFloat64);
    std::int64_t n = 0;
    TapHandle h = model->add_tap(down_proj_input_tap(*model), [&](const std::string&, const torch::Tensor& x) {
      const torch::Tensor k = x.reshape({-1, x.size(-1)}).to(torch::kFloat64);
      sum += k.t().mm(k);
      n += k.size(0);
      return x;
    });
    for (const std::string& line : tiny_corpus()) {
      const std::size_t q = line.find('?');
      if (q == std::string::npos) continue;
      model->score({{{line.substr(0, q + 1), {}}, line.substr(q + 2), 1}});
    }
    CHECK(n == first.tokens);
    CHECK(rel(first.second_moment, sum / static_cast<double>(n)) < 1e-12);
  }
  const LayerStats again = layer_second_moment(*model, down_proj_input_tap(*model), *corpus(), cache);
  CHECK(again.from_cache);
  CHECK(again.cache_file == first.cache_file);
  CHECK(torch::equal(again.second_moment, first.second_moment));
  // A changed model (one weight nudged) gets its own cache entry.
  auto other = make_tiny_model();
  {
    torch::NoGradGuard no_grad;
    other->parameter("lm.norm.weight")[0] += 1e-3;
  }
  CHECK(model_fingerprint(*other) != model_fingerprint(*model));
  CHECK(layer_second_moment(*other, down_proj_input_tap(*model), *corpus(), cache).cache_file != first.cache_file);
  // No temporary files are left behind.
  for (const auto& entry : std::filesystem::directory_iterator(cache))
    CHECK(entry.path().extension() == ".safetensors");

  CHECK_THROWS_WITH_AS(corpus(cache + "/nowhere"),
                       doctest::Contains("set the editor's stats.corpus to a dataset folder with pretrain.jsonl"),
                       DataError);
}

TEST_CASE("ROME eq. 2: W' k* = v*, keys orthogonal to C^-1 k* unchanged") {
  auto model = make_tiny_model();
  const torch::Tensor c =
      layer_second_moment(*model, down_proj_input_tap(*model), *corpus(), "").second_moment;
  const torch::Tensor w = model->parameter(site_of(*model).weight).detach().to(torch::kFloat64);
  const torch::Tensor k = keys_of(*model, {edit_request(0)})[0];
  torch::manual_seed(7);
  const torch::Tensor v = w.mv(k) + torch::randn({w.size(0)}, torch::kFloat64);
  const torch::Tensor delta = rome_update(w, c, k, v);
  CHECK(rel((w + delta).mv(k), v) < 1e-10);
  const torch::Tensor u = torch::linalg_solve(c, k.unsqueeze(1)).squeeze(1);
  for (int trial = 0; trial < 3; ++trial) {
    torch::Tensor x = torch::randn({w.size(1)}, torch::kFloat64);
    x = x - u * (u.dot(x) / u.dot(u));  // orthogonal to C^-1 k*
    CHECK(rel((w + delta).mv(x), w.mv(x)) < 1e-10);
  }
  CHECK(delta.norm().item<double>() > 0.1);
}

TEST_CASE("MEMIT eq. 14: one edit = ROME's direction; n edits leave the predicted residual") {
  auto model = make_tiny_model();
  const torch::Tensor c =
      layer_second_moment(*model, down_proj_input_tap(*model), *corpus(), "").second_moment;
  const torch::Tensor w = model->parameter(site_of(*model).weight).detach().to(torch::kFloat64);
  std::vector<EditRequest> edits;
  for (int i = 0; i < 5; ++i) edits.push_back(edit_request(i));
  const torch::Tensor keys = keys_of(*model, edits).t();  // [d_in, n]
  torch::manual_seed(8);
  const torch::Tensor r = torch::randn({w.size(0), keys.size(1)}, torch::kFloat64);

  SUBCASE("single edit, single layer") {
    const torch::Tensor k = keys.select(1, 0);
    const torch::Tensor v = w.mv(k) + r.select(1, 0);
    const double lambda = 1.5e4;
    const torch::Tensor memit = memit_update(k.unsqueeze(1), (v - w.mv(k)).unsqueeze(1), c, lambda);
    // Sherman-Morrison: R kT (λC + k kT)^-1 = s/(1+s) · ROME's ΔW, s = kT (λC)^-1 k.
    const double s = k.dot(torch::linalg_solve(lambda * c, k.unsqueeze(1)).squeeze(1)).item<double>();
    CHECK(rel(memit, s / (1 + s) * rome_update(w, c, k, v)) < 1e-8);
    // As λ -> 0 the MEMIT constraint becomes ROME's equation W' k* = v*.
    CHECK(rel((w + memit_update(k.unsqueeze(1), (v - w.mv(k)).unsqueeze(1), c, 1e-9)).mv(k), v) < 1e-4);
  }
  SUBCASE("n edits") {
    for (double lambda : {1.0, 1.5e4}) {
      const torch::Tensor delta = memit_update(keys, r, c, lambda);
      const torch::Tensor left = r - delta.mm(keys);  // (W + R) K target minus what W' K reaches
      const torch::Tensor gram = keys.t().mm(torch::linalg_solve(lambda * c, keys));
      const torch::Tensor predicted =
          r.mm(torch::linalg_inv(torch::eye(keys.size(1), torch::kFloat64) + gram));  // Woodbury
      CHECK(rel(left, predicted) < 1e-8);
      // The residual shrinks, more so with a weaker preservation weight.
      CHECK(left.norm().item<double>() < r.norm().item<double>());
    }
    // A weaker preservation weight λ leaves less of the residual.
    CHECK((r - memit_update(keys, r, c, 1.0).mm(keys)).norm().item<double>() <
          (r - memit_update(keys, r, c, 1.5e4).mm(keys)).norm().item<double>());
  }
}

TEST_CASE("AlphaEdit eq. 11: the update leaves preserved keys untouched") {
  auto model = make_tiny_model();
  const torch::Tensor preserved = token_keys(*model, 2);  // fewer keys than d_in: a real null space
  REQUIRE(preserved.size(1) < preserved.size(0));
  const torch::Tensor c = preserved.mm(preserved.t()) / static_cast<double>(preserved.size(1));
  const torch::Tensor p = nullspace_projector(c, 1e-8);
  CHECK(rel(p.mm(p), p) < 1e-10);  // a projector
  // P spans exactly the directions no preserved key touches.
  const auto rank = torch::linalg_matrix_rank(preserved).item<std::int64_t>();
  CHECK(std::abs(p.trace().item<double>() - static_cast<double>(c.size(0) - rank)) < 1e-6);
  std::vector<EditRequest> edits{edit_request(0), edit_request(1), edit_request(2)};
  const torch::Tensor keys = keys_of(*model, edits).t();
  torch::manual_seed(9);
  const torch::Tensor r = torch::randn({48, keys.size(1)}, torch::kFloat64);
  const torch::Tensor delta = alphaedit_update(keys, r, p, 1e-3);
  const double on_preserved = (delta.mm(preserved).norm() / (delta.norm() * preserved.norm())).item<double>();
  CHECK(on_preserved < 1e-4);
  // ... while the edit keys still move: most of R is reached.
  CHECK(rel(delta.mm(keys), r) < 0.5);
  // Plain MEMIT on the same keys (with a regular C) does disturb the preserved ones.
  const torch::Tensor regular = c + 1e-2 * c.diagonal().mean() * torch::eye(c.size(0), c.options());
  const torch::Tensor memit = memit_update(keys, r, regular, 1.0);
  CHECK((memit.mm(preserved).norm() / (memit.norm() * preserved.norm())).item<double>() > 1e-3);
}

TEST_CASE("key positions: the last image token and the last prompt token, under any padding") {
  auto model = make_tiny_model();
  // One request alone: its full activation [1, T, d] is the reference.
  const EditRequest edit = edit_request(1);
  const ScoreRequest request = templated_requests(edit, {"{}"})[0];
  torch::Tensor full;
  ScoreResult layout;
  {
    TapHandle h = model->add_tap(down_proj_input_tap(*model), [&](const std::string&, const torch::Tensor& x) {
      full = x.detach().clone();
      return x;
    });
    layout = model->score({request}).at(0);
  }
  // The tiny model: 16x16 images in 8x8 patches = 4 image features after BOS
  // (the image goes first when the prompt has no <image> marker).
  CHECK(layout.layout.image_begin == 1);
  CHECK(layout.layout.image_end == 5);
  const auto target_tokens = static_cast<std::int64_t>(layout.target_tokens.size());
  CHECK(layout.layout.offset == 0);  // alone in its batch: no padding
  CHECK(layout.layout.length == full.size(1));
  CHECK(layout.layout.target_begin == layout.layout.length - target_tokens);
  const std::int64_t last_prompt = layout.layout.target_begin - 1;
  CHECK(torch::equal(activations_at_key(*model, down_proj_input_tap(*model), {request}, KeyPosition::kLastImageToken)[0],
                     full[0][layout.layout.image_end - 1]));
  CHECK(torch::equal(activations_at_key(*model, down_proj_input_tap(*model), {request}, KeyPosition::kLastPromptToken)[0],
                     full[0][last_prompt]));
  // answer_tokens: one key per scored token (the answer's, then EOS), from the last prompt token on.
  const torch::Tensor answer_keys =
      activations_at_key(*model, down_proj_input_tap(*model), {request}, KeyPosition::kAnswerTokens);
  REQUIRE(answer_keys.size(0) == target_tokens);
  for (std::int64_t j = 0; j < target_tokens; ++j) CHECK(torch::equal(answer_keys[j], full[0][last_prompt + j]));
  // In a batch with a longer input the row is padded: the layout says where,
  // token_layout() agrees with what score() reports, and the keys are the same.
  ScoreRequest longer = request;
  longer.input.prompt = "Look very closely at this picture, please, and then answer. " + request.input.prompt;
  {
    const std::vector<ScoreResult> scored = model->score({longer, request});
    const std::vector<TokenLayout> planned = model->token_layout({longer, request});
    REQUIRE(planned.size() == 2);
    CHECK(scored[1].layout.offset == scored[0].layout.length - scored[1].layout.length);
    CHECK(scored[1].layout.offset > 0);
    for (std::size_t r = 0; r < 2; ++r) {
      CHECK(planned[r].offset == scored[r].layout.offset);
      CHECK(planned[r].length == scored[r].layout.length);
      CHECK(planned[r].image_end == scored[r].layout.image_end);
      CHECK(planned[r].target_begin == scored[r].layout.target_begin);
    }
  }
  for (KeyPosition position : {KeyPosition::kLastImageToken, KeyPosition::kLastPromptToken, KeyPosition::kAnswerTokens}) {
    const torch::Tensor alone = activations_at_key(*model, down_proj_input_tap(*model), {request}, position);
    const torch::Tensor batched = activations_at_key(*model, down_proj_input_tap(*model), {longer, request}, position);
    const std::int64_t keys = alone.size(0);
    CHECK(rel(batched.slice(0, keys, 2 * keys).to(torch::kFloat64), alone.to(torch::kFloat64)) < 1e-5);
  }
  // A text-only input has no image token to key on: a clear error.
  ScoreRequest text_only{{"What is the name of this bird?", {}}, "It is Quintara.", 1};
  CHECK_THROWS_WITH_AS(activations_at_key(*model, down_proj_input_tap(*model), {text_only}, KeyPosition::kLastImageToken),
                       doctest::Contains("has no image tokens; edit image inputs or set key_position: last_prompt_token"),
                       DataError);
  CHECK(parse_key_position("last_prompt_token") == KeyPosition::kLastPromptToken);
  CHECK_THROWS_WITH_AS(parse_key_position("subject"), doctest::Contains("key position 'subject' is not known"),
                       ConfigError);
}

TEST_CASE("AlphaEdit with earlier edits: K_p K_p^T P keeps their keys' outputs") {
  torch::manual_seed(3);
  const std::int64_t d_in = 24, d_out = 16;
  // Preserved keys span 8 directions; P projects onto the other 16.
  const torch::Tensor basis = std::get<0>(torch::linalg_qr(torch::randn({d_in, d_in}, torch::kFloat64)));
  const torch::Tensor preserved = basis.slice(1, 0, 8).mm(torch::randn({8, 40}, torch::kFloat64));
  const torch::Tensor p = nullspace_projector(preserved.mm(preserved.t()) / 40.0, 1e-8);
  const torch::Tensor previous = torch::randn({d_in, 3}, torch::kFloat64);  // keys of edits already applied
  const torch::Tensor keys = torch::randn({d_in, 2}, torch::kFloat64);
  const torch::Tensor r = torch::randn({d_out, 2}, torch::kFloat64);
  const torch::Tensor without = alphaedit_update(keys, r, p, 1.0);
  const torch::Tensor with = alphaedit_update(keys, r, p, 1.0, previous);
  const double moved_without = without.mm(previous).norm().item<double>();
  const double moved_with = with.mm(previous).norm().item<double>();
  CAPTURE(moved_without);
  CAPTURE(moved_with);
  CHECK(moved_with < 0.5 * moved_without);  // earlier edits' outputs move much less
  // Closed form: ΔW = R Kᵀ P (K_p K_pᵀ P + K Kᵀ P + l2 I)⁻¹.
  const torch::Tensor eye = torch::eye(d_in, torch::kFloat64);
  const torch::Tensor expected =
      r.mm(keys.t()).mm(p).mm(torch::linalg_inv(previous.mm(previous.t()).mm(p) + keys.mm(keys.t()).mm(p) + eye));
  CHECK(rel(with, expected) < 1e-10);
  // Still in range(P): preserved keys untouched.
  CHECK((with.mm(preserved).norm() / (with.norm() * preserved.norm())).item<double>() < 1e-8);
  // No earlier edits (undefined or empty K_p) is the plain update.
  CHECK(torch::equal(alphaedit_update(keys, r, p, 1.0, torch::zeros({d_in, 0}, torch::kFloat64)), without));
}

TEST_CASE("alphaedit plugin: an applied edit shapes the next one until it is restored") {
  const std::string cache = make_temp_dir("alphaedit_sequential");
  auto model = make_tiny_model();
  auto editor = build_registry().create_editor(
      "alphaedit", Config::from_yaml(editor_yaml("alphaedit", cache), "alphaedit.yaml"));
  auto fresh = build_registry().create_editor(
      "alphaedit", Config::from_yaml(editor_yaml("alphaedit", cache), "alphaedit.yaml"));
  const std::string weight = site_of(*model).weight;
  const torch::Tensor original = model->parameter(weight).detach().clone();
  auto delta_of = [&](Editor& e, const EditRequest& request) {
    std::unique_ptr<EditedModel> edited = e.edit(*model, {request});
    const torch::Tensor delta = model->parameter(weight).detach() - original;
    edited->restore_original();
    return delta;
  };
  // B alone on a fresh editor (after warming its statistics the same way).
  const torch::Tensor b_alone = delta_of(*fresh, edit_request(1));
  // A restored before B: A's keys are forgotten, B's update is bitwise the same.
  delta_of(*editor, edit_request(0));
  CHECK(torch::equal(delta_of(*editor, edit_request(1)), b_alone));
  // A kept while B is edited: B's update protects A's keys, so it differs.
  std::unique_ptr<EditedModel> a = editor->edit(*model, {edit_request(0)});
  const torch::Tensor after_a = model->parameter(weight).detach().clone();
  std::unique_ptr<EditedModel> b = editor->edit(*a, {edit_request(1)});
  const torch::Tensor b_on_a = model->parameter(weight).detach() - after_a;
  CHECK_FALSE(torch::allclose(b_on_a, b_alone));
  b->restore_original();
  a->restore_original();
  CHECK(torch::equal(model->parameter(weight), original));
}

TEST_CASE("rome, memit, alphaedit plugins: the edit lands, restore is bitwise") {
  const std::string cache = make_temp_dir("locate_edit_plugins");
  for (const std::string variant : {"rome", "memit", "alphaedit", "memit last_prompt_token"}) {
    CAPTURE(variant);
    const std::string name = variant.substr(0, variant.find(' '));
    std::string yaml = editor_yaml(name, cache);
    if (variant.find("last_prompt_token") != std::string::npos)
      yaml.replace(yaml.find("key_position: answer_tokens"), 27, "key_position: last_prompt_token");
    auto model = make_tiny_model();
    auto editor = build_registry().create_editor(name, Config::from_yaml(yaml, name + ".yaml"));
    const auto before = probe(*model);
    std::vector<EditRequest> edits{edit_request(0)};
    if (name != "rome") edits.push_back(edit_request(1));
    CHECK(editor->supports_batch() == (name != "rome"));
    std::unique_ptr<EditedModel> edited = editor->edit(*model, edits);
    const auto stats = edited->stats();
    CHECK(stats.at("loss_last") < stats.at("loss_first"));
    if (name == "rome") CHECK(stats.at("key_value_error") < 1e-4);
    const auto after = probe(*edited);
    CHECK(after[0].loss < before[0].loss);  // the edited fact became more likely
    if (name != "rome") CHECK(after[1].loss < before[1].loss);
    edited->restore_original();
    check_identical(probe(*model), before);
  }
}

TEST_CASE("value shifts of independent edits optimised together equal each edit's own, and prepared edits use them") {
  auto model = make_tiny_model();
  const std::string tap = edit_site(*model, 0, "test layer").block_output_tap;
  ValueOptimisation options;
  options.steps = 15;
  options.stop_loss = 1.0e-6;  // random weights: no edit gets there, all take every step
  const std::vector<EditRequest> edits{edit_request(0), edit_request(1), edit_request(2)};
  const std::vector<ValueResult> together =
      optimise_value_shifts(*model, tap, edits, {"{}"}, KeyPosition::kLastPromptToken, options);
  REQUIRE(together.size() == edits.size());
  for (std::size_t k = 0; k < edits.size(); ++k) {
    CAPTURE(k);
    const ValueResult alone = optimise_value_shift(*model, tap, edits[k], {"{}"}, KeyPosition::kLastPromptToken, options);
    CHECK(together[k].preserved == alone.preserved);
    CHECK(together[k].preserved_by_kl == alone.preserved_by_kl);
    CHECK(together[k].steps == alone.steps);
    CHECK(together[k].loss_first == doctest::Approx(alone.loss_first).epsilon(1e-5));
    CHECK(together[k].loss_last == doctest::Approx(alone.loss_last).epsilon(1e-4));
    CHECK(together[k].preserve_last == doctest::Approx(alone.preserve_last).epsilon(1e-3));
    CHECK(together[k].loss_last < together[k].loss_first);
    CHECK(rel(together[k].shift, alone.shift) < 1e-4);
  }
  // Edit 0's neutral prompt has a continuation on these weights: the KL term
  // of the joint forward is exercised.
  CHECK(together[0].preserved_by_kl);
  // Different edits get different shifts: nothing is shared across the batch.
  CHECK(rel(together[0].shift, together[1].shift) > 0.1);

  // One edit that stops early while the others go on: it stops where it
  // would alone, its shift frozen from then on.
  ValueOptimisation stopping = options;
  // Between the edits' final losses: the lower ones stop early, the others go on.
  double lowest = together[0].loss_last, highest = together[0].loss_last;
  for (const ValueResult& v : together) {
    lowest = std::min(lowest, v.loss_last);
    highest = std::max(highest, v.loss_last);
  }
  stopping.stop_loss = std::sqrt(lowest * highest);
  const std::vector<ValueResult> mixed =
      optimise_value_shifts(*model, tap, edits, {"{}"}, KeyPosition::kLastPromptToken, stopping);
  std::vector<int> steps;
  for (std::size_t k = 0; k < edits.size(); ++k) {
    CAPTURE(k);
    const ValueResult alone =
        optimise_value_shift(*model, tap, edits[k], {"{}"}, KeyPosition::kLastPromptToken, stopping);
    CHECK(mixed[k].steps == alone.steps);
    if (alone.steps > 0) CHECK(rel(mixed[k].shift, alone.shift) < 1e-4);
    steps.push_back(alone.steps);
  }
  // Some edit stopped early while another went on to the last step.
  CHECK(*std::min_element(steps.begin(), steps.end()) < stopping.steps);
  CHECK(*std::max_element(steps.begin(), steps.end()) == stopping.steps);

  // The rome plugin: edits prepared ahead are not optimised again in edit()
  // (a handful of forwards instead of one per step), and land the same.
  const std::string cache = make_temp_dir("locate_edit_prepared");
  const Config yaml = Config::from_yaml(editor_yaml("rome", cache), "rome.yaml");
  auto count_forwards = [&](Editor& editor, const EditRequest& edit, std::map<std::string, double>& stats) {
    int forwards = 0;
    TapHandle counter = model->add_tap(edit_site(*model, 1, "test layer").output_tap,
                                       [&](const std::string&, const torch::Tensor& x) {
                                         ++forwards;
                                         return x;
                                       });
    auto edited = editor.edit(*model, {edit});
    stats = edited->stats();
    edited->restore_original();
    return forwards;
  };
  auto prepared = build_registry().create_editor("rome", yaml);
  auto plain = build_registry().create_editor("rome", yaml);
  CHECK(prepared->independent_edit_window() == 8);
  prepared->prepare_independent_edits(*model, edits);
  std::map<std::string, double> prepared_stats, plain_stats;
  // The plain editor first: it computes C (cached on disk), which the other reads.
  const int plain_forwards = count_forwards(*plain, edits[2], plain_stats);
  const int prepared_forwards = count_forwards(*prepared, edits[2], prepared_stats);
  CHECK(prepared_forwards < 6);
  CHECK(plain_forwards > 12);
  CHECK(prepared_stats.at("value_steps") == plain_stats.at("value_steps"));
  CHECK(prepared_stats.at("loss_last") == doctest::Approx(plain_stats.at("loss_last")).epsilon(1e-4));
  CHECK(prepared_stats.at("key_value_error") < 1e-4);
  // A prepared value is handed out once: editing the same request again optimises anew.
  CHECK(count_forwards(*prepared, edits[2], prepared_stats) > 12);
}


// The host rethrows a plugin's error with the plugin named; a ConfigError keeps exit 2.
template <class F>
void expect_error(F&& call, const std::string& message, int exit_code) {
  try {
    call();
    FAIL("no error thrown; expected: " << message);
  } catch (const Error& e) {
    const std::string what = e.what();
    CAPTURE(what);
    CHECK(what.find(message) != std::string::npos);
    CHECK(e.exit_code() == exit_code);
  }
}

TEST_CASE("locate-then-edit config errors name the key and the fix") {
  auto load = [](const std::string& name, const std::string& from, const std::string& to) {
    std::string yaml = build_registry().find("editor", name)->default_config;
    yaml.replace(yaml.find(from), from.size(), to);
    return build_registry().create_editor(name, Config::from_yaml(yaml, name + ".yaml"));
  };
  expect_error([&] { load("rome", "layers: [0]", "layers: [0, 1]"); },
               "editor 'rome': layers (rome.yaml:8:9) must name exactly one layer", 2);
  expect_error([&] { load("memit", "layers: [1]", "layers: [1, 0]"); },
               "layers (memit.yaml:2:9) must be strictly increasing", 2);
  expect_error([&] { load("memit", "key_position: answer_tokens", "key_position: subject"); },
               "key_position (memit.yaml:9:15): 'subject' is not known; use last_image_token, last_prompt_token or answer_tokens",
               2);
  expect_error([&] { load("rome", "key_position: last_prompt_token", "key_position: answer_tokens"); },
               "answer_tokens gives one key per answer token, but ROME writes one key", 2);
  expect_error([&] { load("rome", "context_templates: [\"{}\"]", "context_templates: [\"{}\", \"Question:\"]"); },
               "'Question:' has no {} marking where the edit prompt goes", 2);
  expect_error([&] { load("alphaedit", "nullspace_threshold: 3.0e-2", "nullspace_threshold: 2"); },
               "nullspace_threshold (alphaedit.yaml:6:22) must be in (0, 1)", 2);
  auto model = make_tiny_model();
  auto editor = load("rome", "layers: [0]", "layers: [7]");
  CHECK_THROWS_WITH_AS(editor->edit(*model, {edit_request(0)}),
                       doctest::Contains("layers: the model has no LM block 7 (its edit sites are blocks 0..1)"),
                       ConfigError);
}

}  // namespace mike::test
