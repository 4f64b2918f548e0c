// CLIPImageProcessor (transformers' image_processing_clip.py): its
// preprocessor_config.json and its preprocess() on one image (see
// mike/image_preprocessing.h).
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "mike/error.h"
#include "mike/image_preprocessing.h"

namespace mike {

namespace {

// preprocessor_config.json is about 1 KB; anything near this is not one, and
// the bound keeps a wrong path (a checkpoint shard) from being read whole.
constexpr std::uintmax_t kMaxConfigBytes = 1 << 20;

using Json = nlohmann::json;

// One config file's errors, all in the same form: file, key, found, fix.
class ConfigReader {
 public:
  ConfigReader(std::string path, const Json& root) : path_(std::move(path)), root_(root) {}

  [[noreturn]] void fail(const std::string& key, const Json& found, const std::string& expected) const {
    throw ModelError("preprocessor config '" + path_ + "': key '" + key + "' is " + found.dump() + "; " + expected +
                     " — fix the file (a Hugging Face CLIPImageProcessor config, e.g. llava-1.5's has \"size\": "
                     "{\"shortest_edge\": 336}, \"crop_size\": {\"height\": 336, \"width\": 336}, \"resample\": 3)");
  }

  const Json* find(const std::string& key) const {
    const auto it = root_.find(key);
    return it == root_.end() ? nullptr : &*it;
  }

  void read_bool(const std::string& key, bool& out) const {
    if (const Json* v = find(key)) {
      if (!v->is_boolean()) fail(key, *v, "it must be true or false");
      out = v->get<bool>();
    }
  }

  int side(const std::string& key, const Json& v) const {
    const std::string expected = "it must be an integer in [1, " + std::to_string(kMaxImageSide) + "]";
    if (!v.is_number_integer()) fail(key, v, expected);
    const std::int64_t n = v.get<std::int64_t>();
    if (n < 1 || n > kMaxImageSide) fail(key, v, expected);
    return static_cast<int>(n);
  }

  // {"height": H, "width": W}, exactly those keys.
  bool height_width(const std::string& key, const Json& v, int& height, int& width) const {
    if (!v.is_object() || v.size() != 2 || !v.contains("height") || !v.contains("width")) return false;
    height = side(key + ".height", v["height"]);
    width = side(key + ".width", v["width"]);
    return true;
  }

  void read_size(ClipImageProcessorConfig& config) const {
    const Json* v = find("size");
    if (!v) return;
    const std::string expected =
        "it must be an integer (the shortest edge), {\"shortest_edge\": N} or {\"height\": H, \"width\": W}";
    if (v->is_number_integer()) {
      config.shortest_edge = side("size", *v);
    } else if (v->is_object() && v->size() == 1 && v->contains("shortest_edge")) {
      config.shortest_edge = side("size.shortest_edge", (*v)["shortest_edge"]);
    } else if (height_width("size", *v, config.resize_height, config.resize_width)) {
      config.shortest_edge = 0;
    } else {
      fail("size", *v, expected);
    }
    if (config.shortest_edge > 0) config.resize_height = config.resize_width = 0;
  }

  void read_crop_size(ClipImageProcessorConfig& config) const {
    const Json* v = find("crop_size");
    if (!v) return;
    if (v->is_number_integer()) {
      config.crop_height = config.crop_width = side("crop_size", *v);
    } else if (!height_width("crop_size", *v, config.crop_height, config.crop_width)) {
      fail("crop_size", *v, "it must be an integer (a square crop) or {\"height\": H, \"width\": W}");
    }
  }

  void read_resample(ClipImageProcessorConfig& config) const {
    const Json* v = find("resample");
    if (!v) return;
    const std::string expected =
        "it must be one of PIL's filter numbers: 0 NEAREST, 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING";
    if (!v->is_number_integer()) fail("resample", *v, expected);
    const std::int64_t n = v->get<std::int64_t>();
    if (n < 0 || n > 5) fail("resample", *v, expected);
    config.resample = resample_filter_from_pil(static_cast<int>(n));
  }

  void read_rescale_factor(ClipImageProcessorConfig& config) const {
    const Json* v = find("rescale_factor");
    if (!v) return;
    if (!v->is_number() || !std::isfinite(v->get<double>()) || v->get<double>() <= 0)
      fail("rescale_factor", *v, "it must be a positive number (1/255 = 0.00392156862745098 for 8-bit images)");
    config.rescale_factor = v->get<double>();
  }

  // A list of 3 numbers, or one number for all channels (as transformers
  // accepts); std must be positive, since it divides.
  void read_channels(const std::string& key, std::array<double, 3>& out, bool positive) const {
    const Json* v = find(key);
    if (!v) return;
    const std::string expected = std::string("it must be a list of 3 ") + (positive ? "positive " : "") +
                                 "numbers, one per RGB channel (or a single number for all three)";
    std::array<double, 3> values{};
    if (v->is_number()) {
      values.fill(v->get<double>());
    } else if (v->is_array() && v->size() == 3) {
      for (std::size_t c = 0; c < 3; ++c) {
        if (!(*v)[c].is_number()) fail(key, *v, expected);
        values[c] = (*v)[c].get<double>();
      }
    } else {
      fail(key, *v, expected);
    }
    for (double x : values)
      if (!std::isfinite(x) || (positive && x <= 0)) fail(key, *v, expected);
    out = values;
  }

 private:
  std::string path_;
  const Json& root_;
};

Json parse_config_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw ModelError("preprocessor config '" + path +
                     "' does not exist or is not a file; point the model at the Hugging Face checkpoint folder "
                     "that holds preprocessor_config.json (download it with the checkpoint)");
  const std::uintmax_t bytes = std::filesystem::file_size(path, ec);
  if (ec || bytes > kMaxConfigBytes)
    throw ModelError("preprocessor config '" + path + "' is " + (ec ? "unreadable" : std::to_string(bytes) + " bytes") +
                     "; a preprocessor_config.json is a few hundred bytes of JSON — check the path");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) throw ModelError("preprocessor config '" + path + "' cannot be read; check its permissions");
  try {
    Json root = Json::parse(text.str());
    if (!root.is_object())
      throw ModelError("preprocessor config '" + path + "' holds " + std::string(root.type_name()) +
                       ", not a JSON object; it must be a Hugging Face preprocessor_config.json");
    return root;
  } catch (const Json::parse_error& e) {
    throw ModelError("preprocessor config '" + path + "' is not valid JSON (" + e.what() +
                     "); re-download the checkpoint's preprocessor_config.json");
  }
}

torch::Tensor tensor_from_rgb8(const Rgb8Image& image) {
  return torch::from_blob(const_cast<std::uint8_t*>(image.pixels.data()), {image.height, image.width, 3}, torch::kUInt8)
      .permute({2, 0, 1})
      .contiguous();
}

}  // namespace

ClipImageProcessorConfig read_clip_image_processor_config(const std::string& path) {
  const Json root = parse_config_file(path);
  const ConfigReader reader(path, root);
  ClipImageProcessorConfig config;
  reader.read_bool("do_convert_rgb", config.do_convert_rgb);
  reader.read_bool("do_resize", config.do_resize);
  reader.read_size(config);
  reader.read_resample(config);
  reader.read_bool("do_center_crop", config.do_center_crop);
  reader.read_crop_size(config);
  reader.read_bool("do_rescale", config.do_rescale);
  reader.read_rescale_factor(config);
  reader.read_bool("do_normalize", config.do_normalize);
  reader.read_channels("image_mean", config.image_mean, false);
  reader.read_channels("image_std", config.image_std, true);
  return config;
}

std::array<int, 2> shortest_edge_resize_size(int height, int width, int shortest_edge) {
  if (height < 1 || width < 1 || shortest_edge < 1)
    throw DataError("cannot resize a " + std::to_string(width) + "x" + std::to_string(height) +
                    " image to shortest edge " + std::to_string(shortest_edge) + "; all must be >= 1");
  const int short_side = std::min(height, width);
  const int long_side = std::max(height, width);
  // Python's int(size * long / short): an exact integer product, one correctly
  // rounded division, truncation. Done in double it is the same number.
  const double long_result = static_cast<double>(std::int64_t{shortest_edge} * long_side) / short_side;
  if (long_result > kMaxImageSide)
    throw DataError("resizing a " + std::to_string(width) + "x" + std::to_string(height) + " image to shortest edge " +
                    std::to_string(shortest_edge) + " makes its long side " +
                    std::to_string(static_cast<std::int64_t>(long_result)) + " px, above the limit of " +
                    std::to_string(kMaxImageSide) + "; crop the image to a less extreme aspect ratio");
  const int new_long = static_cast<int>(long_result);
  return width <= height ? std::array<int, 2>{new_long, shortest_edge} : std::array<int, 2>{shortest_edge, new_long};
}

Rgb8Image clip_resize_and_crop(const Rgb8Image& image, const ClipImageProcessorConfig& config) {
  // do_convert_rgb has nothing to do: an Rgb8Image is RGB by construction.
  Rgb8Image out = image;
  if (config.do_resize) {
    const std::array<int, 2> size = config.shortest_edge > 0
                                        ? shortest_edge_resize_size(image.height, image.width, config.shortest_edge)
                                        : std::array<int, 2>{config.resize_height, config.resize_width};
    out = pil_resize(out, size[1], size[0], config.resample);
  }
  if (config.do_center_crop) out = center_crop(out, config.crop_width, config.crop_height);
  return out;
}

Rgb8Image rgb8_from_tensor(const torch::Tensor& image) {
  if (!image.defined()) throw DataError("clip_preprocess: no image (an undefined tensor)");
  if (image.dim() != 3 || image.size(0) != 3 || !torch::isFloatingType(image.scalar_type()))
    throw DataError("clip_preprocess: the image tensor is " + std::string(c10::toString(image.scalar_type())) + " " +
                    c10::str(image.sizes()) + "; it must be float [3, H, W] RGB in [0, 1] (ModelInput::image)");
  if (image.size(1) < 1 || image.size(2) < 1 || image.size(1) > kMaxImageSide || image.size(2) > kMaxImageSide)
    throw DataError("clip_preprocess: the image is " + std::to_string(image.size(2)) + "x" +
                    std::to_string(image.size(1)) + " px; each side must be in [1, " + std::to_string(kMaxImageSide) +
                    "]");
  const torch::Tensor values = image.detach().to(torch::kCPU, torch::kFloat64);
  if (!torch::isfinite(values).all().item<bool>())
    throw DataError("clip_preprocess: the image holds NaN or infinite values; images must be finite, in [0, 1]");
  // round(x * 255) undoes the / 255 of loading exactly; the clamp keeps a
  // slightly out-of-range input from wrapping around.
  const torch::Tensor bytes =
      (values * 255.0).round_().clamp_(0, 255).to(torch::kUInt8).permute({1, 2, 0}).contiguous();
  Rgb8Image out;
  out.height = static_cast<int>(image.size(1));
  out.width = static_cast<int>(image.size(2));
  out.pixels.assign(bytes.data_ptr<std::uint8_t>(), bytes.data_ptr<std::uint8_t>() + bytes.numel());
  return out;
}

torch::Tensor clip_preprocess(const torch::Tensor& image, const ClipImageProcessorConfig& config) {
  const Rgb8Image cropped = clip_resize_and_crop(rgb8_from_tensor(image), config);
  torch::Tensor x = tensor_from_rgb8(cropped).to(torch::kFloat64);
  // transformers rescales in float64 and stores float32, then normalises in
  // float32 with mean/std cast to float32; the same order gives the same values.
  if (config.do_rescale) x = x * config.rescale_factor;
  x = x.to(torch::kFloat32);
  if (config.do_normalize) {
    const auto channel = [](const std::array<double, 3>& v) {
      return torch::tensor({static_cast<float>(v[0]), static_cast<float>(v[1]), static_cast<float>(v[2])})
          .view({3, 1, 1});
    };
    x = (x - channel(config.image_mean)) / channel(config.image_std);
  }
  return x.contiguous();
}

}  // namespace mike
