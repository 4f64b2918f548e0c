// mend (plugins/editors/mend) on the tiny llava model: edit() refuses to run
// unfitted; a fit lowers the post-edit NLL of the training edits below what
// a one-step fit gives; each edit's update is a matrix of rank <= the token
// positions it came from; a zero gradient changes no weight; the fitted
// state round-trips (a loaded editor makes bitwise the same edit) and a
// damaged state is refused naming the tensor.
#include "edit_fixture.h"
#include "mike/editor.h"
#include "mike/error.h"

#include <doctest/doctest.h>

namespace mike::test {
namespace {

std::shared_ptr<Editor> make_mend(int fit_steps, const std::string& layers = "[0, 1]") {
  return make_trained_editor("mend", fit_steps, layers);
}


// Scales every loss by zero: the edit's gradient is exactly zero everywhere.
class ZeroLossModel : public ForwardingModel {
 public:
  explicit ZeroLossModel(Model& inner) : ForwardingModel(inner) {}
  torch::Tensor loss(const std::vector<ScoreRequest>& b) override { return inner_.loss(b) * 0.0; }
};

}  // namespace

TEST_CASE("mend: edit() before fit() is refused with the way out") {
  auto model = make_tiny_model();
  auto mend = make_mend(5);
  CHECK(mend->fit_use() == FitUse::required);
  CHECK(mend->fitted_state().empty());
  try {
    mend->edit(*model, {edit_request(0)});
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("edit() before fit()") != std::string::npos);
  }
}

TEST_CASE("mend: training lowers the post-edit NLL of the training edits; the update has rank <= positions") {
  auto model = make_tiny_model();
  const std::vector<TrainingEdit> train = training_edits(4);
  SilentFitProgress progress;
  auto short_fit = make_mend(1);
  short_fit->fit(*model, train, progress);
  auto long_fit = make_mend(120);
  long_fit->fit(*model, train, progress);
  const double before = [&] {
    double sum = 0;
    for (const TrainingEdit& e : train) sum += request_loss(*model, e.edit);
    return sum / static_cast<double>(train.size());
  }();
  const double after_short = mean_post_edit_loss(*model, *short_fit, train);
  const double after_long = mean_post_edit_loss(*model, *long_fit, train);
  CAPTURE(before);
  CAPTURE(after_short);
  CAPTURE(after_long);
  CHECK(after_short < before);
  CHECK(after_long < after_short);

  const EditSite site = edit_site(*model, 1, "test");
  const torch::Tensor w0 = model->parameter(site.weight).detach().clone();
  auto edited = long_fit->edit(*model, {edit_request(0)});
  const torch::Tensor update = model->parameter(site.weight).detach() - w0;
  const double positions = edited->stats().at("positions");
  // Numerical rank: singular values above float32 rounding of the largest.
  const torch::Tensor singular = torch::linalg_svdvals(update.to(torch::kFloat64));
  const auto rank = (singular > singular.max() * 1e-5).sum().item<std::int64_t>();
  CAPTURE(positions);
  CHECK(rank >= 1);
  CHECK(rank <= static_cast<std::int64_t>(positions));
  CHECK(rank < std::min(update.size(0), update.size(1)));  // low rank, not a full matrix
  edited->restore_original();
  CHECK(torch::equal(model->parameter(site.weight), w0));
}

TEST_CASE("mend: a zero gradient changes no weight") {
  auto model = make_tiny_model();
  auto mend = make_mend(5);
  SilentFitProgress progress;
  mend->fit(*model, training_edits(2), progress);
  ZeroLossModel zero(*model);
  const auto before = model->snapshot();
  auto edited = mend->edit(zero, {edit_request(0)});
  CHECK(edited->stats().at("positions") == 0);
  for (const auto& [name, value] : before) {
    CAPTURE(name);
    CHECK(torch::equal(model->parameter(name), value));
  }
}

TEST_CASE("mend: the fitted state round-trips; a damaged one is refused by tensor name") {
  auto model = make_tiny_model();
  auto fitted = make_mend(20);
  SilentFitProgress progress;
  fitted->fit(*model, training_edits(3), progress);
  const FittedState state = fitted->fitted_state();
  CHECK(state.count("edit_lr"));
  CHECK(state.count("net0.layer0.a"));

  auto loaded = make_mend(20);
  loaded->load_fitted(state);
  CHECK(same_edit(*model, *fitted, *loaded, 0));

  auto refuses = [&](FittedState damaged, const std::string& needle) {
    auto fresh = make_mend(20);
    try {
      fresh->load_fitted(damaged);
      FAIL("no error for " << needle);
    } catch (const Error& e) {
      CAPTURE(e.what());
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  FittedState missing = state;
  missing.erase("net0.layer1.b");
  refuses(missing, "'net0.layer1.b'");
  FittedState reshaped = state;
  reshaped["net0.u_mean"] = torch::zeros({3});
  refuses(reshaped, "'net0.u_mean'");
  FittedState poisoned = state;
  poisoned["net0.layer0.a"] = state.at("net0.layer0.a").clone();
  poisoned["net0.layer0.a"][0][0] = std::nan("");
  refuses(poisoned, "non-finite");
  // A fit for other layers is not this config's.
  auto one_layer = make_mend(20, "[1]");
  CHECK_THROWS_WITH_AS(one_layer->load_fitted(state), doctest::Contains("other layers"), Error);
}

}  // namespace mike::test
