// wise (plugins/editors/wise) on the tiny llava model: the router sends the
// edit's prompt to the side memory (the output there is the main output plus
// a gap whose prompt-mean norm is the activation score, above ε) and leaves
// an input scoring below ε bitwise unedited; restore is bitwise; a
// sequential chain through shards and merges restores to bitwise the
// original; a merge keeps earlier edits; TIES-merging follows EasyEdit's
// rules.
#include <torch/torch.h>
#undef CHECK

#include "../../plugins/editors/wise/ties_merge.h"
#include "edit_fixture.h"
#include "mike/edit_training.h"
#include "mike/editor.h"
#include "mike/error.h"

#include <doctest/doctest.h>

#include <memory>

namespace mike::test {
namespace {

std::string wise_yaml(const std::vector<std::pair<std::string, std::string>>& set = {}) {
  std::string yaml = build_registry().find("editor", "wise")->default_config;
  const std::string dir = "${data.dir}";
  yaml.replace(yaml.find(dir), dir.size(), tiny_corpus_dir());
  for (const auto& [key, value] : set) yaml = with_value(yaml, key, value);
  return yaml;
}

std::shared_ptr<Editor> make_wise(const std::vector<std::pair<std::string, std::string>>& set = {}) {
  return build_registry().create_editor("wise", Config::from_yaml(wise_yaml(set), "wise.yaml"));
}

// The output of the side memory's site (wise.yaml's layer) in a score() of
// `input`, read by a tap registered after WISE's (so it sees what WISE
// returned), and the row's prompt length.
struct SiteOutput {
  torch::Tensor y;  // [tokens, output_dim]
  std::int64_t first = 0, prompt = 0;
};

SiteOutput site_output(Model& tapped, Model& caller, const ModelInput& input, int layer = 1) {
  const EditSite site = edit_site(tapped, layer, "test");
  torch::Tensor y;
  TapHandle handle = tapped.add_tap(site.output_tap, [&](const std::string&, const torch::Tensor& a) {
    y = a.detach().clone();
    return a;
  });
  const ScoreResult r = caller.score({{input, "It is", 1}}).at(0);
  REQUIRE(y.defined());
  return {y[0], r.layout.column(0), r.layout.target_begin};
}

// The activation score WISE routed by, as the gap it added: the mean over
// prompt tokens of ||y_edited - y_main||.
double routed_gap(const SiteOutput& edited, const SiteOutput& main) {
  return (edited.y - main.y).slice(0, main.first, main.first + main.prompt).norm(2, -1).mean().item<double>();
}

void check_same(const std::vector<ScoreResult>& a, const std::vector<ScoreResult>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);
    CHECK(a[i].loss == b[i].loss);
    CHECK(a[i].target_token_log_probs == b[i].target_token_log_probs);
    CHECK(a[i].topk_tokens == b[i].topk_tokens);
  }
}

std::string greedy(Model& model, const ModelInput& input) {
  GenerateOptions options;
  options.max_new_tokens = 8;
  return model.generate({input}, options).at(0);
}

const ModelInput kTextOnly{"What is the capital of Zorvel?", {}};

}  // namespace

TEST_CASE("wise: the edit's prompt routes to the side memory, an input below ε is bitwise unedited, restore is bitwise") {
  auto model = make_tiny_model();
  const EditRequest edit = edit_request(1);
  const ModelInput other_image{"What is the name of this car?", test_image(2)};
  auto probe = [&](Model& m) {
    return m.score({{edit.input, edit.target, 3}, {kTextOnly, " It is Morrow.", 3}, {other_image, "It is Morrow.", 3}});
  };
  const auto before = probe(*model);
  const std::string edit_answer_before = greedy(*model, edit.input);
  const SiteOutput edit_main = site_output(*model, *model, edit.input);
  const SiteOutput text_main = site_output(*model, *model, kTextOnly);

  std::unique_ptr<EditedModel> edited = make_wise()->edit(*model, {edit});
  const auto stats = edited->stats();
  MESSAGE("loss " << stats.at("loss_first") << " -> " << stats.at("loss_last") << " in " << stats.at("steps")
                  << " steps; edit score " << stats.at("activation_edit") << ", irrelevant "
                  << stats.at("activation_irrelevant") << ", ε " << stats.at("threshold"));
  CHECK(stats.at("memories") == 1);
  CHECK(stats.at("loss_last") < stats.at("loss_first") - 0.3);
  CHECK(stats.at("threshold") == doctest::Approx(0.88 * stats.at("activation_edit")));
  CHECK(stats.at("activation_irrelevant") < stats.at("threshold"));

  // The edit's prompt routes: the site's output gains the side memory's gap,
  // whose prompt-mean norm is the score the edit was measured at.
  const double gap = routed_gap(site_output(*model, *edited, edit.input), edit_main);
  CHECK(gap == doctest::Approx(stats.at("activation_edit")).epsilon(1e-4));
  const auto after = probe(*edited);
  CHECK(after[0].loss < before[0].loss - 0.3);
  CHECK(greedy(*edited, edit.input) != edit_answer_before);
  // A text-only question scores below ε: the main memory, bitwise.
  CHECK(routed_gap(site_output(*model, *edited, kTextOnly), text_main) == 0.0);
  CHECK(after[1].loss == before[1].loss);
  CHECK(after[1].target_token_log_probs == before[1].target_token_log_probs);
  // Whatever routed, the router's rule holds for every probe: no gap, or a score above ε.
  const SiteOutput other_main = site_output(*model, *model, other_image);
  const double other_gap = routed_gap(site_output(*model, *edited, other_image), other_main);
  MESSAGE("other image's gap " << other_gap);
  CHECK((other_gap == 0.0 || other_gap > stats.at("threshold")));
  if (other_gap == 0.0) check_same({after[2]}, {before[2]});

  // The base model called directly is unedited; restore removes the memories.
  check_same(probe(*model), before);
  edited->restore_original();
  check_same(probe(*model), before);
  CHECK(greedy(*model, edit.input) == edit_answer_before);
}

TEST_CASE("wise: a threshold above every score leaves all outputs bitwise unedited") {
  auto model = make_tiny_model();
  const EditRequest edit = edit_request(1);
  const auto before = model->score({{edit.input, edit.target, 3}, {kTextOnly, " It is Morrow.", 3}});
  // act_ratio 1e6: ε is far above even the edit's own score.
  std::unique_ptr<EditedModel> edited = make_wise({{"act_ratio", "1.0e6"}})->edit(*model, {edit});
  CHECK(edited->stats().at("activation_edit") > 0);
  check_same(edited->score({{edit.input, edit.target, 3}, {kTextOnly, " It is Morrow.", 3}}), before);
  edited->restore_original();
}

TEST_CASE("wise: a sequential chain through shards and merges restores to bitwise the original") {
  auto model = make_tiny_model();
  auto editor = make_wise({{"shard_size", "2"}, {"shards_per_merge", "2"}, {"steps", "20"}});
  const int edits = 6;
  std::vector<ScoreRequest> probe;
  for (int i = 0; i < edits; ++i) probe.push_back({edit_request(i).input, edit_request(i).target, 3});
  probe.push_back({kTextOnly, " It is Morrow.", 3});
  const auto before = model->score(probe);
  std::vector<std::unique_ptr<EditedModel>> chain;
  std::vector<double> memories, merged;
  for (int i = 0; i < edits; ++i) {
    Model& current = chain.empty() ? static_cast<Model&>(*model) : *chain.back();
    chain.push_back(editor->edit(current, {edit_request(i)}));
    memories.push_back(chain.back()->stats().at("memories"));
    merged.push_back(chain.back()->stats().at("merged"));
  }
  // Shards of 2 edits, two shards per merge: merged after edit 4; edits 5-6 fill a new shard.
  CHECK(merged == std::vector<double>{0, 0, 0, 1, 0, 0});
  CHECK(memories == std::vector<double>{1, 1, 2, 1, 2, 2});
  // Restores run newest first; an older one is refused while newer ones live.
  CHECK_THROWS_AS(chain.front()->restore_original(), Error);
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) (*it)->restore_original();
  check_same(model->score(probe), before);
}

TEST_CASE("wise: the merge keeps earlier edits") {
  auto model = make_tiny_model();
  // One edit per shard, two shards per merge: the second edit merges both.
  auto editor = make_wise({{"shard_size", "1"}, {"shards_per_merge", "2"}});
  const EditRequest first = edit_request(1), second = edit_request(2);
  const double first_before = model->score({{first.input, first.target, 1}}).at(0).loss;
  const double second_before = model->score({{second.input, second.target, 1}}).at(0).loss;
  const SiteOutput first_main = site_output(*model, *model, first.input);
  auto one = editor->edit(*model, {first});
  const double first_alone = one->score({{first.input, first.target, 1}}).at(0).loss;
  auto two = editor->edit(*one, {second});
  CHECK(two->stats().at("merged") == 1);
  CHECK(two->stats().at("memories") == 1);
  const double first_merged = two->score({{first.input, first.target, 1}}).at(0).loss;
  const double second_merged = two->score({{second.input, second.target, 1}}).at(0).loss;
  MESSAGE("first edit loss " << first_before << " -> " << first_alone << " alone -> " << first_merged
                             << " merged; second " << second_before << " -> " << second_merged);
  CHECK(routed_gap(site_output(*model, *two, first.input), first_main) > 0);
  CHECK(first_merged < first_before - 0.3);
  CHECK(second_merged < second_before - 0.3);
  two->restore_original();
  one->restore_original();
  CHECK(model->score({{first.input, first.target, 1}}).at(0).loss == first_before);
}

// Two edits with the same question on different images: the second
// memory's training measures the first memory's score on its prompt, replays
// the first prompt as a negative and must beat the first memory on its own
// prompt, so each prompt routes to its own memory.
TEST_CASE("wise: replay and outscore_rivals keep two look-alike edits on their own memories") {
  auto model = make_tiny_model();
  const EditRequest first = edit_request(1);
  EditRequest second = edit_request(3);
  second.target = "It is Morrow.";
  const SiteOutput first_main = site_output(*model, *model, first.input);
  const SiteOutput second_main = site_output(*model, *model, second.input);
  const double first_before = model->score({{first.input, first.target, 1}}).at(0).loss;
  const double second_before = model->score({{second.input, second.target, 1}}).at(0).loss;
  // A low act_ratio puts ε far below an edit's own score, so the first memory
  // also routes the second prompt: a rival the second edit must beat.
  auto editor = make_wise({{"replay", "1"}, {"outscore_rivals", "true"}, {"act_ratio", "0.05"}});
  auto one = editor->edit(*model, {first});
  CHECK(one->stats().at("replayed") == 0);
  CHECK(one->stats().at("rival_score") == 0);
  const double first_gap = routed_gap(site_output(*model, *one, first.input), first_main);
  const double rival_before = routed_gap(site_output(*model, *one, second.input), second_main);
  auto two = editor->edit(*one, {second});
  CHECK(two->stats().at("replayed") == 1);
  CHECK(two->stats().at("memories") == 2);
  const double rival = two->stats().at("rival_score");
  const double second_gap = routed_gap(site_output(*model, *two, second.input), second_main);
  MESSAGE("first memory on the second prompt " << rival_before << " (stat " << rival << "); second memory on it "
                                               << second_gap << "; first prompt's gap " << first_gap << " -> "
                                               << routed_gap(site_output(*model, *two, first.input), first_main));
  // The first prompt still routes to the first memory (the same gap).
  CHECK(routed_gap(site_output(*model, *two, first.input), first_main) == doctest::Approx(first_gap).epsilon(1e-6));
  // The second prompt routes to the second memory, whose score beats the first's.
  CHECK(second_gap > rival_before);
  CHECK(rival == doctest::Approx(rival_before).epsilon(1e-6));
  CHECK(two->score({{second.input, second.target, 1}}).at(0).loss < second_before - 0.3);
  CHECK(two->score({{first.input, first.target, 1}}).at(0).loss < first_before - 0.3);
  two->restore_original();
  one->restore_original();
}

TEST_CASE("wise: TIES-merging trims, elects signs and averages the agreeing entries") {
  const torch::Tensor a = torch::tensor({1.0, 0.0, -2.0, 0.5});
  const torch::Tensor b = torch::tensor({0.0, 3.0, 1.0, 0.5});
  // Density 1, weight 1 (each 1/2): disjoint entries keep their own value;
  // entry 2 elects - (sum -1/2), so only a's -2 survives; entry 3 averages.
  const torch::Tensor merged = wise::ties_merge({a, b}, 1.0, 1.0);
  CHECK(merged.allclose(torch::tensor({1.0, 3.0, -2.0, 0.5})));
  // Density 1/2 keeps each vector's two largest entries: a's 0.5 and b's 0.5 are trimmed.
  const torch::Tensor trimmed = wise::ties_merge({a, b}, 0.5, 1.0);
  CHECK(trimmed.allclose(torch::tensor({1.0, 3.0, -2.0, 0.0})));
}

TEST_CASE("wise: bad config names the problem") {
  auto load = [](const std::string& key, const std::string& value) {
    return build_registry().create_editor("wise", Config::from_yaml(wise_yaml({{key, value}}), "wise.yaml"));
  };
  CHECK_THROWS_WITH_AS(load("mask_ratio", "0"), doctest::Contains("`mask_ratio` must be in (0, 1]"), ConfigError);
  CHECK_THROWS_WITH_AS(load("shard_size", "0"), doctest::Contains("`shard_size` must be >= 1"), ConfigError);
  auto model = make_tiny_model();
  CHECK_THROWS_WITH_AS(load("layer", "9")->edit(*model, {edit_request(0)}),
                       doctest::Contains("editor wise: layer: the model has no LM block 9"), ConfigError);
}

}  // namespace mike::test
