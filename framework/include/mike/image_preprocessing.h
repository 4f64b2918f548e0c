#pragma once
// Image preprocessing of Hugging Face checkpoints, reproduced exactly so a
// model loaded from the Hugging Face layout sees the pixels it was trained on:
//
//   CLIPImageProcessor (transformers), as preprocessor_config.json sets it up:
//     convert to RGB -> resize (shortest edge, PIL) -> center crop ->
//     rescale (x 1/255) -> normalise ((x - mean) / std)
//
// The resize is PIL's Image.resize (libImaging/Resample.c, ImagingResample):
// a separable convolution whose filter support is widened by the downscale
// factor (antialiasing), in 8-bit fixed point, horizontal pass first, each
// pass rounded and clipped to uint8. A float resize (torch interpolate,
// stb_image_resize) differs from it by several levels near edges, which
// shifts CLIP features; tests/model/test_image_preprocessing.cpp pins ours to
// PIL byte for byte.
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "mike/export.h"

namespace mike {

// 8-bit RGB, row-major, channels interleaved (HWC): pixel (x, y) channel c is
// pixels[(y * width + x) * 3 + c].
struct Rgb8Image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> pixels;
};

// PIL's resampling filters; the values are PIL's (Image.Resampling), which is
// what preprocessor_config.json stores under "resample".
enum class ResampleFilter : int {
  nearest = 0,
  lanczos = 1,
  bilinear = 2,
  bicubic = 3,
  box = 4,
  hamming = 5,
};

// Largest side pil_resize and center_crop produce; bounds what a config or a
// caller can make us allocate.
inline constexpr int kMaxImageSide = 16384;

// The filter with PIL's number `value`; throws ModelError for any other number.
MIKE_API ResampleFilter resample_filter_from_pil(int value);
// "nearest", "lanczos", "bilinear", "bicubic", "box", "hamming".
MIKE_API const char* resample_filter_name(ResampleFilter filter);

// PIL's Image.resize((width, height), resample=filter) on an RGB image,
// byte-exact for every filter. Same size returns a copy, as PIL does. Throws
// DataError for an input whose pixel count does not match its size, and for
// a target side that is not in [1, kMaxImageSide].
MIKE_API Rgb8Image pil_resize(const Rgb8Image& image, int width, int height, ResampleFilter filter);

// transformers' image_transforms.center_crop: the window starts at
// ((h - height) // 2, (w - width) // 2); where the image is smaller than the
// crop it is zero-padded, placed at ceil((height - h) / 2) (and the same
// across). Throws DataError for a size outside [1, kMaxImageSide].
MIKE_API Rgb8Image center_crop(const Rgb8Image& image, int width, int height);

// The fields CLIPImageProcessor reads from preprocessor_config.json; the
// defaults are CLIPImageProcessor's own (OpenAI CLIP ViT-B/32 at 224 px).
struct ClipImageProcessorConfig {
  bool do_convert_rgb = true;  // our input is always RGB already; kept for the record
  bool do_resize = true;
  // "size": {"shortest_edge": N} (or a bare int) resizes the short side to N
  // keeping the aspect ratio; {"height": H, "width": W} resizes to exactly
  // H x W, shortest_edge is then 0.
  int shortest_edge = 224;
  int resize_height = 0;
  int resize_width = 0;
  ResampleFilter resample = ResampleFilter::bicubic;
  bool do_center_crop = true;
  int crop_height = 224;
  int crop_width = 224;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<double, 3> image_mean{0.48145466, 0.4578275, 0.40821073};
  std::array<double, 3> image_std{0.26862954, 0.26130258, 0.27577711};
};

// Reads a Hugging Face preprocessor_config.json. Keys CLIPImageProcessor does
// not use (image_processor_type, processor_class, ...) are ignored; a missing
// key keeps its default. A missing or unparsable file, a key of the wrong
// type or a bad value (a size outside [1, kMaxImageSide], a zero std, a mean
// that is not 3 numbers, an unknown resample) throws one ModelError naming
// the file, the key, what was found and how to fix it.
MIKE_API ClipImageProcessorConfig read_clip_image_processor_config(const std::string& path);

// transformers' get_resize_output_image_size(size=shortest_edge,
// default_to_square=False): the short side becomes `shortest_edge`, the long
// side int(shortest_edge * long / short) (truncated). Returns {height, width}.
MIKE_API std::array<int, 2> shortest_edge_resize_size(int height, int width, int shortest_edge);

// The uint8 image after CLIPImageProcessor's resize and center crop (the
// steps that stay in 8 bits), so tests and tools can compare it with PIL.
MIKE_API Rgb8Image clip_resize_and_crop(const Rgb8Image& image, const ClipImageProcessorConfig& config);

// mike's image form (float [3, H, W] in [0, 1], as ModelInput::image) to
// bytes: round(x * 255), clamped. Images are loaded as uint8 / 255, so this
// recovers them exactly. Throws DataError for a tensor that is not [3, H, W]
// with H, W in [1, kMaxImageSide], or that holds NaN/inf.
MIKE_API Rgb8Image rgb8_from_tensor(const torch::Tensor& image);

// CLIPImageProcessor.preprocess on one image: float32 [3, crop_height,
// crop_width] (or the resized size when do_center_crop is off), rescaled and
// normalised per the config. Input as rgb8_from_tensor takes it.
MIKE_API torch::Tensor clip_preprocess(const torch::Tensor& image, const ClipImageProcessorConfig& config);

}  // namespace mike
