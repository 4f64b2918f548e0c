#pragma once
// Decoded images by path, each file read once for the cache's lifetime (the
// runner's probes and the pretrainer's evaluations reuse the same pictures).
#include <torch/types.h>

#include <filesystem>
#include <map>

namespace mike::data {

class ImageTensorCache {
 public:
  // [3, H, W] float32 in [0, 1] (load_image_tensor); DataError for a bad file.
  torch::Tensor get(const std::filesystem::path& path);

 private:
  std::map<std::filesystem::path, torch::Tensor> images_;
};

}  // namespace mike::data
