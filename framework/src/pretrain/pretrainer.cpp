// The pretraining loop behind `mike pretrain` (see pretrainer.h).
#include "pretrain/pretrainer.h"
#include "pretrain/grouped_loss.h"

#include "system/progress_bar.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "data/dataset.h"
#include "data/image_cache.h"
#include "data/image_tensor.h"
#include "data/synth.h"
#include "data/synth_folder.h"
#include "mike/error.h"
#include "mike/hash.h"
#include "mike/model.h"
#include "mike/safetensors.h"
#include "mike/text_metrics.h"
#include "mike/tokenizer.h"
#include "plugins/plugin_registry.h"
#include "system/build_info.h"
#include "system/text_file.h"

namespace fs = std::filesystem;

namespace mike {

namespace {

// Bump when the loop changes in a way that changes the weights it produces.
constexpr const char* kPretrainVersion = "mike-pretrain-1";
// Keys of the model config that do not change the pretrained weights.
// A batch is sorted by length and run as this many forward/backward passes
// of similar-length records whose losses are summed with token weights: the
// gradient is the whole batch's (up to float rounding), with far less
// padding (a random batch of 32 is padded to its longest record, ~2.3x the
// mean length on the quick-start corpus). Outside the hash, like threads.
constexpr int kDefaultLengthGroups = 4;
// The length an image adds when grouping by length (see above).
constexpr std::size_t kImageTokensEstimate = 64;

const std::set<std::string> kKeysOutsideHash = {"checkpoint", "tokenizer", "eval_batch_size", "initial_weights",
                                                   "image_feature_cache_mb", "cache_below_edit"};


std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The model config as YAML with `set` applied (value "" = null).
Config model_config_with(const Config& model, const std::map<std::string, std::string>& set) {
  YAML::Node node = YAML::Load(model.to_yaml());
  for (const auto& [key, value] : set) {
    if (value.empty()) node[key] = YAML::Node(YAML::NodeType::Null);
    else node[key] = value;
  }
  YAML::Emitter out;
  out << node;
  return Config::from_yaml(out.c_str(), "model config (pretraining)");
}

struct Settings {
  int steps, batch_size, warmup_steps, checkpoint_every, holdout, eval_limit, vocab_size, length_groups;
  double lr, min_lr, weight_decay, grad_clip;
  std::uint64_t seed;
};

Settings settings_of(const Config& root) {
  const Config model = root.sub("model");
  Config p = model.has("pretrain") ? model.sub("pretrain") : Config();
  Settings s;
  s.steps = p.get_or<int>("steps", 2000);
  s.batch_size = p.get_or<int>("batch_size", 32);
  s.warmup_steps = p.get_or<int>("warmup_steps", 100);
  s.checkpoint_every = p.get_or<int>("checkpoint_every", 500);
  s.holdout = p.get_or<int>("holdout_images_per_entity", 1);
  s.eval_limit = p.get_or<int>("eval_limit", 0);
  s.length_groups = p.get_or<int>("length_groups", std::min(kDefaultLengthGroups, std::max(s.batch_size, 1)));
  s.lr = p.get_or<double>("lr", 3e-3);
  s.min_lr = p.get_or<double>("min_lr", 3e-4);
  s.weight_decay = p.get_or<double>("weight_decay", 0.01);
  s.grad_clip = p.get_or<double>("grad_clip", 1.0);
  s.vocab_size = model.get_or<int>("tokenizer_vocab_size", 512);
  s.seed = static_cast<std::uint64_t>(root.get_or<std::int64_t>("seed", 0));
  if (s.steps <= 0 || s.batch_size <= 0)
    throw ConfigError("model.pretrain.steps and model.pretrain.batch_size must be positive (got " +
                      std::to_string(s.steps) + ", " + std::to_string(s.batch_size) + ")");
  if (s.length_groups < 1 || s.length_groups > s.batch_size)
    throw ConfigError("model.pretrain.length_groups is " + std::to_string(s.length_groups) + " (from " +
                      p.origin("length_groups") + "); it takes 1 (one pass per batch) to batch_size (" +
                      std::to_string(s.batch_size) + ")");
  return s;
}

// Linear warm-up, then cosine decay to min_lr (Loshchilov & Hutter 2017, SGDR eq. 5, one cycle).
double learning_rate(const Settings& s, int step) {
  if (step < s.warmup_steps) return s.lr * (step + 1) / s.warmup_steps;
  const double progress = double(step - s.warmup_steps) / std::max(1, s.steps - s.warmup_steps);
  return s.min_lr + 0.5 * (s.lr - s.min_lr) * (1.0 + std::cos(M_PI * std::min(1.0, progress)));
}

// AdamW (Loshchilov & Hutter 2019, Algorithm 2) with decoupled weight decay on
// matrices only. Written out so its state saves to safetensors for --resume.
class AdamW {
 public:
  AdamW(std::vector<std::string> names, std::vector<torch::Tensor> params) : names_(std::move(names)), params_(std::move(params)) {
    for (const auto& p : params_) {
      m_.push_back(torch::zeros_like(p));
      v_.push_back(torch::zeros_like(p));
    }
  }
  void step(double lr, double weight_decay) {
    torch::NoGradGuard no_grad;
    ++t_;
    const double c1 = 1.0 - std::pow(kBeta1, t_), c2 = 1.0 - std::pow(kBeta2, t_);
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const torch::Tensor& g = params_[i].grad();
      if (!g.defined()) continue;
      m_[i].mul_(kBeta1).add_(g, 1.0 - kBeta1);
      v_[i].mul_(kBeta2).addcmul_(g, g, 1.0 - kBeta2);
      if (params_[i].dim() >= 2 && weight_decay > 0) params_[i].mul_(1.0 - lr * weight_decay);
      const torch::Tensor denom = (v_[i] / c2).sqrt_().add_(kEps);
      params_[i].addcdiv_(m_[i], denom, -lr / c1);
    }
  }
  // The whole training state in one file (safetensors writes are atomic:
  // temp file + rename), so a run killed at any moment leaves either the
  // previous state or the new one, never weights of one step with moments
  // of another.
  void save(const fs::path& path, const SafetensorsMetadata& metadata) const {
    TensorMap state;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      state["param." + names_[i]] = params_[i].detach();
      state["m." + names_[i]] = m_[i];
      state["v." + names_[i]] = v_[i];
    }
    SafetensorsMetadata meta = metadata;
    meta["adam_t"] = std::to_string(t_);
    save_safetensors(path.string(), state, meta);
  }
  // Restores parameters and moments; returns the file's metadata.
  SafetensorsMetadata load(const fs::path& path) {
    SafetensorsFile file = load_safetensors(path.string());
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      auto p = file.tensors.find("param." + names_[i]), m = file.tensors.find("m." + names_[i]),
           v = file.tensors.find("v." + names_[i]);
      if (p == file.tensors.end() || m == file.tensors.end() || v == file.tensors.end() ||
          !p->second.sizes().equals(params_[i].sizes()))
        throw ModelError("training state '" + path.string() + "' does not match the model (parameter '" + names_[i] +
                         "'); delete it or rerun without --resume");
      params_[i].copy_(p->second);
      m_[i].copy_(m->second);
      v_[i].copy_(v->second);
    }
    for (const char* key : {"step", "adam_t", "loss_avg"})
      if (!file.metadata.count(key))
        throw ModelError("training state '" + path.string() + "' lacks '" + key +
                         "'; delete it or rerun without --resume");
    t_ = std::stoll(file.metadata.at("adam_t"));
    return file.metadata;
  }

 private:
  static constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;
  std::vector<std::string> names_;
  std::vector<torch::Tensor> params_, m_, v_;
  long long t_ = 0;
};

struct EvalItem {
  std::string image;  // "" = text only
  std::string prompt, answer;
};

struct PretrainSplits {
  std::vector<data::PretrainRecord> train;
  std::vector<EvalItem> known_seen, known_heldout, text_qa, edit_naming;
  // <data.dir>/controls.jsonl by kind (heldout_paraphrase, csr_control, ...).
  std::map<std::string, std::vector<EvalItem>> controls;
};

PretrainSplits split_corpus(const std::vector<data::PretrainRecord>& records, const fs::path& data_dir,
                    const std::string& format, int holdout, const data::LoadOptions& load) {
  // Hold out the last `holdout` images of each known entity: they measure
  // whether naming generalises beyond the pictures seen in training.
  std::map<std::string, std::vector<std::string>> images_of;
  for (const auto& r : records)
    if (r.kind == "name" && !r.image.empty()) {
      auto& list = images_of[r.entity_id];
      if (std::find(list.begin(), list.end(), r.image.string()) == list.end()) list.push_back(r.image.string());
    }
  std::set<std::string> held_out;
  for (const auto& [entity, list] : images_of)
    for (int i = 0; i < holdout && static_cast<int>(list.size()) - 1 - i > 0; ++i)
      held_out.insert(list[list.size() - 1 - i]);
  PretrainSplits c;
  std::set<std::string> named_images;
  for (const auto& r : records) {
    const std::string image = r.image.string();
    if (!held_out.count(image)) c.train.push_back(r);
    if (r.kind == "fact") c.text_qa.push_back({"", r.prompt, r.answer});
    if (r.kind == "name" && named_images.insert(image).second)
      (held_out.count(image) ? c.known_heldout : c.known_seen).push_back({image, r.prompt, r.answer});
  }
  for (const char* split : {"train", "dev", "test"}) {
    const fs::path file = data_dir / (std::string(split) + ".jsonl");
    if (!fs::exists(file) || fs::file_size(file) == 0) continue;
    for (const auto& e : data::load_dataset(data_dir, split, format, load).records)
      c.edit_naming.push_back({e.image.string(), e.src, e.alt});
  }
  for (const auto& r : data::load_pretrain_controls(data_dir, load))
    c.controls[r.kind].push_back({r.image.string(), r.prompt, r.answer});
  return c;
}

double exact_match_rate(Model& model, data::ImageTensorCache& images, const std::vector<EvalItem>& items, int limit) {
  std::vector<ModelInput> inputs;
  std::vector<std::string> answers;
  for (std::size_t i = 0; i < items.size() && (limit <= 0 || static_cast<int>(i) < limit); ++i) {
    inputs.push_back({items[i].prompt, items[i].image.empty() ? torch::Tensor() : images.get(items[i].image)});
    answers.push_back(items[i].answer);
  }
  if (inputs.empty()) return 0.0;
  GenerateOptions options;
  options.max_new_tokens = 16;
  const auto outputs = model.generate(inputs, options);
  int hits = 0;
  for (std::size_t i = 0; i < outputs.size(); ++i) hits += exact_match(outputs[i], answers[i]) ? 1 : 0;
  return double(hits) / outputs.size();
}

fs::path data_dir_ready(const Config& root) {
  const Config data_config = root.sub("data");
  const fs::path data_dir = data::ready_data_dir(data_config);
  if (!fs::exists(data_dir / "pretrain.jsonl"))
    throw DataError("'" + (data_dir / "pretrain.jsonl").string() +
                    "' does not exist: pretraining needs the corpus `mike data synth` writes (data.dir = " +
                    data_dir.string() + ")");
  return data_dir;
}

std::string report_json(const PretrainReport& r) {
  std::ostringstream s;
  s << "{\n  \"steps\": " << r.steps << ",\n  \"train_seconds\": " << r.seconds << ",\n  \"final_loss\": " << r.final_loss;
  for (const auto& [name, value] : r.accuracy)
    s << ",\n  \"" << name << "_exact_match\": " << value << ",\n  \"" << name << "_count\": " << r.eval_counts.at(name);
  s << "\n}\n";
  return s.str();
}

PretrainReport read_cached_report(const fs::path& dir) {
  PretrainReport r;
  r.checkpoint_dir = dir;
  r.from_cache = true;
  std::ifstream in(dir / "metrics.json");
  std::string line;
  // Flat "key": number lines written by report_json.
  while (std::getline(in, line)) {
    const auto q1 = line.find('"'), q2 = line.find('"', q1 + 1), colon = line.find(':');
    if (q1 == std::string::npos || q2 == std::string::npos || colon == std::string::npos) continue;
    const std::string key = line.substr(q1 + 1, q2 - q1 - 1);
    const double value = std::atof(line.substr(colon + 1).c_str());
    const std::string em = "_exact_match", count = "_count";
    if (key == "steps") r.steps = static_cast<int>(value);
    else if (key == "train_seconds") r.seconds = value;
    else if (key == "final_loss") r.final_loss = value;
    else if (key.size() > em.size() && key.compare(key.size() - em.size(), em.size(), em) == 0)
      r.accuracy[key.substr(0, key.size() - em.size())] = value;
    else if (key.size() > count.size() && key.compare(key.size() - count.size(), count.size(), count) == 0)
      r.eval_counts[key.substr(0, key.size() - count.size())] = static_cast<int>(value);
  }
  return r;
}

}  // namespace

void validate_pretrain_settings(const Config& root) { (void)settings_of(root); }

fs::path cache_root() {
  if (const char* env = std::getenv("MIKE_CACHE"); env && *env) return env;
  if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".cache" / "mike";
  return fs::temp_directory_path() / "mike-cache";
}

std::string pretrain_hash(const Config& root) {
  const Config model = root.sub("model");
  YAML::Node node = YAML::Load(model.to_yaml());
  for (const std::string& key : kKeysOutsideHash) node.remove(key);
  if (node["pretrain"] && node["pretrain"].IsMap()) node["pretrain"].remove("length_groups");
  YAML::Emitter emitted;
  emitted << node;
  std::string text = std::string(kPretrainVersion) + "\nmodel:\n" + emitted.c_str();
  text += "\nseed=" + std::to_string(root.get_or<std::int64_t>("seed", 0));
  const fs::path corpus = fs::path(root.sub("data").get<std::string>("dir")) / "pretrain.jsonl";
  Fnv1a64 hash(Fnv1a64::kLegacyOffsetBasis);
  hash.add_bytes(text);
  if (fs::exists(corpus)) hash.add_bytes(read_bytes(corpus));
  return hash.hex();
}

fs::path pretrained_checkpoint_dir(const Config& root) {
  return cache_root() / "pretrain" / (root.sub("model").get<std::string>("plugin") + "-" + pretrain_hash(root));
}

void train_corpus_tokenizer(const std::vector<data::PretrainRecord>& records, const TokenizerTrainOptions& options,
                            const fs::path& path) {
  std::vector<std::string> sentences;
  for (const auto& r : records) {
    sentences.push_back(r.prompt);
    sentences.push_back(r.answer);
  }
  Tokenizer::train(sentences, options).save(path.string());
}

PretrainReport run_pretraining(const Config& root, const PretrainRunOptions& options) {
  int threads = configure_threads(root);
  const fs::path data_dir = data_dir_ready(root);
  const Settings s = settings_of(root);
  const fs::path final_dir = pretrained_checkpoint_dir(root);
  if (!options.force && fs::exists(final_dir / "model.safetensors") && fs::exists(final_dir / "metrics.json")) {
    spdlog::info("pretrained model found in the cache: {}", final_dir.string());
    return read_cached_report(final_dir);
  }
  const fs::path partial = fs::path(final_dir.string() + ".partial");
  fs::create_directories(partial);

  const std::string format = root.sub("data").get_or<std::string>("format", "mike");
  // The same trust setting `mike run` honours (data.allow_outside_root).
  data::LoadOptions load;
  load.allow_outside_root = root.sub("data").get_or<bool>("allow_outside_root", false);
  const auto records = data::load_pretrain_corpus(data_dir, load);
  if (records.empty()) throw DataError("'" + (data_dir / "pretrain.jsonl").string() + "' has no records");
  PretrainSplits corpus = split_corpus(records, data_dir, format, s.holdout, load);

  const Config model_section = root.sub("model");
  const std::string plugin = model_section.get<std::string>("plugin");
  const fs::path state_file = partial / "train_state.safetensors";
  const bool resuming = options.resume && fs::exists(state_file) && fs::exists(partial / "tokenizer.model");
  if (!resuming) {
    fs::remove(state_file);  // a fresh start must not later resume from an older run's state
    TokenizerTrainOptions tok;
    tok.vocab_size = s.vocab_size;
    train_corpus_tokenizer(records, tok, partial / "tokenizer.model");
  }
  // Resuming builds the same initial model and then loads the training state
  // (weights and optimizer moments) over it.
  const Config model_config =
      model_config_with(model_section, {{"checkpoint", ""}, {"tokenizer", (partial / "tokenizer.model").string()}});
  PluginRegistry registry;
  registry.discover(PluginRegistry::default_search_path(options.plugin_paths));
  torch::manual_seed(s.seed);
  auto model = registry.create_model(plugin, model_config);
  threads = settle_threads(root, parameter_count(*model));
  const Tokenizer tokenizer = Tokenizer::load((partial / "tokenizer.model").string());

  std::vector<std::string> names = model->parameter_names();
  std::vector<torch::Tensor> params;
  for (const auto& n : names) {
    params.push_back(model->parameter(n));
    params.back().set_requires_grad(true);
  }
  AdamW optimizer(names, params);
  int start = 0;
  double loss_avg = 0;
  if (resuming) {
    const SafetensorsMetadata state = optimizer.load(state_file);
    start = std::stoi(state.at("step"));
    loss_avg = std::stod(state.at("loss_avg"));
    spdlog::info("resuming pretraining at step {}/{}", start, s.steps);
  } else if (options.resume) {
    spdlog::warn("--resume: no training state in {}; starting from step 0", partial.string());
  }
  spdlog::info("pretraining {} on {} records ({} held-out-image records), {} steps x {} , {} threads; cache {}",
               plugin, corpus.train.size(), records.size() - corpus.train.size(), s.steps, s.batch_size, threads,
               final_dir.string());

  data::ImageTensorCache images;
  const auto t0 = std::chrono::steady_clock::now();
  double tokens = 0;
  PretrainReport report;
  ProgressBar bar("pretrain", s.steps, options.progress, start);
  for (int step = start; step < s.steps; ++step) {
    // Batches are a function of (seed, step), so --resume continues the same sequence.
    std::mt19937_64 rng(s.seed * 1000003ULL + static_cast<std::uint64_t>(step));
    std::uniform_int_distribution<std::size_t> pick(0, corpus.train.size() - 1);
    std::vector<ScoreRequest> batch(s.batch_size);
    std::vector<std::size_t> target_tokens(batch.size()), lengths(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto& r = corpus.train[pick(rng)];
      ScoreRequest& request = batch[i];
      request.input.prompt = r.prompt;
      if (!r.image.empty()) request.input.image = images.get(r.image.string());
      request.target = r.answer;
      request.end_with_eos = true;
      target_tokens[i] = tokenizer.encode(r.answer).size() + 1;
      // Only orders the batch (any estimate keeps the gradient exact): an
      // image record is longer by its image tokens, 16-64 for the presets.
      lengths[i] = tokenizer.encode(r.prompt).size() + target_tokens[i] + (r.image.empty() ? 0 : kImageTokensEstimate);
      tokens += static_cast<double>(target_tokens[i]);
    }
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
    const double value = accumulate_grouped_loss(*model, batch, target_tokens, lengths, s.length_groups);
    if (s.grad_clip > 0) torch::nn::utils::clip_grad_norm_(params, s.grad_clip);
    optimizer.step(learning_rate(s, step), s.weight_decay);
    loss_avg = step == 0 ? value : 0.95 * loss_avg + 0.05 * value;
    const double elapsed = bar.elapsed_seconds();
    char status[96];
    std::snprintf(status, sizeof status, "loss %.4f  %.0f target tok/s", loss_avg, tokens / std::max(elapsed, 1e-9));
    bar.update(step + 1, status);
    if (s.checkpoint_every > 0 && (step + 1) % s.checkpoint_every == 0 && step + 1 < s.steps) {
      char loss_text[32];
      std::snprintf(loss_text, sizeof loss_text, "%.17g", loss_avg);  // round-trips exactly
      optimizer.save(state_file, {{"step", std::to_string(step + 1)}, {"loss_avg", loss_text}});
      model->save_checkpoint(partial.string());  // a loadable snapshot; --resume reads only the state file
    }
  }
  bar.finish();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  report.steps = s.steps;
  report.final_loss = loss_avg;
  for (auto& p : params) p.mutable_grad() = torch::Tensor();

  {
    torch::NoGradGuard no_grad;
    std::vector<std::pair<std::string, const std::vector<EvalItem>*>> sets = {
        {"known_seen", &corpus.known_seen}, {"known_heldout", &corpus.known_heldout},
        {"text_qa", &corpus.text_qa}, {"edit_naming", &corpus.edit_naming}};
    for (const auto& [kind, items] : corpus.controls) sets.emplace_back(kind, &items);
    for (const auto& [name, items] : sets) {
      report.accuracy[name] = exact_match_rate(*model, images, *items, s.eval_limit);
      report.eval_counts[name] =
          s.eval_limit > 0 ? std::min<int>(s.eval_limit, static_cast<int>(items->size())) : static_cast<int>(items->size());
    }
  }
  const fs::path staging = fs::path(final_dir.string() + ".tmp");
  fs::remove_all(staging);
  model->save_checkpoint(staging.string());
  write_text_file(staging / "metrics.json", report_json(report));
  write_text_file(staging / "pretrain_config.yaml", root.to_yaml() + "\n");
  fs::remove_all(final_dir);
  fs::rename(staging, final_dir);
  fs::remove_all(partial);
  report.checkpoint_dir = final_dir;
  return report;
}

namespace {

// An untrained model still has to read text: the tokenizer `mike pretrain`
// would train on this corpus (same sentences, same vocabulary size), made
// once and cached beside the pretrained model's place (<dir>.initial/).
fs::path initial_weights_tokenizer(const Config& root, const fs::path& pretrained_dir) {
  const Config data_config = root.sub("data");
  const fs::path corpus = fs::path(data_config.get<std::string>("dir")) / "pretrain.jsonl";
  if (!fs::exists(corpus))
    throw ConfigError("model.initial_weights=true (from " + root.sub("model").origin("initial_weights") +
                      ") needs a tokenizer, and there is no " + corpus.string() +
                      " to train one from; set model.tokenizer=<path to a SentencePiece tokenizer.model>");
  const fs::path path = fs::path(pretrained_dir.string() + ".initial") / "tokenizer.model";
  if (fs::exists(path)) return path;
  data::LoadOptions load;
  load.allow_outside_root = data_config.get_or<bool>("allow_outside_root", false);
  const auto records = data::load_pretrain_corpus(corpus.parent_path(), load);
  if (records.empty()) throw DataError("'" + corpus.string() + "' has no records to train a tokenizer on");
  TokenizerTrainOptions options;
  options.vocab_size = settings_of(root).vocab_size;
  fs::create_directories(path.parent_path());
  const fs::path staging = path.string() + ".tmp";
  train_corpus_tokenizer(records, options, staging);
  fs::rename(staging, path);  // atomic: a concurrent run sees the whole file or none
  spdlog::info("trained the corpus tokenizer for the untrained model: {}", path.string());
  return path;
}

}  // namespace

Config with_pretrained_checkpoint(const Config& root, const std::vector<std::string>& plugin_paths) {
  (void)plugin_paths;
  const Config model = root.sub("model");
  if (!model.get_or<std::string>("checkpoint", "").empty() || !model.has("pretrain")) return model;
  const fs::path dir = pretrained_checkpoint_dir(root);
  if (!fs::exists(dir / "model.safetensors")) {
    // Edits of an untrained model give numbers that look like results; only
    // run them when asked to.
    if (model.get_or<bool>("initial_weights", false)) {
      spdlog::warn("model.initial_weights=true: the model runs on its initial (untrained) weights");
      if (!model.get_or<std::string>("tokenizer", "").empty()) return model;
      return model_config_with(model, {{"tokenizer", initial_weights_tokenizer(root, dir).string()}});
    }
    const std::string origin = model.origin("plugin");
    const bool resumable = fs::exists(fs::path(dir.string() + ".partial") / "train_state.safetensors");
    throw ConfigError("no pretrained model for this model/data/seed is cached (" + dir.string() + ")" +
                      (origin.empty() ? std::string() : "; the model comes from " + origin) + "; fix: run `mike " +
                      (resumable ? "pretrain --resume" : "pretrain") +
                      "` with the same model/data/seed overrides first (it caches the result), or add "
                      "++model.initial_weights=true to edit the untrained model on purpose");
  }
  // The pretrained model reads text with its own tokenizer.model; another
  // one would feed it ids it never learned, so an explicit one is refused
  // rather than silently replaced.
  if (const std::string tokenizer = model.get_or<std::string>("tokenizer", ""); !tokenizer.empty())
    throw ConfigError("model.tokenizer is '" + tokenizer + "' (from " + model.origin("tokenizer") +
                      "), but this run uses the pretrained model " + dir.string() +
                      ", which has its own tokenizer.model; fix: drop the model.tokenizer override, or point "
                      "model.checkpoint at a checkpoint trained with that tokenizer");
  spdlog::info("using the pretrained model {}", dir.string());
  return model_config_with(model, {{"checkpoint", dir.string()}, {"tokenizer", ""}});
}

Config model_config_for_run(const Config& root, const std::vector<std::string>& plugin_paths) {
  Config model = with_pretrained_checkpoint(root, plugin_paths);
  if (!root.has("device")) return model;
  const std::string device = root.get<std::string>("device");
  if (device == model.get_or<std::string>("device", "cpu")) return model;
  return model_config_with(model, {{"device", device}});
}

}  // namespace mike
