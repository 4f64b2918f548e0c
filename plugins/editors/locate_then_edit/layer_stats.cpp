// C = E[k kᵀ] over a corpus, with an on-disk cache (see layer_stats.h).
#include "layer_stats.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>

#include "mike/error.h"
#include "mike/hash.h"
#include "mike/safetensors.h"

namespace mike::locate_edit {

std::string model_fingerprint(Model& model) {
  Fnv1a64 f;
  for (const std::string& name : model.parameter_names()) {
    const torch::Tensor p = model.parameter(name).detach().contiguous().cpu();
    f.add_field(name);
    std::ostringstream shape;
    shape << p.sizes() << p.dtype();
    f.add_field(shape.str());
    f.add_words(p.data_ptr(), p.numel() * p.element_size());
  }
  return f.hex();
}

LayerStats layer_second_moment(Model& model, const std::string& tap, const Corpus& corpus,
                               const std::string& cache_dir) {
  namespace fs = std::filesystem;
  LayerStats stats;
  if (!cache_dir.empty()) {
    Fnv1a64 f;
    f.add_field(model_fingerprint(model)).add_field(tap).add_field(corpus.fingerprint());
    std::string tap_file = tap;
    for (char& c : tap_file)
      if (c == '/') c = '_';
    stats.cache_file = (fs::path(cache_dir) / (tap_file + "." + f.hex() + ".safetensors")).string();
    if (fs::exists(stats.cache_file)) {
      SafetensorsFile file = load_safetensors(stats.cache_file);
      auto found = file.tensors.find("second_moment");
      if (found == file.tensors.end() || found->second.dim() != 2)
        throw ModelError("layer statistics cache " + stats.cache_file +
                         " has no 2-D tensor 'second_moment'; delete the file to recompute it");
      stats.second_moment = found->second.to(torch::kFloat64);
      stats.tokens = std::stoll(file.metadata.count("tokens") ? file.metadata.at("tokens") : "0");
      stats.from_cache = true;
      spdlog::info("layer statistics for {} from cache {}", tap, stats.cache_file);
      return stats;
    }
  }
  const std::size_t samples = corpus.size();
  if (samples == 0) throw DataError(corpus.location() + " has no records to compute layer statistics from");

  const auto start = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  torch::Tensor sum;
  std::int64_t tokens = 0;
  // One sample per forward: every activation row is then a real token, whatever
  // padding the model would use in a batch.
  TapHandle handle = model.add_tap(tap, [&](const std::string&, const torch::Tensor& x) {
    const torch::Tensor keys = x.reshape({-1, x.size(-1)}).to(torch::kCPU, torch::kFloat64);
    sum = sum.defined() ? sum.addmm_(keys.t(), keys) : keys.t().mm(keys);
    tokens += keys.size(0);
    return x;
  });
  const std::size_t report_every = std::max<std::size_t>(1, samples / 10);
  for (std::size_t i = 0; i < samples; ++i) {
    model.score({corpus.sample(i)});
    if ((i + 1) % report_every == 0 || i + 1 == samples)
      spdlog::info("layer statistics {}: {}/{} corpus records ({} tokens)", tap, i + 1, samples, tokens);
  }
  handle.reset();
  if (tokens == 0) throw ModelError("tap '" + tap + "' saw no activations while scoring the corpus");
  stats.second_moment = sum / static_cast<double>(tokens);
  stats.tokens = tokens;
  spdlog::info("layer statistics {}: {} tokens in {:.1f} s", tap, tokens,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (!stats.cache_file.empty()) {
    fs::create_directories(cache_dir);
    // save_safetensors writes a temporary file and renames it into place.
    save_safetensors(stats.cache_file, {{"second_moment", stats.second_moment}},
                     {{"tap", tap}, {"tokens", std::to_string(tokens)}, {"corpus", corpus.location()}});
  }
  return stats;
}

const torch::Tensor& SecondMoments::of(Model& model, const EditSite& site, const CorpusSource& source) {
  auto found = by_block_.find(site.block);
  if (found != by_block_.end()) return found->second;
  const auto corpus = source.open(options_.corpus, static_cast<std::size_t>(std::max(0, options_.max_records)));
  torch::Tensor c = layer_second_moment(model, site.input_tap, *corpus, options_.cache_dir).second_moment;
  c = c + options_.ridge * c.diagonal().mean() * torch::eye(c.size(0), c.options());
  return by_block_[site.block] = c;
}

}  // namespace mike::locate_edit
