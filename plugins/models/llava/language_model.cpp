// LLaMA decoder forward (HF LlamaModel semantics, so real checkpoints load).
#include "language_model.h"

#include <cmath>
#include <limits>

#include "mike/error.h"

namespace mike::llava {

namespace {

// RoPE (Su et al. 2021, eq. 34) in LLaMA's half-split layout:
// x' = x * cos + rotate_half(x) * sin, rotate_half([a, b]) = [-b, a].
torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}

torch::nn::Linear linear(int in, int out, bool bias = false) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

}  // namespace

RmsNormImpl::RmsNormImpl(int hidden, double eps) : eps_(eps) {
  weight_ = register_parameter("weight", torch::ones({hidden}));
}

// RMSNorm (Zhang & Sennrich 2019, eq. 4): x / sqrt(mean(x^2) + eps) * g,
// normalised in float32 whatever the compute dtype, as transformers does.
torch::Tensor RmsNormImpl::forward(const torch::Tensor& x) {
  const torch::Tensor xf = x.to(torch::kFloat32);
  const torch::Tensor variance = xf.pow(2).mean(-1, /*keepdim=*/true);
  if (watch_overflow_) {
    torch::NoGradGuard no_grad;
    overflow_ = torch::isfinite(variance).all().logical_not();
  }
  return weight_ * (xf * torch::rsqrt(variance + eps_)).to(x.scalar_type());
}

DecoderLayerImpl::DecoderLayerImpl(const LanguageConfig& c, int index)
    : index_(index), heads_(c.heads), kv_heads_(c.kv_heads), head_dim_(c.head_dim()) {
  input_layernorm_ = register_module("input_layernorm", RmsNorm(c.hidden, c.rms_norm_eps));
  q_proj_ = register_module("q_proj", linear(c.hidden, c.heads * head_dim_, c.attention_bias));
  k_proj_ = register_module("k_proj", linear(c.hidden, c.kv_heads * head_dim_, c.attention_bias));
  v_proj_ = register_module("v_proj", linear(c.hidden, c.kv_heads * head_dim_, c.attention_bias));
  o_proj_ = register_module("o_proj", linear(c.heads * head_dim_, c.hidden, c.attention_bias));
  post_attention_layernorm_ = register_module("post_attention_layernorm", RmsNorm(c.hidden, c.rms_norm_eps));
  gate_proj_ = register_module("gate_proj", linear(c.hidden, c.intermediate, c.mlp_bias));
  up_proj_ = register_module("up_proj", linear(c.hidden, c.intermediate, c.mlp_bias));
  down_proj_ = register_module("down_proj", linear(c.intermediate, c.hidden, c.mlp_bias));
  const std::string base = "lm.layers." + std::to_string(index) + ".";
  tap_in_ = base + "in";
  tap_attn_out_ = base + "self_attn.out";
  tap_mlp_in_ = base + "mlp.in";
  tap_down_in_ = base + "mlp.down_proj.in";
  tap_down_out_ = base + "mlp.down_proj.out";
  tap_out_ = base + "out";
}

torch::Tensor DecoderLayerImpl::forward(torch::Tensor x, const torch::Tensor& cos, const torch::Tensor& sin,
                                        const torch::Tensor& mask, KvCache* cache, const TapRegistry& taps) {
  return forward_from_down_input(forward_to_down_input(std::move(x), cos, sin, mask, cache, taps), taps);
}

torch::Tensor DecoderLayerImpl::forward_from_down_input(const DownProjInput& state, const TapRegistry& taps) {
  torch::Tensor down_out = taps.apply(tap_down_out_, down_proj_(state.down_in));
  return taps.apply(tap_out_, state.residual + down_out);
}

DownProjInput DecoderLayerImpl::forward_to_down_input(torch::Tensor x, const torch::Tensor& cos,
                                                      const torch::Tensor& sin, const torch::Tensor& mask,
                                                      KvCache* cache, const TapRegistry& taps) {
  x = taps.apply(tap_in_, std::move(x));
  const int64_t batch = x.size(0), tokens = x.size(1);
  const torch::Tensor h = input_layernorm_(x);
  auto heads = [&](const torch::Tensor& t, int n) { return t.view({batch, tokens, n, head_dim_}).transpose(1, 2); };
  torch::Tensor q = heads(q_proj_(h), heads_), k = heads(k_proj_(h), kv_heads_), v = heads(v_proj_(h), kv_heads_);
  const torch::Tensor c = cos.unsqueeze(1), s = sin.unsqueeze(1);
  q = q * c + rotate_half(q) * s;
  k = k * c + rotate_half(k) * s;
  if (cache) {
    torch::Tensor& ck = cache->keys[index_];
    torch::Tensor& cv = cache->values[index_];
    if (ck.defined()) {
      k = torch::cat({ck, k}, 2);
      v = torch::cat({cv, v}, 2);
    }
    ck = k;
    cv = v;
  }
  if (kv_heads_ != heads_) {  // grouped-query attention: each kv head serves heads/kv_heads query heads
    k = k.repeat_interleave(heads_ / kv_heads_, 1);
    v = v.repeat_interleave(heads_ / kv_heads_, 1);
  }
  // Scaled dot-product attention (Vaswani et al. 2017, eq. 1) with an additive causal/padding mask.
  // The softmax runs in float32 whatever the compute dtype (as transformers
  // upcasts it): half precision would overflow the mask.
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)).to(torch::kFloat32) / std::sqrt(double(head_dim_)) + mask;
  torch::Tensor attn =
      torch::matmul(torch::softmax(scores, -1).to(v.scalar_type()), v).transpose(1, 2).reshape({batch, tokens, -1});
  torch::Tensor attn_out = taps.apply(tap_attn_out_, o_proj_(attn));
  x = x + attn_out;
  torch::Tensor mlp_in = taps.apply(tap_mlp_in_, post_attention_layernorm_(x));
  // SwiGLU (Shazeer 2020, eq. 6): down(silu(gate(x)) * up(x)).
  torch::Tensor down_in = taps.apply(tap_down_in_, torch::silu(gate_proj_(mlp_in)) * up_proj_(mlp_in));
  return {x, down_in};
}

LanguageModelImpl::LanguageModelImpl(const LanguageConfig& c, int64_t vocab_size) : config_(c) {
  const int64_t dim = c.head_dim();
  // RoPE frequencies theta_i = base^(-2i/d), computed in double as HF does before casting.
  inv_freq_ = (1.0 / torch::pow(c.rope_theta, torch::arange(0, dim, 2, torch::kFloat64) / double(dim))).to(torch::kFloat32);
  embed_tokens_ = register_module("embed_tokens", torch::nn::Embedding(vocab_size, c.hidden));
  torch::nn::init::normal_(embed_tokens_->weight, 0.0, 0.02);
  auto list = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < c.layers; ++i) {
    layers_.push_back(DecoderLayer(c, i));
    list->push_back(layers_.back());
  }
  norm_ = register_module("norm", RmsNorm(c.hidden, c.rms_norm_eps));
  norm_->watch_overflow();
  // A tied head has no weight of its own: it reads embed_tokens' (one
  // parameter, so an edit of one is an edit of both, as in transformers).
  if (!c.tie_word_embeddings) lm_head_ = register_module("lm_head", linear(c.hidden, static_cast<int>(vocab_size)));
}

LanguageModelImpl::Frame LanguageModelImpl::frame(const torch::Tensor& positions, const torch::Tensor& key_mask,
                                                 int64_t past, int64_t batch, int64_t tokens, torch::ScalarType dtype) {
  // RoPE angles for each position: theta_i * pos, duplicated over both halves.
  // Not a buffer, so Module::to(dtype) leaves it float32; it follows the device on first use.
  if (inv_freq_.device() != positions.device()) inv_freq_ = inv_freq_.to(positions.device());
  // Angles in float32 (as transformers computes them), then the compute dtype.
  const torch::Tensor freqs = positions.to(torch::kFloat32).unsqueeze(-1) * inv_freq_;  // [B, T, d/2]
  const torch::Tensor emb = torch::cat({freqs, freqs}, -1);
  Frame f;
  f.cos = emb.cos().to(dtype);
  f.sin = emb.sin().to(dtype);
  const auto mask_options = torch::TensorOptions().dtype(torch::kFloat32).device(positions.device());
  // A large finite negative (not -inf) keeps fully masked rows (padding queries) finite.
  constexpr float kMasked = std::numeric_limits<float>::lowest();
  if (tokens == 1 && past > 0) {
    // One decoding step: its query comes after every key, so only padding is
    // masked (the same values as the general mask below, with fewer ops on
    // the path every generated token takes).
    f.mask = torch::zeros({batch, 1, 1, past + 1}, mask_options)
                 .masked_fill(key_mask.eq(0).view({batch, 1, 1, past + 1}), kMasked);
    return f;
  }
  // Query t (absolute index past + t) sees key j when j <= past + t and key j is not padding.
  const auto opts = torch::TensorOptions().dtype(torch::kInt64).device(positions.device());
  const torch::Tensor query_index = torch::arange(past, past + tokens, opts).view({tokens, 1});
  const torch::Tensor key_index = torch::arange(0, past + tokens, opts).view({1, past + tokens});
  const torch::Tensor allowed =
      (key_index <= query_index).unsqueeze(0) & key_mask.to(torch::kBool).view({batch, 1, past + tokens});
  f.mask = torch::zeros({batch, 1, tokens, past + tokens}, mask_options)
               .masked_fill(allowed.unsqueeze(1).logical_not(), kMasked);
  return f;
}

torch::Tensor LanguageModelImpl::head(torch::Tensor x, bool check_overflow, int64_t columns) {
  if (columns > 0 && columns < x.size(1)) x = x.slice(1, x.size(1) - columns);
  norm_->watch_overflow(check_overflow);
  x = norm_(x);
  // The residual stream carries an overflow from any layer to the final
  // norm, so one check there (one host read per forward) sees it: attention
  // carries it into every later column, so the kept columns see it too, and
  // a column that is not kept cannot spoil a number anyone reads.
  if (check_overflow && norm_->take_overflow().item<bool>())
    throw ModelError("model 'llava': a hidden state of the language model overflowed (mean of squares not finite): "
                     "its weights are damaged or too large for the compute dtype (e.g. 1e30); check the checkpoint, "
                     "or use model.dtype=float32");
  return lm_head_ ? lm_head_(x) : torch::nn::functional::linear(x, embed_tokens_->weight);
}

torch::Tensor LanguageModelImpl::forward(const torch::Tensor& embeds, const torch::Tensor& positions,
                                         const torch::Tensor& key_mask, KvCache* cache, const TapRegistry& taps,
                                         int64_t head_columns) {
  const int64_t batch = embeds.size(0), tokens = embeds.size(1);
  const int64_t past = cache ? cache->length() : 0;
  if (cache && cache->keys.empty()) {
    cache->keys.resize(layers_.size());
    cache->values.resize(layers_.size());
  }
  const Frame f = frame(positions, key_mask, past, batch, tokens, embeds.scalar_type());
  torch::Tensor x = embeds;
  for (auto& layer : layers_) x = layer->forward(x, f.cos, f.sin, f.mask, cache, taps);
  // Decoding steps after a checked prefill skip the host read: the same
  // weights did not overflow on the whole prompt.
  return head(std::move(x), past == 0, head_columns);
}

ResumeState LanguageModelImpl::run_until(const ResumePoint& point, const torch::Tensor& embeds,
                                         const torch::Tensor& positions, const torch::Tensor& key_mask,
                                         const TapRegistry& taps) {
  const Frame f = frame(positions, key_mask, 0, embeds.size(0), embeds.size(1), embeds.scalar_type());
  ResumeState state;
  torch::Tensor x = embeds;
  for (int i = 0; i < point.layer; ++i) x = layers_[static_cast<std::size_t>(i)]->forward(x, f.cos, f.sin, f.mask, nullptr, taps);
  if (point.at_down_input)
    state.mlp = layers_[static_cast<std::size_t>(point.layer)]->forward_to_down_input(x, f.cos, f.sin, f.mask, nullptr, taps);
  else
    state.hidden = x;
  return state;
}

torch::Tensor LanguageModelImpl::run_from(const ResumePoint& point, const ResumeState& state,
                                          const torch::Tensor& positions, const torch::Tensor& key_mask,
                                          const TapRegistry& taps, int64_t head_columns) {
  const torch::Tensor& sample = point.at_down_input ? state.mlp.residual : state.hidden;
  const Frame f = frame(positions, key_mask, 0, sample.size(0), sample.size(1), sample.scalar_type());
  int first = point.layer;
  torch::Tensor x;
  if (point.at_down_input) {
    x = layers_[static_cast<std::size_t>(first)]->forward_from_down_input(state.mlp, taps);
    ++first;
  } else {
    x = state.hidden;
  }
  for (std::size_t i = static_cast<std::size_t>(first); i < layers_.size(); ++i)
    x = layers_[i]->forward(x, f.cos, f.sin, f.mask, nullptr, taps);
  return head(std::move(x), true, head_columns);
}

}  // namespace mike::llava
