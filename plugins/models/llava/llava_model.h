#pragma once
// mike::Model over the native LLaVA network: tokenization, image
// preprocessing, <image> splicing, batching with left padding, teacher-forced
// scoring, KV-cached generation, parameters, taps and checkpoints.
#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "image_feature_cache.h"
#include "llava_config.h"
#include "llava_network.h"
#include "mike/image_preprocessing.h"
#include "mike/model.h"
#include "mike/tokenizer.h"

namespace mike::llava {

class LlavaModel : public Model {
 public:
  explicit LlavaModel(const Config& config);

  std::string describe() const override;
  std::vector<ScoreResult> score(const std::vector<ScoreRequest>& batch) override;
  torch::Tensor loss(const std::vector<ScoreRequest>& batch) override;
  torch::Tensor target_log_probs(const std::vector<ScoreRequest>& batch) override;
  std::vector<std::string> generate(const std::vector<ModelInput>& batch, const GenerateOptions& options) override;
  std::vector<Generation> generate_tokens(const std::vector<ModelInput>& batch, const GenerateOptions& options) override;
  torch::Device device() const override { return device_; }
  std::vector<std::string> parameter_names() const override;
  torch::Tensor parameter(const std::string& name) override;
  std::vector<TokenLayout> token_layout(const std::vector<ScoreRequest>& batch) override;
  std::int64_t count_tokens(const std::string& text) const override;
  std::vector<EditSite> edit_sites() const override;
  std::vector<std::string> tap_names() const override;
  TapHandle add_tap(const std::string& tap, TapCallback callback) override;
  void save_checkpoint(const std::string& dir) override;

 private:
  // A batch laid out for the decoder: left-padded so every sequence ends at
  // position T-1 (the next token of every row is predicted from the last column).
  struct Sequences {
    torch::Tensor embeds;     // [B, T, H]
    torch::Tensor key_mask;   // [B, T] int64, 1 = real token
    torch::Tensor positions;  // [B, T] int64, 0-based within each row's real tokens
    std::vector<std::vector<std::int64_t>> targets;  // target ids (+ EOS) per row, at the end of the row
    std::vector<std::vector<std::int64_t>> prompt_ids;  // BOS + prompt ids per row, kImageTokenId at the image
    std::vector<std::int64_t> lengths;               // real tokens per row
    std::vector<TokenLayout> rows;                   // where each row's tokens sit (left padding)
  };
  // BOS + prompt ids per input with kImageTokenId at the image; DataError for
  // a marker/image mismatch.
  std::vector<std::vector<std::int64_t>> prompt_ids(const std::vector<const ModelInput*>& inputs) const;
  // The token layout of one forward over rows `ids` followed by `targets`
  // (empty: no targets), without running the network.
  std::vector<TokenLayout> row_layouts(const std::vector<std::vector<std::int64_t>>& ids,
                                       const std::vector<std::vector<std::int64_t>>& targets) const;
  // `targets` may be empty (generation) or hold one id list per input.
  Sequences layout(const std::vector<const ModelInput*>& inputs,
                   const std::vector<std::vector<std::int64_t>>& targets);
  std::vector<std::int64_t> target_ids(const ScoreRequest& request) const;
  torch::Tensor preprocess_image(const torch::Tensor& image, std::size_t index) const;
  // Per-target-token log-probabilities [sum of target lengths] and the logits
  // rows that predict them [sum, V].
  // `layout_out`, when given, receives the batch's layout (lengths, image spans).
  // Logits at the target positions of every row, concatenated [sum of target
  // lengths, V]. `all_logits` (optional) receives the forward's logits: with
  // `every_position` all of them [B, T, V] (rows left-padded;
  // layout_out->rows[i].offset locates row i), else only the last columns
  // [B, longest target + 1, V], which hold every target position and the
  // position after the target (rows end together), the head being skipped on
  // the prompt and image columns no caller reads.
  torch::Tensor target_logits(const std::vector<ScoreRequest>& batch, std::vector<std::vector<std::int64_t>>& targets,
                              Sequences* layout_out = nullptr, torch::Tensor* all_logits = nullptr,
                              bool every_position = false);
  // Greedy/sampled decoding of `inputs`, each continuing after its `known` tokens.
  std::vector<Generation> generate_chunk(const std::vector<const ModelInput*>& inputs,
                                         const std::vector<std::vector<std::int64_t>>& known,
                                         const GenerateOptions& options);
  // Row i's ids as fed, image features as image_token_id repeated (ScoreResult::prompt_tokens).
  std::vector<std::int64_t> fed_ids(const std::vector<std::int64_t>& ids) const;
  void load_checkpoint(const std::string& dir);
  // Training forwards (grad on): where the forward may resume from cached
  // activations, i.e. just below the lowest trained parameter or registered
  // tap of the language model; nullopt when the embeddings or the vision
  // side are trained or tapped, or nothing is trained.
  std::optional<ResumePoint> resume_point() const;
  // Sum of the version counters of every parameter below `point`.
  std::uint64_t stamp_below(const ResumePoint& point) const;
  // The logits of `batch` from activations at `point`, computed once per
  // batch and parameter state and reused at every later step.
  torch::Tensor resumed_logits(const std::vector<ScoreRequest>& batch, const std::vector<const ModelInput*>& inputs,
                               const std::vector<std::vector<std::int64_t>>& targets, const ResumePoint& point,
                               Sequences& seq, int64_t head_columns);
  // Image features [P, H] per input with an image (undefined for text-only
  // rows), from the cache when allowed, the rest encoded as one batch.
  std::vector<torch::Tensor> image_features(const std::vector<const ModelInput*>& inputs);
  // Whether this forward may use cached image features: no tap on the vision
  // side (its callbacks must see every pass and may change values) and no
  // vision/projector parameter being trained.
  bool image_features_cacheable() const;
  // Sum of the vision/projector parameters' version counters (image_feature_cache.h).
  std::uint64_t vision_state_stamp() const;
  // The tokenizer, or ConfigError when the model was built without one.
  const Tokenizer& tokenizer() const;

  LlavaConfig config_;
  torch::Device device_{torch::kCPU};
  torch::ScalarType dtype_ = torch::kFloat32;
  // Hugging Face checkpoints: CLIPImageProcessor settings from preprocessor_config.json.
  std::unique_ptr<ClipImageProcessorConfig> image_processor_;
  std::unique_ptr<Tokenizer> tokenizer_;
  LlavaNetwork network_{nullptr};
  std::map<std::string, torch::Tensor> parameters_;
  std::vector<std::string> tap_names_;
  TapRegistry taps_;
  std::vector<torch::Tensor> vision_parameters_;  // vision tower + projector
  std::vector<std::string> vision_taps_;          // vision.layers.<i>.out, projector.out
  ImageFeatureCache image_feature_cache_;
  // Depth of each parameter and tap in the forward, for resume_point():
  // 0 = embeddings and vision side, 2i+1 = block i up to its down_proj,
  // 2i+2 = block i's down_proj and after, 2*layers+1 = final norm and head.
  std::vector<std::pair<torch::Tensor, int>> parameter_depth_;
  std::vector<std::pair<std::string, int>> tap_depth_;
  // Activations at a resume point per training batch (model.cache_below_edit),
  // most recently used last; an edit's steps reuse one entry.
  struct ResumeEntry {
    std::vector<std::string> texts;  // prompt, target, flags per row
    std::vector<std::pair<const void*, std::int64_t>> images;  // image tensor and its version per row
    std::vector<torch::Tensor> image_refs;  // held so the addresses stay theirs
    int point_depth = 0;
    std::uint64_t stamp = 0;
    Sequences seq;  // the layout, without embeds
    ResumeState state;
  };
  std::vector<ResumeEntry> resume_cache_;
};

}  // namespace mike::llava
