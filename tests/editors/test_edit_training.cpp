// mike/edit_training.h on the tiny llava model: the shared Adam loop trains
// only the tensors it is given, on the answer followed by EOS, measures the
// loss after its last step, stops early, and leaves flags and gradients as
// it found them.
#include "../model/llava_fixture.h"
#include "mike/edit_training.h"
#include "mike/error.h"

#include <doctest/doctest.h>

#include <map>

namespace mike::test {

TEST_CASE("train_on_edit: only the tuned tensor changes, EOS is a target, flags and gradients are restored") {
  auto model = make_tiny_model();
  EditRequest edit;
  edit.id = "r0";
  edit.input = {"What is the name of this bird?", test_image(1)};
  edit.target = "It is Quintara.";
  const std::vector<ScoreRequest> batch = edit_training_batch({edit});
  REQUIRE(batch.size() == 1);
  CHECK(batch[0].end_with_eos);
  CHECK(batch[0].target == edit.target);
  CHECK(batch[0].input.prompt == edit.input.prompt);
  // The EOS is scored: one more target token than the answer alone.
  ScoreRequest without_eos = batch[0];
  without_eos.end_with_eos = false;
  CHECK(model->score({batch[0]})[0].target_tokens.size() == model->score({without_eos})[0].target_tokens.size() + 1);

  const std::string tuned_name = "lm.layers.1.down_proj.weight";
  std::map<std::string, bool> flags;
  for (const std::string& name : model->parameter_names()) flags[name] = model->parameter(name).requires_grad();
  const ParameterSnapshot before = model->snapshot();

  EditTrainingOptions options;
  options.steps = 5;
  options.lr = 1.0e-2;
  options.early_stop_loss = 0.0;
  int after_step_calls = 0;
  const EditTrainingResult result =
      train_on_edit(*model, batch, {model->parameter(tuned_name)}, options, [&] { ++after_step_calls; });
  CHECK(result.steps == 5);
  CHECK(after_step_calls == 5);
  CHECK(result.loss_last < result.loss_first);
  {
    torch::NoGradGuard no_grad;  // loss_last is measured after the last step
    CHECK(result.loss_last == doctest::Approx(model->loss(batch).item<double>()).epsilon(1e-6));
  }
  for (const std::string& name : model->parameter_names()) {
    CAPTURE(name);
    const torch::Tensor p = model->parameter(name);
    CHECK(torch::equal(p, before.at(name)) == (name != tuned_name));
    CHECK(p.requires_grad() == flags.at(name));
    CHECK_FALSE(p.grad().defined());
  }

  options.early_stop_loss = 1.0e9;  // already below: no step at all
  const EditTrainingResult stopped = train_on_edit(*model, batch, {model->parameter(tuned_name)}, options);
  CHECK(stopped.steps == 0);
  CHECK(stopped.loss_first == stopped.loss_last);
  CHECK_THROWS_AS(train_on_edit(*model, batch, {}, options), Error);
}

}  // namespace mike::test
