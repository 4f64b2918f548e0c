// mike::Model implementation of the native LLaVA network.
#include "llava_model.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <torch/cuda.h>

#include "hf_tokenizer.h"
#include "hf_weights.h"
#include "mike/error.h"
#include "mike/safetensors.h"

namespace mike::llava {

namespace {

// CLIP's image normalisation constants (OpenAI CLIP preprocessing).
constexpr double kClipMean[3] = {0.48145466, 0.4578275, 0.40821073};
constexpr double kClipStd[3] = {0.26862954, 0.26130258, 0.27577711};
constexpr const char* kArchitectureKey = "mike.architecture";

// The torch device for a validated device name; ModelError when this
// LibTorch cannot reach it.
torch::Device resolve_device(const std::string& name) {
  const torch::Device device(name);
  if (device.is_cuda()) {
    if (!torch::cuda::is_available())
      throw ModelError("device is '" + name + "' but this mike's LibTorch (" + std::string(TORCH_VERSION) +
                       ") cannot use CUDA: it was built without CUDA, or no GPU is visible. Rebuild mike against a "
                       "CUDA LibTorch (cmake -DTorch_DIR=<site-packages>/torch/share/cmake/Torch; `mike --version` "
                       "says which one it has), check CUDA_VISIBLE_DEVICES, or set device=cpu");
    if (device.has_index() && device.index() >= static_cast<int>(torch::cuda::device_count()))
      throw ModelError("model.device is '" + name + "' but only " + std::to_string(torch::cuda::device_count()) +
                       " CUDA device(s) are visible; pick cuda:0 .. cuda:" +
                       std::to_string(torch::cuda::device_count() - 1));
  }
  return device;
}

// CLIPImageProcessor settings of a Hugging Face checkpoint; the crop must be
// the vision tower's input size (its position embeddings are fixed).
ClipImageProcessorConfig hf_image_processor(const LlavaConfig& config) {
  const std::filesystem::path file = std::filesystem::path(config.hf_path) / "preprocessor_config.json";
  ClipImageProcessorConfig processor;
  if (std::filesystem::exists(file)) {
    processor = read_clip_image_processor_config(file.string());
  } else {
    processor.shortest_edge = config.vision.image_size;
    processor.crop_width = processor.crop_height = config.vision.image_size;
  }
  const int size = config.vision.image_size;
  if (processor.do_center_crop ? (processor.crop_width != size || processor.crop_height != size)
                               : processor.shortest_edge != 0 || processor.resize_width != size ||
                                     processor.resize_height != size)
    throw ModelError("'" + file.string() + "' makes images of another size than the vision tower's " +
                     std::to_string(size) + "x" + std::to_string(size) +
                     " (vision_config.image_size); set crop_size to " + std::to_string(size));
  return processor;
}

// Weights that load but overflow (e.g. 1e38 everywhere) give NaN/Inf
// outputs; every metric computed on them would be garbage, so refuse.
void require_finite_outputs(const torch::Tensor& values, const char* during) {
  if (torch::isfinite(values).all().item<bool>()) return;
  throw ModelError(std::string("model 'llava' produced non-finite outputs (NaN or Inf) during ") + during +
                   ": its weights overflow the compute dtype or are damaged; check the checkpoint (mike model "
                   "score on one prompt shows it), or use model.dtype=float32");
}

std::int64_t count(const std::vector<torch::Tensor>& tensors) {
  std::int64_t n = 0;
  for (const auto& t : tensors) n += t.numel();
  return n;
}

}  // namespace

const Tokenizer& LlavaModel::tokenizer() const {
  if (!tokenizer_)
    throw ConfigError("model 'llava' needs a tokenizer to read text: set model.tokenizer to a SentencePiece "
                      "tokenizer.model, or model.checkpoint to a directory made by `mike pretrain` (it holds one)");
  return *tokenizer_;
}

LlavaModel::LlavaModel(const Config& config) : config_(LlavaConfig::from_config(config)) {
  device_ = resolve_device(config_.device);
  dtype_ = config_.dtype == "float16" ? torch::kFloat16 : config_.dtype == "bfloat16" ? torch::kBFloat16 : torch::kFloat32;
  if (config_.is_hf()) {
    tokenizer_ = std::make_unique<Tokenizer>(load_hf_tokenizer(config_.hf_path));
    if (tokenizer_->vocab_size() > config_.vocab_size)
      throw ModelError("Hugging Face checkpoint '" + config_.hf_path + "': its tokenizer has " +
                       std::to_string(tokenizer_->vocab_size()) + " ids but text_config.vocab_size is " +
                       std::to_string(config_.vocab_size) + "; the tokenizer files belong to another model");
    image_processor_ = std::make_unique<ClipImageProcessorConfig>(hf_image_processor(config_));
  } else {
    std::string tokenizer_path = config_.tokenizer;
    if (tokenizer_path.empty() && !config_.checkpoint.empty())
      tokenizer_path = (std::filesystem::path(config_.checkpoint) / "tokenizer.model").string();
    if (!tokenizer_path.empty()) {
      tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::load(tokenizer_path));
      config_.vocab_size = tokenizer().vocab_size();
    } else {
      // No tokenizer yet: the network is built (describe(), parameter counts) but cannot read text.
      config_.vocab_size = config.get_or<int>("tokenizer_vocab_size", 512);
    }
  }
  // Deterministic initialisation: the same seed gives the same weights.
  torch::manual_seed(config_.seed);
  network_ = LlavaNetwork(config_);
  network_->eval();
  for (const auto& item : network_->named_parameters(/*recurse=*/true)) parameters_.emplace(item.key(), item.value());
  for (int i = 0; i < network_->vision->blocks_used(); ++i)
    tap_names_.push_back("vision.layers." + std::to_string(i) + ".out");
  tap_names_.push_back("projector.out");
  for (int i = 0; i < config_.lm.layers; ++i) {
    const std::string base = "lm.layers." + std::to_string(i) + ".";
    for (const char* point : {"in", "self_attn.out", "mlp.in", "mlp.down_proj.in", "mlp.down_proj.out", "out"})
      tap_names_.push_back(base + point);
  }
  if (config_.is_hf()) load_hf_weights(config_.hf_path, parameters_);
  else if (!config_.checkpoint.empty()) load_checkpoint(config_.checkpoint);
  if (dtype_ != torch::kFloat32 || device_ != torch::Device(torch::kCPU)) {
    network_->to(device_, dtype_);
    parameters_.clear();  // to() replaced the tensors
    for (const auto& item : network_->named_parameters(/*recurse=*/true)) parameters_.emplace(item.key(), item.value());
  }
  for (const auto& [name, tensor] : parameters_)
    if (name.rfind("vision.", 0) == 0 || name.rfind("projector", 0) == 0) vision_parameters_.push_back(tensor);
  for (const std::string& tap : tap_names_)
    if (tap.rfind("vision.", 0) == 0 || tap.rfind("projector", 0) == 0) vision_taps_.push_back(tap);
  image_feature_cache_ = ImageFeatureCache(static_cast<std::int64_t>(config_.image_feature_cache_mb) << 20);
  // Depths for resume_point(): names are "lm.layers.<i>.<module>...".
  const int head_depth = 2 * config_.lm.layers + 1;
  auto block_of = [](const std::string& name) {
    const std::string prefix = "lm.layers.";
    return std::stoi(name.substr(prefix.size(), name.find('.', prefix.size()) - prefix.size()));
  };
  for (const auto& [name, tensor] : parameters_) {
    int depth = 0;
    if (name.rfind("lm.layers.", 0) == 0) {
      const int block = block_of(name);
      depth = name.find(".down_proj.") != std::string::npos ? 2 * block + 2 : 2 * block + 1;
    } else if (name.rfind("lm.norm", 0) == 0 || name.rfind("lm.lm_head", 0) == 0) {
      depth = head_depth;
    }
    parameter_depth_.emplace_back(tensor, depth);
  }
  for (const std::string& tap : tap_names_) {
    int depth = 0;
    if (tap.rfind("lm.layers.", 0) == 0) {
      // lm.layers.<i>.mlp.down_proj.out and lm.layers.<i>.out come after down_proj.
      const std::string point = tap.substr(tap.find('.', std::string("lm.layers.").size()) + 1);
      const bool after_down = point == "mlp.down_proj.out" || point == "out";
      depth = 2 * block_of(tap) + (after_down ? 2 : 1);
    }
    tap_depth_.emplace_back(tap, depth);
  }
}

std::string LlavaModel::describe() const {
  const auto& v = config_.vision;
  const auto& l = config_.lm;
  std::int64_t vision = count(network_->vision->parameters());
  std::int64_t projector = count(network_->projector_linear_1->parameters()) + count(network_->projector_linear_2->parameters());
  std::int64_t lm = count(network_->lm->parameters());
  std::string layers_used = "feature_layer " + std::to_string(v.feature_layer);
  if (!v.feature_layers.empty()) {
    layers_used = "feature_layers [";
    for (std::size_t i = 0; i < v.feature_layers.size(); ++i)
      layers_used += (i ? ", " : "") + std::to_string(v.feature_layers[i]);
    layers_used += "] concatenated";
  }
  std::ostringstream s;
  if (config_.is_hf())
    s << "llava: Hugging Face LLaVA-1.5 checkpoint " << config_.hf_path << " (CLIP ViT -> 2-layer projector -> LLaMA)\n";
  else
    s << "llava: native LLaVA-1.5 architecture (CLIP ViT -> 2-layer GELU projector -> LLaMA decoder)\n";
  s << "  vision:    CLIP ViT, image " << v.image_size << "x" << v.image_size << ", patch " << v.patch_size << " ("
    << v.num_patches() << " patches), hidden " << v.hidden << ", " << v.layers << " layers ("
    << network_->vision->blocks_used() << " used, " << layers_used << "), " << v.heads << " heads, "
    << (v.hidden_act == "quick_gelu" ? std::string("quick-GELU") : v.hidden_act) << " MLP " << v.intermediate
    << (v.keep_class_token ? ", class token kept" : "") << "\n"
    << "  projector: " << v.feature_width() << " -> " << l.hidden << " -> "
    << (config_.projector.act == "gelu" ? std::string("GELU") : config_.projector.act) << " -> " << l.hidden
    << (config_.projector.bias ? "" : " (no bias)") << "\n"
    << "  lm:        LLaMA decoder, hidden " << l.hidden << ", " << l.layers << " layers, " << l.heads << " heads ("
    << l.kv_heads << " kv heads), head_dim " << l.head_dim() << ", SwiGLU " << l.intermediate << ", RoPE theta "
    << l.rope_theta << ", vocab " << config_.vocab_size << ", "
    << (l.tie_word_embeddings ? "lm_head tied to embed_tokens" : "untied lm_head")
    << (l.attention_bias ? ", attention bias" : "") << (l.mlp_bias ? ", MLP bias" : "") << "\n"
    << "  parameters: " << (vision + projector + lm) << " (vision " << vision << ", projector " << projector
    << ", lm " << lm << "), " << config_.dtype << " on " << device_.str() << "\n";
  if (!config_.prompt_template.empty()) s << "  prompt template: \"" << config_.prompt_template << "\"\n";
  s << "  taps (" << tap_names_.size() << "): vision.layers.<i>.out, projector.out, lm.layers.<i>."
    << "{in,self_attn.out,mlp.in,mlp.down_proj.in,mlp.down_proj.out,out}; activations are [batch, tokens, dim],\n"
    << "             rows left-padded so every sequence ends at the last column\n";
  return s.str();
}

torch::Tensor LlavaModel::preprocess_image(const torch::Tensor& image, std::size_t index) const {
  if (image.dim() != 3 || image.size(0) != 3 || !image.is_floating_point())
    throw DataError("model input " + std::to_string(index) + ": image must be a float tensor [3, H, W] in [0, 1], got " +
                    std::string(c10::toString(image.scalar_type())) + " " + shape_string(image));
  // Hugging Face checkpoints: CLIPImageProcessor as their preprocessor_config.json sets it.
  if (image_processor_) return clip_preprocess(image, *image_processor_).unsqueeze(0).to(device_, dtype_);
  const int64_t size = config_.vision.image_size;
  torch::Tensor x = image.to(torch::kFloat32).unsqueeze(0);
  if (x.size(2) != size || x.size(3) != size)
    x = torch::nn::functional::interpolate(
        x, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{size, size})
               .mode(torch::kBilinear).align_corners(false));
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  const torch::Tensor mean = torch::tensor({kClipMean[0], kClipMean[1], kClipMean[2]}, opts).view({1, 3, 1, 1});
  const torch::Tensor std = torch::tensor({kClipStd[0], kClipStd[1], kClipStd[2]}, opts).view({1, 3, 1, 1});
  return ((x - mean) / std).to(device_, dtype_);
}

std::vector<std::vector<std::int64_t>> LlavaModel::prompt_ids(const std::vector<const ModelInput*>& inputs) const {
  std::vector<std::vector<std::int64_t>> ids(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const ModelInput& in = *inputs[i];
    const bool has_marker = in.prompt.find(kImageMarker) != std::string::npos;
    // LLaVA puts the image first when the prompt does not say where it goes.
    std::string prompt = in.image.defined() && !has_marker && !in.raw ? config_.image_prefix + in.prompt : in.prompt;
    if (!in.raw && !config_.prompt_template.empty()) {
      std::string templated = config_.prompt_template;
      templated.replace(templated.find("{prompt}"), 8, prompt);
      prompt = std::move(templated);
    }
    ids[i] = tokenizer().encode_prompt(prompt);
    const auto markers = std::count(ids[i].begin(), ids[i].end(), kImageTokenId);
    if (in.image.defined() && markers != 1)
      throw DataError("model input " + std::to_string(i) + ": prompt has " + std::to_string(markers) +
                      " <image> markers but one image; use exactly one marker");
    if (!in.image.defined() && markers != 0)
      throw DataError("model input " + std::to_string(i) + ": prompt contains <image> but the input has no image; "
                      "attach an image or remove the marker");
  }
  return ids;
}

std::vector<TokenLayout> LlavaModel::row_layouts(const std::vector<std::vector<std::int64_t>>& ids,
                                                 const std::vector<std::vector<std::int64_t>>& targets) const {
  // Each <image> marker becomes one feature per patch (+ the class token with "full" selection).
  const std::int64_t image_tokens = config_.vision.image_tokens();
  std::vector<TokenLayout> rows(ids.size());
  std::int64_t longest = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    TokenLayout& row = rows[i];
    std::int64_t placed = 0;
    for (std::int64_t id : ids[i]) {
      if (id == kImageTokenId) {
        row.image_begin = placed;
        placed += image_tokens;
        row.image_end = placed;
      } else {
        ++placed;
      }
    }
    if (!targets.empty()) {
      row.target_begin = placed;
      placed += static_cast<std::int64_t>(targets[i].size());
    }
    row.length = placed;
    longest = std::max(longest, placed);
  }
  // Left padding: every row ends at the last column.
  for (TokenLayout& row : rows) row.offset = longest - row.length;
  return rows;
}

std::vector<TokenLayout> LlavaModel::token_layout(const std::vector<ScoreRequest>& batch) {
  std::vector<const ModelInput*> inputs;
  std::vector<std::vector<std::int64_t>> targets;
  for (const ScoreRequest& request : batch) {
    inputs.push_back(&request.input);
    targets.push_back(target_ids(request));
  }
  return row_layouts(prompt_ids(inputs), targets);
}

std::int64_t LlavaModel::count_tokens(const std::string& text) const {
  return static_cast<std::int64_t>(tokenizer().encode(text).size());
}

std::vector<EditSite> LlavaModel::edit_sites() const {
  std::vector<EditSite> sites;
  for (int i = 0; i < config_.lm.layers; ++i) {
    const std::string block = "lm.layers." + std::to_string(i);
    sites.push_back({i, block + ".down_proj.weight", block + ".mlp.down_proj.in", block + ".mlp.down_proj.out",
                     block + ".out", config_.lm.intermediate, config_.lm.hidden});
  }
  return sites;
}

bool LlavaModel::image_features_cacheable() const {
  if (!image_feature_cache_.enabled()) return false;
  for (const std::string& tap : vision_taps_)
    if (taps_.active(tap)) return false;
  if (torch::GradMode::is_enabled())
    for (const torch::Tensor& p : vision_parameters_)
      if (p.requires_grad()) return false;
  return true;
}

std::uint64_t LlavaModel::vision_state_stamp() const {
  std::uint64_t stamp = 0;
  for (const torch::Tensor& p : vision_parameters_) stamp += p._version();
  return stamp;
}

std::vector<torch::Tensor> LlavaModel::image_features(const std::vector<const ModelInput*>& inputs) {
  std::vector<torch::Tensor> out(inputs.size());
  const bool cacheable = image_features_cacheable();
  const std::uint64_t stamp = cacheable ? vision_state_stamp() : 0;
  // Rows to encode, one per distinct image tensor (probes often share an image).
  std::vector<std::size_t> to_encode;
  std::vector<std::size_t> source(inputs.size(), 0);  // row -> index into to_encode
  std::map<const void*, std::size_t> encoded_slot;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const torch::Tensor& image = inputs[i]->image;
    if (!image.defined()) continue;
    if (cacheable) out[i] = image_feature_cache_.find(image, stamp);
    if (out[i].defined()) continue;
    auto [slot, fresh] = encoded_slot.emplace(image.unsafeGetTensorImpl(), to_encode.size());
    if (fresh) to_encode.push_back(i);
    source[i] = slot->second;
  }
  if (to_encode.empty()) return out;
  std::vector<torch::Tensor> pixels;
  for (std::size_t i : to_encode) pixels.push_back(preprocess_image(inputs[i]->image, i));
  const torch::Tensor features = network_->encode_images(torch::cat(pixels, 0), taps_);
  // row_layouts() counts one feature per patch for each image.
  if (features.size(1) != config_.vision.image_tokens())
    throw ModelError("model 'llava': the vision tower gave " + std::to_string(features.size(1)) +
                     " features per image, not " + std::to_string(config_.vision.image_tokens()) +
                     "; this is a bug in the llava plugin");
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i]->image.defined() && !out[i].defined()) out[i] = features[static_cast<int64_t>(source[i])];
  if (cacheable)
    for (std::size_t j = 0; j < to_encode.size(); ++j)
      image_feature_cache_.insert(inputs[to_encode[j]]->image, stamp, features[static_cast<int64_t>(j)]);
  return out;
}

LlavaModel::Sequences LlavaModel::layout(const std::vector<const ModelInput*>& inputs,
                                         const std::vector<std::vector<std::int64_t>>& targets) {
  const std::size_t batch = inputs.size();
  const std::vector<std::vector<std::int64_t>> ids = prompt_ids(inputs);
  const std::vector<torch::Tensor> features = image_features(inputs);
  auto& lm = network_->lm;
  std::vector<torch::Tensor> rows;
  std::vector<int64_t> lengths;
  int64_t longest = 0;
  const auto long_opts = torch::TensorOptions().dtype(torch::kInt64).device(device_);
  for (std::size_t i = 0; i < batch; ++i) {
    std::vector<torch::Tensor> pieces;
    std::vector<std::int64_t> text;
    auto flush = [&] {
      if (!text.empty()) pieces.push_back(lm->embed(torch::tensor(text, long_opts)));
      text.clear();
    };
    for (std::int64_t id : ids[i]) {
      if (id == kImageTokenId) {
        flush();
        pieces.push_back(features[i]);
      } else {
        text.push_back(id);
      }
    }
    if (!targets.empty()) text.insert(text.end(), targets[i].begin(), targets[i].end());
    flush();
    rows.push_back(torch::cat(pieces, 0));
    lengths.push_back(rows.back().size(0));
    longest = std::max(longest, lengths.back());
  }
  if (longest > config_.lm.max_positions)
    throw DataError("a model input is " + std::to_string(longest) + " tokens long (image patches included), more than "
                    "model.lm.max_positions = " + std::to_string(config_.lm.max_positions) +
                    "; shorten the prompt or raise lm.max_positions");
  Sequences out;
  std::vector<torch::Tensor> masks, positions;
  for (std::size_t i = 0; i < batch; ++i) {
    const int64_t pad = longest - lengths[i];
    const torch::Tensor& row = rows[i];
    rows[i] = pad == 0 ? row : torch::cat({torch::zeros({pad, row.size(1)}, row.options()), row}, 0);
    masks.push_back(torch::cat({torch::zeros({pad}, long_opts), torch::ones({lengths[i]}, long_opts)}));
    positions.push_back(torch::cat({torch::zeros({pad}, long_opts), torch::arange(lengths[i], long_opts)}));
  }
  out.embeds = torch::stack(rows);
  out.key_mask = torch::stack(masks);
  out.positions = torch::stack(positions);
  out.targets = targets;
  out.prompt_ids = ids;
  out.lengths = lengths;
  out.rows = row_layouts(ids, targets);
  for (std::size_t i = 0; i < batch; ++i)
    if (out.rows[i].length != lengths[i])
      throw ModelError("model 'llava': internal token layout mismatch in row " + std::to_string(i) + " (" +
                       std::to_string(out.rows[i].length) + " vs " + std::to_string(lengths[i]) +
                       " tokens); this is a bug in the llava plugin");
  return out;
}

std::vector<std::int64_t> LlavaModel::target_ids(const ScoreRequest& request) const {
  std::vector<std::int64_t> ids = tokenizer().encode(request.target);
  if (request.end_with_eos) ids.push_back(tokenizer().eos_id());
  return ids;
}

std::optional<ResumePoint> LlavaModel::resume_point() const {
  if (!config_.cache_below_edit || !torch::GradMode::is_enabled()) return std::nullopt;
  // Live: a parameter that trains, or a tap (ROME's value shift and LoRA
  // train tensors of their own, reached through taps).
  int live = 2 * config_.lm.layers + 2;  // deeper than anything
  for (const auto& [tensor, depth] : parameter_depth_)
    if (depth < live && tensor.requires_grad()) live = depth;
  if (taps_.any())
    for (const auto& [tap, depth] : tap_depth_)
      if (depth < live && taps_.active(tap)) live = depth;
  if (live == 0 || live > 2 * config_.lm.layers + 1) return std::nullopt;  // nothing to split off, or nothing trains
  // Depth 2i+1: block i's input; 2i+2: its down_proj input.
  return ResumePoint{(live - 1) / 2, live % 2 == 0};
}

std::uint64_t LlavaModel::stamp_below(const ResumePoint& point) const {
  const int depth = 2 * point.layer + (point.at_down_input ? 2 : 1);
  std::uint64_t stamp = 0;
  for (const auto& [tensor, d] : parameter_depth_)
    if (d < depth) stamp += tensor._version();
  return stamp;
}

torch::Tensor LlavaModel::resumed_logits(const std::vector<ScoreRequest>& batch,
                                         const std::vector<const ModelInput*>& inputs,
                                         const std::vector<std::vector<std::int64_t>>& targets,
                                         const ResumePoint& point, Sequences& seq, int64_t head_columns) {
  const int depth = 2 * point.layer + (point.at_down_input ? 2 : 1);
  const std::uint64_t stamp = stamp_below(point);
  std::vector<std::string> texts;
  std::vector<std::pair<const void*, std::int64_t>> images;
  for (const ScoreRequest& r : batch) {
    texts.push_back(r.input.prompt + '\0' + r.target + '\0' + (r.input.raw ? "r" : "") + (r.end_with_eos ? "e" : ""));
    const torch::Tensor& image = r.input.image;
    images.emplace_back(image.defined() ? image.unsafeGetTensorImpl() : nullptr,
                        image.defined() ? static_cast<std::int64_t>(image._version()) : 0);
  }
  auto hit = std::find_if(resume_cache_.begin(), resume_cache_.end(), [&](const ResumeEntry& e) {
    return e.point_depth == depth && e.stamp == stamp && e.texts == texts && e.images == images;
  });
  if (hit == resume_cache_.end()) {
    ResumeEntry entry;
    entry.texts = std::move(texts);
    entry.images = std::move(images);
    for (const ScoreRequest& r : batch) entry.image_refs.push_back(r.input.image);
    entry.point_depth = depth;
    entry.stamp = stamp;
    entry.seq = layout(inputs, targets);
    {
      // Nothing below the point trains, so there is no graph to keep.
      torch::NoGradGuard no_grad;
      entry.state = network_->lm->run_until(point, entry.seq.embeds, entry.seq.positions, entry.seq.key_mask, taps_);
    }
    entry.seq.embeds = torch::Tensor();
    constexpr std::size_t kEntries = 4;  // an edit's batches (e.g. ROME's rewrite and KL prompts)
    if (resume_cache_.size() == kEntries) resume_cache_.erase(resume_cache_.begin());
    resume_cache_.push_back(std::move(entry));
    hit = resume_cache_.end() - 1;
  } else if (hit != resume_cache_.end() - 1) {
    std::rotate(hit, hit + 1, resume_cache_.end());
    hit = resume_cache_.end() - 1;
  }
  seq = hit->seq;
  return network_->lm->run_from(point, hit->state, seq.positions, seq.key_mask, taps_, head_columns);
}

torch::Tensor LlavaModel::target_logits(const std::vector<ScoreRequest>& batch,
                                        std::vector<std::vector<std::int64_t>>& targets, Sequences* layout_out,
                                        torch::Tensor* all_logits, bool every_position) {
  std::vector<const ModelInput*> inputs;
  targets.clear();
  int64_t longest_target = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    inputs.push_back(&batch[i].input);
    targets.push_back(target_ids(batch[i]));
    if (targets.back().empty())
      throw DataError("score request " + std::to_string(i) + " has an empty target; give the text to score");
    longest_target = std::max<int64_t>(longest_target, static_cast<int64_t>(targets.back().size()));
  }
  const int64_t head_columns = every_position ? 0 : longest_target + 1;
  Sequences seq;
  torch::Tensor logits;
  if (const std::optional<ResumePoint> point = resume_point()) {
    logits = resumed_logits(batch, inputs, targets, *point, seq, head_columns);
  } else {
    seq = layout(inputs, targets);
    logits = network_->lm->forward(seq.embeds, seq.positions, seq.key_mask, nullptr, taps_, head_columns);
  }
  const int64_t length = logits.size(1);
  std::vector<torch::Tensor> rows;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const int64_t n = static_cast<int64_t>(targets[i].size());
    // Position t predicts token t+1: the n target tokens are predicted from the n columns before the last.
    rows.push_back(logits[static_cast<int64_t>(i)].slice(0, length - n - 1, length - 1));
  }
  if (all_logits) *all_logits = logits;
  if (layout_out) {
    seq.embeds = torch::Tensor();  // callers need the layout, not the activations
    *layout_out = std::move(seq);
  }
  return torch::cat(rows, 0);
}

std::vector<std::int64_t> LlavaModel::fed_ids(const std::vector<std::int64_t>& ids) const {
  std::vector<std::int64_t> out;
  for (std::int64_t id : ids) {
    if (id == kImageTokenId) out.insert(out.end(), config_.vision.image_tokens(), config_.image_token_id);
    else out.push_back(id);
  }
  return out;
}

namespace {
// Row-major int64 tensor rows as vectors (host side, whatever the device).
std::vector<std::vector<std::int64_t>> rows_of(const torch::Tensor& ids) {
  const torch::Tensor host = ids.to(torch::kCPU, torch::kInt64).contiguous();
  std::vector<std::vector<std::int64_t>> out;
  for (int64_t r = 0; r < host.size(0); ++r)
    out.emplace_back(host[r].data_ptr<int64_t>(), host[r].data_ptr<int64_t>() + host.size(1));
  return out;
}
}  // namespace

std::vector<ScoreResult> LlavaModel::score(const std::vector<ScoreRequest>& batch) {
  torch::NoGradGuard no_grad;
  std::vector<ScoreResult> results;
  for (std::size_t start = 0; start < batch.size(); start += config_.eval_batch_size) {
    const std::vector<ScoreRequest> chunk(batch.begin() + start,
                                          batch.begin() + std::min(batch.size(), start + config_.eval_batch_size));
    std::vector<std::vector<std::int64_t>> targets;
    Sequences layout;
    torch::Tensor all_logits;
    // Locality's per-position top-k reads every column; other probes only the targets'.
    const bool every_position =
        std::any_of(chunk.begin(), chunk.end(), [](const ScoreRequest& r) { return r.position_top_k > 0; });
    // Log-probabilities in float32 whatever the compute dtype, read on the host.
    const torch::Tensor log_probs =
        torch::log_softmax(target_logits(chunk, targets, &layout, &all_logits, every_position).to(torch::kFloat32), -1)
            .cpu();
    require_finite_outputs(log_probs, "scoring");
    const std::vector<std::vector<std::int64_t>>& prompts = layout.prompt_ids;
    int64_t row = 0;
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      const int64_t n = static_cast<int64_t>(targets[i].size());
      const torch::Tensor lp = log_probs.slice(0, row, row + n);
      row += n;
      const torch::Tensor target = torch::tensor(targets[i], torch::TensorOptions().dtype(torch::kInt64));
      const torch::Tensor predicted = lp.argmax(-1);
      const torch::Tensor target_lp = lp.gather(1, target.unsqueeze(1)).squeeze(1).to(torch::kFloat64).contiguous();
      ScoreResult r;
      r.loss = -target_lp.mean().item<double>();
      r.token_accuracy = predicted.eq(target).to(torch::kFloat64).mean().item<double>();
      r.target_tokens = targets[i];
      r.target_token_log_probs.assign(target_lp.data_ptr<double>(), target_lp.data_ptr<double>() + n);
      r.prompt_tokens = fed_ids(prompts[i]);
      r.layout = layout.rows[i];
      r.predicted_tokens.assign(predicted.data_ptr<int64_t>(), predicted.data_ptr<int64_t>() + n);
      // The last column predicts the token after the target (every row ends there).
      r.next_token = all_logits[static_cast<int64_t>(i)][all_logits.size(1) - 1].argmax().item<std::int64_t>();
      const int k = std::max(1, std::min<int>(chunk[i].top_k, static_cast<int>(lp.size(1))));
      for (const auto& ids : rows_of(std::get<1>(lp.topk(k, -1)))) r.topk_tokens.push_back(ids);
      if (chunk[i].position_top_k > 0) {
        // Every position of the row (image features, prompt, target), as
        // EasyEdit's locality compares them; topk of logits orders as topk of
        // the softmax it takes.
        const TokenLayout& row_layout = layout.rows[i];
        const int kp = std::max(1, std::min<int>(chunk[i].position_top_k, static_cast<int>(all_logits.size(2))));
        const torch::Tensor row_logits =
            all_logits[static_cast<int64_t>(i)].slice(0, row_layout.offset, row_layout.offset + row_layout.length);
        r.position_topk_tokens = rows_of(std::get<1>(row_logits.to(torch::kFloat32).topk(kp, -1)));
      }
      results.push_back(std::move(r));
    }
  }
  return results;
}

torch::Tensor LlavaModel::loss(const std::vector<ScoreRequest>& batch) {
  std::vector<std::vector<std::int64_t>> targets;
  const torch::Tensor logits = target_logits(batch, targets);
  std::vector<std::int64_t> flat;
  for (const auto& t : targets) flat.insert(flat.end(), t.begin(), t.end());
  return torch::nn::functional::cross_entropy(logits.to(torch::kFloat32),
                                              torch::tensor(flat, torch::TensorOptions().dtype(torch::kInt64).device(device_)));
}

torch::Tensor LlavaModel::target_log_probs(const std::vector<ScoreRequest>& batch) {
  std::vector<std::vector<std::int64_t>> targets;
  return torch::log_softmax(target_logits(batch, targets).to(torch::kFloat32), -1);
}

std::vector<std::string> LlavaModel::generate(const std::vector<ModelInput>& batch, const GenerateOptions& options) {
  std::vector<std::string> out;
  for (auto& generation : generate_tokens(batch, options)) out.push_back(std::move(generation.text));
  return out;
}

std::vector<Generation> LlavaModel::generate_tokens(const std::vector<ModelInput>& batch, const GenerateOptions& options) {
  torch::NoGradGuard no_grad;
  const bool seeded = options.greedy && !options.known_tokens.empty();
  if (seeded && options.known_tokens.size() != batch.size())
    throw Error("generate(): GenerateOptions::known_tokens has " + std::to_string(options.known_tokens.size()) +
                " lists for " + std::to_string(batch.size()) + " inputs; give one per input or none");
  const auto budget = static_cast<std::size_t>(std::max(0, options.max_new_tokens));
  std::vector<Generation> out(batch.size());
  // Rows still to decode, with the tokens known so far (cut at EOS and at the budget).
  std::vector<std::size_t> open;
  std::vector<std::vector<std::int64_t>> known(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    bool done = false;
    if (seeded) {
      for (std::int64_t id : options.known_tokens[i]) {
        if (id == tokenizer().eos_id() || known[i].size() == budget) {
          done = true;
          break;
        }
        known[i].push_back(id);
      }
      done = done || known[i].size() == budget;
    }
    if (done) {
      std::vector<const ModelInput*> one = {&batch[i]};
      out[i] = {fed_ids(prompt_ids(one)[0]), known[i], tokenizer().decode(known[i])};
    } else {
      open.push_back(i);
    }
  }
  const auto chunk_size = static_cast<std::size_t>(config_.eval_batch_size);
  for (std::size_t start = 0; start < open.size(); start += chunk_size) {
    std::vector<const ModelInput*> chunk;
    std::vector<std::vector<std::int64_t>> chunk_known;
    for (std::size_t j = start; j < std::min(open.size(), start + chunk_size); ++j) {
      chunk.push_back(&batch[open[j]]);
      chunk_known.push_back(known[open[j]]);
    }
    std::vector<Generation> generated = generate_chunk(chunk, chunk_known, options);
    for (std::size_t j = 0; j < generated.size(); ++j) out[open[start + j]] = std::move(generated[j]);
  }
  return out;
}

std::vector<Generation> LlavaModel::generate_chunk(const std::vector<const ModelInput*>& inputs,
                                                   const std::vector<std::vector<std::int64_t>>& known,
                                                   const GenerateOptions& options) {
  // Known tokens go in with the prompt, as teacher-forced targets do.
  const bool any_known = std::any_of(known.begin(), known.end(), [](const auto& k) { return !k.empty(); });
  Sequences seq = layout(inputs, any_known ? known : std::vector<std::vector<std::int64_t>>{});
  const int64_t rows = static_cast<int64_t>(inputs.size());
  auto& lm = network_->lm;
  KvCache cache;
  KvCache* cache_ptr = options.use_kv_cache ? &cache : nullptr;
  torch::Tensor embeds = seq.embeds, positions = seq.positions, key_mask = seq.key_mask;
  // Decoding reads only the last column's logits.
  torch::Tensor logits = lm->forward(embeds, positions, key_mask, cache_ptr, taps_, 1).select(1, -1);
  require_finite_outputs(logits, "generation");
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  std::vector<std::vector<std::int64_t>> generated = known;
  const auto budget = static_cast<std::size_t>(std::max(0, options.max_new_tokens));
  std::vector<bool> finished(inputs.size(), false);
  const auto long_opts = torch::TensorOptions().dtype(torch::kInt64).device(device_);
  for (int step = 0; step < options.max_new_tokens; ++step) {
    torch::Tensor next;
    if (options.greedy) {
      next = logits.argmax(-1).cpu();
    } else {
      // Sampled on the host: the seeded generator is a CPU one on every device.
      const torch::Tensor probs = torch::softmax(logits.to(torch::kFloat32).cpu() / std::max(options.temperature, 1e-6), -1);
      next = torch::multinomial(probs, 1, /*replacement=*/false, generator).squeeze(1);
    }
    next = next.to(torch::kInt64).contiguous();
    const std::int64_t* next_ids = next.data_ptr<std::int64_t>();
    bool all_done = true;
    for (int64_t b = 0; b < rows; ++b) {
      if (finished[b]) continue;
      const std::int64_t id = next_ids[b];
      if (id == tokenizer().eos_id()) finished[b] = true;
      else generated[b].push_back(id);
      // A row stops at max_new_tokens tokens, known ones included.
      if (generated[b].size() >= budget) finished[b] = true;
      all_done = all_done && finished[b];
    }
    if (all_done) break;
    const torch::Tensor new_embeds = lm->embed(next.to(device_).unsqueeze(1));
    const torch::Tensor new_positions = positions.select(1, -1).unsqueeze(1) + 1;
    key_mask = torch::cat({key_mask, torch::ones({rows, 1}, long_opts)}, 1);
    if (options.use_kv_cache) {
      positions = new_positions;
      logits = lm->forward(new_embeds, new_positions, key_mask, &cache, taps_).select(1, -1);
    } else {  // reference path: recompute the whole sequence
      embeds = torch::cat({embeds, new_embeds}, 1);
      positions = torch::cat({positions, new_positions}, 1);
      logits = lm->forward(embeds, positions, key_mask, nullptr, taps_, 1).select(1, -1);
    }
  }
  std::vector<Generation> out;
  for (std::size_t b = 0; b < inputs.size(); ++b)
    out.push_back({fed_ids(seq.prompt_ids[b]), generated[b], tokenizer().decode(generated[b])});
  return out;
}

std::vector<std::string> LlavaModel::parameter_names() const {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : parameters_) names.push_back(name);
  return names;
}

torch::Tensor LlavaModel::parameter(const std::string& name) {
  auto it = parameters_.find(name);
  if (it == parameters_.end())
    throw ModelError("model 'llava' has no parameter '" + name + "'; names look like 'lm.layers.0.down_proj.weight' " +
                     "(" + std::to_string(parameters_.size()) + " in all; see parameter_names())");
  return it->second;
}

std::vector<std::string> LlavaModel::tap_names() const { return tap_names_; }

TapHandle LlavaModel::add_tap(const std::string& tap, TapCallback callback) {
  if (std::find(tap_names_.begin(), tap_names_.end(), tap) == tap_names_.end())
    throw ModelError("model 'llava' has no tap '" + tap + "'; taps are vision.layers.<i>.out (i < " +
                     std::to_string(network_->vision->blocks_used()) + "), projector.out and lm.layers.<i>." +
                     "{in,self_attn.out,mlp.in,mlp.down_proj.in,mlp.down_proj.out,out} (i < " +
                     std::to_string(config_.lm.layers) + ")");
  return taps_.add(tap, std::move(callback));
}

void LlavaModel::save_checkpoint(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw ModelError("cannot create checkpoint directory '" + dir + "': " + ec.message());
  TensorMap tensors(parameters_.begin(), parameters_.end());
  const std::string architecture = config_.architecture_json();
  save_safetensors((std::filesystem::path(dir) / "model.safetensors").string(), tensors,
                   {{"format", "pt"}, {kArchitectureKey, architecture}});
  tokenizer().save((std::filesystem::path(dir) / "tokenizer.model").string());
  std::ofstream config((std::filesystem::path(dir) / "config.json").string(), std::ios::trunc);
  config << architecture;
  if (!config) throw ModelError("cannot write '" + dir + "/config.json'; check the directory is writable");
}

void LlavaModel::load_checkpoint(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "model.safetensors").string();
  SafetensorsFile file = load_safetensors(path);
  auto arch = file.metadata.find(kArchitectureKey);
  if (arch != file.metadata.end() && arch->second != config_.architecture_json())
    throw ModelError("checkpoint '" + path + "' was saved by a different architecture than the config asks for.\n"
                     "checkpoint:\n" + arch->second + "config:\n" + config_.architecture_json() +
                     "use the model preset it was trained with, or retrain with `mike pretrain`");
  check_checkpoint_architecture(dir, config_.architecture_json(),
                                arch == file.metadata.end() ? std::string() : arch->second);
  for (const auto& [name, tensor] : file.tensors)
    if (!parameters_.count(name))
      throw ModelError("checkpoint '" + path + "' holds tensor '" + name + "' which model 'llava' does not have; "
                       "is it a checkpoint of another model?");
  torch::NoGradGuard no_grad;
  for (auto& [name, param] : parameters_) {
    auto it = file.tensors.find(name);
    if (it == file.tensors.end())
      throw ModelError("checkpoint '" + path + "' lacks parameter '" + name + "'; it is incomplete or of another model");
    if (!it->second.sizes().equals(param.sizes()))
      throw ModelError("checkpoint '" + path + "': parameter '" + name + "' has shape " + shape_string(it->second) +
                       " but the model expects " + shape_string(param));
    if (!torch::isfinite(it->second).all().item<bool>())
      throw ModelError("checkpoint '" + path + "': parameter '" + name + "' holds non-finite values (NaN or Inf); "
                       "the checkpoint is damaged or training diverged — retrain with `mike pretrain --force`");
    if (!it->second.is_floating_point())
      throw ModelError("checkpoint '" + path + "': parameter '" + name + "' is stored as " +
                       std::string(c10::toString(it->second.scalar_type())) +
                       ", not as floating-point weights; its header was altered or the file is not a model");
    param.copy_(it->second.to(param.scalar_type()));
  }
}

}  // namespace mike::llava
