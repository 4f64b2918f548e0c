#include "run/evaluator.h"

#include <torch/torch.h>

#include <algorithm>

#include "data/image_cache.h"
#include "plugins/call_plugin.h"

namespace mike {

torch::Tensor Evaluator::image(const std::filesystem::path& path) { return images_.get(path); }

ModelInput Evaluator::input(const std::filesystem::path& image_path, const std::string& prompt) {
  ModelInput in;
  in.prompt = prompt;
  if (!image_path.empty()) in.image = image(image_path);
  return in;
}

std::vector<SampleOutput> Evaluator::evaluate(Model& model, const std::string& model_label,
                                              const std::vector<ProbeSample>& samples,
                                              const std::vector<std::string>& taps, const ActivationSink& sink) {
  torch::NoGradGuard no_grad;
  std::vector<SampleOutput> outputs(samples.size());
  const std::size_t batch = static_cast<std::size_t>(std::max(1, options_.batch_size));
  for (std::size_t start = 0; start < samples.size(); start += batch) {
    std::size_t end = std::min(samples.size(), start + batch);
    std::vector<ScoreRequest> score_batch;
    std::vector<ModelInput> generate_batch;
    for (std::size_t i = start; i < end; ++i) {
      ModelInput in = input(samples[i].image, samples[i].prompt);
      ScoreRequest request{in, samples[i].teacher_target, options_.top_k};
      const auto& probes = options_.position_top_k_probes;
      if (std::find(probes.begin(), probes.end(), samples[i].probe) != probes.end())
        request.position_top_k = options_.position_top_k;
      score_batch.push_back(std::move(request));
      generate_batch.push_back(std::move(in));
    }
    // Activation logging: taps see [batch, positions, width]; row r is sample start + r.
    std::vector<TapHandle> handles;
    if (sink) {
      auto log_rows = [&, start](const std::string& name, const torch::Tensor& x) {
        torch::Tensor rows = x.dim() >= 3 ? x : x.unsqueeze(0);
        for (int64_t r = 0; r < rows.size(0); ++r)
          sink(name, start + static_cast<std::size_t>(r), rows[r].reshape({-1, rows.size(-1)}));
        return x;
      };
      for (const std::string& tap : taps)
        handles.push_back(call_plugin(model_label, [&] { return model.add_tap(tap, log_rows); }));
    }
    std::vector<ScoreResult> scores = call_plugin(model_label, [&] { return model.score(score_batch); });
    handles.clear();
    GenerateOptions generate_options;
    generate_options.max_new_tokens = options_.max_new_tokens;
    if (options_.seed_generation_from_scores)
      for (const ScoreResult& score : scores) generate_options.known_tokens.push_back(greedy_prefix(score));
    std::vector<std::string> generated =
        call_plugin(model_label, [&] { return model.generate(generate_batch, generate_options); });
    for (std::size_t i = start; i < end; ++i) {
      outputs[i].score = std::move(scores[i - start]);
      outputs[i].generated = std::move(generated[i - start]);
    }
  }
  return outputs;
}

}  // namespace mike
