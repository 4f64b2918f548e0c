#pragma once
// Images as model input tensors. The only torch-dependent part of data/.
//
// mike::ModelInput::image is a float tensor [3, H, W] in [0, 1]; models then
// resize and normalise to their own input size and mean/std. Real LLaVA-1.5
// checkpoints use CLIP's constants (kClipNormalization) at 336 px bicubic.
#include <torch/types.h>

#include <array>
#include <filesystem>
#include <vector>

#include "data/image.h"

namespace mike::data {

struct ImageNormalization {
  std::array<float, 3> mean{0.0F, 0.0F, 0.0F};
  std::array<float, 3> std{1.0F, 1.0F, 1.0F};
};

// OpenAI CLIP preprocessing (openai/clip-vit-large-patch14-336, LLaVA-1.5).
inline constexpr ImageNormalization kClipNormalization{{0.48145466F, 0.4578275F, 0.40821073F},
                                                       {0.26862954F, 0.26130258F, 0.27577711F}};
// ImageNet statistics (torchvision models).
inline constexpr ImageNormalization kImagenetNormalization{{0.485F, 0.456F, 0.406F}, {0.229F, 0.224F, 0.225F}};

// [3, H, W] float32 in [0, 1].
torch::Tensor image_to_tensor(const Image& image);
// read_image + image_to_tensor; throws DataError for a missing or corrupt file.
torch::Tensor load_image_tensor(const std::filesystem::path& path);

// (x - mean) / std per channel for [3, H, W] or [N, 3, H, W] tensors.
torch::Tensor normalize_image_tensor(const torch::Tensor& images, const ImageNormalization& normalization);

struct ImagePreprocess {
  int size = 0;  // square output side in px; 0 keeps the image's own size
  ResizeFilter filter = ResizeFilter::kBicubic;
  ImageNormalization normalization;  // identity by default: values stay in [0, 1]
};

// resize -> [0, 1] tensor -> normalise: [3, size, size].
torch::Tensor preprocess_image(const Image& image, const ImagePreprocess& preprocess);
// Loads and preprocesses every path into one [N, 3, size, size] batch. All
// images must end up the same size (set `size` when the files differ).
torch::Tensor load_image_batch(const std::vector<std::filesystem::path>& paths, const ImagePreprocess& preprocess);

}  // namespace mike::data
