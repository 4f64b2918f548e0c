// lora (plugins/editors/lora) on the tiny llava model: training lowers the
// target NLL, restore leaves the model bitwise identical, and merging the
// adapters into the weights gives the same outputs as the tapped adapters.
#include "../model/llava_fixture.h"
#include "mike/editor.h"
#include "mike/error.h"

#include <doctest/doctest.h>

namespace mike::test {
namespace {

std::shared_ptr<Editor> make_lora(bool merge) {
  std::string yaml = build_registry().find("editor", "lora")->default_config;
  if (merge) yaml.replace(yaml.find("merge: false"), 12, "merge: true ");
  return build_registry().create_editor("lora", Config::from_yaml(yaml, "lora.yaml"));
}

std::vector<EditRequest> edits() {
  EditRequest r;
  r.id = "r0";
  r.input = {"What is the name of this bird?", test_image(1)};
  r.target = "It is Quintara.";
  return {r};
}

std::vector<ScoreResult> probe(Model& model) {
  return model.score({{edits()[0].input, edits()[0].target, 3},
                      {{"What is the name of this car?", test_image(2)}, "It is Morrow.", 3},
                      {{"Describe the image: a tree called Zorvel", {}}, " on a plain background.", 3}});
}

}  // namespace

TEST_CASE("lora: the edit lands, restore is bitwise, merged == unmerged") {
  auto model = make_tiny_model();
  const auto before = probe(*model);
  auto unmerged_editor = make_lora(false);
  std::unique_ptr<EditedModel> unmerged = unmerged_editor->edit(*model, edits());
  const auto stats = unmerged->stats();
  CHECK(stats.at("loss_last") < stats.at("loss_first") - 1.0);  // nats
  const auto adapted = probe(*unmerged);
  CHECK(adapted[0].loss < before[0].loss - 1.0);
  // The adapter is in the forward pass only through the wrapper's taps.
  unmerged->restore_original();
  const auto restored = probe(*model);
  for (std::size_t i = 0; i < before.size(); ++i) {
    CHECK(restored[i].loss == before[i].loss);
    CHECK(restored[i].topk_tokens == before[i].topk_tokens);
  }

  auto merged_editor = make_lora(true);
  std::unique_ptr<EditedModel> merged = merged_editor->edit(*model, edits());
  const auto folded = probe(*merged);
  for (std::size_t i = 0; i < before.size(); ++i) {
    CHECK(folded[i].loss == doctest::Approx(adapted[i].loss).epsilon(1e-4));
    CHECK(folded[i].predicted_tokens == adapted[i].predicted_tokens);
  }
  merged->restore_original();
  const auto unfolded = probe(*model);
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(unfolded[i].loss == before[i].loss);
}

TEST_CASE("lora: bad config and layers name the key") {
  auto load = [](const std::string& from, const std::string& to) {
    std::string yaml = build_registry().find("editor", "lora")->default_config;
    yaml.replace(yaml.find(from), from.size(), to);
    return build_registry().create_editor("lora", Config::from_yaml(yaml, "lora.yaml"));
  };
  auto expect_config_error = [&](const std::string& from, const std::string& to, const std::string& message) {
    try {
      load(from, to);
      FAIL("no error for " << to);
    } catch (const Error& e) {
      CHECK(std::string(e.what()) == message);
      CHECK(e.exit_code() == 2);  // the plugin's ConfigError keeps its code, with the plugin named
    }
  };
  expect_config_error("rank: 4", "rank: 0", "editor 'lora': editor lora: `rank` must be >= 1, got 0");
  expect_config_error("dropout: 0.0", "dropout: 1.5", "editor 'lora': editor lora: `dropout` must be in [0, 1)");
  auto model = make_tiny_model();
  CHECK_THROWS_WITH_AS(load("layers: [1]", "layers: [9]")->edit(*model, edits()),
                       doctest::Contains("editor lora: layers: the model has no LM block 9 (its edit sites are blocks 0..1)"),
                       ConfigError);
}

}  // namespace mike::test
