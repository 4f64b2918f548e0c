#pragma once
// Runs probe samples through a model in batches: one teacher-forced score()
// and one greedy generate() per batch. The runner computes pre-edit outputs
// once per record with it and post-edit outputs after every edit.
#include <torch/types.h>

#include <filesystem>
#include <functional>
#include <map>

#include "data/image_cache.h"
#include <string>
#include <vector>

#include "mike/model.h"
#include "run/probes.h"

namespace mike {

struct SampleOutput {
  ScoreResult score;
  std::string generated;
};

struct EvaluatorOptions {
  int batch_size = 16;      // samples per score()/generate() call
  int top_k = 5;            // top-k tokens recorded per target position (for M-Loc agreement)
  int max_new_tokens = 16;  // greedy generation budget
  // Top-k tokens recorded at every position of the input (image, prompt and
  // answer) for the probes below: EasyEdit's T-Loc / M-Loc compare pre- and
  // post-edit predictions over the whole input (docs/metrics.md). Only the
  // locality probes need it, and it costs k ids per position.
  int position_top_k = 10;
  std::vector<std::string> position_top_k_probes = {"t_locality", "m_locality"};
  // Start greedy decoding from what the teacher-forced score of the same
  // sample already predicted (GenerateOptions::known_tokens): a post-edit
  // probe whose target is predicted through EOS needs no decoding at all.
  // The generated text is the same; off recomputes it token by token.
  bool seed_generation_from_scores = true;
};

// Called for every activation seen at a logged tap while scoring: the tensor
// is [positions, width] for `sample` (index into the evaluated list).
using ActivationSink = std::function<void(const std::string& tap, std::size_t sample, const torch::Tensor& values)>;

class Evaluator {
 public:
  explicit Evaluator(EvaluatorOptions options) : options_(options) {}
  // `model_label` ("model 'llava'") names the model in a PluginError when its
  // score() or generate() throws; image loading errors stay DataErrors.
  std::vector<SampleOutput> evaluate(Model& model, const std::string& model_label,
                                     const std::vector<ProbeSample>& samples, const std::vector<std::string>& taps = {},
                                     const ActivationSink& sink = {});
  // The image as a [3, H, W] float tensor in [0, 1]; decoded once per path.
  torch::Tensor image(const std::filesystem::path& path);
  ModelInput input(const std::filesystem::path& image_path, const std::string& prompt);
  const EvaluatorOptions& options() const { return options_; }

 private:
  EvaluatorOptions options_;
  data::ImageTensorCache images_;
};

}  // namespace mike
