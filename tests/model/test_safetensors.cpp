// Safetensors round trips and damaged files: every malformed header field or
// offset is one clear ModelError naming the file and the problem, never a crash.
// torch before doctest: glog (via torch) defines CHECK too, and doctest's must win.
#include <torch/torch.h>
#undef CHECK
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "mike/error.h"
#include "mike/safetensors.h"
#include "process.h"

using namespace mike;

namespace {

std::string raw_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

// Loading `bytes` must fail with a ModelError whose message contains `expected`.
void check_damaged(const std::string& bytes, const std::string& expected) {
  const std::string path = test::make_temp_dir("safetensors_damaged") + "/model.safetensors";
  test::write_file(path, bytes);
  try {
    load_safetensors(path);
    FAIL("loading a damaged file must throw: " << expected);
  } catch (const ModelError& e) {
    const std::string message = e.what();
    CHECK_MESSAGE(message.find(expected) != std::string::npos, message);
    CHECK(message.find(path) != std::string::npos);
    CHECK(e.exit_code() == 5);
  }
}

}  // namespace

TEST_CASE("safetensors round trip keeps names, dtypes, shapes, values and metadata") {
  TensorMap tensors;
  tensors["a.weight"] = torch::arange(12, torch::kFloat32).view({3, 4}) / 7.0;
  tensors["b.f64"] = torch::tensor({1.5, -2.25}, torch::kFloat64);
  tensors["c.half"] = torch::tensor({0.5, 3.0}, torch::kFloat32).to(torch::kFloat16);
  tensors["d.bf16"] = torch::tensor({-1.0, 8.0}, torch::kFloat32).to(torch::kBFloat16);
  tensors["e.ids"] = torch::tensor({std::int64_t{7}, std::int64_t{-3}, std::int64_t{1} << 40});
  tensors["f.mask"] = torch::tensor({true, false, true});
  tensors["g.bytes"] = torch::tensor({0, 255, 17}, torch::kUInt8);
  tensors["h.scalar"] = torch::tensor(4.0f);
  tensors["i.empty"] = torch::zeros({0, 5});
  tensors["j.strided"] = torch::arange(6, torch::kInt32).view({2, 3}).t();  // non-contiguous input
  const std::string path = test::make_temp_dir("safetensors_roundtrip") + "/w.safetensors";
  save_safetensors(path, tensors, {{"format", "pt"}, {"note", "hello"}});
  const SafetensorsFile loaded = load_safetensors(path);
  CHECK(loaded.metadata.at("format") == "pt");
  CHECK(loaded.metadata.at("note") == "hello");
  REQUIRE(loaded.tensors.size() == tensors.size());
  for (const auto& [name, tensor] : tensors) {
    const torch::Tensor& got = loaded.tensors.at(name);
    CHECK_MESSAGE(bool(got.scalar_type() == tensor.scalar_type()), name);
    CHECK_MESSAGE(got.sizes().equals(tensor.sizes()), name);
    CHECK_MESSAGE(torch::equal(got, tensor.contiguous()), name);
  }
  // Data starts 8-byte aligned, and the file has exactly header + data bytes.
  std::ifstream in(path, std::ios::binary);
  unsigned char len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  std::uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | len[i];
  CHECK(header % 8 == 0);
  std::uint64_t data = 0;
  for (const auto& [name, tensor] : tensors) data += tensor.numel() * tensor.element_size();
  CHECK(std::filesystem::file_size(path) == 8 + header + data);
}

TEST_CASE("a checkpoint truncated anywhere is a clear error") {
  TensorMap tensors{{"w", torch::ones({4, 4})}, {"v", torch::ones({3})}};
  const std::string path = test::make_temp_dir("safetensors_truncated") + "/full.safetensors";
  save_safetensors(path, tensors);
  const std::string bytes = test::read_file(path);
  check_damaged(bytes.substr(0, 5), "shorter than the 8-byte header length");
  check_damaged(bytes.substr(0, 20), "only 12 follow (the file is truncated?)");
  check_damaged(bytes.substr(0, bytes.size() - 1), "reach past the end of the data section");
  check_damaged("", "file is 0 bytes");
}

TEST_CASE("malformed headers name the tensor and the field") {
  const std::string data(16, '\0');
  check_damaged(raw_file("{not json", data), "header is not valid JSON");
  check_damaged(raw_file("[1,2]", data), "header is JSON but not an object of tensors");
  check_damaged(raw_file(R"({"w": 3})", data), "tensor 'w': header entry is not a JSON object");
  check_damaged(raw_file(R"({"w": {"shape": [4], "data_offsets": [0, 16]}})", data),
                "tensor 'w': 'dtype' is missing or not a string");
  check_damaged(raw_file(R"({"w": {"dtype": "Q7", "shape": [4], "data_offsets": [0, 16]}})", data),
                "tensor 'w': unsupported dtype 'Q7'");
  check_damaged(raw_file(R"({"w": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}})", data),
                "'shape' holds -4, not a non-negative integer");
  check_damaged(raw_file(R"({"w": {"dtype": "F32", "shape": "4", "data_offsets": [0, 16]}})", data),
                "'shape' is missing or not a list");
  check_damaged(raw_file(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0]}})", data),
                "'data_offsets' must be [begin, end]");
  check_damaged(raw_file(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [8, 4]}})", data),
                "has begin > end");
  check_damaged(raw_file(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 12]}})", data),
                "span 12 bytes but dtype F32 with shape [4] needs 16");
  check_damaged(raw_file(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})", data),
                "reach past the end of the data section (16 bytes");
  check_damaged(raw_file(R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 16]}})", data),
                "'shape' [4294967296,4294967296] overflows");
  check_damaged(raw_file(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]},)"
                         R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})",
                         data),
                "tensors 'a' and 'b' overlap");
  check_damaged(raw_file(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16], "x": 1}})", data),
                "unknown header field 'x'");
  check_damaged(raw_file(R"({"__metadata__": {"k": 5}})", data), "'__metadata__' entry 'k' is not a string");
  // A length field claiming gigabytes must not allocate them.
  std::string huge(8, '\xff');
  check_damaged(huge + "{}", "header length field says");
}

TEST_CASE("a missing checkpoint says so") {
  try {
    load_safetensors("/nonexistent/dir/model.safetensors");
    FAIL("must throw");
  } catch (const ModelError& e) {
    CHECK(std::string(e.what()).find("checkpoint '/nonexistent/dir/model.safetensors' cannot be read") == 0);
  }
}
