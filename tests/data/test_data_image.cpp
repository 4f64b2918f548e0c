// Images as model inputs: [3, H, W] in [0, 1], resize, mean/std normalisation, batching.
// torch first: c10's logging header defines a CHECK macro that aborts the
// process; doctest's CHECK must win, so undefine it before doctest.
#include <torch/torch.h>
#undef CHECK
#include <doctest/doctest.h>

#include <filesystem>

#include "data/image_tensor.h"
#include "mike/error.h"
#include "process.h"

namespace fs = std::filesystem;
using namespace mike::data;

namespace {
const fs::path kImages = fs::path(MIKE_SOURCE_DIR) / "tests" / "fixtures" / "mmedit" / "images";
}

TEST_CASE("image_to_tensor gives channels-first floats in [0, 1]") {
  torch::Tensor t = load_image_tensor(kImages / "heron.png");  // pixel (x, y) = (200, 20x, 30y)
  CHECK(t.sizes() == torch::IntArrayRef({3, 6, 8}));
  CHECK((t.scalar_type() == torch::kFloat32));
  CHECK(t[0][2][3].item<float>() == doctest::Approx(200.0 / 255.0));
  CHECK(t[1][2][3].item<float>() == doctest::Approx(60.0 / 255.0));
  CHECK(t[2][2][3].item<float>() == doctest::Approx(60.0 / 255.0));
  CHECK(t[1][0][7].item<float>() == doctest::Approx(140.0 / 255.0));
}

TEST_CASE("normalisation applies per-channel mean and std, CLIP constants included") {
  Image grey = make_image(4, 4, 128, 128, 128);
  ImagePreprocess clip;
  clip.size = 6;
  clip.normalization = kClipNormalization;
  torch::Tensor t = preprocess_image(grey, clip);
  CHECK(t.sizes() == torch::IntArrayRef({3, 6, 6}));
  const float v = 128.0F / 255.0F;
  CHECK(t[0][3][3].item<float>() == doctest::Approx((v - 0.48145466F) / 0.26862954F));
  CHECK(t[1][0][5].item<float>() == doctest::Approx((v - 0.4578275F) / 0.26130258F));
  CHECK(t[2][5][0].item<float>() == doctest::Approx((v - 0.40821073F) / 0.27577711F));
  torch::Tensor batch = torch::ones({2, 3, 1, 1});
  torch::Tensor n = normalize_image_tensor(batch, kImagenetNormalization);
  CHECK(n[1][2][0][0].item<float>() == doctest::Approx((1.0F - 0.406F) / 0.225F));
  CHECK_THROWS_AS(normalize_image_tensor(torch::ones({4, 2, 2}), kClipNormalization), mike::DataError);
}

TEST_CASE("a batch of differently sized images needs a preprocessing size") {
  std::vector<fs::path> paths = {kImages / "heron.png", kImages / "street.png", kImages / "kettle.png"};
  ImagePreprocess square;
  square.size = 5;
  square.filter = ResizeFilter::kBilinear;
  torch::Tensor batch = load_image_batch(paths, square);
  CHECK(batch.sizes() == torch::IntArrayRef({3, 3, 5, 5}));
  CHECK(batch.min().item<float>() >= 0.0F);
  CHECK(batch.max().item<float>() <= 1.0F);
  try {
    (void)load_image_batch(paths, ImagePreprocess{});
    FAIL("expected an error");
  } catch (const mike::DataError& e) {
    CHECK(std::string(e.what()) == "image '" + paths[1].string() + "' is 4x4 but '" + paths[0].string() +
                                       "' is 8x6; fix: set a preprocessing size so a batch has one shape");
  }
}
