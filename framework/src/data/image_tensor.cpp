#include "data/image_tensor.h"
#include "data/image_cache.h"

#include <torch/torch.h>

#include "mike/error.h"

namespace mike::data {

torch::Tensor image_to_tensor(const Image& image) {
  auto bytes = torch::from_blob(const_cast<std::uint8_t*>(image.rgb.data()), {image.height, image.width, 3},
                                torch::kUInt8);
  // HWC bytes -> CHW floats in [0, 1]; contiguous() copies out of the borrowed buffer.
  return bytes.permute({2, 0, 1}).to(torch::kFloat32).div_(255.0F).contiguous();
}

torch::Tensor load_image_tensor(const std::filesystem::path& path) { return image_to_tensor(read_image(path)); }

torch::Tensor normalize_image_tensor(const torch::Tensor& images, const ImageNormalization& normalization) {
  if (images.dim() < 3 || images.size(-3) != 3) {
    throw DataError("normalize_image_tensor expects [3, H, W] or [N, 3, H, W], got " +
                    std::to_string(images.dim()) + " dimensions");
  }
  auto options = torch::TensorOptions().dtype(images.scalar_type());
  auto mean = torch::tensor({normalization.mean[0], normalization.mean[1], normalization.mean[2]}, options)
                  .view({3, 1, 1});
  auto std = torch::tensor({normalization.std[0], normalization.std[1], normalization.std[2]}, options)
                 .view({3, 1, 1});
  return (images - mean) / std;
}

torch::Tensor preprocess_image(const Image& image, const ImagePreprocess& preprocess) {
  const Image& sized =
      preprocess.size > 0 ? resize_image(image, preprocess.size, preprocess.size, preprocess.filter) : image;
  return normalize_image_tensor(image_to_tensor(sized), preprocess.normalization);
}

torch::Tensor load_image_batch(const std::vector<std::filesystem::path>& paths, const ImagePreprocess& preprocess) {
  std::vector<torch::Tensor> tensors;
  tensors.reserve(paths.size());
  for (const auto& path : paths) {
    tensors.push_back(preprocess_image(read_image(path), preprocess));
    if (tensors.back().sizes() != tensors.front().sizes()) {
      throw DataError("image '" + path.string() + "' is " + std::to_string(tensors.back().size(2)) + "x" +
                      std::to_string(tensors.back().size(1)) + " but '" + paths.front().string() + "' is " +
                      std::to_string(tensors.front().size(2)) + "x" + std::to_string(tensors.front().size(1)) +
                      "; fix: set a preprocessing size so a batch has one shape");
    }
  }
  if (tensors.empty()) return torch::empty({0, 3, preprocess.size, preprocess.size});
  return torch::stack(tensors);
}

torch::Tensor ImageTensorCache::get(const std::filesystem::path& path) {
  auto it = images_.find(path);
  if (it != images_.end()) return it->second;
  return images_.emplace(path, load_image_tensor(path)).first->second;
}

}  // namespace mike::data
