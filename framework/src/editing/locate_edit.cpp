// Locate-then-edit machinery shared by rome, memit and alphaedit (see
// mike/locate_edit.h for the method and the paper equations).
#include "mike/locate_edit.h"

#include <torch/torch.h>

#include <algorithm>
#include <functional>

#include "mike/edit_training.h"
#include "mike/error.h"

namespace mike {
namespace {

torch::Tensor as_double(const torch::Tensor& t) { return t.detach().to(torch::kFloat64); }

void check_square(const torch::Tensor& c, std::int64_t d, const char* what) {
  if (c.dim() != 2 || c.size(0) != d || c.size(1) != d)
    throw Error(std::string(what) + ": second moment must be [" + std::to_string(d) + ", " + std::to_string(d) +
                "], got " + std::to_string(c.dim()) + "-D");
}

// Activations at each request's key positions, and where those positions sit
// counted from the end of the sequence (left padding puts every sequence's
// last token in the last column, so these offsets hold in any batch).
struct Capture {
  torch::Tensor at_key;                             // [sum of keys per request, d], request-major
  std::vector<std::vector<std::int64_t>> from_end;  // per request: key column = last column - from_end
};

std::vector<std::int64_t> key_offsets_from_end(const ScoreRequest& request, const ScoreResult& result,
                                               KeyPosition position, std::size_t index) {
  // target_tokens holds what was scored: the target's tokens (and EOS if requested).
  const auto scored = static_cast<std::int64_t>(result.target_tokens.size());
  if (result.sequence_length <= scored)
    throw ModelError("the model reported no token layout for input " + std::to_string(index) +
                     " (ScoreResult.sequence_length = " + std::to_string(result.sequence_length) +
                     "); locate-then-edit needs a model that fills it");
  switch (position) {
    case KeyPosition::kLastPromptToken: return {scored};
    case KeyPosition::kAnswerTokens: {
      std::vector<std::int64_t> offsets;  // every position that predicts a scored token, in order
      for (std::int64_t k = scored; k >= 1; --k) offsets.push_back(k);
      return offsets;
    }
    case KeyPosition::kLastImageToken:
      if (result.image_end <= 0)
        throw DataError("key_position last_image_token: input " + std::to_string(index) + " ('" +
                        request.input.prompt.substr(0, 60) +
                        "') has no image tokens; edit image inputs or set key_position: last_prompt_token");
      return {result.sequence_length - result.image_end};
  }
  return {};
}

Capture capture(Model& model, const std::string& tap, const std::vector<ScoreRequest>& requests, KeyPosition position) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> rows;
  std::vector<ScoreResult> results;
  {
    TapHandle handle = model.add_tap(tap, [&](const std::string&, const torch::Tensor& x) {
      if (x.dim() != 3)
        throw ModelError("tap '" + tap + "' gave a " + std::to_string(x.dim()) +
                         "-D activation; locate-then-edit needs [batch, tokens, dim] language-model taps");
      for (std::int64_t r = 0; r < x.size(0); ++r) rows.push_back(x[r].detach().clone());
      return x;
    });
    results = model.score(requests);
  }
  if (rows.size() != requests.size())
    throw ModelError("tap '" + tap + "' fired for " + std::to_string(rows.size()) + " rows while scoring " +
                     std::to_string(requests.size()) + " inputs; use a language-model tap that runs once per forward");
  Capture out;
  std::vector<torch::Tensor> at_key;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    std::vector<std::int64_t> offsets = key_offsets_from_end(requests[i], results[i], position, i);
    for (std::int64_t from_end : offsets) at_key.push_back(rows[i][rows[i].size(0) - 1 - from_end]);
    out.from_end.push_back(std::move(offsets));
  }
  out.at_key = torch::stack(at_key);
  return out;
}

// Adds shift[j] at each row's j-th key position; shift is [keys per row, d].
torch::Tensor shifted(const torch::Tensor& x, const torch::Tensor& shift,
                      const std::vector<std::vector<std::int64_t>>& from_end) {
  const std::int64_t tokens = x.size(1);
  torch::Tensor select = torch::zeros({x.size(0), tokens, shift.size(0)}, x.options().requires_grad(false));
  for (std::int64_t r = 0; r < x.size(0); ++r) {
    const auto& offsets = from_end.at(static_cast<std::size_t>(r));
    for (std::size_t j = 0; j < offsets.size(); ++j)
      select[r][tokens - 1 - offsets[j]][static_cast<std::int64_t>(j)] = 1;
  }
  return x + torch::matmul(select, shift);
}

// ROME eq. 3's average over context templates, per key position: `c` holds,
// request-major, `templates` consecutive inputs per request. [keys, d] float64.
torch::Tensor mean_over_templates(const Capture& c, std::int64_t templates) {
  std::vector<torch::Tensor> keys;
  std::int64_t row = 0;
  for (std::size_t first = 0; first < c.from_end.size(); first += static_cast<std::size_t>(templates)) {
    const auto count = static_cast<std::int64_t>(c.from_end[first].size());
    torch::Tensor sum = torch::zeros({count, c.at_key.size(1)}, torch::kFloat64);
    for (std::int64_t t = 0; t < templates; ++t, row += count) sum += as_double(c.at_key.slice(0, row, row + count));
    keys.push_back(sum / static_cast<double>(templates));
  }
  return torch::cat(keys);
}

constexpr const char* kKeyPositionChoices = "last_image_token, last_prompt_token or answer_tokens";

const char* method_name(LocateEditMethod method) {
  switch (method) {
    case LocateEditMethod::kRome: return "rome";
    case LocateEditMethod::kMemit: return "memit";
    case LocateEditMethod::kAlphaEdit: return "alphaedit";
  }
  return "?";
}

}  // namespace

// ---- closed forms -------------------------------------------------------------

torch::Tensor rome_update(const torch::Tensor& weight, const torch::Tensor& second_moment, const torch::Tensor& key,
                          const torch::Tensor& value) {
  const torch::Tensor w = as_double(weight), c = as_double(second_moment), k = as_double(key), v = as_double(value);
  check_square(c, w.size(1), "rome_update");
  const torch::Tensor u = torch::linalg_solve(c, k.unsqueeze(1)).squeeze(1);  // C⁻¹k*
  // ROME eq. 2: Λ = (v* − W k*) / ((C⁻¹k*)ᵀ k*), ΔW = Λ (C⁻¹k*)ᵀ.
  return torch::outer(v - w.mv(k), u) / u.dot(k);
}

torch::Tensor memit_update(const torch::Tensor& keys, const torch::Tensor& residuals, const torch::Tensor& second_moment,
                           double lambda) {
  const torch::Tensor k = as_double(keys), r = as_double(residuals), c = as_double(second_moment);
  check_square(c, k.size(0), "memit_update");
  // MEMIT eq. 14: ΔW = R Kᵀ (λC + KKᵀ)⁻¹ = ((λC + KKᵀ)⁻¹ K Rᵀ)ᵀ (the matrix is symmetric).
  const torch::Tensor a = lambda * c + k.mm(k.t());
  return torch::linalg_solve(a, k.mm(r.t())).t();
}

torch::Tensor nullspace_projector(const torch::Tensor& second_moment, double relative_threshold) {
  const torch::Tensor c = as_double(second_moment);
  auto [eigenvalues, eigenvectors] = torch::linalg_eigh(c);
  // AlphaEdit eq. 6: keep the eigenvectors the preserved keys barely excite.
  const torch::Tensor keep = eigenvalues < relative_threshold * eigenvalues.max();
  const torch::Tensor u = eigenvectors.index({torch::indexing::Slice(), keep});
  return u.mm(u.t());
}

torch::Tensor alphaedit_update(const torch::Tensor& keys, const torch::Tensor& residuals, const torch::Tensor& projector,
                               double l2, const torch::Tensor& previous_keys) {
  const torch::Tensor k = as_double(keys), r = as_double(residuals), p = as_double(projector);
  check_square(p, k.size(0), "alphaedit_update");
  // AlphaEdit eq. 11: ΔW = R Kᵀ P (K_p K_pᵀ P + K Kᵀ P + l2 I)⁻¹
  //                      = ((P K_p K_pᵀ + P K Kᵀ + l2 I)⁻¹ P K Rᵀ)ᵀ.
  torch::Tensor m = p.mm(k).mm(k.t()) + l2 * torch::eye(k.size(0), k.options());
  if (previous_keys.defined() && previous_keys.numel() > 0) {
    const torch::Tensor kp = as_double(previous_keys);
    if (kp.dim() != 2 || kp.size(0) != k.size(0))
      throw Error("alphaedit_update: previous keys must be [" + std::to_string(k.size(0)) + ", m]");
    m = m + p.mm(kp).mm(kp.t());
  }
  return torch::linalg_solve(m, p.mm(k).mm(r.t())).t();
}

// ---- keys and values ------------------------------------------------------------

KeyPosition parse_key_position(const std::string& name) {
  if (name == "last_image_token") return KeyPosition::kLastImageToken;
  if (name == "last_prompt_token") return KeyPosition::kLastPromptToken;
  if (name == "answer_tokens") return KeyPosition::kAnswerTokens;
  throw ConfigError("key position '" + name + "' is not known; use " + kKeyPositionChoices);
}

const char* key_position_name(KeyPosition position) {
  switch (position) {
    case KeyPosition::kLastImageToken: return "last_image_token";
    case KeyPosition::kLastPromptToken: return "last_prompt_token";
    case KeyPosition::kAnswerTokens: return "answer_tokens";
  }
  return "?";
}

torch::Tensor activations_at_key(Model& model, const std::string& tap, const std::vector<ScoreRequest>& requests,
                                 KeyPosition position) {
  return capture(model, tap, requests, position).at_key;
}

std::vector<ScoreRequest> templated_requests(const EditRequest& edit, const std::vector<std::string>& context_templates) {
  std::vector<ScoreRequest> out;
  for (const std::string& t : context_templates) {
    const std::size_t at = t.find("{}");
    if (at == std::string::npos) throw ConfigError("context template '" + t + "' has no {} (where the edit prompt goes)");
    ScoreRequest request;
    request.input.prompt = t.substr(0, at) + edit.input.prompt + t.substr(at + 2);
    request.input.image = edit.input.image;
    request.target = edit.target;
    // The value is optimised to end the answer too, so greedy decoding stops after it.
    request.end_with_eos = true;
    out.push_back(std::move(request));
  }
  return out;
}

std::string down_proj_weight_name(int layer) { return "lm.layers." + std::to_string(layer) + ".down_proj.weight"; }
std::string down_proj_input_tap(int layer) { return "lm.layers." + std::to_string(layer) + ".mlp.down_proj.in"; }
std::string down_proj_output_tap(int layer) { return "lm.layers." + std::to_string(layer) + ".mlp.down_proj.out"; }
std::string layer_output_tap(int layer) { return "lm.layers." + std::to_string(layer) + ".out"; }

ValueResult optimise_value_shift(Model& model, const std::string& tap, const EditRequest& edit,
                                 const std::vector<std::string>& context_templates, KeyPosition position,
                                 const ValueOptimisation& options) {
  const std::vector<ScoreRequest> requests = templated_requests(edit, context_templates);
  const Capture base = capture(model, tap, requests, position);
  const double base_norm = base.at_key.norm(2, {1}).mean().item<double>();

  // Preservation term: the original distribution along the greedy
  // continuation of a neutral prompt on the same image. With answer_tokens
  // the shift sits on the edit's own answer positions, which a neutral prompt
  // does not have: preservation then comes from C in the closed form alone.
  std::vector<ScoreRequest> preserve;
  Capture preserve_base;
  torch::Tensor preserve_original;  // original log-probs [tokens, V] (KL) or undefined (NLL fallback)
  if (!options.preserve_prompt.empty() && position != KeyPosition::kAnswerTokens) {
    ModelInput neutral{options.preserve_prompt, edit.input.image};
    GenerateOptions greedy;
    greedy.max_new_tokens = options.preserve_tokens;
    const std::string original = model.generate({neutral}, greedy).at(0);
    if (original.find_first_not_of(" \t\n") != std::string::npos) {
      preserve.push_back({neutral, original, 1});
      try {
        preserve_base = capture(model, tap, preserve, position);
      } catch (const DataError&) {
        // The continuation re-encodes to no tokens (e.g. only an unknown
        // piece): there is nothing to preserve; ValueResult says so.
        preserve.clear();
      }
    }
    if (!preserve.empty()) {
      try {
        torch::NoGradGuard no_grad;
        preserve_original = model.target_log_probs(preserve).detach();
      } catch (const ModelError&) {
        preserve_original = torch::Tensor();  // the model exposes no logits: NLL fallback
      }
    }
  }

  FrozenParameters frozen(model);
  // One shift per key position of a request, shared by its context templates.
  torch::Tensor shift =
      torch::zeros({static_cast<std::int64_t>(base.from_end.front().size()), base.at_key.size(1)},
                   base.at_key.options().requires_grad(true));
  const std::vector<std::vector<std::int64_t>>* from_end = &base.from_end;
  TapHandle handle = model.add_tap(tap, [&](const std::string&, const torch::Tensor& x) {
    return shifted(x, shift, *from_end);
  });
  torch::optim::Adam optimizer({shift}, torch::optim::AdamOptions(options.lr));
  ValueResult result;
  const double max_norm = options.clamp_norm_factor * base_norm;
  auto preservation = [&]() -> torch::Tensor {
    from_end = &preserve_base.from_end;
    torch::Tensor term;
    if (preserve_original.defined()) {
      // ROME eq. 4's KL(P_original ‖ P_edited), averaged over positions.
      const torch::Tensor edited = model.target_log_probs(preserve);
      term = (preserve_original.exp() * (preserve_original - edited)).sum(-1).mean();
    } else {
      term = model.loss(preserve);
    }
    from_end = &base.from_end;
    return term;
  };
  for (int step = 0; step < options.steps; ++step) {
    optimizer.zero_grad();
    from_end = &base.from_end;
    torch::Tensor nll = model.loss(requests);
    const double nll_value = nll.item<double>();
    if (step == 0) result.loss_first = nll_value;
    result.loss_last = nll_value;
    if (nll_value < options.stop_loss) break;
    // ROME eq. 4: target NLL + preservation + weight decay on the shift.
    torch::Tensor loss = nll + options.weight_decay * shift.pow(2).sum(1).mean() / (base_norm * base_norm);
    if (!preserve.empty()) {
      torch::Tensor term = preservation();
      result.preserve_last = term.item<double>();
      loss = loss + options.preserve_factor * term;
    }
    loss.backward();
    optimizer.step();
    ++result.steps;
    torch::NoGradGuard no_grad;
    // ROME's clamp on ‖δ‖, per key position.
    const torch::Tensor norms = shift.norm(2, {1}, /*keepdim=*/true);
    shift.mul_(torch::clamp(max_norm / norms.clamp_min(1e-12), c10::nullopt, 1.0));
  }
  if (result.steps == options.steps) {  // the last step's effect is not measured yet
    torch::NoGradGuard no_grad;
    from_end = &base.from_end;
    result.loss_last = model.loss(requests).item<double>();
    if (!preserve.empty()) result.preserve_last = preservation().item<double>();
  }
  result.shift = shift.detach().clone();
  result.preserved = !preserve.empty();
  result.preserved_by_kl = result.preserved && preserve_original.defined();
  return result;
}

// ---- options ----------------------------------------------------------------------

LocateEditOptions LocateEditOptions::from_config(const Config& config, LocateEditMethod method) {
  LocateEditOptions o;
  o.method = method;
  auto where = [&](const std::string& key) {
    const std::string origin = config.origin(key);
    return (config.path().empty() ? key : config.path() + "." + key) + (origin.empty() ? "" : " (" + origin + ")");
  };
  o.layers = config.get<std::vector<int>>("layers");
  if (o.layers.empty()) throw ConfigError(where("layers") + " is empty; name the LM layer(s) to edit, e.g. [1]");
  if (method == LocateEditMethod::kRome && o.layers.size() != 1)
    throw ConfigError(where("layers") + " must name exactly one layer (ROME is a rank-one edit of one layer); "
                      "use memit for several");
  for (std::size_t i = 0; i < o.layers.size(); ++i) {
    if (o.layers[i] < 0) throw ConfigError(where("layers") + " has a negative layer index");
    if (i > 0 && o.layers[i] <= o.layers[i - 1])
      throw ConfigError(where("layers") + " must be strictly increasing (the residual is spread bottom-up)");
  }
  o.context_templates = config.get<std::vector<std::string>>("context_templates");
  if (o.context_templates.empty())
    throw ConfigError(where("context_templates") + " is empty; use at least [\"{}\"]");
  for (const std::string& t : o.context_templates)
    if (t.find("{}") == std::string::npos)
      throw ConfigError(where("context_templates") + ": '" + t + "' has no {} marking where the edit prompt goes");

  const std::string key_position = config.get_or<std::string>("key_position", "last_image_token");
  try {
    o.key_position = parse_key_position(key_position);
  } catch (const ConfigError&) {
    throw ConfigError(where("key_position") + ": '" + key_position + "' is not known; use " + kKeyPositionChoices);
  }
  if (method == LocateEditMethod::kRome && o.key_position == KeyPosition::kAnswerTokens)
    throw ConfigError(where("key_position") + ": answer_tokens gives one key per answer token, but ROME writes one "
                      "key (a rank-one update); use memit or alphaedit for answer_tokens");

  const Config value = config.sub("value");
  o.value.steps = value.get<int>("steps");
  o.value.lr = value.get<double>("lr");
  o.value.preserve_factor = value.get<double>("preserve_factor");
  o.value.weight_decay = value.get<double>("weight_decay");
  o.value.clamp_norm_factor = value.get<double>("clamp_norm_factor");
  o.value.stop_loss = value.get<double>("stop_loss");
  o.value.preserve_prompt = value.get_or<std::string>("preserve_prompt", "");
  o.value.preserve_tokens = value.get_or<int>("preserve_tokens", 4);
  if (o.value.preserve_tokens < 1) throw ConfigError(where("value.preserve_tokens") + " must be >= 1");
  if (o.value.steps < 1) throw ConfigError(where("value.steps") + " must be >= 1");
  if (o.value.lr <= 0) throw ConfigError(where("value.lr") + " must be > 0");
  if (o.value.clamp_norm_factor <= 0) throw ConfigError(where("value.clamp_norm_factor") + " must be > 0");

  const Config stats = config.sub("stats");
  o.stats.corpus_dir = stats.get<std::string>("corpus");
  o.stats.cache_dir = stats.get_or<std::string>("cache_dir", "");
  o.stats.max_records = stats.get<int>("max_records");
  o.stats_ridge = stats.get<double>("ridge");
  if (o.stats_ridge < 0) throw ConfigError(where("stats.ridge") + " must be >= 0");
  if (method == LocateEditMethod::kMemit) {
    o.lambda = config.get<double>("lambda");
    if (o.lambda <= 0) throw ConfigError(where("lambda") + " must be > 0");
  }
  if (method == LocateEditMethod::kAlphaEdit) {
    o.nullspace_threshold = config.get<double>("nullspace_threshold");
    o.l2 = config.get<double>("l2");
    if (o.nullspace_threshold <= 0 || o.nullspace_threshold >= 1)
      throw ConfigError(where("nullspace_threshold") + " must be in (0, 1) (relative to the largest eigenvalue)");
    if (o.l2 <= 0) throw ConfigError(where("l2") + " must be > 0");
  }
  return o;
}

// ---- the editor ----------------------------------------------------------------

namespace {
// An applied locate-then-edit: restoring it writes the weights back and, for
// AlphaEdit, forgets its keys so later edits no longer protect them.
class LocateEdit : public InPlaceEdit {
 public:
  LocateEdit(Model& inner, ParameterSnapshot before, std::map<std::string, double> stats, std::function<void()> forget)
      : InPlaceEdit(inner, std::move(before), std::move(stats)), forget_(std::move(forget)) {}
  ~LocateEdit() override = default;
  void restore_original() override {
    InPlaceEdit::restore_original();
    if (forget_) forget_();
    forget_ = nullptr;
  }

 private:
  std::function<void()> forget_;
};
}  // namespace

LocateThenEdit::LocateThenEdit(LocateEditOptions options) : options_(std::move(options)) {}
LocateEditEditor::~LocateEditEditor() = default;

void LocateThenEdit::set_second_moment(int layer, torch::Tensor second_moment) {
  second_moments_[layer] = as_double(second_moment);
  projectors_.erase(layer);
}

const torch::Tensor& LocateThenEdit::second_moment(Model& model, int layer) {
  auto found = second_moments_.find(layer);
  if (found != second_moments_.end()) return found->second;
  torch::Tensor c = layer_second_moment(model, down_proj_input_tap(layer), options_.stats).second_moment;
  c = c + options_.stats_ridge * c.diagonal().mean() * torch::eye(c.size(0), c.options());
  return second_moments_[layer] = c;
}

const torch::Tensor& LocateThenEdit::projector(Model& model, int layer) {
  auto found = projectors_.find(layer);
  if (found != projectors_.end()) return found->second;
  return projectors_[layer] = nullspace_projector(second_moment(model, layer), options_.nullspace_threshold);
}

torch::Tensor LocateThenEdit::applied_keys(int layer) const {
  std::vector<torch::Tensor> keys;
  for (const auto& [serial, per_layer] : *applied_) {
    auto found = per_layer.find(layer);
    if (found != per_layer.end()) keys.push_back(found->second);
  }
  return keys.empty() ? torch::Tensor() : torch::cat(keys, 1);
}

std::unique_ptr<EditedModel> LocateThenEdit::edit(Model& model, const std::vector<EditRequest>& requests) {
  if (requests.empty()) throw Error(std::string(method_name(options_.method)) + ": edit() called with no requests");
  const std::vector<std::string> names = model.parameter_names();
  std::vector<std::string> edited;
  for (int layer : options_.layers) {
    edited.push_back(down_proj_weight_name(layer));
    if (std::find(names.begin(), names.end(), edited.back()) == names.end())
      throw ConfigError("layers: the model has no parameter '" + edited.back() +
                        "'; pick layers the model has (see `mike plugins info <model>`)");
  }
  ParameterSnapshot before = model.snapshot(edited);
  std::map<std::string, double> stats;
  std::map<int, torch::Tensor> keys;  // this edit's keys per layer [d_in, n]
  try {
    if (options_.method == LocateEditMethod::kRome) {
      for (const EditRequest& request : requests)
        for (const auto& [key, value] : edit_rome(model, request)) stats[key] += value / requests.size();
    } else {
      stats = edit_memit(model, requests, keys);
    }
  } catch (...) {
    model.restore(before);  // never leave a half-applied edit behind
    throw;
  }
  std::function<void()> forget;
  if (options_.method == LocateEditMethod::kAlphaEdit) {
    const std::uint64_t serial = next_serial_++;
    (*applied_)[serial] = std::move(keys);
    std::weak_ptr<AppliedKeys> store = applied_;
    forget = [store, serial] {
      if (auto applied = store.lock()) applied->erase(serial);
    };
  }
  return std::make_unique<LocateEdit>(model, std::move(before), std::move(stats), std::move(forget));
}

std::map<std::string, double> LocateThenEdit::edit_rome(Model& model, const EditRequest& request) {
  const int layer = options_.layers.front();
  const KeyPosition position = options_.key_position;
  const torch::Tensor& c = second_moment(model, layer);
  // ROME eq. 3: k* = mean over context templates of the key at the key position.
  const torch::Tensor key = as_double(
      capture(model, down_proj_input_tap(layer), templated_requests(request, options_.context_templates), position)
          .at_key.mean(0));
  // ROME eq. 4: v* = the down-projection output on the plain prompt + the optimised shift.
  const ValueResult value = optimise_value_shift(model, layer_output_tap(layer), request, options_.context_templates,
                                                 position, options_.value);
  const torch::Tensor original = as_double(
      capture(model, down_proj_output_tap(layer), templated_requests(request, {"{}"}), position).at_key[0]);
  const torch::Tensor target = original + as_double(value.shift[0]);
  torch::Tensor weight = model.parameter(down_proj_weight_name(layer));
  const torch::Tensor delta = rome_update(weight, c, key, target);
  {
    torch::NoGradGuard no_grad;
    weight.add_(delta.to(weight.dtype()));
  }
  const double key_error = ((as_double(weight).mv(key) - target).norm() / target.norm()).item<double>();
  return {{"loss_first", value.loss_first},
          {"loss_last", value.loss_last},
          {"value_steps", static_cast<double>(value.steps)},
          {"preserve_last", value.preserve_last},
          {"shift_norm", value.shift.norm().item<double>()},
          {"delta_norm", delta.norm().item<double>()},
          {"key_value_error", key_error}};
}

std::map<std::string, double> LocateThenEdit::edit_memit(Model& model, const std::vector<EditRequest>& requests,
                                                         std::map<int, torch::Tensor>& keys_used) {
  const int last = options_.layers.back();
  const KeyPosition position = options_.key_position;
  const auto n = static_cast<std::int64_t>(requests.size());
  const auto templates = static_cast<std::int64_t>(options_.context_templates.size());
  std::vector<ScoreRequest> plain, templated;
  for (const EditRequest& r : requests) {
    plain.push_back(templated_requests(r, {"{}"})[0]);
    for (ScoreRequest& t : templated_requests(r, options_.context_templates)) templated.push_back(std::move(t));
  }
  // MEMIT eq. 16: target z_i = h_i^L + δ_i at the last edited layer's output.
  std::map<std::string, double> stats;
  std::vector<torch::Tensor> shifts;
  for (const EditRequest& r : requests) {
    const ValueResult value =
        optimise_value_shift(model, layer_output_tap(last), r, options_.context_templates, position, options_.value);
    stats["loss_first"] += value.loss_first / n;
    stats["loss_last"] += value.loss_last / n;
    stats["preserve_last"] += value.preserve_last / n;
    stats["value_steps"] += value.steps / static_cast<double>(n);
    shifts.push_back(as_double(value.shift));
  }
  const torch::Tensor targets =
      as_double(capture(model, layer_output_tap(last), plain, position).at_key) + torch::cat(shifts);
  double delta_norm = 0.0;
  for (std::size_t i = 0; i < options_.layers.size(); ++i) {
    const int layer = options_.layers[i];
    // Keys with the layers below already updated (MEMIT Alg. 1, line 8).
    const torch::Tensor keys = mean_over_templates(capture(model, down_proj_input_tap(layer), templated, position),
                                                   templates);  // [keys, d_in]
    const torch::Tensor current = as_double(capture(model, layer_output_tap(last), plain, position).at_key);
    // MEMIT eq. 15: spread what is left of the residual evenly over the remaining layers.
    const torch::Tensor residuals = ((targets - current) / static_cast<double>(options_.layers.size() - i)).t();
    const torch::Tensor delta =
        options_.method == LocateEditMethod::kAlphaEdit
            ? alphaedit_update(keys.t(), residuals, projector(model, layer), options_.l2, applied_keys(layer))
            : memit_update(keys.t(), residuals, second_moment(model, layer), options_.lambda);
    torch::Tensor weight = model.parameter(down_proj_weight_name(layer));
    {
      torch::NoGradGuard no_grad;
      weight.add_(delta.to(weight.dtype()));
    }
    keys_used[layer] = keys.t().contiguous();
    delta_norm += delta.pow(2).sum().item<double>();
  }
  const torch::Tensor reached = as_double(capture(model, layer_output_tap(last), plain, position).at_key);
  stats["delta_norm"] = std::sqrt(delta_norm);
  stats["target_error"] = ((reached - targets).norm() / targets.norm()).item<double>();
  return stats;
}

}  // namespace mike
