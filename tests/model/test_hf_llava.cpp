// Hugging Face LLaVA-1.5 checkpoints through `mike model`: tiny random
// checkpoints written in the published layout (hf_llava_fixture.py: both
// tensor-name layouts, sharded and single-file, F32/F16/BF16, full and short
// config.json) agree with an independent PyTorch reference written from the
// transformers equations (hf_llava_reference.py) on token ids, per-token
// log-probabilities (1e-4) and greedy ids; damaged checkpoints are refused
// with exit 5 and a message naming the file and tensor or key.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "process.h"

namespace fs = std::filesystem;
using mike::test::make_temp_dir;
using mike::test::run_command;
using mike::test::run_mike;

namespace {

// Debian's Python sees python3-torch & co.; bench/cuda/check.sh points
// MIKE_TEST_PYTHON at the GPU machine's PyTorch instead.
const std::string kPython = (std::getenv("MIKE_TEST_PYTHON") ? std::string(std::getenv("MIKE_TEST_PYTHON")) : "/usr/bin/python3") + " ";
// bench/cuda/check.sh runs the same tests on device=cuda.
const std::string kDevice = std::getenv("MIKE_TEST_DEVICE") ? std::getenv("MIKE_TEST_DEVICE") : "cpu";
const std::string kFixture = std::string(MIKE_SOURCE_DIR) + "/tests/model/hf_llava_fixture.py";
const std::string kReference = std::string(MIKE_SOURCE_DIR) + "/tests/model/hf_llava_reference.py";

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A checkpoint written by the fixture script with `options`.
std::string write_checkpoint(const std::string& label, const std::string& options) {
  const std::string dir = make_temp_dir("hf_" + label) + "/checkpoint";
  const auto r = run_command(kPython + kFixture + " " + dir + " " + options);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return dir;
}

// Deterministic PNGs: one at the vision tower's 16x16 (preprocessing is then
// exact, so the parity is about the network) and one that is resized.
std::string test_image(const std::string& dir, int width, int height, int seed) {
  const std::string path = dir + "/image_" + std::to_string(width) + "x" + std::to_string(height) + ".png";
  const auto r = run_command(kPython + "-c " +
                             quote("import numpy as np; from PIL import Image; rng = np.random.default_rng(" +
                                   std::to_string(seed) + "); Image.fromarray(rng.integers(0, 256, (" +
                                   std::to_string(height) + ", " + std::to_string(width) +
                                   ", 3), dtype=np.uint8)).save('" + path + "')"));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return path;
}

struct Request {
  std::string prompt, image, target;
  bool raw = false;
};

std::string hf_args(const std::string& dir) { return "model=llava_hf model.path=" + dir + " threads=1 device=" + kDevice; }

std::string model_args(const std::string& action, const std::string& dir, const Request& r) {
  std::string args = "model " + action + " --config-dir " + std::string(MIKE_SOURCE_DIR) + "/configs " + hf_args(dir) +
                     " --prompt " + quote(r.prompt) + " --json";
  if (!r.image.empty()) args += " --image " + r.image;
  if (action == "score") args += " --target " + quote(r.target);
  else args += " --max-new-tokens 6";
  if (r.raw) args += " --raw";
  return args;
}

std::vector<nlohmann::json> reference(const std::string& dir, const std::vector<Request>& requests) {
  nlohmann::json list = nlohmann::json::array();
  for (const Request& r : requests)
    list.push_back({{"prompt", r.prompt},
                    {"image", r.image.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.image)},
                    {"target", r.target},
                    {"raw", r.raw},
                    {"max_new_tokens", 6}});
  const std::string file = dir + "/../requests.json";
  mike::test::write_file(file, list.dump());
  const auto out = run_command(kPython + kReference + " " + dir + " " + file);
  REQUIRE_MESSAGE(out.exit_code == 0, out.err);
  std::vector<nlohmann::json> results;
  std::istringstream lines(out.out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) results.push_back(nlohmann::json::parse(line));
  REQUIRE(results.size() == requests.size());
  return results;
}

// mike's scores and greedy ids against the reference's, request by request.
void check_parity(const std::string& dir, const std::vector<Request>& requests) {
  const auto expected = reference(dir, requests);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    CAPTURE(i);
    CAPTURE(requests[i].prompt);
    const auto score = run_mike(model_args("score", dir, requests[i]));
    REQUIRE_MESSAGE(score.exit_code == 0, score.err);
    const auto got = nlohmann::json::parse(score.out);
    CHECK(got["prompt_ids"] == expected[i]["prompt_ids"]);
    CHECK(got["target_ids"] == expected[i]["target_ids"]);
    REQUIRE(got["target_logprobs"].size() == expected[i]["target_logprobs"].size());
    double worst = 0.0;
    for (std::size_t t = 0; t < got["target_logprobs"].size(); ++t)
      worst = std::max(worst, std::abs(got["target_logprobs"][t].get<double>() -
                                       expected[i]["target_logprobs"][t].get<double>()));
    CHECK_MESSAGE(worst < 1e-4, "largest log-probability difference " << worst);

    const auto generate = run_mike(model_args("generate", dir, requests[i]));
    REQUIRE_MESSAGE(generate.exit_code == 0, generate.err);
    const auto gen = nlohmann::json::parse(generate.out);
    CHECK(gen["prompt_ids"] == expected[i]["prompt_ids"]);
    // Greedy ids agree up to the first step whose top-2 margin is within
    // float32 noise (after which the two may legitimately diverge).
    const auto& want = expected[i]["generate_ids"];
    const auto& margins = expected[i]["generate_margins"];
    std::size_t compared = 0;
    for (std::size_t t = 0; t < want.size() && margins[t].get<double>() > 1e-4; ++t, ++compared) {
      REQUIRE(t < gen["generate_ids"].size());
      CHECK(gen["generate_ids"][t] == want[t]);
    }
    CHECK(compared > 0);
  }
}

std::vector<Request> parity_requests(const std::string& image16, const std::string& image_resized) {
  return {
      {"What is the name of this bird?", image16, "It is Zorvel.", false},
      {"Describe the image: a flower called", "", "Belmuth", false},  // text only
      {"A photo <image> of a tree called", image16, "Morrow", true},  // raw, marker mid-prompt
      {"USER: <pad> What is shown?", image16, " A building", false},  // an added token in the text
      {"Which car is this?", image_resized, "Akkodine", false},        // a resized and cropped image
  };
}

}  // namespace

TEST_CASE("old layout, one file, F32, full config.json: mike model matches the reference") {
  const std::string dir = write_checkpoint("old_f32", "--layout old --dtype F32 --config full");
  const std::string images = fs::path(dir).parent_path().string();
  check_parity(dir, parity_requests(test_image(images, 16, 16, 1), test_image(images, 40, 30, 2)));
  const auto describe = run_mike("model describe --config-dir " + std::string(MIKE_SOURCE_DIR) + "/configs " + hf_args(dir));
  REQUIRE_MESSAGE(describe.exit_code == 0, describe.err);
  CHECK(contains(describe.out, "Hugging Face LLaVA-1.5 checkpoint"));
  CHECK(contains(describe.out, "prompt template: \"USER: {prompt} ASSISTANT:\""));
}

TEST_CASE("new layout, 3 shards, F16, the Hub's short config.json: mike model matches the reference") {
  const std::string dir = write_checkpoint("new_f16", "--layout new --shards 3 --dtype F16 --config short --seed 1");
  const std::string images = fs::path(dir).parent_path().string();
  check_parity(dir, parity_requests(test_image(images, 16, 16, 3), test_image(images, 30, 41, 4)));
}

TEST_CASE("feature layers concatenated, class token kept, tied embeddings, BF16: matches the reference") {
  const std::string dir =
      write_checkpoint("full_tied", "--layout new --dtype BF16 --feature-layer=-2,-1 --strategy full --tie --seed 2");
  const std::string images = fs::path(dir).parent_path().string();
  const std::string image = test_image(images, 16, 16, 5);
  check_parity(dir, {{"What is the name of this bird?", image, "It is Zorvel.", false},
                     {"Describe the image: a flower called", "", "Belmuth", false}});
}

namespace {

// Runs `code` (Python, with `d` the checkpoint folder) to damage a copy of a checkpoint.
void damage(const std::string& dir, const std::string& code) {
  const auto r = run_command(kPython + "-c " + quote("import json, os, sys; d = '" + dir + "'\n" + code));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
}

std::string copy_of(const std::string& dir, const std::string& label) {
  const std::string copy = make_temp_dir("hf_bad_" + label) + "/checkpoint";
  fs::copy(dir, copy, fs::copy_options::recursive);
  return copy;
}

// `mike model score` on `dir`: exit 5 and every word of `words` in the message.
void check_refused(const std::string& dir, const std::vector<std::string>& words) {
  const auto r = run_mike(model_args("score", dir, {"What is this?", "", "Zorvel", false}));
  CAPTURE(r.err);
  CHECK(r.exit_code == 5);
  for (const std::string& word : words) CHECK_MESSAGE(contains(r.err, word), "missing: " << word);
  CHECK(!contains(r.err, "internal error"));
}

void edit_config(const std::string& dir, const std::string& statement) {
  damage(dir, "c = json.load(open(d + '/config.json'))\n" + statement + "\njson.dump(c, open(d + '/config.json', 'w'))");
}

}  // namespace

TEST_CASE("damaged or foreign Hugging Face checkpoints are refused by file and tensor or key, exit 5") {
  const std::string good = write_checkpoint("errors", "--layout old --shards 3 --dtype F32 --seed 4");

  SUBCASE("a folder that is not a checkpoint") {
    check_refused(make_temp_dir("hf_empty"), {"is not a Hugging Face LLaVA checkpoint", "config.json", "model.path"});
  }
  SUBCASE("a missing shard") {
    const std::string dir = copy_of(good, "shard");
    fs::remove(dir + "/model-00002-of-00003.safetensors");
    check_refused(dir, {"model-00002-of-00003.safetensors"});
  }
  SUBCASE("a tensor whose shape config.json contradicts") {
    const std::string dir = copy_of(good, "shape");
    edit_config(dir, "c['text_config']['intermediate_size'] = 100");
    check_refused(dir, {"mlp.down_proj.weight", "has shape", "[48, 96]", "config.json implies [48, 100]"});
  }
  SUBCASE("a config key of the wrong type") {
    const std::string dir = copy_of(good, "type");
    edit_config(dir, "c['text_config']['num_hidden_layers'] = 'two'");
    check_refused(dir, {"config.json", "text_config.num_hidden_layers", "must be an integer", "\"two\""});
  }
  SUBCASE("another architecture") {
    const std::string dir = copy_of(good, "arch");
    edit_config(dir, "c['model_type'] = 'llava_next'");
    check_refused(dir, {"model_type", "llava_next", "LLaVA-1.5"});
  }
  SUBCASE("RoPE scaling mike does not implement") {
    const std::string dir = copy_of(good, "rope");
    edit_config(dir, "c['text_config']['rope_scaling'] = {'type': 'linear', 'factor': 2.0}");
    check_refused(dir, {"text_config.rope_scaling", "plain RoPE"});
  }
  SUBCASE("a tensor relabelled to an integer dtype") {
    const std::string dir = copy_of(good, "dtype");
    // Same byte count (F32 -> I32): the header stays consistent, the dtype is wrong.
    damage(dir, "import struct\nf = d + '/model-00001-of-00003.safetensors'\nb = bytearray(open(f, 'rb').read())\n"
                "n = struct.unpack('<Q', b[:8])[0]\nh = json.loads(b[8:8 + n])\n"
                "k = sorted(x for x in h if x != '__metadata__' and h[x]['dtype'] == 'F32')[0]\n"
                "h[k]['dtype'] = 'I32'\nt = json.dumps(h).encode()\nt += b' ' * (n - len(t))\n"
                "assert len(t) == n\nb[8:8 + n] = t\nopen(f, 'wb').write(b)\nprint(k)");
    check_refused(dir, {"model-00001-of-00003.safetensors", "not a float dtype"});
  }
  SUBCASE("weights that overflow to Inf in F16") {
    const std::string dir = write_checkpoint("inf", "--dtype F16 --scale-weights 1e6");
    check_refused(dir, {"model.safetensors", "non-finite"});
  }
  SUBCASE("no tokenizer.model") {
    const std::string dir = copy_of(good, "tokenizer");
    fs::remove(dir + "/tokenizer.model");
    check_refused(dir, {"tokenizer.model"});
  }
  SUBCASE("model=llava_hf without a path is a config error") {
    const auto r = run_mike("model score --config-dir " + std::string(MIKE_SOURCE_DIR) +
                            "/configs model=llava_hf --prompt hi --target there");
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "model.path"));
  }
}

TEST_CASE("every editor edits the tiny Hugging Face model through mike run, and the restore check passes") {
  const std::string dir = write_checkpoint("editors", "--layout new --dtype F32 --seed 5");
  const std::string root = make_temp_dir("hf_editors");
  const std::string common = "run --config-dir " + std::string(MIKE_SOURCE_DIR) + "/configs " + hf_args(dir) +
                             " data.dir=" + root + "/world data.generate=new data.limit=1 data.synth.entities=52 data.synth.image_size=16"
                             " data.synth.images_per_entity=4 eval.max_new_tokens=4";
  for (const std::string editor : {"ft_llm", "ft_vis", "lora", "rome", "memit", "alphaedit", "ike"}) {
    CAPTURE(editor);
    std::string args = common + " editor=" + editor + " out_dir=" + root + "/" + editor;
    if (editor == "rome" || editor == "memit" || editor == "alphaedit")
      args += " editor.stats.cache_dir='' editor.stats.max_records=64";
    const auto r = run_mike(args);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    // The runner re-hashes every parameter after restore (and re-scores a
    // probe for wrapping editors); a run that ends "done" passed it.
    const auto summary = nlohmann::json::parse(mike::test::read_file(root + "/" + editor + "/summary.json"));
    CHECK(summary["model"] == "llava");
    CHECK(summary["edits"].get<int>() == 1);
  }
}

TEST_CASE("loading a few-hundred-MB F16 checkpoint needs its F32 parameters, not a second copy") {
  // ~115M parameters: 230 MB of F16 on disk, 460 MB as float32 parameters.
  const std::string dir = write_checkpoint(
      "large", "--dtype F16 --shards 2 --text-hidden 1024 --text-layers 10 --intermediate 2752 --vision-hidden 128");
  std::uintmax_t on_disk = 0;
  for (const auto& file : fs::directory_iterator(dir))
    if (file.path().extension() == ".safetensors") on_disk += file.file_size();
  // Peak RSS of a child `mike model describe`, read by Python's getrusage after it exits.
  auto peak_rss_mb = [&](const std::string& checkpoint) {
    const std::string describe = std::string(MIKE_EXE) + " model describe --config-dir " + MIKE_SOURCE_DIR +
                                 "/configs " + hf_args(checkpoint);
    const auto r = run_command(
        kPython + "-c " +
        quote("import resource, subprocess, sys, time\nt = time.time()\n"
              "p = subprocess.run(sys.argv[1], shell=True, capture_output=True, text=True)\n"
              "assert p.returncode == 0, p.stderr\n"
              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0, time.time() - t)") +
        " " + quote(describe));
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    std::istringstream in(r.out);
    double mb = 0, seconds = 0;
    in >> mb >> seconds;
    return std::pair<double, double>(mb, seconds);
  };
  const std::string tiny = write_checkpoint("baseline", "--dtype F16");
  const auto [baseline_mb, baseline_s] = peak_rss_mb(tiny);
  const auto [large_mb, large_s] = peak_rss_mb(dir);
  const double f32_mb = 2.0 * static_cast<double>(on_disk) / (1024.0 * 1024.0);  // F16 -> F32 doubles it
  MESSAGE("checkpoint " << on_disk / (1024 * 1024) << " MB F16 (" << f32_mb << " MB as F32): peak RSS " << large_mb
                        << " MB vs " << baseline_mb << " MB for a tiny checkpoint; describe took " << large_s
                        << " s (tiny: " << baseline_s << " s)");
  CHECK(large_mb - baseline_mb <= 1.2 * f32_mb);
  CHECK(large_mb - baseline_mb >= 0.9 * f32_mb);  // the measurement sees the parameters at all
}

TEST_CASE("weights that are finite but overflow in the forward pass are refused, not scored") {
  // 1e30 x weights: every tensor is a finite float32, the activations are not.
  const std::string dir = write_checkpoint("overflow", "--dtype F32 --scale-weights 1e30 --seed 6");
  check_refused(dir, {"hidden state of the language model overflowed", "checkpoint"});
}

TEST_CASE("mike model works on the native model too: image positions, BOS, raw prompts") {
  const std::string dir = write_checkpoint("native_tokenizer", "--seed 7");
  const std::string image = test_image(fs::path(dir).parent_path().string(), 16, 16, 8);
  // The untrained llava_xs preset with the fixture's tokenizer: 32 px images, 8 px patches.
  const std::string args = "--config-dir " + std::string(MIKE_SOURCE_DIR) +
                           "/configs model=llava_xs ++model.initial_weights=true model.tokenizer=" + dir +
                           "/tokenizer.model threads=1";
  const auto score = run_mike("model score " + args + " --prompt 'What is this?' --image " + image +
                              " --target Zorvel --json");
  REQUIRE_MESSAGE(score.exit_code == 0, score.err);
  const auto got = nlohmann::json::parse(score.out);
  const auto& prompt = got["prompt_ids"];
  CHECK(prompt[0] == 1);  // BOS
  CHECK(std::count(prompt.begin(), prompt.end(), -200) == 16);  // one position per patch, no template
  CHECK(prompt[1] == -200);  // the native model puts an unmarked image first
  double sum = 0;
  for (const auto& lp : got["target_logprobs"]) sum += lp.get<double>();
  CHECK(sum < 0);
  CHECK(got["target_ids"].size() == got["target_logprobs"].size());
  const auto generate = run_mike("model generate " + args + " --prompt 'A photo <image> of' --image " + image +
                                 " --max-new-tokens 3 --raw --json");
  REQUIRE_MESSAGE(generate.exit_code == 0, generate.err);
  CHECK(nlohmann::json::parse(generate.out)["generate_ids"].size() <= 3);
  // --raw feeds the prompt as given: an image needs its marker.
  const auto raw = run_mike("model score " + args + " --prompt 'What is this?' --image " + image +
                            " --target Zorvel --raw");
  CHECK(raw.exit_code == 3);
  CHECK(contains(raw.err, "<image> markers but one image"));
}
