// Safetensors round trips and damaged files: every malformed header field or
// offset is one clear ModelError naming the file and the problem, never a crash.
// The lazy reader converts dtypes chunk by chunk in bounded memory; a sharded
// Hugging Face checkpoint's index is validated before any shard is trusted.
// torch before doctest: glog (via torch) defines CHECK too, and doctest's must win.
#include <torch/torch.h>
#undef CHECK
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "mike/error.h"
#include "mike/safetensors.h"
#include "mike/safetensors_checkpoint.h"
#include "process.h"
#include "system/memory_use.h"

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
  check_damaged(raw_file(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [8, 4]}})", data), "has begin > end");
  check_damaged(raw_file(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 12]}})", data),
                "span 12 bytes but dtype F32 with shape [4] needs 16");
  check_damaged(raw_file(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})", data),
                "reach past the end of the data section (16 bytes");
  check_damaged(
      raw_file(R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 16]}})", data),
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

namespace {

// Runs `action`, which must throw a ModelError whose message contains every one of `parts`.
template <typename Action>
void check_refused(Action&& action, std::initializer_list<std::string> parts) {
  try {
    action();
    FAIL("must throw a ModelError containing '" << *parts.begin() << "'");
  } catch (const ModelError& e) {
    const std::string message = e.what();
    for (const std::string& part : parts)
      CHECK_MESSAGE(message.find(part) != std::string::npos, part << " in: " << message);
    CHECK(e.exit_code() == 5);
  }
}

// Values spanning F16/BF16's range: normals, subnormals, signed zeros, large magnitudes.
torch::Tensor spread_values(std::int64_t n) {
  torch::manual_seed(7);
  return torch::randn({n}) * torch::pow(10.0, torch::randint(-7, 5, {n}).to(torch::kFloat32));
}

// Three shards written by save_safetensors, plus `extra` (a tensor shard 3 holds but the index does not list).
struct ShardedCheckpoint {
  std::string dir;
  TensorMap tensors;  // the listed ones
};

const char* const kShards[] = {"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                               "model-00003-of-00003.safetensors"};

ShardedCheckpoint make_sharded(const std::string& label) {
  ShardedCheckpoint c{test::make_temp_dir(label), {}};
  c.tensors["lm.embed.weight"] = torch::arange(12, torch::kFloat32).view({4, 3}).to(torch::kFloat16);
  c.tensors["lm.layers.0.w"] = torch::full({2, 2}, 0.25, torch::kBFloat16);
  c.tensors["lm.layers.1.w"] = torch::tensor({1.5, -2.0, 3.25}, torch::kFloat32);
  c.tensors["lm.norm.weight"] = torch::ones({3}, torch::kFloat16);
  c.tensors["vision.proj"] = torch::tensor({0.5, 8.0}, torch::kFloat64);
  save_safetensors(c.dir + "/" + kShards[0],
                   {{"lm.embed.weight", c.tensors["lm.embed.weight"]}, {"lm.layers.0.w", c.tensors["lm.layers.0.w"]}});
  save_safetensors(c.dir + "/" + kShards[1], {{"lm.layers.1.w", c.tensors["lm.layers.1.w"]}});
  save_safetensors(c.dir + "/" + kShards[2], {{"lm.norm.weight", c.tensors["lm.norm.weight"]},
                                              {"vision.proj", c.tensors["vision.proj"]},
                                              {"unlisted.extra", torch::zeros({1})}});
  test::write_file(c.dir + "/model.safetensors.index.json", R"({
  "metadata": {"total_size": 76},
  "weight_map": {
    "lm.embed.weight": "model-00001-of-00003.safetensors",
    "lm.layers.0.w": "model-00001-of-00003.safetensors",
    "lm.layers.1.w": "model-00002-of-00003.safetensors",
    "lm.norm.weight": "model-00003-of-00003.safetensors",
    "vision.proj": "model-00003-of-00003.safetensors"
  }
})");
  return c;
}

}  // namespace

TEST_CASE("a reader parses the header only and reads each tensor from the file on demand") {
  TensorMap tensors{{"b.bias", torch::tensor({1.0f, 2.0f})},
                    {"a.weight", torch::arange(6, torch::kFloat32).view({2, 3}).to(torch::kFloat16)},
                    {"c.ids", torch::tensor({std::int64_t{4}, std::int64_t{-9}})}};
  const std::string path = test::make_temp_dir("safetensors_reader") + "/w.safetensors";
  save_safetensors(path, tensors, {{"format", "pt"}});
  const SafetensorsReader reader = SafetensorsReader::open(path);
  CHECK(reader.path() == path);
  CHECK(reader.metadata().at("format") == "pt");
  REQUIRE(reader.entries().size() == 3);
  CHECK(reader.entries()[0].name == "a.weight");
  CHECK(reader.entries()[1].name == "b.bias");
  CHECK(reader.entries()[2].name == "c.ids");
  const SafetensorsEntry& a = reader.entry("a.weight");
  CHECK(bool(a.dtype == torch::kFloat16));
  CHECK(a.shape == std::vector<std::int64_t>{2, 3});
  CHECK(a.file == path);
  CHECK(a.bytes == 12);
  // The offset is absolute: the tensor's bytes sit there in the file.
  const std::string bytes = test::read_file(path);
  const torch::Tensor half = tensors["a.weight"].contiguous();
  CHECK(bytes.compare(a.offset, a.bytes, static_cast<const char*>(half.data_ptr()), a.bytes) == 0);
  CHECK(reader.contains("b.bias"));
  CHECK_FALSE(reader.contains("b"));
  for (const auto& [name, tensor] : tensors) CHECK_MESSAGE(torch::equal(reader.read(name), tensor), name);

  // Nothing was cached at open(): bytes rewritten in place afterwards are what read() returns.
  std::string changed = bytes;
  const float seven = 7.0f;
  changed.replace(reader.entry("b.bias").offset, 4, reinterpret_cast<const char*>(&seven), 4);
  {
    std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
    out.write(changed.data(), static_cast<std::streamsize>(changed.size()));
  }
  CHECK(torch::equal(reader.read("b.bias"), torch::tensor({7.0f, 2.0f})));

  check_refused([&] { reader.entry("missing.weight"); }, {"no tensor 'missing.weight'", path, "'a.weight'"});
  check_refused([&] { reader.read("missing.weight"); }, {"no tensor 'missing.weight'", path});
  check_refused([&] { reader.read_into("missing.weight", torch::empty({2})); }, {"missing.weight", path});
}

TEST_CASE("read_into converts F16, BF16 and F64 exactly as Tensor::to does") {
  const torch::Tensor values = spread_values(4096);
  TensorMap tensors{{"f16", values.to(torch::kFloat16)},
                    {"bf16", values.to(torch::kBFloat16)},
                    {"f64", values.to(torch::kFloat64) / 3.0},
                    {"f32", values / 3.0}};
  const std::string path = test::make_temp_dir("safetensors_convert") + "/w.safetensors";
  save_safetensors(path, tensors);
  const SafetensorsReader reader = SafetensorsReader::open(path);
  for (const auto& [name, stored] : tensors)
    for (const torch::ScalarType target : {torch::kFloat32, torch::kFloat16, torch::kBFloat16, torch::kFloat64}) {
      torch::Tensor destination = torch::full({4096}, -1.0, torch::TensorOptions().dtype(target));
      reader.read_into(name, destination);
      CHECK_MESSAGE(torch::equal(destination, stored.to(target)), name << " -> " << c10::toString(target));
    }
  // A parameter that requires grad is a normal destination.
  torch::Tensor parameter = torch::zeros({4096}).requires_grad_();
  reader.read_into("bf16", parameter);
  CHECK(torch::equal(parameter.detach(), tensors["bf16"].to(torch::kFloat32)));
  CHECK(parameter.requires_grad());
}

TEST_CASE("a tensor larger than one chunk converts chunk by chunk to the full conversion") {
  constexpr std::int64_t kElements = 5'000'000;  // 10 MB of F16: two chunks, the second partial
  static_assert(kElements * 2 > static_cast<std::int64_t>(SafetensorsReader::kChunkBytes));
  static_assert(kElements * 2 % SafetensorsReader::kChunkBytes != 0);
  const torch::Tensor stored = spread_values(kElements).to(torch::kFloat16).view({1000, 5000});
  const std::string path = test::make_temp_dir("safetensors_chunks") + "/w.safetensors";
  save_safetensors(path, {{"big", stored}});
  const SafetensorsReader reader = SafetensorsReader::open(path);
  torch::Tensor destination = torch::empty({1000, 5000});
  reader.read_into("big", destination);
  CHECK(torch::equal(destination, stored.to(torch::kFloat32)));
  torch::Tensor same = torch::empty({1000, 5000}, torch::kFloat16);
  reader.read_into("big", same);
  CHECK(torch::equal(same, stored));
}

TEST_CASE("read_into refuses a destination of another shape, kind or layout, naming both") {
  const std::string path = test::make_temp_dir("safetensors_refuse") + "/w.safetensors";
  save_safetensors(path, {{"w", torch::ones({2, 3})}, {"ids", torch::tensor({1, 2}, torch::kInt64)}});
  const SafetensorsReader reader = SafetensorsReader::open(path);
  check_refused(
      [&] {
        reader.read_into("w", torch::empty({3, 2}));
      },
      {"tensor 'w'", path, "has shape [2, 3]", "destination has shape [3, 2]"});
  check_refused([&] { reader.read_into("w", torch::empty({6})); }, {"[2, 3]", "[6]"});
  check_refused([&] { reader.read_into("w", torch::empty({3, 2}).t()); }, {"tensor 'w'", "not a contiguous"});
  check_refused([&] { reader.read_into("ids", torch::empty({2})); },
                {"tensor 'ids'", path, "stored as I64", "F32 destination", "read it into a I64 tensor"});
  check_refused([&] { reader.read_into("w", torch::empty({2, 3}, torch::kInt32)); }, {"stored as F32", "I32"});
  check_refused([&] { reader.read_into("w", torch::Tensor()); }, {"tensor 'w'", "undefined"});
  // Integers read into their own dtype.
  torch::Tensor ids = torch::zeros({2}, torch::kInt64);
  reader.read_into("ids", ids);
  CHECK(torch::equal(ids, torch::tensor({1, 2}, torch::kInt64)));
}

TEST_CASE("require_finite refuses a tensor holding Inf or NaN, counting them and naming the first") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  torch::Tensor big = torch::zeros({5'000'000}, torch::kFloat16);
  big[4'500'000] = nan;  // in the second chunk: the index is the tensor's, not the chunk's
  const std::string path = test::make_temp_dir("safetensors_finite") + "/w.safetensors";
  save_safetensors(path, {{"bad", torch::tensor({1.0f, 2.0f, 3.0f, inf, nan, -inf})},
                          {"late_nan", big},
                          {"overflows", torch::tensor({1.0f, 1e5f})},
                          {"good", torch::tensor({1.0f, -2.0f})}});
  const SafetensorsReader reader = SafetensorsReader::open(path);
  const ReadOptions finite{true};
  check_refused([&] { reader.read_into("bad", torch::empty({6}), finite); },
                {"checkpoint '" + path + "': tensor 'bad' holds 3 non-finite values (first: inf at flat index 3)",
                 "damaged or was saved after training diverged"});
  check_refused([&] { reader.read_into("bad", torch::empty({6}, torch::kFloat16), finite); },
                {"tensor 'bad' holds 3 non-finite values"});
  check_refused([&] { reader.read_into("late_nan", torch::empty({5'000'000}), finite); },
                {"tensor 'late_nan' holds 1 non-finite values (first: nan at flat index 4500000)"});
  // A finite F32 value too large for F16 becomes inf on conversion: refused, saying why.
  check_refused([&] { reader.read_into("overflows", torch::empty({2}, torch::kFloat16), finite); },
                {"(first: inf at flat index 1, from the stored F32 value 100000 that overflows F16)"});
  torch::Tensor ok = torch::empty({2});
  reader.read_into("good", ok, finite);
  CHECK(torch::equal(ok, torch::tensor({1.0f, -2.0f})));
  // Without the option the values come through as stored.
  torch::Tensor raw = torch::empty({6});
  reader.read_into("bad", raw);
  CHECK(std::isinf(raw[3].item<float>()));
  CHECK(std::isnan(raw[4].item<float>()));
}

TEST_CASE("a sharded checkpoint reads every listed tensor from the shard its index names") {
  const ShardedCheckpoint c = make_sharded("safetensors_sharded");
  const SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint::open(c.dir);
  CHECK(checkpoint.source() == c.dir + "/model.safetensors.index.json");
  CHECK(checkpoint.shard_count() == 3);
  REQUIRE(checkpoint.entries().size() == c.tensors.size());
  auto expected = c.tensors.begin();
  for (const SafetensorsEntry& e : checkpoint.entries()) CHECK((e.name == (expected++)->first));
  CHECK(checkpoint.entry("lm.layers.1.w").file == c.dir + "/" + kShards[1]);
  CHECK(checkpoint.entry("vision.proj").file == c.dir + "/" + kShards[2]);
  for (const auto& [name, tensor] : c.tensors) {
    CHECK_MESSAGE(torch::equal(checkpoint.read(name), tensor), name);
    torch::Tensor destination = torch::empty(tensor.sizes());
    checkpoint.read_into(name, destination, ReadOptions{true});
    CHECK_MESSAGE(torch::equal(destination, tensor.to(torch::kFloat32)), name);
  }
  // A tensor a shard holds but the index does not list is not part of the checkpoint.
  CHECK_FALSE(checkpoint.contains("unlisted.extra"));
  check_refused([&] { checkpoint.read("unlisted.extra"); },
                {"no tensor 'unlisted.extra'", "model.safetensors.index.json", "5 tensors in 3 file(s)"});
  check_refused([&] { checkpoint.entry("nope"); }, {"no tensor 'nope'", checkpoint.source()});
}

TEST_CASE("shards may be symlinks, as in the Hugging Face hub cache's snapshots/ folders") {
  const ShardedCheckpoint c = make_sharded("safetensors_symlinks");
  const std::string blobs = c.dir + "_blobs";
  std::filesystem::create_directories(blobs);
  std::filesystem::rename(c.dir + "/" + kShards[1], blobs + "/5f2e");
  std::filesystem::create_symlink(blobs + "/5f2e", c.dir + "/" + kShards[1]);
  const SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint::open(c.dir);
  CHECK(torch::equal(checkpoint.read("lm.layers.1.w"), c.tensors.at("lm.layers.1.w")));
  std::filesystem::remove_all(blobs);
}

TEST_CASE("a checkpoint folder with one model.safetensors reads it") {
  const std::string dir = test::make_temp_dir("safetensors_single_dir");
  save_safetensors(dir + "/model.safetensors", {{"w", torch::tensor({1.0, 2.0}, torch::kFloat16)}});
  const SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint::open(dir);
  CHECK(checkpoint.source() == dir + "/model.safetensors");
  CHECK(checkpoint.shard_count() == 1);
  REQUIRE(checkpoint.entries().size() == 1);
  CHECK(checkpoint.contains("w"));
  torch::Tensor w = torch::empty({2});
  checkpoint.read_into("w", w);
  CHECK(torch::equal(w, torch::tensor({1.0f, 2.0f})));
  check_refused([&] { checkpoint.read("v"); }, {"no tensor 'v'", dir + "/model.safetensors"});
}

TEST_CASE("a checkpoint folder with neither file, or both, says which files it looked for") {
  const std::string empty = test::make_temp_dir("safetensors_empty_dir");
  check_refused([&] { SafetensorsCheckpoint::open(empty); },
                {empty, "neither model.safetensors nor model.safetensors.index.json", "save_pretrained"});
  check_refused([&] { SafetensorsCheckpoint::open(empty + "/absent"); }, {empty + "/absent", "not a directory"});
  const ShardedCheckpoint c = make_sharded("safetensors_both");
  save_safetensors(c.dir + "/model.safetensors", {{"w", torch::ones({1})}});
  check_refused([&] { SafetensorsCheckpoint::open(c.dir); },
                {c.dir, "both model.safetensors and model.safetensors.index.json", "delete the stale one"});
}

TEST_CASE("a damaged or hostile index is refused naming the index, the shard and the tensor") {
  const auto index_of = [](const ShardedCheckpoint& c) { return c.dir + "/model.safetensors.index.json"; };
  SUBCASE("a missing shard") {
    const ShardedCheckpoint c = make_sharded("safetensors_missing_shard");
    std::filesystem::remove(c.dir + "/" + kShards[1]);
    check_refused([&] { SafetensorsCheckpoint::open(c.dir); },
                  {index_of(c), "shard 'model-00002-of-00003.safetensors'", "'lm.layers.1.w'", "is missing from"});
  }
  SUBCASE("a listed tensor its shard does not hold") {
    const ShardedCheckpoint c = make_sharded("safetensors_absent_tensor");
    save_safetensors(c.dir + "/" + kShards[1], {{"other", torch::ones({1})}});
    check_refused(
        [&] { SafetensorsCheckpoint::open(c.dir); },
        {index_of(c), "tensor 'lm.layers.1.w'", "shard 'model-00002-of-00003.safetensors'", "does not hold it"});
  }
  SUBCASE("a shard outside the folder") {
    const ShardedCheckpoint c = make_sharded("safetensors_traversal");
    // The file exists, so only the name check stands between the index and it.
    save_safetensors(c.dir + "/../x.safetensors", {{"lm.layers.1.w", torch::ones({3})}});
    for (const std::string shard : {"../x.safetensors", "sub/x.safetensors", "..", "/etc/passwd"}) {
      test::write_file(c.dir + "/model.safetensors.index.json",
                       R"({"weight_map": {"lm.layers.1.w": ")" + shard + R"("}})");
      check_refused([&] { SafetensorsCheckpoint::open(c.dir); },
                    {index_of(c), "'lm.layers.1.w'", "'" + shard + "'", "not a plain file name"});
    }
    std::filesystem::remove(c.dir + "/../x.safetensors");
  }
  SUBCASE("weight_map not an object, a value not a string, bad JSON") {
    const ShardedCheckpoint c = make_sharded("safetensors_bad_index");
    const std::string index = index_of(c);
    test::write_file(index, R"({"weight_map": ["model-00001-of-00003.safetensors"]})");
    check_refused([&] { SafetensorsCheckpoint::open(c.dir); },
                  {index, "'weight_map' is not an object", "(it is a JSON array)"});
    test::write_file(index, R"({"metadata": {}})");
    check_refused([&] { SafetensorsCheckpoint::open(c.dir); }, {index, "has no 'weight_map'"});
    test::write_file(index, R"({"weight_map": {"lm.embed.weight": 1}})");
    check_refused([&] { SafetensorsCheckpoint::open(c.dir); },
                  {index, "'weight_map' entry 'lm.embed.weight' is 1, not a shard file name"});
    test::write_file(index, R"({"weight_map": {"lm.embed.weight": "model-00001-of-00003.safetensors",)");
    check_refused([&] { SafetensorsCheckpoint::open(c.dir); }, {index, "is not valid JSON"});
    test::write_file(index, R"({"weight_map": {}})");
    check_refused([&] { SafetensorsCheckpoint::open(c.dir); }, {index, "lists no tensors"});
  }
  SUBCASE("the same tensor stored in two shards") {
    const ShardedCheckpoint c = make_sharded("safetensors_duplicate");
    save_safetensors(c.dir + "/" + kShards[1],
                     {{"lm.layers.1.w", c.tensors.at("lm.layers.1.w")}, {"lm.norm.weight", torch::zeros({3})}});
    check_refused([&] { SafetensorsCheckpoint::open(c.dir); },
                  {index_of(c), "tensor 'lm.norm.weight' is stored in both shards",
                   "'model-00002-of-00003.safetensors'", "'model-00003-of-00003.safetensors'"});
  }
  SUBCASE("a damaged shard header names the shard") {
    const ShardedCheckpoint c = make_sharded("safetensors_damaged_shard");
    test::write_file(c.dir + "/" + kShards[2], "short");
    check_refused([&] { SafetensorsCheckpoint::open(c.dir); },
                  {c.dir + "/" + kShards[2], "shorter than the 8-byte header length"});
  }
}

TEST_CASE("converting a 100 MB F16 tensor needs one chunk of extra memory, not a tensor's") {
  constexpr std::int64_t kElements = 50'000'000;  // 100 MB of F16, 200 MB as F32
  const std::string dir = test::make_temp_dir("safetensors_memory");
  const std::string path = dir + "/big.safetensors";
  {
    torch::Tensor stored = torch::linspace(-1000, 1000, kElements).to(torch::kFloat16);
    stored[12345] = 0.5;
    save_safetensors(path, {{"big", stored}});
  }
  const SafetensorsReader reader = SafetensorsReader::open(path);
  torch::Tensor destination = torch::empty({kElements});
  destination.fill_(0);  // resident before measuring: only the reader's own memory is counted
  const mike::RssGrowth converted_growth =
      mike::peak_rss_growth([&] { reader.read_into("big", destination, ReadOptions{true}); });
  const std::int64_t converted = converted_growth.bytes;
  const bool exact = converted_growth.exact;
  // The measurement sees a whole-tensor read: reading the 100 MB F16 tensor at once must show up.
  std::int64_t whole = 0;
  {
    torch::Tensor held;
    whole = mike::peak_rss_growth([&] { held = reader.read("big"); }).bytes;
  }
  const std::int64_t mb = 1 << 20;
  const std::string method = exact ? "VmHWM after clear_refs" : "sampled VmRSS; clear_refs refused";
  MESSAGE("peak RSS growth (" << method << "): read_into F16->F32 of 100 MB into a resident 200 MB destination: "
                              << converted / mb << " MB; read() of the whole tensor: " << whole / mb << " MB");
  CHECK(converted < 40 * mb);
  CHECK(whole > 90 * mb);
  CHECK(destination[12345].item<float>() == 0.5f);
  CHECK(destination[0].item<float>() == -1000.0f);
  std::filesystem::remove_all(dir);
}
