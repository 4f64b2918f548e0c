#include "run/editor_fit.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <set>
#include <tuple>

#include "mike/error.h"
#include "mike/hash.h"
#include "mike/safetensors.h"
#include "launch/interrupt.h"
#include "plugins/call_plugin.h"
#include "pretrain/pretrainer.h"
#include "run/parameter_hashes.h"
#include "system/progress_bar.h"

namespace mike {

namespace {

using ProbeKey = std::tuple<std::string, std::string, std::string>;  // image, prompt, answer

ProbeKey key_of(const ProbeSample& sample) { return {sample.image.string(), sample.prompt, sample.teacher_target}; }

void add_tensor(Fnv1a64& hash, const torch::Tensor& tensor) {
  if (!tensor.defined()) {
    hash.add_field("none");
    return;
  }
  const torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
  hash.add_field(shape_string(t)).add_field(std::string(t.dtype().name()));
  hash.add_words(t.data_ptr(), static_cast<std::size_t>(t.numel()) * t.element_size());
}

void add_request(Fnv1a64& hash, const ScoreRequest& request) {
  hash.add_field(request.input.prompt).add_field(request.target).add_field(request.input.raw ? "raw" : "chat");
  add_tensor(hash, request.input.image);
}

// Draws fit()'s progress on the host's bar.
class BarProgress : public FitProgress {
 public:
  BarProgress(const std::string& label, bool enabled) : label_(label), enabled_(enabled) {}
  // A fit can take minutes: Ctrl-C / SIGTERM ends it at its next step
  // (nothing is cached, so the next run fits again) instead of after it.
  void update(std::int64_t done, std::int64_t total, const std::string& status) override {
    if (stop_requested()) throw JobInterrupted();
    if (!bar_) bar_ = std::make_unique<ProgressBar>(label_, total, enabled_);
    bar_->set_total(total);
    bar_->update(done, status);
  }
  void finish() {
    if (bar_) bar_->finish();
  }

 private:
  std::string label_;
  bool enabled_;
  std::unique_ptr<ProgressBar> bar_;
};

}  // namespace

std::vector<TrainingEdit> training_edits(const std::vector<data::EditRecord>& train,
                                         const std::vector<data::EditRecord>& evaluated, Task task,
                                         const std::string& igen, Evaluator& evaluator, std::size_t& dropped) {
  std::set<ProbeKey> evaluated_locality;
  for (std::size_t i = 0; i < evaluated.size(); ++i)
    for (const ProbeSample& sample : probe_samples(evaluated[i], i, task, igen))
      if (sample.is_locality()) evaluated_locality.insert(key_of(sample));
  dropped = 0;
  std::vector<TrainingEdit> out;
  for (std::size_t i = 0; i < train.size(); ++i) {
    const data::EditRecord& record = train[i];
    const EditSpec spec = edit_spec(record, task, 0);
    TrainingEdit example;
    example.edit = {record.id, record.entity_id, evaluator.input(spec.image, spec.prompt), spec.target, 0};
    for (const ProbeSample& sample : probe_samples(record, i, task, igen)) {
      if (sample.probe == "reliability") continue;  // the edit itself
      ScoreRequest request{evaluator.input(sample.image, sample.prompt), sample.teacher_target};
      if (!sample.is_locality()) {
        example.in_scope.push_back(std::move(request));
      } else if (evaluated_locality.count(key_of(sample))) {
        ++dropped;
      } else {
        example.out_of_scope.push_back(std::move(request));
      }
    }
    out.push_back(std::move(example));
  }
  return out;
}

std::string fit_key(const FitRequest& request, Model& model, const std::vector<TrainingEdit>& train) {
  Fnv1a64 hash;
  hash.add_field("mike fit 1").add_field(request.editor_plugin).add_field(request.editor_version);
  hash.add_field(request.editor_config.to_yaml()).add_field(std::to_string(request.seed));
  for (const auto& [name, value] : hash_parameters(model)) hash.add_field(name).add_field(std::to_string(value));
  for (const TrainingEdit& example : train) {
    hash.add_field(example.edit.id).add_field(example.edit.entity).add_field(example.edit.target);
    add_request(hash, {example.edit.input, example.edit.target});
    hash.add_field("in " + std::to_string(example.in_scope.size()));
    for (const ScoreRequest& r : example.in_scope) add_request(hash, r);
    hash.add_field("out " + std::to_string(example.out_of_scope.size()));
    for (const ScoreRequest& r : example.out_of_scope) add_request(hash, r);
  }
  return hash.hex();
}

FitOutcome fit_editor(const FitRequest& request, Editor& editor, const std::string& editor_label, Model& model,
                      const data::Dataset& evaluated, Evaluator& evaluator) {
  FitOutcome outcome;
  const FitUse use = call_plugin(editor_label, [&] { return editor.fit_use(); });
  if (use == FitUse::none) return outcome;
  const bool required = use == FitUse::required;

  // Where the train split is, and whether there is one apart from the
  // evaluated file: a trained editor cannot do without it; an optional one
  // (IKE's demonstrations) then edits as it is.
  std::error_code ec;
  const std::filesystem::path train_path = data::split_path(request.data_dir, "train", request.format);
  std::string missing;
  if (std::filesystem::is_regular_file(request.data_dir, ec))
    missing = "data.dir (" + request.data_dir.string() + ") is a single file, whose every split is that file, so "
              "there is no train split apart from the records the run edits";
  else if (!std::filesystem::exists(train_path, ec))
    missing = train_path.string() + " does not exist";
  else if (std::filesystem::equivalent(train_path, evaluated.file, ec))
    missing = "the train split is " + train_path.string() + ", the file the run edits (data.split=" + evaluated.split +
              ")";
  if (!missing.empty()) {
    if (required)
      throw ConfigError(editor_label + " is a trained editor and learns from the dataset's train split, but " +
                        missing + "; use a dataset folder with a train split (`mike data synth` writes one), "
                        "evaluate another data.split, or use an editor that needs no training");
    spdlog::info("{}: no train split to learn from ({}); it edits without one", editor_label, missing);
    return outcome;
  }
  outcome.fitted = true;

  data::LoadOptions load = request.load;
  load.limit = 0;  // data.limit bounds the records edited, not what an editor learns from
  load.allow_empty = !required;
  data::Dataset train;
  try {
    train = data::load_dataset(request.data_dir, "train", request.format, load);
  } catch (const DataError& e) {
    throw DataError(editor_label + " learns from the dataset's train split, which does not load: " +
                    std::string(e.what()) +
                    (required ? " (use a dataset with a train split, as `mike data synth` writes, or an editor that "
                                "needs no training)"
                              : ""));
  }
  const std::filesystem::path& train_file = train.file;
  std::set<std::string> evaluated_entities;
  for (const data::EditRecord& record : evaluated.records) evaluated_entities.insert(record.entity_id);
  std::size_t shared = 0;
  for (const data::EditRecord& record : train.records)
    shared += !record.entity_id.empty() && evaluated_entities.count(record.entity_id);
  if (shared)
    spdlog::warn("{}: {} of {} train records are about entities the evaluated split ({}) also edits; a trained "
                 "editor has then seen those entities' edits, so its numbers on them are not held-out",
                 editor_label, shared, train.records.size(), evaluated.file.string());
  const std::vector<TrainingEdit> examples =
      training_edits(train.records, evaluated.records, request.task, request.igen, evaluator, outcome.dropped_locality);
  outcome.train_edits = examples.size();

  const std::string key = fit_key(request, model, examples);
  outcome.file = cache_root() / "fit" / (request.editor_plugin + "-" + key + ".safetensors");
  const auto started = std::chrono::steady_clock::now();
  if (!request.force && std::filesystem::exists(outcome.file)) {
    SafetensorsFile cached;
    try {
      cached = load_safetensors(outcome.file.string());
    } catch (const ModelError& e) {
      throw DataError("the cached fit " + outcome.file.string() + " does not read back (" + e.what() +
                      "); delete it and run again to fit anew, or pass --force to `mike fit`");
    }
    try {
      call_plugin(editor_label, [&] { editor.load_fitted(cached.tensors); });
    } catch (const Error& e) {
      throw DataError("the cached fit " + outcome.file.string() + " was refused: " + e.what() +
                      "; delete it and run again to fit anew, or pass --force to `mike fit`");
    }
    outcome.from_cache = true;
    outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    spdlog::info("{}: fitted state from the cache, {}", editor_label, outcome.file.string());
    return outcome;
  }

  if (required)
    spdlog::info("{}: {}fitting on {} train edits of {} (no cached fit for this model, config and train split{}); "
               "`mike fit` does this step alone",
               editor_label, request.force ? "re" : "", examples.size(), train_file.string(),
               outcome.dropped_locality ? ", " + std::to_string(outcome.dropped_locality) +
                                              " train locality probes left out because the evaluated split uses them"
                                        : std::string());
  BarProgress progress("fit " + request.editor_plugin, request.progress);
  call_plugin(editor_label, [&] { editor.fit(model, examples, progress); });
  progress.finish();
  const FittedState state = call_plugin(editor_label, [&] { return editor.fitted_state(); });
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (state.empty()) {
    if (required)
      throw PluginError(editor_label + ": fit_use() is required but fitted_state() returned no tensors after fit(), "
                        "so nothing can be cached or reused; the plugin must return what it learned");
    outcome.file.clear();  // a cheap fit (e.g. demonstrations): made on every run, nothing cached
    spdlog::info("{}: fitted on {} train records in {:.1f} s", editor_label, examples.size(), outcome.seconds);
    return outcome;
  }
  std::filesystem::create_directories(outcome.file.parent_path());
  save_safetensors(outcome.file.string(), state,
                   {{"editor", request.editor_plugin},
                    {"editor_version", request.editor_version},
                    {"train_file", train_file.string()},
                    {"train_edits", std::to_string(examples.size())},
                    {"fit_seconds", std::to_string(outcome.seconds)},
                    {"editor_config", request.editor_config.to_yaml()}});
  spdlog::info("{}: fitted in {:.1f} s, cached as {}", editor_label, outcome.seconds, outcome.file.string());
  return outcome;
}

}  // namespace mike
