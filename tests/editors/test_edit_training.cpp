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

TEST_CASE("minimise_groups_with_adam: each group gets what minimise_with_adam gives it alone, stopping on its own") {
  // Three independent quadratics; targets at different distances from 0 stop
  // at different steps (and the farthest takes every step).
  const std::vector<std::vector<float>> targets = {{0.05F, -0.02F}, {0.6F, 0.3F}, {4.0F, -3.0F}};
  EditTrainingOptions options;
  options.steps = 30;
  options.lr = 0.1;
  options.early_stop_loss = 1.0e-3;
  auto quadratic = [](const torch::Tensor& x, const std::vector<float>& t) {
    return (x - torch::tensor(t).unsqueeze(0)).pow(2).sum();
  };
  // A cap on each row's norm, as ROME clamps its shifts (runs after every step).
  auto cap = [](torch::Tensor& x) { x.clamp_(-2.5, 2.5); };

  std::vector<EditTrainingResult> alone;
  std::vector<torch::Tensor> alone_x;
  for (const auto& t : targets) {
    torch::Tensor x = torch::zeros({1, 2}, torch::requires_grad());
    alone.push_back(minimise_with_adam({x}, {[&] { return quadratic(x, t); }, {}}, options, [&] { cap(x); }));
    alone_x.push_back(x.detach().clone());
  }

  torch::Tensor x = torch::zeros({3, 2}, torch::requires_grad());
  GroupedAdamObjective objective;
  objective.rows = {{0, 1}, {1, 1}, {2, 1}};
  int evaluations = 0;
  std::vector<int> totals_asked(3, 0);
  objective.losses = [&] {
    ++evaluations;
    std::vector<torch::Tensor> losses;
    for (std::int64_t g = 0; g < 3; ++g) losses.push_back(quadratic(x.slice(0, g, g + 1), targets[static_cast<std::size_t>(g)]));
    return losses;
  };
  objective.total = [&](std::size_t g, const torch::Tensor& loss) {
    ++totals_asked[g];
    return loss;
  };
  const std::vector<EditTrainingResult> grouped = minimise_groups_with_adam({x}, objective, options, [&] { cap(x); });

  REQUIRE(grouped.size() == 3);
  CHECK(alone[0].steps < alone[1].steps);  // the groups really stop at different steps
  CHECK(alone[1].steps < options.steps);
  CHECK(alone[2].steps == options.steps);
  for (std::size_t g = 0; g < 3; ++g) {
    CAPTURE(g);
    CHECK(grouped[g].steps == alone[g].steps);
    CHECK(grouped[g].loss_first == alone[g].loss_first);
    CHECK(grouped[g].loss_last == alone[g].loss_last);
    CHECK(totals_asked[g] == alone[g].steps);  // asked only while the group still steps
    CHECK(torch::equal(x.detach().slice(0, static_cast<std::int64_t>(g), static_cast<std::int64_t>(g) + 1), alone_x[g]));
  }
  // One evaluation per step of the longest group, plus the final measurement.
  CHECK(evaluations == options.steps + 1);

  GroupedAdamObjective outside = objective;
  outside.rows = {{0, 1}, {2, 2}};  // rows 2..3 of a 3-row tensor
  CHECK_THROWS_AS(minimise_groups_with_adam({x}, outside, options), Error);
  GroupedAdamObjective short_losses = objective;
  short_losses.rows = {{0, 1}, {1, 1}};
  CHECK_THROWS_AS(minimise_groups_with_adam({x}, short_losses, options), Error);  // 3 losses for 2 groups
}

}  // namespace mike::test
