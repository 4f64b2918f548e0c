// Locate-then-edit machinery shared by rome, memit and alphaedit (see
// mike/locate_edit.h for the method and the paper equations).
#include "mike/locate_edit.h"

#include <torch/torch.h>

#include <algorithm>

#include "mike/error.h"

namespace mike {
namespace {

torch::Tensor as_double(const torch::Tensor& t) { return t.detach().to(torch::kFloat64); }

void check_square(const torch::Tensor& c, std::int64_t d, const char* what) {
  if (c.dim() != 2 || c.size(0) != d || c.size(1) != d)
    throw Error(std::string(what) + ": second moment must be [" + std::to_string(d) + ", " + std::to_string(d) +
                "], got " + std::to_string(c.dim()) + "-D");
}

// Activations at the last prompt token of each request, and each request's
// target length in tokens (the key position is that many tokens before the end).
struct Capture {
  torch::Tensor at_key;                      // [requests, d]
  std::vector<std::int64_t> target_lengths;  // per request
};

Capture capture(Model& model, const std::string& tap, const std::vector<ScoreRequest>& requests) {
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
    const auto n = static_cast<std::int64_t>(results[i].target_tokens.size());
    // Left padding puts every row's last token at the end: the target's n
    // tokens are the last n columns, the last prompt token just before them.
    at_key.push_back(rows[i][rows[i].size(0) - 1 - n]);
    out.target_lengths.push_back(n);
  }
  out.at_key = torch::stack(at_key);
  return out;
}

// Freezes every model parameter for the duration of a value optimisation
// (only δ is trained) and restores the flags afterwards.
class FrozenParameters {
 public:
  explicit FrozenParameters(Model& model) {
    for (const std::string& name : model.parameter_names()) {
      torch::Tensor p = model.parameter(name);
      flags_.emplace_back(p, p.requires_grad());
      p.set_requires_grad(false);
    }
  }
  ~FrozenParameters() {
    for (auto& [p, flag] : flags_) p.set_requires_grad(flag);
  }
  FrozenParameters(const FrozenParameters&) = delete;
  FrozenParameters& operator=(const FrozenParameters&) = delete;

 private:
  std::vector<std::pair<torch::Tensor, bool>> flags_;
};

// Adds `shift` at each row's last prompt token (row r has target_lengths[r] target tokens).
torch::Tensor shifted(const torch::Tensor& x, const torch::Tensor& shift, const std::vector<std::int64_t>& target_lengths) {
  const std::int64_t tokens = x.size(1);
  torch::Tensor mask = torch::zeros({x.size(0), tokens, 1}, x.options().requires_grad(false));
  for (std::int64_t r = 0; r < x.size(0); ++r) mask[r][tokens - 1 - target_lengths.at(static_cast<std::size_t>(r))] = 1;
  return x + mask * shift;
}

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
                               double l2) {
  const torch::Tensor k = as_double(keys), r = as_double(residuals), p = as_double(projector);
  check_square(p, k.size(0), "alphaedit_update");
  // AlphaEdit eq. 11: ΔW = R Kᵀ P (K Kᵀ P + l2 I)⁻¹ = ((P K Kᵀ + l2 I)⁻¹ P K Rᵀ)ᵀ.
  const torch::Tensor m = p.mm(k).mm(k.t()) + l2 * torch::eye(k.size(0), k.options());
  return torch::linalg_solve(m, p.mm(k).mm(r.t())).t();
}

// ---- keys and values ------------------------------------------------------------

torch::Tensor activations_at_last_prompt_token(Model& model, const std::string& tap,
                                               const std::vector<ScoreRequest>& requests) {
  return capture(model, tap, requests).at_key;
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
    out.push_back(std::move(request));
  }
  return out;
}

std::string down_proj_weight_name(int layer) { return "lm.layers." + std::to_string(layer) + ".down_proj.weight"; }
std::string down_proj_input_tap(int layer) { return "lm.layers." + std::to_string(layer) + ".mlp.down_proj.in"; }
std::string down_proj_output_tap(int layer) { return "lm.layers." + std::to_string(layer) + ".mlp.down_proj.out"; }
std::string layer_output_tap(int layer) { return "lm.layers." + std::to_string(layer) + ".out"; }

ValueResult optimise_value_shift(Model& model, const std::string& tap, const EditRequest& edit,
                                 const std::vector<std::string>& context_templates, const ValueOptimisation& options) {
  const std::vector<ScoreRequest> requests = templated_requests(edit, context_templates);
  const Capture base = capture(model, tap, requests);
  const double base_norm = base.at_key.norm(2, {1}).mean().item<double>();

  // Preservation term: the original greedy continuation of a neutral prompt.
  std::vector<ScoreRequest> preserve;
  Capture preserve_base;
  if (!options.preserve_prompt.empty()) {
    ModelInput neutral{options.preserve_prompt, edit.input.image};
    GenerateOptions greedy;
    greedy.max_new_tokens = 4;
    const std::string original = model.generate({neutral}, greedy).at(0);
    if (original.find_first_not_of(" \t\n") != std::string::npos) {
      preserve.push_back({neutral, original, 1});
      try {
        preserve_base = capture(model, tap, preserve);
      } catch (const DataError&) {
        // The continuation re-encodes to no tokens (e.g. only an unknown
        // piece): there is nothing to preserve; ValueResult says so.
        preserve.clear();
      }
    }
  }

  FrozenParameters frozen(model);
  torch::Tensor shift = torch::zeros({base.at_key.size(1)}, base.at_key.options().requires_grad(true));
  const std::vector<std::int64_t>* lengths = &base.target_lengths;
  TapHandle handle = model.add_tap(tap, [&](const std::string&, const torch::Tensor& x) {
    return shifted(x, shift, *lengths);
  });
  torch::optim::Adam optimizer({shift}, torch::optim::AdamOptions(options.lr));
  ValueResult result;
  const double max_norm = options.clamp_norm_factor * base_norm;
  for (int step = 0; step < options.steps; ++step) {
    optimizer.zero_grad();
    lengths = &base.target_lengths;
    torch::Tensor nll = model.loss(requests);
    const double nll_value = nll.item<double>();
    if (step == 0) result.loss_first = nll_value;
    result.loss_last = nll_value;
    if (nll_value < options.stop_loss) break;
    // ROME eq. 4: target NLL + preservation + weight decay on the shift.
    torch::Tensor loss = nll + options.weight_decay * shift.pow(2).sum() / (base_norm * base_norm);
    if (!preserve.empty()) {
      lengths = &preserve_base.target_lengths;
      loss = loss + options.preserve_factor * model.loss(preserve);
    }
    loss.backward();
    optimizer.step();
    ++result.steps;
    torch::NoGradGuard no_grad;
    const double norm = shift.norm().item<double>();
    if (norm > max_norm) shift.mul_(max_norm / norm);  // ROME's clamp on ‖δ‖
  }
  if (result.steps == options.steps) {  // the last step's effect is not measured yet
    torch::NoGradGuard no_grad;
    lengths = &base.target_lengths;
    result.loss_last = model.loss(requests).item<double>();
  }
  result.shift = shift.detach().clone();
  result.preserved = !preserve.empty();
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

  const Config value = config.sub("value");
  o.value.steps = value.get<int>("steps");
  o.value.lr = value.get<double>("lr");
  o.value.preserve_factor = value.get<double>("preserve_factor");
  o.value.weight_decay = value.get<double>("weight_decay");
  o.value.clamp_norm_factor = value.get<double>("clamp_norm_factor");
  o.value.stop_loss = value.get<double>("stop_loss");
  o.value.preserve_prompt = value.get_or<std::string>("preserve_prompt", "");
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
  try {
    if (options_.method == LocateEditMethod::kRome) {
      for (const EditRequest& request : requests)
        for (const auto& [key, value] : edit_rome(model, request)) stats[key] += value / requests.size();
    } else {
      stats = edit_memit(model, requests);
    }
  } catch (...) {
    model.restore(before);  // never leave a half-applied edit behind
    throw;
  }
  return std::make_unique<InPlaceEdit>(model, std::move(before), std::move(stats));
}

std::map<std::string, double> LocateThenEdit::edit_rome(Model& model, const EditRequest& request) {
  const int layer = options_.layers.front();
  const torch::Tensor& c = second_moment(model, layer);
  // ROME eq. 3: k* = mean over context templates of the key at the key position.
  const torch::Tensor key =
      as_double(capture(model, down_proj_input_tap(layer), templated_requests(request, options_.context_templates))
                    .at_key.mean(0));
  // ROME eq. 4: v* = the down-projection output on the plain prompt + the optimised shift.
  const ValueResult value =
      optimise_value_shift(model, layer_output_tap(layer), request, options_.context_templates, options_.value);
  const torch::Tensor original =
      as_double(capture(model, down_proj_output_tap(layer), templated_requests(request, {"{}"})).at_key[0]);
  const torch::Tensor target = original + as_double(value.shift);
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
          {"shift_norm", value.shift.norm().item<double>()},
          {"delta_norm", delta.norm().item<double>()},
          {"key_value_error", key_error}};
}

std::map<std::string, double> LocateThenEdit::edit_memit(Model& model, const std::vector<EditRequest>& requests) {
  const int last = options_.layers.back();
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
        optimise_value_shift(model, layer_output_tap(last), r, options_.context_templates, options_.value);
    stats["loss_first"] += value.loss_first / n;
    stats["loss_last"] += value.loss_last / n;
    stats["value_steps"] += value.steps / static_cast<double>(n);
    shifts.push_back(as_double(value.shift));
  }
  const torch::Tensor targets = as_double(capture(model, layer_output_tap(last), plain).at_key) + torch::stack(shifts);
  double delta_norm = 0.0;
  for (std::size_t i = 0; i < options_.layers.size(); ++i) {
    const int layer = options_.layers[i];
    // Keys with the layers below already updated (MEMIT Alg. 1, line 8).
    const torch::Tensor keys = as_double(
        capture(model, down_proj_input_tap(layer), templated).at_key.view({n, templates, -1}).mean(1));  // [n, d_in]
    const torch::Tensor current = as_double(capture(model, layer_output_tap(last), plain).at_key);
    // MEMIT eq. 15: spread what is left of the residual evenly over the remaining layers.
    const torch::Tensor residuals = ((targets - current) / static_cast<double>(options_.layers.size() - i)).t();
    const torch::Tensor delta =
        options_.method == LocateEditMethod::kAlphaEdit
            ? alphaedit_update(keys.t(), residuals, projector(model, layer), options_.l2)
            : memit_update(keys.t(), residuals, second_moment(model, layer), options_.lambda);
    torch::Tensor weight = model.parameter(down_proj_weight_name(layer));
    {
      torch::NoGradGuard no_grad;
      weight.add_(delta.to(weight.dtype()));
    }
    delta_norm += delta.pow(2).sum().item<double>();
  }
  const torch::Tensor reached = as_double(capture(model, layer_output_tap(last), plain).at_key);
  stats["delta_norm"] = std::sqrt(delta_norm);
  stats["target_error"] = ((reached - targets).norm() / targets.norm()).item<double>();
  return stats;
}

}  // namespace mike
