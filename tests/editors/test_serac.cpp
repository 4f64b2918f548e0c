// serac (plugins/editors/serac) on the tiny llava model: edit() refuses to
// run unfitted; after a fit the scope classifier sends the edit's input and a
// rephrase of it to the counterfactual model (its prompt then carries the
// edit's fact) while an unrelated question and another image asked the
// same question get the base model's outputs bitwise; a fit leaves every
// parameter as it was, and so does every call of the edited model; a memory
// of two edits answers each with its own fact; the fitted state round-trips
// and a damaged one is refused naming the tensor.
#include "edit_fixture.h"
#include "mike/editor.h"
#include "mike/error.h"

#include <doctest/doctest.h>

namespace mike::test {
namespace {

std::shared_ptr<Editor> make_serac(int fit_steps, const std::string& classifier_layer = "1") {
  std::string yaml = build_registry().find("editor", "serac")->default_config;
  yaml = with_value(with_value(yaml, "fit_steps", std::to_string(fit_steps)), "classifier_layer", classifier_layer);
  return build_registry().create_editor("serac", Config::from_yaml(yaml, "serac.yaml"));
}

std::shared_ptr<Editor> fitted_serac(Model& model, int fit_steps) {
  auto serac = make_serac(fit_steps);
  SilentFitProgress progress;
  serac->fit(model, training_edits(6), progress);
  return serac;
}

// A text-only question of the tiny corpus, with its answer.
ScoreRequest unrelated_question() {
  const std::string& line = tiny_corpus().at(2);
  const std::size_t q = line.find('?');
  ModelInput input;
  input.prompt = line.substr(0, q + 1);
  return {input, line.substr(q + 2)};
}

bool same_result(const ScoreResult& a, const ScoreResult& b) {
  return a.loss == b.loss && a.prompt_tokens == b.prompt_tokens && a.predicted_tokens == b.predicted_tokens &&
         a.target_token_log_probs == b.target_token_log_probs;
}

std::map<std::string, torch::Tensor> parameters_of(Model& model) { return model.snapshot(); }

bool parameters_equal(Model& model, const std::map<std::string, torch::Tensor>& before) {
  for (const auto& [name, value] : before)
    if (!torch::equal(model.parameter(name), value)) return false;
  return true;
}

}  // namespace

TEST_CASE("serac: edit() before fit() is refused with the way out") {
  auto model = make_tiny_model();
  auto serac = make_serac(5);
  CHECK(serac->fit_use() == FitUse::required);
  CHECK(serac->fitted_state().empty());
  CHECK_THROWS_WITH_AS(serac->edit(*model, {edit_request(0)}), doctest::Contains("edit() before fit()"), Error);
}

TEST_CASE("serac: in-scope inputs go to the counterfactual model with the fact, others to the base model bitwise") {
  auto model = make_tiny_model();
  const auto before = parameters_of(*model);
  auto serac = fitted_serac(*model, 40);
  CHECK(parameters_equal(*model, before));  // the counterfactual model was tuned on a copy

  const EditRequest edit = edit_request(0);
  ScoreRequest own{edit.input, edit.target};
  ScoreRequest rephrase = own;
  rephrase.input.prompt = "What is this?";
  ScoreRequest other_image = own;  // same question, another picture: another entity
  other_image.input.image = test_image(40);
  const std::vector<ScoreRequest> probes{own, rephrase, unrelated_question(), other_image};
  const std::vector<ScoreResult> base = model->score(probes);

  auto edited = serac->edit(*model, {edit});
  CHECK(edited->stats().at("memory_edits") == 1);
  CHECK(parameters_equal(*model, before));
  const std::vector<ScoreResult> after = edited->score(probes);
  CHECK(parameters_equal(*model, before));  // the counterfactual weights are swapped back after the call
  // In scope: the prompt now starts with the fact, so it is longer.
  CHECK(after[0].prompt_tokens.size() > base[0].prompt_tokens.size());
  CHECK(after[0].loss < base[0].loss);
  CHECK(after[1].prompt_tokens.size() > base[1].prompt_tokens.size());
  // Out of scope: exactly the base model's outputs.
  CHECK(same_result(after[2], base[2]));
  CHECK(same_result(after[3], base[3]));

  // generate() routes the same way: the unrelated question decodes as the
  // base model decodes it.
  GenerateOptions options;
  options.max_new_tokens = 6;
  const std::vector<ModelInput> inputs{unrelated_question().input, own.input};
  const std::vector<std::string> base_text = model->generate(inputs, options);
  const std::vector<std::string> edited_text = edited->generate(inputs, options);
  CHECK(edited_text[0] == base_text[0]);
  CHECK(parameters_equal(*model, before));

  // loss() and target_log_probs() of a mixed batch: the out-of-scope row's
  // log-probabilities are the base model's, the in-scope row's the same as
  // score() reports.
  const torch::Tensor log_probs = edited->target_log_probs({unrelated_question(), own});
  const torch::Tensor base_log_probs = model->target_log_probs({unrelated_question()});
  const auto unrelated_rows = base_log_probs.size(0);
  CHECK(torch::equal(log_probs.slice(0, 0, unrelated_rows), base_log_probs));
  const torch::Tensor own_rows = log_probs.slice(0, unrelated_rows);
  const auto& own_target = after[0].target_tokens;
  REQUIRE(own_rows.size(0) == static_cast<std::int64_t>(own_target.size()));
  double own_nll = 0;
  for (std::size_t t = 0; t < own_target.size(); ++t)
    own_nll -= own_rows[static_cast<std::int64_t>(t)][own_target[t]].item<double>();
  CHECK(own_nll / static_cast<double>(own_target.size()) == doctest::Approx(after[0].loss).epsilon(1e-4));
  CHECK(std::isfinite(edited->loss({unrelated_question(), own}).item<double>()));

  edited->restore_original();
  CHECK(parameters_equal(*model, before));
}

TEST_CASE("serac: a memory of two edits answers each with its own fact; restoring the newest keeps the first") {
  auto model = make_tiny_model();
  auto serac = fitted_serac(*model, 20);
  const EditRequest first = edit_request(0), second = edit_request(1);
  const ScoreRequest first_probe{first.input, first.target};
  auto one = serac->edit(*model, {first});
  const ScoreResult first_on_one = one->score({first_probe}).at(0);
  auto two = serac->edit(*one, {second});
  CHECK(two->stats().at("memory_edits") == 2);
  CHECK(same_result(two->score({first_probe}).at(0), first_on_one));
  const ScoreResult second_on_two = two->score({{second.input, second.target}}).at(0);
  CHECK(second_on_two.prompt_tokens.size() > model->score({{second.input, second.target}}).at(0).prompt_tokens.size());
  two->restore_original();
  CHECK(same_result(one->score({first_probe}).at(0), first_on_one));
}

TEST_CASE("serac: the fitted state round-trips; a damaged one is refused by tensor name") {
  auto model = make_tiny_model();
  auto fitted = fitted_serac(*model, 10);
  const FittedState state = fitted->fitted_state();
  CHECK(state.count("classifier.projection"));
  // The counterfactual model tunes what a text-only prompt reaches: the
  // language model's parameters, none of the vision tower's or projector's.
  std::size_t tuned = 0;
  for (const auto& [name, value] : state) {
    if (name.rfind("counterfactual.", 0) != 0) continue;
    ++tuned;
    CHECK(name.rfind("counterfactual.lm.", 0) == 0);
  }
  std::size_t language = 0;
  for (const std::string& name : model->parameter_names()) language += name.rfind("lm.", 0) == 0;
  CHECK(tuned == language);
  CHECK(state.size() == 4 + tuned);  // layer, W, b, log s + the tuned parameters

  auto loaded = make_serac(10);
  loaded->load_fitted(state);
  const ScoreRequest rephrase{{"What is this?", test_image(0)}, edit_request(0).target};
  auto by_fitted = fitted->edit(*model, {edit_request(0)});
  auto by_loaded = loaded->edit(*model, {edit_request(0)});
  CHECK(same_result(by_fitted->score({rephrase}).at(0), by_loaded->score({rephrase}).at(0)));

  auto refuses = [&](FittedState damaged, const std::string& needle) {
    auto fresh = make_serac(10);
    try {
      fresh->load_fitted(damaged);
      fresh->edit(*model, {edit_request(0)});
      FAIL("no error for " << needle);
    } catch (const Error& e) {
      CAPTURE(e.what());
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  FittedState missing = state;
  missing.erase("classifier.offset");
  refuses(missing, "'classifier.offset'");
  FittedState poisoned = state;
  poisoned["classifier.projection"] = state.at("classifier.projection").clone();
  poisoned["classifier.projection"][0][0] = std::nan("");
  refuses(poisoned, "non-finite");
  const std::string some_parameter = model->parameter_names().front();
  FittedState reshaped = state;
  reshaped["counterfactual." + some_parameter] = torch::zeros({3});
  refuses(reshaped, "'" + some_parameter + "'");
  FittedState foreign = state;
  foreign["counterfactual.no.such.parameter"] = torch::zeros({3});
  refuses(foreign, "'no.such.parameter'");
  // A fit for another block is not this config's.
  auto other_layer = make_serac(10, "0");
  CHECK_THROWS_WITH_AS(other_layer->load_fitted(state), doctest::Contains("classifier_layer"), Error);
}

}  // namespace mike::test
