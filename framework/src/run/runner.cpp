#include "run/runner.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "launch/interrupt.h"
#include "mike/error.h"
#include "plugins/plugin_registry.h"

namespace mike {

namespace {
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

Protocol parse_protocol(const std::string& name) {
  if (name == "single") return Protocol::kSingle;
  if (name == "batch") return Protocol::kBatch;
  if (name == "sequential") return Protocol::kSequential;
  if (name == "multi_step") return Protocol::kMultiStep;
  throw ConfigError("protocol.name '" + name + "' is not one of single, batch, sequential, multi_step");
}

const char* protocol_name(Protocol protocol) {
  switch (protocol) {
    case Protocol::kSingle: return "single";
    case Protocol::kBatch: return "batch";
    case Protocol::kSequential: return "sequential";
    case Protocol::kMultiStep: return "multi_step";
  }
  return "?";
}

Runner::Runner(Plugins plugins, std::vector<data::EditRecord> records, RunnerOptions options, Evaluator& evaluator,
               RunLog& log)
    : plugins_(std::move(plugins)),
      records_(std::move(records)),
      options_(std::move(options)),
      evaluator_(evaluator),
      log_(log) {
  if (options_.protocol == Protocol::kBatch && options_.batch_edits < 1)
    throw ConfigError("protocol.batch_size must be >= 1, got " + std::to_string(options_.batch_edits));
  if (options_.protocol == Protocol::kMultiStep && options_.steps < 1)
    throw ConfigError("protocol.steps must be >= 1, got " + std::to_string(options_.steps));
  for (std::size_t i = 0; i < records_.size(); ++i)
    samples_.push_back(probe_samples(records_[i], i, options_.task, options_.igen,
                                     options_.protocol == Protocol::kMultiStep ? options_.steps : 1));
  for (const auto& [probe, names] : options_.probe_metrics)
    for (const std::string& name : names)
      if (!plugins_.metrics.count(name)) throw ConfigError("metric '" + name + "' (for " + probe + ") is not loaded");
}

std::int64_t Runner::total_edits() const {
  auto n = static_cast<std::int64_t>(records_.size());
  if (options_.protocol == Protocol::kMultiStep) return n * options_.steps;
  return n;  // batch: the last batch is short when k does not divide n; no record is dropped
}

std::vector<EditRequest> Runner::requests(std::size_t first, std::size_t count, int step) {
  std::vector<EditRequest> out;
  for (std::size_t i = first; i < first + count; ++i) {
    const data::EditRecord& record = records_[i];
    EditSpec spec = edit_spec(record, options_.task, step);
    EditRequest request;
    request.id = record.id;
    request.entity = record.entity_id;
    request.input = evaluator_.input(spec.image, spec.prompt);
    request.target = spec.target;
    request.step = step;
    out.push_back(std::move(request));
  }
  return out;
}

std::unique_ptr<EditedModel> Runner::apply_edit(Model& model, const std::vector<EditRequest>& batch) {
  if (batch.size() > 1 && !plugins_.editor->supports_batch())
    throw ConfigError(plugins_.editor_label + " cannot edit " + std::to_string(batch.size()) +
                      " records at once; use protocol=single or protocol=sequential, or protocol.batch_size=1");
  auto start = std::chrono::steady_clock::now();
  auto edited = call_plugin(plugins_.editor_label, [&] { return plugins_.editor->edit(model, batch); });
  timing_.edit_s += seconds_since(start);
  if (!edited) throw PluginError(plugins_.editor_label + ": edit() returned no model");
  return edited;
}

void Runner::compute_pre_outputs() {
  // One batched pass over every record's probes: pre-edit outputs are computed
  // once and reused for all locality comparisons and the "pre" columns.
  std::vector<ProbeSample> all;
  for (const auto& samples : samples_) all.insert(all.end(), samples.begin(), samples.end());
  auto start = std::chrono::steady_clock::now();
  auto outputs = evaluator_.evaluate(*plugins_.model, plugins_.model_label, all);
  timing_.pre_eval_s += seconds_since(start);
  timing_.pre_eval_samples += static_cast<std::int64_t>(all.size());
  pre_.clear();
  std::size_t offset = 0;
  for (const auto& samples : samples_) {
    pre_.emplace_back(outputs.begin() + static_cast<std::ptrdiff_t>(offset),
                      outputs.begin() + static_cast<std::ptrdiff_t>(offset + samples.size()));
    offset += samples.size();
  }
}

void Runner::evaluate_records(Model& model, const std::vector<std::size_t>& records, std::int64_t edit,
                              std::int64_t checkpoint) {
  std::vector<ProbeSample> samples;
  std::vector<std::pair<std::size_t, std::size_t>> origin;  // (record, sample within record)
  for (std::size_t r : records)
    for (std::size_t s = 0; s < samples_[r].size(); ++s) {
      samples.push_back(samples_[r][s]);
      origin.emplace_back(r, s);
    }
  ActivationSink sink;
  if (!options_.log_taps.empty())
    sink = [&](const std::string& tap, std::size_t sample, const torch::Tensor& values) {
      torch::Tensor rows = values.detach().to(torch::kCPU, torch::kFloat).contiguous();
      std::vector<std::int64_t> positions(static_cast<std::size_t>(rows.size(0)));
      for (std::size_t p = 0; p < positions.size(); ++p) positions[p] = static_cast<std::int64_t>(p);
      log_.append_activations(tap, edit, static_cast<std::int64_t>(sample), positions, rows.size(1),
                              rows.data_ptr<float>());
    };
  auto start = std::chrono::steady_clock::now();
  auto post = evaluator_.evaluate(model, plugins_.model_label, samples, options_.log_taps, sink);
  timing_.post_eval_s += seconds_since(start);
  std::map<std::string, std::vector<GenerationRow>> generations;  // by probe
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const ProbeSample& sample = samples[i];
    const SampleOutput& before = pre_[origin[i].first][origin[i].second];
    if (options_.log_generations) {
      std::string references;
      for (const std::string& reference : sample.references) references += (references.empty() ? "" : "\n") + reference;
      generations[sample.probe].push_back({edit, checkpoint, records_[sample.record].id,
                                           static_cast<std::int64_t>(origin[i].second), sample.image.string(),
                                           sample.prompt, sample.answer, references, before.generated,
                                           post[i].generated});
    }
    MetricInput input;
    input.probe = sample.probe;
    input.target = sample.answer;
    input.references = sample.references;
    input.pre = before.score;
    input.generated_pre = before.generated;
    // The unedited model scored as if it were the post-edit one gives the "pre" column.
    MetricInput unedited = input;
    unedited.post = before.score;
    unedited.generated_post = before.generated;
    input.post = post[i].score;
    input.generated_post = post[i].generated;
    auto it = options_.probe_metrics.find(sample.probe);
    if (it == options_.probe_metrics.end()) continue;
    for (const std::string& metric_name : it->second) {
      const Metric& metric = *plugins_.metrics.at(metric_name);
      std::string label = "metric '" + metric_name + "'";
      auto after = call_plugin(label, [&] { return metric.compute(input); });
      auto before_values = call_plugin(label, [&] { return metric.compute(unedited); });
      for (const auto& [value_name, value] : after) {
        MetricRow row;
        row.edit = edit;
        row.checkpoint = checkpoint;
        row.record_id = records_[sample.record].id;
        row.pre = before_values.at(value_name);
        row.post = value;
        log_.append_metric(sample.probe + "." + value_name, row);
      }
    }
  }
  for (const auto& [probe, rows] : generations) log_.append_generations(probe, rows);
}

void Runner::log_weights(const EditedModel& edited, Model& model, std::int64_t edit) {
  if (!options_.log_weights) return;
  const auto* in_place = dynamic_cast<const InPlaceEdit*>(&edited);
  if (in_place == nullptr) return;  // non-parametric editors change no weights
  torch::NoGradGuard no_grad;
  for (const auto& [name, before] : in_place->original_values()) {
    torch::Tensor delta = (model.parameter(name).detach() - before).to(torch::kCPU, torch::kFloat).contiguous();
    std::vector<std::int64_t> shape(delta.sizes().begin(), delta.sizes().end());
    log_.append_weight_delta(name, edit, shape, delta.data_ptr<float>());
  }
}

ScoreResult Runner::score_restore_probe(Model& model) {
  // The first probe of the first record (reliability: image and prompt),
  // scored alone so that the reference and the check run the same shapes.
  const ProbeSample& sample = samples_.front().front();
  ScoreRequest request{evaluator_.input(sample.image, sample.prompt), sample.teacher_target,
                       evaluator_.options().top_k};
  torch::NoGradGuard no_grad;
  return call_plugin(plugins_.model_label, [&] { return model.score({request}); }).at(0);
}

void Runner::restore_checked(EditedModel& edited, Model& model, const ParameterHashes& before,
                             bool back_to_original) {
  auto start = std::chrono::steady_clock::now();
  call_plugin(plugins_.editor_label, [&] { edited.restore_original(); });
  // Every parameter, not only those the editor says it touched, against the
  // hashes taken before the edit (not against the editor's own snapshot).
  const std::string changed = first_changed_parameter(before, hash_parameters(model));
  if (!changed.empty())
    throw Error(plugins_.editor_label + ": after restore_original(), parameter '" + changed +
                "' is not bitwise what it was before the edit; the editor changed a weight it did not give back, "
                "so results after this point would be contaminated; fix the editor's restore");
  // Wrapping editors change outputs without changing parameters (taps,
  // prompts, memories): the unedited model must score as it did before.
  if (back_to_original && dynamic_cast<const InPlaceEdit*>(&edited) == nullptr) {
    const ScoreResult after = score_restore_probe(model);
    const ScoreResult& expected = restore_probe_pre_;
    if (after.loss != expected.loss || after.predicted_tokens != expected.predicted_tokens ||
        after.topk_tokens != expected.topk_tokens) {
      const ProbeSample& sample = samples_.front().front();
      throw Error(plugins_.editor_label + ": after restore_original(), the model scores probe '" + sample.probe +
                  "' of record '" + records_[sample.record].id + "' differently than before any edit (loss " +
                  std::to_string(after.loss) + " vs " + std::to_string(expected.loss) +
                  "); the editor left state behind in the model (a tap, a cache, a wrapped call), so results after "
                  "this point would be contaminated; fix the editor's restore");
    }
  }
  timing_.restore_s += seconds_since(start);
}

void Runner::commit(const std::vector<EditRequest>& batch, double seconds, const EditedModel& edited) {
  std::vector<EditRow> rows;
  auto stats = edited.stats();
  for (const EditRequest& request : batch) {
    EditRow row;
    row.record_id = request.id;
    row.entity = request.entity;
    row.step = request.step;
    row.target = request.target;
    row.wall_time_s = seconds / static_cast<double>(batch.size());
    row.stats = stats;
    rows.push_back(std::move(row));
  }
  log_.commit_edits(rows);
}

void Runner::run() {
  Model& model = *plugins_.model;
  const std::int64_t total = total_edits();
  const std::int64_t done = log_.edit_count();
  if (done > total)
    throw Error("run.h5 has " + std::to_string(done) + " edits but this config makes only " + std::to_string(total) +
                "; resume with the config the run was started with");
  if (done == total) {
    spdlog::info("all {} edits already in the log; nothing to run", total);
    return;
  }
  spdlog::info("computing pre-edit outputs for {} records", records_.size());
  compute_pre_outputs();
  original_hashes_ = hash_parameters(model);
  restore_probe_pre_ = score_restore_probe(model);
  // After every committed unit: report progress, and stop cleanly on Ctrl-C
  // (the unit is in run.h5, so --resume continues from the next one).
  auto progress = [&](std::int64_t completed) {
    if (completed == total || completed % std::max<std::int64_t>(1, total / 10) == 0)
      spdlog::info("{}/{} edits", completed, total);
    if (completed < total && stop_requested()) {
      spdlog::warn("stopped after {} of {} edits; `mike run --resume <run dir>` continues", completed, total);
      throw JobInterrupted();
    }
  };

  switch (options_.protocol) {
    case Protocol::kSingle:
    case Protocol::kBatch: {
      const std::size_t k = options_.protocol == Protocol::kBatch ? static_cast<std::size_t>(options_.batch_edits) : 1;
      // Editors that batch independent edits prepare the next window's
      // requests at once; the time is the window's, shared by its edits.
      const std::size_t window = call_plugin(plugins_.editor_label, [&] {
        return plugins_.editor->independent_edit_window();
      });
      const std::size_t window_records = window == 0 ? 0 : std::max<std::size_t>(1, window / k) * k;
      std::size_t prepared_until = static_cast<std::size_t>(done);
      double prepared_seconds_per_record = 0.0;
      for (auto first = static_cast<std::size_t>(done); first < static_cast<std::size_t>(total); first += k) {
        const std::size_t count = std::min(k, static_cast<std::size_t>(total) - first);  // the last may be short
        if (window_records > 0 && first >= prepared_until) {
          prepared_until = std::min(static_cast<std::size_t>(total), first + window_records);
          const std::vector<EditRequest> ahead = requests(first, prepared_until - first, 0);
          auto start = std::chrono::steady_clock::now();
          call_plugin(plugins_.editor_label, [&] { plugins_.editor->prepare_independent_edits(model, ahead); });
          const double seconds = seconds_since(start);
          timing_.edit_s += seconds;
          timing_.prepare_s += seconds;
          prepared_seconds_per_record = seconds / static_cast<double>(ahead.size());
        }
        auto batch = requests(first, count, 0);
        auto start = std::chrono::steady_clock::now();
        auto edited = apply_edit(model, batch);
        double seconds = seconds_since(start) + prepared_seconds_per_record * static_cast<double>(count);
        std::vector<std::size_t> evaluated;
        for (std::size_t r = first; r < first + count; ++r) evaluated.push_back(r);
        auto last = static_cast<std::int64_t>(first + count - 1);
        evaluate_records(*edited, evaluated, last, 1);
        log_weights(*edited, model, last);
        restore_checked(*edited, model, original_hashes_, true);
        commit(batch, seconds, *edited);
        progress(last + 1);
      }
      break;
    }
    case Protocol::kSequential: {
      std::vector<std::unique_ptr<EditedModel>> chain;
      std::vector<ParameterHashes> before;  // before[i]: the state chain[i] was applied to
      auto current = [&]() -> Model& { return chain.empty() ? model : *chain.back(); };
      auto hashes_now = [&] { return chain.empty() ? original_hashes_ : hash_parameters(model); };
      for (std::int64_t i = 0; i < done; ++i) {  // resume: replay the logged edits
        before.push_back(hashes_now());
        chain.push_back(apply_edit(current(), requests(static_cast<std::size_t>(i), 1, 0)));
      }
      if (done > 0) spdlog::info("replayed {} edits from the log", done);
      std::vector<int> checkpoints = options_.checkpoints;
      for (std::int64_t i = done; i < total; ++i) {
        auto batch = requests(static_cast<std::size_t>(i), 1, 0);
        before.push_back(hashes_now());
        auto start = std::chrono::steady_clock::now();
        chain.push_back(apply_edit(current(), batch));
        double seconds = seconds_since(start);
        std::int64_t applied = i + 1;
        bool checkpoint = applied == total || std::count(checkpoints.begin(), checkpoints.end(), applied) > 0;
        if (checkpoint) {
          std::vector<std::size_t> evaluated;
          for (std::size_t r = 0; r < static_cast<std::size_t>(applied); ++r) evaluated.push_back(r);
          evaluate_records(current(), evaluated, i, applied);
        }
        log_weights(*chain.back(), model, i);
        commit(batch, seconds, *chain.back());
        progress(applied);
      }
      for (std::size_t i = chain.size(); i-- > 0;) restore_checked(*chain[i], model, before[i], i == 0);
      break;
    }
    case Protocol::kMultiStep: {
      const auto steps = static_cast<std::int64_t>(options_.steps);
      for (std::int64_t unit = done; unit < total;) {
        const auto record = static_cast<std::size_t>(unit / steps);
        const std::int64_t first_step = unit % steps;
        std::vector<std::unique_ptr<EditedModel>> chain;
        std::vector<ParameterHashes> before;  // before[s]: the state step s was applied to
        auto current = [&]() -> Model& { return chain.empty() ? model : *chain.back(); };
        auto hashes_now = [&] { return chain.empty() ? original_hashes_ : hash_parameters(model); };
        for (std::int64_t s = 0; s < first_step; ++s) {  // resume inside an entity: replay its earlier steps
          before.push_back(hashes_now());
          chain.push_back(apply_edit(current(), requests(record, 1, static_cast<int>(s))));
        }
        for (std::int64_t s = first_step; s < steps; ++s, ++unit) {
          auto batch = requests(record, 1, static_cast<int>(s));
          before.push_back(hashes_now());
          auto start = std::chrono::steady_clock::now();
          chain.push_back(apply_edit(current(), batch));
          double seconds = seconds_since(start);
          evaluate_records(current(), {record}, unit, s + 1);
          log_weights(*chain.back(), model, unit);
          commit(batch, seconds, *chain.back());
          progress(unit + 1);
        }
        for (std::size_t i = chain.size(); i-- > 0;) restore_checked(*chain[i], model, before[i], i == 0);
      }
      break;
    }
  }
}

}  // namespace mike
