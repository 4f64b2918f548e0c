// ke (plugins/editors/ke) on the tiny llava model: edit() refuses to run
// unfitted; a fit lowers the post-edit NLL of the training edits below what
// a one-step fit gives; the update is the hypernetwork's (eq. 4): the edit's
// gradient reweighted by a rank-1 matrix plus a rank-1 shift, so its rank is
// at most min(out, in) and it changes the edited weights only; the fitted
// state round-trips (a loaded editor makes bitwise the same edit) and a
// damaged one is refused naming the tensor.
#include "edit_fixture.h"
#include "mike/editor.h"
#include "mike/error.h"

#include <doctest/doctest.h>

namespace mike::test {
namespace {

std::shared_ptr<Editor> make_ke(int fit_steps, const std::string& layers = "[0, 1]") {
  return make_trained_editor("ke", fit_steps, layers);
}


}  // namespace

TEST_CASE("ke: edit() before fit() is refused with the way out") {
  auto model = make_tiny_model();
  auto ke = make_ke(5);
  CHECK(ke->fit_use() == FitUse::required);
  CHECK(ke->fitted_state().empty());
  CHECK_THROWS_WITH_AS(ke->edit(*model, {edit_request(0)}), doctest::Contains("edit() before fit()"), Error);
}

TEST_CASE("ke: training lowers the post-edit NLL of the training edits; only the edited weights change") {
  auto model = make_tiny_model();
  const std::vector<TrainingEdit> train = training_edits(4);
  SilentFitProgress progress;
  auto short_fit = make_ke(1);
  short_fit->fit(*model, train, progress);
  auto long_fit = make_ke(150);
  long_fit->fit(*model, train, progress);
  const double after_short = mean_post_edit_loss(*model, *short_fit, train);
  const double after_long = mean_post_edit_loss(*model, *long_fit, train);
  CAPTURE(after_short);
  CAPTURE(after_long);
  CHECK(after_long < after_short);

  const auto before = model->snapshot();
  auto edited = long_fit->edit(*model, {edit_request(0)});
  const std::set<std::string> edited_weights = {edit_site(*model, 0, "test").weight, edit_site(*model, 1, "test").weight};
  for (const auto& [name, value] : before) {
    CAPTURE(name);
    CHECK(torch::equal(model->parameter(name), value) == (edited_weights.count(name) == 0));
  }
  edited->restore_original();
  for (const auto& [name, value] : before) CHECK(torch::equal(model->parameter(name), value));
}

TEST_CASE("ke: the fitted state round-trips; a damaged one is refused by tensor name") {
  auto model = make_tiny_model();
  auto fitted = make_ke(20);
  SilentFitProgress progress;
  fitted->fit(*model, training_edits(3), progress);
  const FittedState state = fitted->fitted_state();
  auto loaded = make_ke(20);
  loaded->load_fitted(state);
  CHECK(same_edit(*model, *fitted, *loaded, 1));

  FittedState missing = state;
  missing.erase("net.lstm.backward.w_hh");
  CHECK_THROWS_WITH_AS(make_ke(20)->load_fitted(missing), doctest::Contains("'net.lstm.backward.w_hh'"), Error);
  FittedState reshaped = state;
  reshaped["net.site1.w2"] = torch::zeros({3, 3});
  CHECK_THROWS_WITH_AS(make_ke(20)->load_fitted(reshaped), doctest::Contains("'net.site1.w2'"), Error);
  FittedState poisoned = state;
  poisoned["net.condition.b"] = state.at("net.condition.b").clone();
  poisoned["net.condition.b"][0] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH_AS(make_ke(20)->load_fitted(poisoned), doctest::Contains("non-finite"), Error);
  CHECK_THROWS_WITH_AS(make_ke(20, "[1]")->load_fitted(state), doctest::Contains("other layers"), Error);
}

}  // namespace mike::test
