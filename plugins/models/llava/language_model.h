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
  void watch_overflow(bool on = true) { watch_overflow_ = on; }
  torch::Tensor take_overflow() { return overflow_; }

 private:
  torch::Tensor weight_;
  double eps_;
  bool watch_overflow_ = false;
  torch::Tensor overflow_;
};
TORCH_MODULE(RmsNorm);

// A block's state just before its MLP output projection: the residual
// stream after attention and the projection's input (the down_proj.in tap).
struct DownProjInput {
  torch::Tensor residual;  // [B, T, H]
  torch::Tensor down_in;   // [B, T, intermediate]
};

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const LanguageConfig& config, int index);
  // x: [B, T, H]; cos/sin: [B, T, head_dim]; mask: additive [B, 1, T, T_past + T].
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, KvCache* cache, const TapRegistry& taps);
  // forward() in two halves, split before down_proj (forward is their composition, op for op).
  DownProjInput forward_to_down_input(torch::Tensor x, const torch::Tensor& cos, const torch::Tensor& sin,
                                      const torch::Tensor& mask, KvCache* cache, const TapRegistry& taps);
  torch::Tensor forward_from_down_input(const DownProjInput& state, const TapRegistry& taps);

 private:
  int index_, heads_, kv_heads_, head_dim_;
  RmsNorm input_layernorm_{nullptr}, post_attention_layernorm_{nullptr};
  torch::nn::Linear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, o_proj_{nullptr};
  torch::nn::Linear gate_proj_{nullptr}, up_proj_{nullptr}, down_proj_{nullptr};
  std::string tap_in_, tap_attn_out_, tap_mlp_in_, tap_down_in_, tap_down_out_, tap_out_;
};
TORCH_MODULE(DecoderLayer);

// Where a forward resumes from activations computed earlier: the input of
// block `layer` (layer == layers: the final norm's input), or, with
// `at_down_input`, the input of that block's down_proj.
struct ResumePoint {
  int layer = 0;
  bool at_down_input = false;
};

// The activations at a resume point (one of the two is set).
struct ResumeState {
  torch::Tensor hidden;  // block input [B, T, H]
  DownProjInput mlp;     // at_down_input
};

class LanguageModelImpl : public torch::nn::Module {
 public:
  LanguageModelImpl(const LanguageConfig& config, int64_t vocab_size);
  torch::Tensor embed(const torch::Tensor& ids) { return embed_tokens_(ids); }
  // embeds: [B, T, H]; positions: [B, T] (int64); key_mask: [B, T_past + T],
  // 1 = real token, 0 = padding. With a cache, appends this step's keys and
  // values to it. Returns logits [B, T, vocab], or of the last `head_columns`
  // columns only [B, head_columns, vocab] when 0 < head_columns < T: rows are
  // left-padded, so a caller that reads only the last few columns of every
  // row (scored targets, the next token) skips the head on the rest.
  torch::Tensor forward(const torch::Tensor& embeds, const torch::Tensor& positions, const torch::Tensor& key_mask,
                        KvCache* cache, const TapRegistry& taps, int64_t head_columns = 0);
  // forward() split at `point` (no KV cache): run_until() computes the
  // activations there, run_from() the logits from them; together they are
  // forward() op for op, so an editor whose trained weights all sit above the
  // point can reuse run_until()'s result at every step.
  ResumeState run_until(const ResumePoint& point, const torch::Tensor& embeds, const torch::Tensor& positions,
                        const torch::Tensor& key_mask, const TapRegistry& taps);
  torch::Tensor run_from(const ResumePoint& point, const ResumeState& state, const torch::Tensor& positions,
                         const torch::Tensor& key_mask, const TapRegistry& taps, int64_t head_columns = 0);
  const LanguageConfig& config() const { return config_; }

 private:
  // RoPE angles and the additive attention mask of one forward.
  struct Frame {
    torch::Tensor cos, sin, mask;
  };
  Frame frame(const torch::Tensor& positions, const torch::Tensor& key_mask, int64_t past, int64_t batch,
              int64_t tokens, torch::ScalarType dtype);
  // Final norm (with the overflow check when asked) and lm_head, on the
  // last `columns` columns of x (all when 0 or >= its width). The norm is
  // per position, so the kept columns' logits are those of the full head.
  torch::Tensor head(torch::Tensor x, bool check_overflow, int64_t columns);

  LanguageConfig config_;
  torch::Tensor inv_freq_;  // RoPE frequencies, float32 whatever the compute dtype
  torch::nn::Embedding embed_tokens_{nullptr};
  std::vector<DecoderLayer> layers_;
  RmsNorm norm_{nullptr};
  torch::nn::Linear lm_head_{nullptr};
};
TORCH_MODULE(LanguageModel);

}  // namespace mike::llava
