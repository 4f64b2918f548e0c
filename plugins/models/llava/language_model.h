#pragma once
// LLaMA-style decoder (Touvron et al. 2023), the language model of LLaVA:
// RMSNorm, rotary position embeddings, SwiGLU MLP, causal multi-head
// attention with optional grouped-query heads, a KV cache, untied lm_head.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "llava_config.h"
#include "mike/taps.h"

namespace mike::llava {

// Keys/values of earlier positions, per layer: [B, kv_heads, T_past, head_dim].
struct KvCache {
  std::vector<torch::Tensor> keys, values;
  int64_t length() const { return keys.empty() || !keys[0].defined() ? 0 : keys[0].size(2); }
};

class RmsNormImpl : public torch::nn::Module {
 public:
  RmsNormImpl(int hidden, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  // After watch_overflow(), each forward records whether mean(x^2)
  // overflowed (or was NaN): weights that load but blow up (1e30 everywhere)
  // are otherwise normalised into finite, meaningless outputs.
  // take_overflow() returns that flag (a 0-dim bool tensor on the device).
  void watch_overflow() { watch_overflow_ = true; }
  torch::Tensor take_overflow() { return overflow_; }

 private:
  torch::Tensor weight_;
  double eps_;
  bool watch_overflow_ = false;
  torch::Tensor overflow_;
};
TORCH_MODULE(RmsNorm);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const LanguageConfig& config, int index);
  // x: [B, T, H]; cos/sin: [B, T, head_dim]; mask: additive [B, 1, T, T_past + T].
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, KvCache* cache, const TapRegistry& taps);

 private:
  int index_, heads_, kv_heads_, head_dim_;
  RmsNorm input_layernorm_{nullptr}, post_attention_layernorm_{nullptr};
  torch::nn::Linear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, o_proj_{nullptr};
  torch::nn::Linear gate_proj_{nullptr}, up_proj_{nullptr}, down_proj_{nullptr};
  std::string tap_in_, tap_attn_out_, tap_mlp_in_, tap_down_in_, tap_down_out_, tap_out_;
};
TORCH_MODULE(DecoderLayer);

class LanguageModelImpl : public torch::nn::Module {
 public:
  LanguageModelImpl(const LanguageConfig& config, int64_t vocab_size);
  torch::Tensor embed(const torch::Tensor& ids) { return embed_tokens_(ids); }
  // embeds: [B, T, H]; positions: [B, T] (int64); key_mask: [B, T_past + T],
  // 1 = real token, 0 = padding. With a cache, appends this step's keys and
  // values to it. Returns logits [B, T, vocab].
  torch::Tensor forward(const torch::Tensor& embeds, const torch::Tensor& positions, const torch::Tensor& key_mask,
                        KvCache* cache, const TapRegistry& taps);
  const LanguageConfig& config() const { return config_; }

 private:
  LanguageConfig config_;
  torch::Tensor inv_freq_;  // RoPE frequencies, float32 whatever the compute dtype
  torch::nn::Embedding embed_tokens_{nullptr};
  std::vector<DecoderLayer> layers_;
  RmsNorm norm_{nullptr};
  torch::nn::Linear lm_head_{nullptr};
};
TORCH_MODULE(LanguageModel);

}  // namespace mike::llava
