#pragma once
// mike::Editor — applies knowledge edits to a Model.
//
// edit() returns an EditedModel, which is itself a Model: evaluation always
// runs on it. Parametric editors change weights in place (InPlaceEdit keeps
// the snapshot that restore() writes back); in-context and memory editors
// wrap the model and route inference (derive from ForwardingModel).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mike/corpus.h"
#include "mike/model.h"

namespace mike {

// One edit: "the entity in this image is called `target`".
struct EditRequest {
  std::string id;          // record id
  std::string entity;      // entity id
  ModelInput input;        // edit image + question
  std::string target;      // the new answer (entity name)
  int step = 0;            // multi-step editing: which image of the entity (0-based)
};

class MIKE_API EditedModel : public Model {
 public:
  ~EditedModel() override;
  // Undo the edit: the underlying model is bitwise what it was before edit().
  virtual void restore_original() = 0;
  // Numbers the editor wants logged for this edit (loss, steps, norms...).
  virtual std::map<std::string, double> stats() const { return {}; }
};

// Forwards every Model call to `inner`. Base for wrapping editors (IKE,
// SERAC, GRACE...) which override only what they route.
class MIKE_API ForwardingModel : public EditedModel {
 public:
  ~ForwardingModel() override;
  explicit ForwardingModel(Model& inner) : inner_(inner) {}
  std::string describe() const override { return inner_.describe(); }
  std::vector<ScoreResult> score(const std::vector<ScoreRequest>& b) override { return inner_.score(b); }
  torch::Tensor loss(const std::vector<ScoreRequest>& b) override { return inner_.loss(b); }
  torch::Tensor target_log_probs(const std::vector<ScoreRequest>& b) override { return inner_.target_log_probs(b); }
  std::vector<std::string> generate(const std::vector<ModelInput>& b, const GenerateOptions& o) override {
    return inner_.generate(b, o);
  }
  // generate_tokens() is not forwarded: a wrapper that routes generate()
  // (IKE's context, a memory) would be bypassed; it inherits the refusal.
  torch::Device device() const override { return inner_.device(); }
  std::vector<TokenLayout> token_layout(const std::vector<ScoreRequest>& b) override { return inner_.token_layout(b); }
  std::int64_t count_tokens(const std::string& text) const override { return inner_.count_tokens(text); }
  std::vector<EditSite> edit_sites() const override { return inner_.edit_sites(); }
  std::vector<std::string> parameter_names() const override { return inner_.parameter_names(); }
  torch::Tensor parameter(const std::string& n) override { return inner_.parameter(n); }
  void set_parameter(const std::string& n, const torch::Tensor& v) override { inner_.set_parameter(n, v); }
  ParameterSnapshot snapshot(const std::vector<std::string>& n) override { return inner_.snapshot(n); }
  void restore(const ParameterSnapshot& s) override { inner_.restore(s); }
  std::vector<std::string> tap_names() const override { return inner_.tap_names(); }
  TapHandle add_tap(const std::string& t, TapCallback c) override { return inner_.add_tap(t, std::move(c)); }
  void restore_original() override {}

 protected:
  Model& inner_;
};

// A parametric edit: weights of `inner` were changed in place; `before` holds
// the original values of every parameter the editor touched.
class MIKE_API InPlaceEdit : public ForwardingModel {
 public:
  ~InPlaceEdit() override;
  InPlaceEdit(Model& inner, ParameterSnapshot before, std::map<std::string, double> stats = {})
      : ForwardingModel(inner), before_(std::move(before)), stats_(std::move(stats)) {}
  void restore_original() override { inner_.restore(before_); }
  std::map<std::string, double> stats() const override { return stats_; }
  const ParameterSnapshot& original_values() const { return before_; }

 private:
  ParameterSnapshot before_;
  std::map<std::string, double> stats_;
};

// One example a trained editor learns from (fit): an edit of the train split,
// the inputs in its scope that should answer edit.target once it is made (a
// rephrased question, other photos of the entity; the edit's own input is not
// repeated here), and inputs outside it whose outputs must not change
// (unrelated questions and images, teacher-forced with their own answers, so
// an editor can compare output distributions at those positions).
struct TrainingEdit {
  EditRequest edit;
  std::vector<ScoreRequest> in_scope;
  std::vector<ScoreRequest> out_of_scope;
};

// What fit() reports as it goes; the host draws a progress bar with an ETA.
class MIKE_API FitProgress {
 public:
  virtual ~FitProgress();
  // `done` of `total` steps, with a short status such as "loss 0.41".
  virtual void update(std::int64_t done, std::int64_t total, const std::string& status) = 0;
};

// What a fit learned, as named tensors: the host stores it (safetensors) in
// its cache keyed by the model's parameters, the editor config and the
// training data, and gives it back through load_fitted() on a later run.
using FittedState = std::map<std::string, torch::Tensor>;

// How an editor uses fit() (Editor::fit_use):
//   none      fit() is never called;
//   optional  the host calls fit() with the train split when the dataset has
//             one (IKE's demonstrations), and the editor works without it;
//   required  trained editors (MEND, SERAC, KE): no edit without a fit, and a
//             dataset without a separate train split is an error.
enum class FitUse { none, optional, required };

class MIKE_API Editor : public Component {
 public:
  ~Editor() override;
  virtual FitUse fit_use() const { return FitUse::none; }
  // Learns from `train` (never test records) before the first edit().
  // Deterministic, so a cached fit is the fit a rerun would make.
  virtual void fit(Model& model, const std::vector<TrainingEdit>& train, FitProgress& progress) {
    (void)model;
    (void)train;
    (void)progress;
  }
  // The state fit() learned, and the way back: the host caches a non-empty
  // state on disk and later runs load_fitted() it instead of fitting; an
  // editor whose fit is cheap returns nothing and is fitted on every run.
  // load_fitted() must refuse (mike::Error naming the tensor) a state it did
  // not write, e.g. one from another version of the editor or a damaged file.
  virtual FittedState fitted_state() const { return {}; }
  virtual void load_fitted(const FittedState& state) { (void)state; }
  // Whether edit() accepts more than one request at once (MEMIT-style).
  virtual bool supports_batch() const { return false; }
  // Independent edits (the single and batch protocols: every edit runs on
  // the model as it is now, restored bitwise before the next). An editor
  // that can do their per-request work together, batched, says how many
  // requests ahead it wants (0 = it cannot); the runner then calls
  // prepare_independent_edits() with up to that many requests before their
  // edit() calls, and edit() may use what it prepared (e.g. ROME's value
  // shifts: one forward per step for eight edits instead of eight). A request
  // edit() gets that was not prepared is edited the ordinary way.
  virtual std::size_t independent_edit_window() const { return 0; }
  virtual void prepare_independent_edits(Model& model, const std::vector<EditRequest>& requests) {
    (void)model;
    (void)requests;
  }
  virtual std::unique_ptr<EditedModel> edit(Model& model, const std::vector<EditRequest>& requests) = 0;

  // Where this editor reads corpora (mike/corpus.h). The host sets it right
  // after creating the editor; corpus_source() throws PluginError when no
  // host did (e.g. an editor constructed directly in a test without one).
  void set_corpus_source(std::shared_ptr<const CorpusSource> source) { corpus_source_ = std::move(source); }
  const CorpusSource& corpus_source() const;

 private:
  std::shared_ptr<const CorpusSource> corpus_source_;
};

}  // namespace mike
