// ike (plugins/editors/ike) on the tiny llava model: the prompts the model
// receives hold exactly k demonstrations, most similar first, then the new
// fact; demonstrations that do not fit max_prompt_tokens are dropped least
// similar first; no weight changes. Sequential edits keep one context of
// facts on the base model (no nested wrappers), forgetting the oldest facts
// when the context is full.
#include "edit_fixture.h"
#include "mike/editor.h"
#include "mike/error.h"

#include <doctest/doctest.h>

namespace mike::test {
namespace {

// Records the prompts that reach the model.
class RecordingModel : public ForwardingModel {
 public:
  using ForwardingModel::ForwardingModel;
  std::vector<ScoreResult> score(const std::vector<ScoreRequest>& batch) override {
    for (const auto& r : batch) prompts.push_back(r.input.prompt);
    return inner_.score(batch);
  }
  std::vector<std::string> prompts;
};

EditRequest request(const std::string& id, const std::string& prompt, const std::string& target, int image) {
  EditRequest r;
  r.id = id;
  r.input = {prompt, test_image(image)};
  r.target = target;
  return r;
}

// Demonstrations whose similarity to "What is the name of this bird?" falls in this order.
std::vector<TrainingEdit> train() {
  std::vector<TrainingEdit> out;
  for (EditRequest r : {request("d_far", "Describe the colours you see.", "Blue and green.", 1),
                        request("d_same", "What is the name of this bird?", "It is Praxiel.", 2),
                        request("d_near", "What is the name of this bird here?", "It is Belmuth.", 3),
                        request("d_mid", "What is the name of this building?", "It is Akkodine.", 4),
                        request("d_other", "How many wheels does it have?", "Four.", 5)})
    out.push_back({std::move(r), {}, {}});
  return out;
}

// Fits `editor` on train() (IKE keeps the edits as demonstrations).
void fit_on_train(Editor& editor, Model& model) {
  SilentFitProgress progress;
  editor.fit(model, train(), progress);
}

// The tiny model with room for a few demonstrations.
std::shared_ptr<Model> make_model() {
  std::string yaml = tiny_model_yaml();
  yaml.replace(yaml.find("max_positions: 128"), 18, "max_positions: 512");
  return make_tiny_model(yaml);
}

std::shared_ptr<Editor> make_ike(int k, int max_tokens) {
  std::string yaml = build_registry().find("editor", "ike")->default_config;
  yaml.replace(yaml.find("k: 4"), 4, "k: " + std::to_string(k));
  yaml.replace(yaml.find("max_prompt_tokens: 160"), 22, "max_prompt_tokens: " + std::to_string(max_tokens));
  return build_registry().create_editor("ike", Config::from_yaml(yaml, "ike.yaml"));
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("ike: k demonstrations ranked by similarity, then the new fact, within the context") {
  auto model = make_model();
  auto editor = make_ike(3, 400);
  fit_on_train(*editor, *model);
  const ParameterSnapshot before = model->snapshot();
  RecordingModel recorder(*model);
  auto edited = editor->edit(recorder, {request("e", "What is the name of this bird?", "Zorvel", 6)});
  CHECK(edited->stats().at("demos") == 3);
  CHECK(edited->stats().at("similarity_top") == doctest::Approx(1.0));
  recorder.prompts.clear();
  edited->score({{{"What is the name of this bird?", test_image(6)}, "It is Zorvel.", 1}});
  REQUIRE(recorder.prompts.size() == 1);
  const std::string& prompt = recorder.prompts[0];
  CHECK(prompt ==
        "Q: What is the name of this bird? A: It is Praxiel.\n"
        "Q: What is the name of this bird here? A: It is Belmuth.\n"
        "Q: What is the name of this building? A: It is Akkodine.\n"
        "New fact: the entity in this image is Zorvel.\n"
        "What is the name of this bird?");
  CHECK(edited->stats().at("context_tokens") <= 400);
  edited->restore_original();
  for (const auto& [name, value] : model->snapshot()) CHECK(torch::equal(value, before.at(name)));
}

TEST_CASE("ike: demonstrations that do not fit are dropped least similar first") {
  auto model = make_model();
  auto full = make_ike(3, 400);
  fit_on_train(*full, *model);
  const EditRequest edit = request("e", "What is the name of this bird?", "Zorvel", 6);
  const double all_tokens = full->edit(*model, {edit})->stats().at("context_tokens");
  // A budget one token short of all three demonstrations keeps two: the most similar.
  auto tight = make_ike(3, static_cast<int>(all_tokens) - 1);
  fit_on_train(*tight, *model);
  RecordingModel recorder(*model);
  auto edited = tight->edit(recorder, {edit});
  CHECK(edited->stats().at("demos") == 2);
  CHECK(edited->stats().at("context_tokens") <= all_tokens - 1);
  recorder.prompts.clear();
  edited->score({{edit.input, edit.target, 1}});
  CHECK(count(recorder.prompts.at(0), "Q: ") == 2);
  CHECK(recorder.prompts.at(0).find("It is Praxiel") != std::string::npos);
  CHECK(recorder.prompts.at(0).find("It is Akkodine") == std::string::npos);
  // Too small for even the new fact: one clear error.
  auto tiny = make_ike(3, 3);
  fit_on_train(*tiny, *model);
  CHECK_THROWS_WITH_AS(tiny->edit(*model, {edit}),
                       doctest::Contains("the new fact and prompt of edit 'e' alone are more than max_prompt_tokens = 3"),
                       DataError);
}

TEST_CASE("ike: model embeddings rank the identical input first") {
  auto model = make_model();
  std::string yaml = build_registry().find("editor", "ike")->default_config;
  yaml.replace(yaml.find("embedding: text"), 15, "embedding: model");
  auto editor = build_registry().create_editor("ike", Config::from_yaml(yaml, "ike.yaml"));
  fit_on_train(*editor, *model);
  // The edit input equals demo d_mid (same prompt, same image): cosine 1.
  RecordingModel recorder(*model);
  auto edited = editor->edit(recorder, {request("e", "What is the name of this building?", "Zorvel", 4)});
  CHECK(edited->stats().at("similarity_top") == doctest::Approx(1.0));
  recorder.prompts.clear();
  edited->score({{{"What is the name of this building?", test_image(4)}, "Zorvel", 1}});
  CHECK(recorder.prompts.at(0).rfind("Q: What is the name of this building? A: It is Akkodine.\n", 0) == 0);
}

TEST_CASE("ike: sequential edits keep one context of facts, oldest dropped when it is full") {
  auto model = make_model();
  auto editor = make_ike(2, 400);
  fit_on_train(*editor, *model);
  RecordingModel recorder(*model);
  auto first = editor->edit(recorder, {request("e1", "What is the name of this bird?", "Zorvel", 6)});
  auto second = editor->edit(*first, {request("e2", "What is the name of this building?", "Quillan", 7)});
  CHECK(second->stats().at("facts_in_context") == 2);
  CHECK(second->stats().at("facts_dropped") == 0);
  recorder.prompts.clear();
  second->score({{{"What is the name of this building?", test_image(7)}, "Quillan", 1}});
  // One forward with one context: the second edit's two demos (not the first
  // edit's as well), then both facts in the order they were made.
  REQUIRE(recorder.prompts.size() == 1);
  CHECK(recorder.prompts[0] ==
        "Q: What is the name of this building? A: It is Akkodine.\n"
        "Q: What is the name of this bird? A: It is Praxiel.\n"
        "New fact: the entity in this image is Zorvel.\n"
        "New fact: the entity in this image is Quillan.\n"
        "What is the name of this building?");
  // Restoring the newer edit leaves the older one as it was.
  second->restore_original();
  recorder.prompts.clear();
  first->score({{{"What is the name of this bird?", test_image(6)}, "Zorvel", 1}});
  CHECK(count(recorder.prompts.at(0), "New fact:") == 1);

  // A budget that holds two facts and the prompt but nothing more: the
  // demonstrations go first, then the oldest fact.
  const double two_facts = static_cast<double>(
      model->score({{{".", {}}, "New fact: the entity in this image is Zorvel.\n"
                                "New fact: the entity in this image is Quillan.\n"
                                "What is the name of this bird?", 1}})
          .at(0)
          .target_tokens.size());
  auto tight = make_ike(2, static_cast<int>(two_facts));
  fit_on_train(*tight, *model);
  auto t1 = tight->edit(recorder, {request("e1", "What is the name of this bird?", "Zorvel", 6)});
  auto t2 = tight->edit(*t1, {request("e2", "What is the name of this bird?", "Quillan", 7)});
  CHECK(t2->stats().at("demos") == 0);
  CHECK(t2->stats().at("facts_in_context") == 2);
  auto t3 = tight->edit(*t2, {request("e3", "What is the name of this bird?", "Brandor", 8)});
  CHECK(t3->stats().at("demos") == 0);
  CHECK(t3->stats().at("facts_dropped") >= 1);
  recorder.prompts.clear();
  t3->score({{{"What is the name of this bird?", test_image(8)}, "Brandor", 1}});
  CHECK(recorder.prompts.at(0).find("Zorvel") == std::string::npos);
  CHECK(recorder.prompts.at(0).rfind("New fact: the entity in this image is Brandor.\nWhat is the name of this bird?") !=
        std::string::npos);
}

}  // namespace mike::test
