// PIL's resize and transformers' center crop on 8-bit RGB (see
// mike/image_preprocessing.h). The resampling follows Pillow's
// libImaging/Resample.c step by step, because byte-exactness depends on every
// detail: the same double-precision filter evaluation order, the same
// rounding of the window bounds, the same fixed-point coefficients and the
// same per-pass clipping.
#include "mike/image_preprocessing.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "mike/error.h"

namespace mike {

namespace {

constexpr double kPi = 3.14159265358979323846;  // M_PI, which strict C++17 does not define

// --- PIL's filters (Resample.c), as functions of the distance in input pixels.

double box_kernel(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

double bilinear_kernel(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

double hamming_kernel(double x) {
  x = std::fabs(x);
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x *= kPi;
  // PIL writes the window constants as floats; keeping them floats keeps the
  // coefficients (and so the bytes) identical.
  return std::sin(x) / x * (0.54F + 0.46F * std::cos(x));
}

// Keys' cubic convolution with a = -0.5 (what PIL calls BICUBIC).
double bicubic_kernel(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= kPi;
  return std::sin(x) / x;
}

double lanczos_kernel(double x) { return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0.0; }

struct ConvolutionFilter {
  double (*kernel)(double);
  double support;  // half-width in input pixels when not downscaling
};

ConvolutionFilter convolution_filter(ResampleFilter filter) {
  switch (filter) {
    case ResampleFilter::box:
      return {box_kernel, 0.5};
    case ResampleFilter::bilinear:
      return {bilinear_kernel, 1.0};
    case ResampleFilter::hamming:
      return {hamming_kernel, 1.0};
    case ResampleFilter::bicubic:
      return {bicubic_kernel, 2.0};
    case ResampleFilter::lanczos:
      return {lanczos_kernel, 3.0};
    case ResampleFilter::nearest:
      break;
  }
  throw Error("internal: no convolution kernel for resample filter " + std::string(resample_filter_name(filter)));
}

// 8 bits of result and 2 bits of headroom for negative lobes and sums above
// 1 in a 32-bit accumulator (PIL's PRECISION_BITS).
constexpr int kPrecisionBits = 32 - 8 - 2;

// The weights of one 1-D pass: output pixel i reads `count[i]` input pixels
// starting at `first[i]`, with fixed-point weights
// weights[i * kernel_size .. + count[i]].
struct PassWeights {
  int kernel_size = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<std::int32_t> weights;
};

// PIL's precompute_coeffs + normalize_coeffs_8bpc for resizing in_size pixels
// to out_size. When shrinking, the kernel is stretched by the scale so every
// input pixel contributes (antialiasing).
PassWeights pass_weights(int in_size, int out_size, const ConvolutionFilter& filter) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter.support * filter_scale;
  const double inverse_filter_scale = 1.0 / filter_scale;

  PassWeights pass;
  pass.kernel_size = static_cast<int>(std::ceil(support)) * 2 + 1;
  pass.first.resize(out_size);
  pass.count.resize(out_size);
  pass.weights.assign(static_cast<std::size_t>(out_size) * pass.kernel_size, 0);
  std::vector<double> k(pass.kernel_size);
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    // The window is rounded to whole pixels and clipped to the image; at the
    // borders the weights are renormalised over what is left.
    const int first = std::max(static_cast<int>(center - support + 0.5), 0);
    const int last = std::min(static_cast<int>(center + support + 0.5), in_size);
    const int count = last - first;
    double sum = 0.0;
    for (int j = 0; j < count; ++j) {
      // Same expression order as PIL: the distance is formed in double before scaling.
      k[j] = filter.kernel((j + first - center + 0.5) * inverse_filter_scale);
      sum += k[j];
    }
    std::int32_t* w = &pass.weights[static_cast<std::size_t>(i) * pass.kernel_size];
    for (int j = 0; j < count; ++j) {
      const double normalized = sum != 0.0 ? k[j] / sum : k[j];
      const double fixed = normalized * (1 << kPrecisionBits);
      // Round half away from zero, as PIL's (int)(x +- 0.5).
      w[j] = static_cast<std::int32_t>(normalized < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    pass.first[i] = first;
    pass.count[i] = count;
  }
  return pass;
}

// Fixed-point sum back to a byte: the accumulator started at one half, so the
// arithmetic shift rounds; then clip to [0, 255] (PIL's clip8).
std::uint8_t clip_to_byte(std::int64_t sum) {
  return static_cast<std::uint8_t>(std::clamp<std::int64_t>(sum >> kPrecisionBits, 0, 255));
}

constexpr std::int64_t kHalf = std::int64_t{1} << (kPrecisionBits - 1);

// Horizontal pass over rows [row_begin, row_end) of `in`.
Rgb8Image resample_rows(const Rgb8Image& in, int row_begin, int row_end, int out_width, const PassWeights& pass) {
  Rgb8Image out;
  out.width = out_width;
  out.height = row_end - row_begin;
  out.pixels.resize(static_cast<std::size_t>(out.width) * out.height * 3);
  for (int y = 0; y < out.height; ++y) {
    const std::uint8_t* src = &in.pixels[static_cast<std::size_t>(y + row_begin) * in.width * 3];
    std::uint8_t* dst = &out.pixels[static_cast<std::size_t>(y) * out.width * 3];
    for (int x = 0; x < out_width; ++x) {
      const std::int32_t* w = &pass.weights[static_cast<std::size_t>(x) * pass.kernel_size];
      const std::uint8_t* s = src + static_cast<std::size_t>(pass.first[x]) * 3;
      std::int64_t r = kHalf, g = kHalf, b = kHalf;
      for (int j = 0; j < pass.count[x]; ++j) {
        r += std::int64_t{s[j * 3 + 0]} * w[j];
        g += std::int64_t{s[j * 3 + 1]} * w[j];
        b += std::int64_t{s[j * 3 + 2]} * w[j];
      }
      dst[x * 3 + 0] = clip_to_byte(r);
      dst[x * 3 + 1] = clip_to_byte(g);
      dst[x * 3 + 2] = clip_to_byte(b);
    }
  }
  return out;
}

// Vertical pass; `row_offset` is the first input row `in` holds (the
// horizontal pass computes only the rows the vertical one reads).
Rgb8Image resample_columns(const Rgb8Image& in, int row_offset, int out_height, const PassWeights& pass) {
  Rgb8Image out;
  out.width = in.width;
  out.height = out_height;
  out.pixels.resize(static_cast<std::size_t>(out.width) * out.height * 3);
  const std::size_t stride = static_cast<std::size_t>(in.width) * 3;
  for (int y = 0; y < out_height; ++y) {
    const std::int32_t* w = &pass.weights[static_cast<std::size_t>(y) * pass.kernel_size];
    const std::uint8_t* src = &in.pixels[static_cast<std::size_t>(pass.first[y] - row_offset) * stride];
    std::uint8_t* dst = &out.pixels[static_cast<std::size_t>(y) * stride];
    for (std::size_t c = 0; c < stride; ++c) {
      std::int64_t sum = kHalf;
      for (int j = 0; j < pass.count[y]; ++j) sum += std::int64_t{src[j * stride + c]} * w[j];
      dst[c] = clip_to_byte(sum);
    }
  }
  return out;
}

// PIL resizes with NEAREST through an affine transform (Geometry.c,
// ImagingScaleAffine): the source coordinate starts at half a step and is
// advanced by repeated addition, then truncated. Accumulating, rather than
// multiplying, is what PIL does, so it is what we do.
std::vector<int> nearest_sources(int in_size, int out_size) {
  const double step = static_cast<double>(in_size) / out_size;
  std::vector<int> sources(out_size);
  double position = step * 0.5;
  for (int i = 0; i < out_size; ++i) {
    sources[i] = std::min(static_cast<int>(position), in_size - 1);
    position += step;
  }
  return sources;
}

Rgb8Image nearest_resize(const Rgb8Image& in, int width, int height) {
  const std::vector<int> xs = nearest_sources(in.width, width);
  const std::vector<int> ys = nearest_sources(in.height, height);
  Rgb8Image out;
  out.width = width;
  out.height = height;
  out.pixels.resize(static_cast<std::size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c)
        out.pixels[(static_cast<std::size_t>(y) * width + x) * 3 + c] =
            in.pixels[(static_cast<std::size_t>(ys[y]) * in.width + xs[x]) * 3 + c];
  return out;
}

void check_image(const Rgb8Image& image, const char* operation) {
  if (image.width < 1 || image.height < 1 ||
      image.pixels.size() != static_cast<std::size_t>(image.width) * image.height * 3)
    throw DataError(std::string(operation) + ": the input image is " + std::to_string(image.width) + "x" +
                    std::to_string(image.height) + " with " + std::to_string(image.pixels.size()) +
                    " bytes; an RGB image needs width, height >= 1 and width * height * 3 bytes");
}

void check_target_size(int width, int height, const char* operation) {
  if (width < 1 || height < 1 || width > kMaxImageSide || height > kMaxImageSide)
    throw DataError(std::string(operation) + ": cannot produce a " + std::to_string(width) + "x" +
                    std::to_string(height) + " image; each side must be in [1, " + std::to_string(kMaxImageSide) + "]");
}

// transformers' center_crop along one axis: where the crop starts in the
// source, where the copied span starts in the output, and how long it is.
struct CropSpan {
  int source_begin, target_begin, length;
};

CropSpan crop_span(int size, int crop) {
  if (size >= crop) return {(size - crop) / 2, 0, crop};
  // Padded: transformers places the image at ceil((crop - size) / 2) and moves
  // the window, which started at (size - crop) // 2 (floor), by the same
  // amount, so the window starts at 0 of the padded image and holds all of it.
  return {0, (crop - size + 1) / 2, size};
}

}  // namespace

ResampleFilter resample_filter_from_pil(int value) {
  if (value < 0 || value > 5)
    throw ModelError(
        "resample " + std::to_string(value) +
        " is not one of PIL's filters; use 0 NEAREST, 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX or 5 HAMMING");
  return static_cast<ResampleFilter>(value);
}

const char* resample_filter_name(ResampleFilter filter) {
  switch (filter) {
    case ResampleFilter::nearest:
      return "nearest";
    case ResampleFilter::lanczos:
      return "lanczos";
    case ResampleFilter::bilinear:
      return "bilinear";
    case ResampleFilter::bicubic:
      return "bicubic";
    case ResampleFilter::box:
      return "box";
    case ResampleFilter::hamming:
      return "hamming";
  }
  return "unknown";
}

Rgb8Image pil_resize(const Rgb8Image& image, int width, int height, ResampleFilter filter) {
  check_image(image, "pil_resize");
  check_target_size(width, height, "pil_resize");
  if (width == image.width && height == image.height) return image;
  if (filter == ResampleFilter::nearest) return nearest_resize(image, width, height);

  const ConvolutionFilter convolution = convolution_filter(filter);
  // PIL's ImagingResampleInner: horizontal pass first, on only the rows the
  // vertical pass will read; a pass whose size does not change is skipped.
  // (At scale 1 every kernel here is interpolating, weight 1 at distance 0
  // and 0 at the other integers, so the skip is a shortcut, not a change.)
  const PassWeights vertical = pass_weights(image.height, height, convolution);
  const int row_begin = vertical.first.front();
  const int row_end = vertical.first.back() + vertical.count.back();
  Rgb8Image horizontal_result;
  const Rgb8Image* source = &image;
  int row_offset = 0;
  if (width != image.width) {
    horizontal_result = resample_rows(image, row_begin, row_end, width, pass_weights(image.width, width, convolution));
    source = &horizontal_result;
    row_offset = row_begin;
  }
  if (height == image.height) return horizontal_result;  // rows [0, height) all computed
  return resample_columns(*source, row_offset, height, vertical);
}

Rgb8Image center_crop(const Rgb8Image& image, int width, int height) {
  check_image(image, "center_crop");
  check_target_size(width, height, "center_crop");
  const CropSpan xs = crop_span(image.width, width);
  const CropSpan ys = crop_span(image.height, height);
  Rgb8Image out;
  out.width = width;
  out.height = height;
  out.pixels.assign(static_cast<std::size_t>(width) * height * 3, 0);  // zero padding, as transformers
  for (int y = 0; y < ys.length; ++y) {
    const std::uint8_t* src =
        &image.pixels[(static_cast<std::size_t>(ys.source_begin + y) * image.width + xs.source_begin) * 3];
    std::uint8_t* dst = &out.pixels[(static_cast<std::size_t>(ys.target_begin + y) * width + xs.target_begin) * 3];
    std::copy(src, src + static_cast<std::size_t>(xs.length) * 3, dst);
  }
  return out;
}

}  // namespace mike
