#pragma once
// mike::Model — a multimodal LLM as editors and the runner see it.
//
// Inputs are batches of prompts with an optional image. Models own their
// tokenizer and image preprocessing, so callers pass text and images, never
// token ids. Implementations batch internally; callers should send whole
// batches rather than one sample at a time.
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mike/component.h"
#include "mike/outputs.h"
#include "mike/taps.h"

namespace mike {

// One model input. `image` is a float tensor [3, H, W] with values in [0, 1]
// (the model resizes/normalises), or undefined for a text-only prompt. The
// prompt marks where image features go with "<image>"; a prompt without the
// marker gets the image in front, as LLaVA does.
struct ModelInput {
  std::string prompt;
  torch::Tensor image;
  // Feed the prompt exactly as given: no conversation template (e.g.
  // LLaVA-1.5's "USER: <image>\n... ASSISTANT:"), only BOS and the image
  // features where the marker is. `mike model --raw` sets it.
  bool raw = false;
};

struct ScoreRequest {
  ModelInput input;
  std::string target;  // continuation scored under teacher forcing
  int top_k = 1;       // how many top tokens to report per target position
  // Also score the end-of-sequence token after the target, so training on it
  // teaches generation where to stop (pretraining). Off for edit metrics:
  // token accuracy then covers the target's own tokens only.
  bool end_with_eos = false;
  // Also report the top-k tokens at every position of the row (image, prompt
  // and target; ScoreResult::position_topk_tokens), 0 = none. EasyEdit's
  // multimodal locality compares pre- and post-edit predictions over the
  // whole input, not only the answer (docs/metrics.md); only locality probes
  // ask for it, since it costs k ids per position.
  int position_top_k = 0;
};

struct GenerateOptions {
  int max_new_tokens = 16;
  bool greedy = true;         // false = sampling with `temperature`
  double temperature = 1.0;
  std::uint64_t seed = 0;     // sampling seed; greedy ignores it
  // false recomputes the whole sequence at every step: the reference the
  // KV-cached path is tested against; never faster.
  bool use_kv_cache = true;
  // Per input (empty, or one list per input): tokens greedy decoding is known
  // to emit first, e.g. the argmaxes a teacher-forced score() of the same
  // input reported (greedy_prefix() below). A model may feed them in one
  // prefill forward instead of decoding them one by one, and need not run a
  // row whose known tokens end in EOS or fill max_new_tokens; it may also
  // ignore them, as the output is the same. Greedy decoding only (sampling
  // ignores them). The prefill computes the same logits in another order, so
  // a near tie can in principle flip: tests/run pins that every probe of the
  // default runs decodes identically with and without.
  std::vector<std::vector<std::int64_t>> known_tokens;
};

// The tokens greedy decoding of a scored input is known to emit, from its
// teacher-forced score: the target's tokens up to the first one the model
// would not have predicted, that prediction included; after a fully
// predicted target, the next token (ScoreResult::next_token) when reported.
// Empty when the score has no predictions.
MIKE_API std::vector<std::int64_t> greedy_prefix(const ScoreResult& score);

// One decoded continuation with the ids that produced it.
struct Generation {
  // The ids the model was fed: BOS, template and prompt tokens, with the
  // model's image token id repeated once per image feature position.
  std::vector<std::int64_t> prompt_tokens;
  std::vector<std::int64_t> tokens;  // generated ids (EOS not included)
  std::string text;                  // tokens decoded
};

// Named parameter values, e.g. for restore after an edit.
using ParameterSnapshot = std::map<std::string, torch::Tensor>;

// One editable MLP of a language-model block, as the model names it: the
// output projection y = W x (W [output_dim, input_dim]) that locate-then-edit
// editors, LoRA and FT-LLM change, and the taps around it. Editors ask the
// model for these instead of guessing parameter or tap names.
struct EditSite {
  int block = 0;                 // index of the LM block (0 = closest to the input)
  std::string weight;            // parameter name of W
  std::string input_tap;         // x: the projection's input, [batch, tokens, input_dim]
  std::string output_tap;        // W x: the projection's output, [batch, tokens, output_dim]
  std::string block_output_tap;  // the block's output (residual stream), [batch, tokens, output_dim]
  std::int64_t input_dim = 0, output_dim = 0;
};

class MIKE_API Model : public Component {
 public:
  ~Model() override;
  // Human-readable summary: architecture, layers, dims, parameter count, taps.
  virtual std::string describe() const = 0;

  // Teacher-forced loss/accuracy on each request's target tokens (prompt masked).
  virtual std::vector<ScoreResult> score(const std::vector<ScoreRequest>& batch) = 0;
  // Differentiable mean loss over the batch's target tokens (for editors that
  // optimise; parameters touched by autograd are whatever requires_grad).
  virtual torch::Tensor loss(const std::vector<ScoreRequest>& batch) = 0;
  // Differentiable log-probabilities over the vocabulary at every target
  // position of the batch, rows in request order: [sum of target lengths, V]
  // (for editors that constrain whole distributions, e.g. ROME's KL term).
  // The default throws ModelError: not every model exposes its logits.
  virtual torch::Tensor target_log_probs(const std::vector<ScoreRequest>& batch);
  // Decoded continuations, one per input (KV-cached decoding).
  virtual std::vector<std::string> generate(const std::vector<ModelInput>& batch,
                                            const GenerateOptions& options) = 0;
  // The same continuations with their token ids (`mike model generate`).
  // The default throws ModelError: not every model reports ids.
  virtual std::vector<Generation> generate_tokens(const std::vector<ModelInput>& batch,
                                                  const GenerateOptions& options);
  // Where the model's tensors live (CPU unless configured otherwise). Editors
  // create their tensors here; results in ScoreResult are host-side vectors.
  virtual torch::Device device() const;

  // Where each row's tokens sit in the single forward that loss() and
  // target_log_probs() run over `batch` (score() reports the layout of the
  // forward it used in each ScoreResult). The default throws ModelError.
  virtual std::vector<TokenLayout> token_layout(const std::vector<ScoreRequest>& batch);
  // How many tokens `text` is as the model's tokenizer splits it (no BOS, no
  // image), without running the network. The default throws ModelError.
  virtual std::int64_t count_tokens(const std::string& text) const;
  // The editable MLP of every LM block, bottom-up (site i has block i). The
  // default is none: editors that need sites refuse such a model by name.
  virtual std::vector<EditSite> edit_sites() const;

  // Parameters by dotted name. parameter() returns the live tensor: in-place
  // writes (under NoGradGuard) change the model.
  virtual std::vector<std::string> parameter_names() const = 0;
  virtual torch::Tensor parameter(const std::string& name) = 0;
  // Copies `value` into the named parameter; throws on unknown name or shape.
  virtual void set_parameter(const std::string& name, const torch::Tensor& value);
  // Clones of the named parameters (all when `names` is empty).
  virtual ParameterSnapshot snapshot(const std::vector<std::string>& names = {});
  // Writes snapshot values back; afterwards outputs are bitwise identical.
  virtual void restore(const ParameterSnapshot& snapshot);

  // Tap points this model offers, and registration of a callback at one.
  virtual std::vector<std::string> tap_names() const = 0;
  virtual TapHandle add_tap(const std::string& tap, TapCallback callback) = 0;

  // Writes a checkpoint directory the model's `checkpoint` config key can
  // load (weights as model.safetensors + config.json + tokenizer.model).
  // The default throws ModelError: not every model can save.
  virtual void save_checkpoint(const std::string& dir);
};

}  // namespace mike

namespace mike {
// Elements in all of the model's parameters.
MIKE_API std::int64_t parameter_count(Model& model);
// "[2, 3]": a tensor's shape for messages.
MIKE_API std::string shape_string(const torch::Tensor& tensor);
// The site of LM block `block` (edit_sites()[block]); ConfigError naming
// `key` (the config key that chose the block) and the blocks the model has.
MIKE_API EditSite edit_site(const Model& model, int block, const std::string& key);
}  // namespace mike
