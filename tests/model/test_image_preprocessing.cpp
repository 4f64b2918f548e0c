// CLIPImageProcessor preprocessing against its ground truth: PIL's
// Image.resize and transformers' steps, run by clip_preprocess_reference.py
// (Debian's python3-pil + numpy) on the same deterministic images. The resize
// must match PIL byte for byte for every filter, sizes up and down, both
// orientations, odd and one-pixel-wide images; the normalised tensor must
// match to float rounding. The config reader is pinned on llava-1.5-7b-hf's
// preprocessor_config.json and on one clear error per bad key.
// torch before doctest: glog (via torch) defines CHECK too, and doctest's must win.
#include <torch/torch.h>
#undef CHECK
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mike/error.h"
#include "mike/image_preprocessing.h"
#include "process.h"

using namespace mike;

namespace {

const char* kLlavaConfig = R"({
  "crop_size": {"height": 336, "width": 336},
  "do_center_crop": true,
  "do_convert_rgb": true,
  "do_normalize": true,
  "do_rescale": true,
  "do_resize": true,
  "image_mean": [0.48145466, 0.4578275, 0.40821073],
  "image_processor_type": "CLIPImageProcessor",
  "image_std": [0.26862954, 0.26130258, 0.27577711],
  "processor_class": "LlavaProcessor",
  "resample": 3,
  "rescale_factor": 0.00392156862745098,
  "size": {"shortest_edge": 336}
})";

// --- Deterministic test images: what makes resamplers disagree is noise
// (every weight matters), smooth ramps (rounding) and hard edges (negative
// lobes overshoot and must clip).
enum class Pattern { noise, gradient, edges };

Rgb8Image make_image(int width, int height, Pattern pattern, unsigned seed) {
  Rgb8Image image{width, height, std::vector<std::uint8_t>(static_cast<std::size_t>(width) * height * 3)};
  std::mt19937 rng(seed);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        int v = 0;
        switch (pattern) {
          case Pattern::noise:
            v = static_cast<int>(rng() % 256);
            break;
          case Pattern::gradient:
            v = (x * 255 / std::max(width - 1, 1) * (c + 1) + y * 255 / std::max(height - 1, 1) * (3 - c)) / 4;
            break;
          case Pattern::edges:  // black/white blocks, a thin line, a saturated stripe
            v = (((x / 3) + (y / 5)) % 2) * 255;
            if (x % 17 == 0) v = 255 - v;
            if (c == 1 && y % 11 < 2) v = 0;
            break;
        }
        image.pixels[(static_cast<std::size_t>(y) * width + x) * 3 + c] = static_cast<std::uint8_t>(v & 255);
      }
  return image;
}

void write_ppm(const std::string& path, const Rgb8Image& image) {
  std::ofstream out(path, std::ios::binary);
  out << "P6\n" << image.width << " " << image.height << "\n255\n";
  out.write(reinterpret_cast<const char*>(image.pixels.data()), static_cast<std::streamsize>(image.pixels.size()));
}

Rgb8Image read_ppm(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string magic;
  int max_value = 0;
  Rgb8Image image;
  in >> magic >> image.width >> image.height >> max_value;
  in.get();  // the single whitespace before the raster
  REQUIRE_MESSAGE((magic == "P6" && max_value == 255), path);
  image.pixels.resize(static_cast<std::size_t>(image.width) * image.height * 3);
  in.read(reinterpret_cast<char*>(image.pixels.data()), static_cast<std::streamsize>(image.pixels.size()));
  REQUIRE_MESSAGE(in.good(), path);
  return image;
}

torch::Tensor read_f32(const std::string& path, const std::vector<std::int64_t>& shape) {
  const std::string bytes = test::read_file(path);
  torch::Tensor t = torch::empty(shape, torch::kFloat32);
  REQUIRE(bytes.size() == static_cast<std::size_t>(t.numel()) * 4);
  std::memcpy(t.data_ptr<float>(), bytes.data(), bytes.size());
  return t;
}

// Largest per-byte difference (0 = identical); -1 when the sizes differ.
int max_byte_difference(const Rgb8Image& a, const Rgb8Image& b) {
  if (a.width != b.width || a.height != b.height || a.pixels.size() != b.pixels.size()) return -1;
  int worst = 0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i) worst = std::max(worst, std::abs(a.pixels[i] - b.pixels[i]));
  return worst;
}

std::string describe(const Rgb8Image& image) {
  return std::to_string(image.width) + "x" + std::to_string(image.height);
}

torch::Tensor to_tensor01(const Rgb8Image& image) {
  return torch::from_blob(const_cast<std::uint8_t*>(image.pixels.data()), {image.height, image.width, 3}, torch::kUInt8)
             .permute({2, 0, 1})
             .to(torch::kFloat32) /
         255.0;
}

struct TestImage {
  std::string name;
  Rgb8Image image;
};

std::vector<TestImage> test_images() {
  return {
      {"noise_7x5", make_image(7, 5, Pattern::noise, 1)},
      {"noise_640x480", make_image(640, 480, Pattern::noise, 2)},
      {"edges_480x640", make_image(480, 640, Pattern::edges, 3)},
      {"gradient_333x500", make_image(333, 500, Pattern::gradient, 4)},
      {"noise_1000x37", make_image(1000, 37, Pattern::noise, 5)},
      {"edges_336x336", make_image(336, 336, Pattern::edges, 6)},
      {"gradient_1x9", make_image(1, 9, Pattern::gradient, 7)},
      {"edges_50x3", make_image(50, 3, Pattern::edges, 8)},
  };
}

// Target sizes for the direct resize check: down, up, one axis only, both
// ways at once, and to one pixel.
std::vector<std::pair<int, int>> resize_targets(const Rgb8Image& image) {
  const int w = image.width, h = image.height;
  return {{std::max(1, w * 7 / 10), std::max(1, h * 7 / 10)},
          {w * 3 + 1, h * 2 + 3},
          {std::max(1, w / 2 + 1), h},
          {w, h * 3 / 2 + 1},
          {w * 2 + 1, std::max(1, h / 3)},
          {1, 1}};
}

const ResampleFilter kAllFilters[] = {ResampleFilter::nearest, ResampleFilter::lanczos, ResampleFilter::bilinear,
                                      ResampleFilter::bicubic, ResampleFilter::box,     ResampleFilter::hamming};

std::string run_reference(const std::string& dir, const nlohmann::json& tasks) {
  std::ofstream(dir + "/tasks.json") << tasks.dump(1);
  const auto run = test::run_command("/usr/bin/python3 " + std::string(MIKE_SOURCE_DIR) +
                                     "/tests/model/clip_preprocess_reference.py " + dir + "/tasks.json");
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  return run.out;
}

// `read` must throw a ModelError whose message names `key` and `path`.
void check_config_error(const std::string& json, const std::string& key) {
  const std::string path = test::make_temp_dir("clip_config_bad") + "/preprocessor_config.json";
  test::write_file(path, json);
  CAPTURE(json);
  try {
    read_clip_image_processor_config(path);
    FAIL("a bad config must throw: " << json);
  } catch (const ModelError& e) {
    const std::string message = e.what();
    CHECK_MESSAGE(message.find("'" + key + "'") != std::string::npos, message);
    CHECK_MESSAGE(message.find(path) != std::string::npos, message);
    CHECK(e.exit_code() == 5);
  }
}

template <class F>
void check_data_error(F&& call, const std::string& expected) {
  try {
    call();
    FAIL("must throw a DataError containing: " << expected);
  } catch (const DataError& e) {
    CHECK_MESSAGE(std::string(e.what()).find(expected) != std::string::npos, e.what());
  }
}

}  // namespace

TEST_CASE("pil_resize matches PIL byte for byte for every filter, up and down, odd and one-pixel-wide images") {
  const std::string dir = test::make_temp_dir("pil_resize");
  const auto images = test_images();
  nlohmann::json tasks = nlohmann::json::array();
  struct Expected {
    std::string output;
    const Rgb8Image* input;
    int width, height;
    ResampleFilter filter;
  };
  std::vector<Expected> expected;
  for (const TestImage& t : images) {
    write_ppm(dir + "/" + t.name + ".ppm", t.image);
    for (const auto& [width, height] : resize_targets(t.image))
      for (ResampleFilter filter : kAllFilters) {
        const std::string output = dir + "/" + t.name + "_" + std::to_string(width) + "x" + std::to_string(height) +
                                   "_" + resample_filter_name(filter) + ".ppm";
        tasks.push_back({{"kind", "resize"},
                         {"input", dir + "/" + t.name + ".ppm"},
                         {"width", width},
                         {"height", height},
                         {"resample", static_cast<int>(filter)},
                         {"output", output}});
        expected.push_back({output, &t.image, width, height, filter});
      }
  }
  run_reference(dir, tasks);

  int worst = 0;
  for (const Expected& e : expected) {
    const Rgb8Image ours = pil_resize(*e.input, e.width, e.height, e.filter);
    const int difference = max_byte_difference(ours, read_ppm(e.output));
    CHECK_MESSAGE(difference == 0, describe(*e.input)
                                       << " -> " << e.width << "x" << e.height << " " << resample_filter_name(e.filter)
                                       << ": max difference " << difference << " levels");
    worst = std::max(worst, difference);
  }
  MESSAGE("pil_resize vs PIL: " << expected.size() << " resizes, max difference " << worst << " levels");
}

TEST_CASE("clip_preprocess matches CLIPImageProcessor: crop bytes exactly, normalised values to float rounding") {
  const std::string dir = test::make_temp_dir("clip_preprocess");
  struct NamedConfig {
    std::string name, json;
  };
  const std::vector<NamedConfig> configs = {
      {"llava", kLlavaConfig},
      // CLIP's defaults, int forms of size and crop_size.
      {"defaults_int", R"({"size": 224, "crop_size": 224, "image_processor_type": "CLIPImageProcessor"})"},
      // Fixed resize smaller than the crop on one axis: zero padding there.
      {"fixed_pad", R"({"size": {"height": 200, "width": 300}, "crop_size": {"height": 257, "width": 255},
                        "resample": 2, "image_mean": 0.5, "image_std": [0.5, 0.25, 1.0]})"},
      // Crop larger than the image on both axes, odd differences.
      {"pad_both", R"({"size": {"height": 31, "width": 40}, "crop_size": {"height": 64, "width": 81}})"},
      {"no_crop", R"({"size": {"shortest_edge": 97}, "do_center_crop": false, "do_normalize": false})"},
  };
  const auto images = test_images();
  nlohmann::json tasks = nlohmann::json::array();
  for (const NamedConfig& c : configs) test::write_file(dir + "/" + c.name + ".json", c.json);
  for (const TestImage& t : images) {
    write_ppm(dir + "/" + t.name + ".ppm", t.image);
    for (const NamedConfig& c : configs)
      tasks.push_back({{"kind", "clip"},
                       {"input", dir + "/" + t.name + ".ppm"},
                       {"config", dir + "/" + c.name + ".json"},
                       {"cropped", dir + "/" + t.name + "_" + c.name + ".ppm"},
                       {"output", dir + "/" + t.name + "_" + c.name + ".f32"}});
  }
  run_reference(dir, tasks);

  double worst_pixel_units = 0;
  for (const TestImage& t : images)
    for (const NamedConfig& c : configs) {
      CAPTURE(t.name);
      CAPTURE(c.name);
      const ClipImageProcessorConfig config = read_clip_image_processor_config(dir + "/" + c.name + ".json");
      const Rgb8Image reference_crop = read_ppm(dir + "/" + t.name + "_" + c.name + ".ppm");
      CHECK(max_byte_difference(clip_resize_and_crop(t.image, config), reference_crop) == 0);

      const torch::Tensor ours = clip_preprocess(to_tensor01(t.image), config);
      REQUIRE(ours.sizes() == torch::IntArrayRef({3, reference_crop.height, reference_crop.width}));
      CHECK((ours.scalar_type() == torch::kFloat32));
      const torch::Tensor reference =
          read_f32(dir + "/" + t.name + "_" + c.name + ".f32", {3, reference_crop.height, reference_crop.width});
      // |a - b| * std is the difference in [0, 1] pixel units.
      const torch::Tensor stds =
          config.do_normalize
              ? torch::tensor({config.image_std[0], config.image_std[1], config.image_std[2]}).view({3, 1, 1})
              : torch::ones({3, 1, 1}, torch::kFloat64);
      const double pixel_units =
          ((ours.to(torch::kFloat64) - reference.to(torch::kFloat64)).abs() * stds).max().item<double>() *
          (config.do_rescale ? 1.0 : 1.0 / 255.0);
      CHECK(pixel_units <= 1.0 / 255.0);
      // Identical bytes and the same float32 operations: only float rounding may remain.
      CHECK(pixel_units <= 1e-6);
      worst_pixel_units = std::max(worst_pixel_units, pixel_units);
    }
  MESSAGE("clip_preprocess vs reference: max |difference| * std = " << worst_pixel_units);
}

TEST_CASE("center_crop follows transformers: floor offsets, zero padding at ceil offsets") {
  Rgb8Image image{5, 4, {}};
  for (int i = 0; i < 5 * 4 * 3; ++i) image.pixels.push_back(static_cast<std::uint8_t>(i + 1));
  const auto pixel = [](const Rgb8Image& im, int x, int y) {
    return im.pixels[(static_cast<std::size_t>(y) * im.width + x) * 3];
  };
  // 5x4 -> 2x3: left (5 - 2) // 2 = 1, top (4 - 3) // 2 = 0.
  const Rgb8Image cropped = center_crop(image, 2, 3);
  CHECK(cropped.width == 2);
  CHECK(cropped.height == 3);
  CHECK(pixel(cropped, 0, 0) == pixel(image, 1, 0));
  CHECK(pixel(cropped, 1, 2) == pixel(image, 2, 2));
  // 5x4 -> 8x7: the image lands at (ceil(3 / 2), ceil(3 / 2)) = (2, 2), zeros around it.
  const Rgb8Image padded = center_crop(image, 8, 7);
  CHECK(pixel(padded, 2, 2) == pixel(image, 0, 0));
  CHECK(pixel(padded, 6, 5) == pixel(image, 4, 3));
  CHECK(pixel(padded, 1, 2) == 0);
  CHECK(pixel(padded, 7, 6) == 0);
  CHECK(pixel(padded, 2, 6) == 0);
}

TEST_CASE("the shortest-edge output size truncates the long side like transformers") {
  CHECK(shortest_edge_resize_size(480, 640, 336) == std::array<int, 2>{336, 448});
  CHECK(shortest_edge_resize_size(640, 480, 336) == std::array<int, 2>{448, 336});
  CHECK(shortest_edge_resize_size(500, 333, 336) == std::array<int, 2>{504, 336});   // 504.504...
  CHECK(shortest_edge_resize_size(37, 1000, 336) == std::array<int, 2>{336, 9081});  // 9081.08...
  CHECK(shortest_edge_resize_size(336, 336, 336) == std::array<int, 2>{336, 336});
  check_data_error([] { shortest_edge_resize_size(1, 1000, 336); }, "above the limit");
}

TEST_CASE("llava-1.5-7b-hf's preprocessor_config.json reads as CLIP at 336 px bicubic") {
  const std::string path = test::make_temp_dir("clip_config") + "/preprocessor_config.json";
  test::write_file(path, kLlavaConfig);
  const ClipImageProcessorConfig c = read_clip_image_processor_config(path);
  CHECK(c.do_convert_rgb);
  CHECK(c.do_resize);
  CHECK(c.shortest_edge == 336);
  CHECK(c.resize_height == 0);
  CHECK(c.resample == ResampleFilter::bicubic);
  CHECK(c.do_center_crop);
  CHECK(c.crop_height == 336);
  CHECK(c.crop_width == 336);
  CHECK(c.do_rescale);
  CHECK(c.rescale_factor == doctest::Approx(1.0 / 255.0).epsilon(1e-15));
  CHECK(c.do_normalize);
  CHECK(c.image_mean == std::array<double, 3>{0.48145466, 0.4578275, 0.40821073});
  CHECK(c.image_std == std::array<double, 3>{0.26862954, 0.26130258, 0.27577711});
}

TEST_CASE("size and crop_size accept ints and height/width; missing keys keep CLIPImageProcessor's defaults") {
  const std::string dir = test::make_temp_dir("clip_config_forms");
  test::write_file(dir + "/ints.json", R"({"size": 256, "crop_size": 240, "resample": 2, "do_rescale": false})");
  const ClipImageProcessorConfig ints = read_clip_image_processor_config(dir + "/ints.json");
  CHECK(ints.shortest_edge == 256);
  CHECK(ints.crop_height == 240);
  CHECK(ints.crop_width == 240);
  CHECK(ints.resample == ResampleFilter::bilinear);
  CHECK_FALSE(ints.do_rescale);

  test::write_file(dir + "/hw.json",
                   R"({"size": {"height": 300, "width": 200}, "crop_size": {"width": 10, "height": 20}})");
  const ClipImageProcessorConfig hw = read_clip_image_processor_config(dir + "/hw.json");
  CHECK(hw.shortest_edge == 0);
  CHECK(hw.resize_height == 300);
  CHECK(hw.resize_width == 200);
  CHECK(hw.crop_height == 20);
  CHECK(hw.crop_width == 10);

  test::write_file(dir + "/empty.json", "{}");
  const ClipImageProcessorConfig d = read_clip_image_processor_config(dir + "/empty.json");
  const ClipImageProcessorConfig defaults;
  CHECK(d.shortest_edge == 224);
  CHECK(d.crop_height == 224);
  CHECK(d.resample == ResampleFilter::bicubic);
  CHECK(d.image_mean == defaults.image_mean);
  CHECK(d.image_std == defaults.image_std);
}

TEST_CASE("every bad preprocessor_config.json value is one ModelError naming the file and the key") {
  check_config_error(R"({"size": -3})", "size");
  check_config_error(R"({"size": "336"})", "size");
  check_config_error(R"({"size": 20000})", "size");
  check_config_error(R"({"size": 33.6})", "size");
  check_config_error(R"({"size": {"shortest_edge": 0}})", "size.shortest_edge");
  check_config_error(R"({"size": {"longest_edge": 336}})", "size");
  check_config_error(R"({"size": {"height": 336}})", "size");
  check_config_error(R"({"crop_size": {"height": 336, "width": 0}})", "crop_size.width");
  check_config_error(R"({"crop_size": [336, 336]})", "crop_size");
  check_config_error(R"({"resample": 7})", "resample");
  check_config_error(R"({"resample": "bicubic"})", "resample");
  check_config_error(R"({"do_resize": "yes"})", "do_resize");
  check_config_error(R"({"do_normalize": 1})", "do_normalize");
  check_config_error(R"({"rescale_factor": 0})", "rescale_factor");
  check_config_error(R"({"image_mean": [0.1, 0.2]})", "image_mean");
  check_config_error(R"({"image_mean": ["a", "b", "c"]})", "image_mean");
  check_config_error(R"({"image_std": [0.2, 0, 0.3]})", "image_std");
  check_config_error(R"({"image_std": 0})", "image_std");
}

TEST_CASE("a missing, oversized or non-JSON preprocessor config is a clear ModelError naming the file") {
  const std::string dir = test::make_temp_dir("clip_config_files");
  const auto check_file_error = [](const std::string& path, const std::string& expected) {
    try {
      read_clip_image_processor_config(path);
      FAIL("must throw for " << path);
    } catch (const ModelError& e) {
      const std::string message = e.what();
      CHECK_MESSAGE(message.find(path) != std::string::npos, message);
      CHECK_MESSAGE(message.find(expected) != std::string::npos, message);
    }
  };
  check_file_error(dir + "/absent.json", "does not exist");
  test::write_file(dir + "/broken.json", "{\"size\": ");
  check_file_error(dir + "/broken.json", "not valid JSON");
  test::write_file(dir + "/array.json", "[1, 2]");
  check_file_error(dir + "/array.json", "not a JSON object");
  test::write_file(dir + "/huge.json", std::string(2 << 20, ' '));
  check_file_error(dir + "/huge.json", "bytes");
}

TEST_CASE("bad images and sizes are DataErrors before anything is allocated") {
  const Rgb8Image image = make_image(4, 3, Pattern::noise, 9);
  check_data_error([&] { pil_resize(image, 0, 3, ResampleFilter::bicubic); }, "[1, 16384]");
  check_data_error([&] { pil_resize(image, 16385, 3, ResampleFilter::bicubic); }, "[1, 16384]");
  check_data_error([&] { center_crop(image, 3, -1); }, "[1, 16384]");
  check_data_error(
      [] {
        pil_resize(Rgb8Image{4, 3, std::vector<std::uint8_t>(5)}, 2, 2, ResampleFilter::bilinear);
      },
      "width * height * 3 bytes");

  const ClipImageProcessorConfig config;
  check_data_error([&] { clip_preprocess(torch::rand({8, 8}), config); }, "[3, H, W]");
  check_data_error([&] { clip_preprocess(torch::rand({4, 8, 8}), config); }, "[3, H, W]");
  check_data_error([&] { clip_preprocess(torch::zeros({3, 8, 8}, torch::kUInt8), config); }, "float");
  check_data_error([&] { clip_preprocess(torch::rand({3, 0, 8}), config); }, "[1, 16384]");
  check_data_error([&] { clip_preprocess(torch::full({3, 4, 4}, NAN), config); }, "NaN");
  check_data_error(
      [&] {
        clip_preprocess(torch::tensor({1.0, std::numeric_limits<double>::infinity(), 0.5}).view({3, 1, 1}), config);
      },
      "NaN");
  check_data_error([&] { clip_preprocess(torch::Tensor(), config); }, "undefined");
}

TEST_CASE("clip_preprocess recovers the bytes of a [0, 1] image and clamps values just outside it") {
  const Rgb8Image image = make_image(9, 6, Pattern::noise, 10);
  ClipImageProcessorConfig identity;
  identity.do_resize = identity.do_center_crop = identity.do_normalize = false;
  const torch::Tensor x = to_tensor01(image);
  CHECK(torch::equal(clip_preprocess(x, identity), x));
  const Rgb8Image round_trip = rgb8_from_tensor(x);
  CHECK(round_trip.pixels == image.pixels);
  const Rgb8Image clamped = rgb8_from_tensor(torch::tensor({-0.01, 1.02, 0.5}).view({3, 1, 1}));
  CHECK(clamped.pixels == std::vector<std::uint8_t>{0, 255, 128});
}

TEST_CASE("llava-sized preprocessing of a 640x480 image takes milliseconds") {
  const Rgb8Image image = make_image(640, 480, Pattern::noise, 11);
  const torch::Tensor x = to_tensor01(image);
  ClipImageProcessorConfig config;
  config.shortest_edge = config.crop_height = config.crop_width = 336;
  const auto start = std::chrono::steady_clock::now();
  const torch::Tensor out = clip_preprocess(x, config);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  CHECK(out.sizes() == torch::IntArrayRef({3, 336, 336}));
  MESSAGE("clip_preprocess 640x480 -> 336x336: " << ms << " ms");
  CHECK(ms < 2000);  // generous: a shared CI core; typical is a few ms
}
