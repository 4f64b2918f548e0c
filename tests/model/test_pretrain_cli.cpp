// `mike pretrain` end to end on a tiny synthetic world and a tiny preset:
// it learns (loss falls), writes a loadable checkpoint with metrics, caches it
// by config hash, reuses the cache, and never reuses it for another config.
#include <doctest/doctest.h>

#include <filesystem>
#include <regex>
#include <string>

#include "mike/config.h"
#include "mike/error.h"
#include "pretrain/pretrainer.h"
#include "process.h"

namespace fs = std::filesystem;
using mike::test::run_command;
using mike::test::run_mike;

namespace {

struct Setup {
  std::string dir, configs, cache;
};

Setup make_setup() {
  Setup s;
  s.dir = mike::test::make_temp_dir("pretrain_cli");
  s.configs = s.dir + "/configs";
  s.cache = s.dir + "/cache";
  const auto synth = run_mike("data synth --out " + s.dir + "/world --entities 26 --images-per-entity 3 --size 16");
  REQUIRE_MESSAGE(synth.exit_code == 0, synth.err);
  mike::test::write_file(s.configs + "/config.yaml",
                         "defaults:\n  - model: tiny\n  - data: tiny\n  - _self_\nseed: 0\nthreads: 1\n");
  mike::test::write_file(s.configs + "/model/tiny.yaml",
                         "plugin: llava\ntokenizer_vocab_size: 400\n"
                         "vision: {image_size: 16, patch_size: 8, hidden: 32, layers: 1, heads: 2, intermediate: 64}\n"
                         "lm: {hidden: 48, layers: 1, heads: 4, kv_heads: 2, intermediate: 96}\n"
                         "pretrain: {steps: 40, batch_size: 8, lr: 5.0e-3, warmup_steps: 5, checkpoint_every: 0, "
                         "eval_limit: 8}\n");
  mike::test::write_file(s.configs + "/data/tiny.yaml", "format: mike\ndir: " + s.dir + "/world\n");
  return s;
}

std::string pretrain(const Setup& s, const std::string& args, int* exit_code = nullptr, std::string* err = nullptr) {
  const auto r = run_command("MIKE_CACHE=" + s.cache + " " + MIKE_EXE + " pretrain --no-progress --config-dir " +
                             s.configs + " " + args);
  if (exit_code) *exit_code = r.exit_code;
  if (err) *err = r.err;
  return r.out;
}

double number_after(const std::string& text, const std::string& label) {
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(text, m, std::regex(label + "\\s*([0-9.]+)")), text);
  return std::stod(m[1]);
}

}  // namespace

TEST_CASE("pretraining learns, caches by config hash, and reuses only a matching cache") {
  const Setup s = make_setup();
  int code = -1;
  std::string err;
  const std::string first = pretrain(s, "", &code, &err);
  INFO(first, err);
  REQUIRE(code == 0);
  // An untrained model scores ~ln(400) = 6.0 per token; 40 steps must cut it clearly.
  CHECK(number_after(first, "final loss:") < 4.8);
  std::smatch m;
  REQUIRE(std::regex_search(first, m, std::regex("checkpoint: (\\S+)")));
  const std::string checkpoint = m[1];
  CHECK(checkpoint.rfind(s.cache + "/pretrain/llava-", 0) == 0);
  for (const char* file : {"model.safetensors", "tokenizer.model", "config.json", "metrics.json", "pretrain_config.yaml"})
    CHECK_MESSAGE(fs::exists(checkpoint + "/" + file), file);
  CHECK_FALSE(fs::exists(checkpoint + ".partial"));
  for (const char* set : {"known_seen", "known_heldout", "text_qa", "edit_naming"})
    CHECK_MESSAGE(first.find(std::string(set)) != std::string::npos, set);

  // Same config: served from the cache, with the same numbers.
  const std::string again = pretrain(s, "", &code);
  CHECK(code == 0);
  CHECK(again.find(checkpoint + " (cached)") != std::string::npos);
  CHECK(number_after(again, "final loss:") == doctest::Approx(number_after(first, "final loss:")).epsilon(1e-3));

  // Another learning rate is another model: a new hash, never the stale cache.
  const std::string other = pretrain(s, "model.pretrain.steps=5", &code);
  CHECK(code == 0);
  CHECK(other.find("(cached)") == std::string::npos);
  CHECK(other.find(checkpoint + "\n") == std::string::npos);

  // An explicit tokenizer would be dropped for the checkpoint's own: refused instead.
  const auto own_tokenizer = run_command("MIKE_CACHE=" + s.cache + " " + MIKE_EXE + " model describe --config-dir " +
                                         s.configs + " model.tokenizer=/etc/passwd");
  CHECK(own_tokenizer.exit_code == 2);
  CHECK(own_tokenizer.err.find("model.tokenizer is '/etc/passwd' (from override 'model.tokenizer=/etc/passwd'), but "
                               "this run uses the pretrained model") != std::string::npos);

  // The cached checkpoint loads as a model config's `checkpoint`.
  const auto info = run_command("MIKE_CACHE=" + s.cache + " " + MIKE_EXE + " plugins info llava");
  CHECK(info.exit_code == 0);
}

TEST_CASE("pretraining refuses a dataset without a pretraining corpus, naming the file") {
  const Setup s = make_setup();
  fs::remove(s.dir + "/world/pretrain.jsonl");
  int code = -1;
  std::string err;
  pretrain(s, "", &code, &err);
  CHECK(code == 3);
  CHECK(err.find(s.dir + "/world/pretrain.jsonl' does not exist") != std::string::npos);
}

TEST_CASE("pretraining honours data.allow_outside_root as mike run does") {
  const Setup s = make_setup();
  // A world whose images live outside its folder (a symlink to another copy).
  fs::rename(s.dir + "/world/images", s.dir + "/images_elsewhere");
  fs::create_directory_symlink(s.dir + "/images_elsewhere", s.dir + "/world/images");
  int code = -1;
  std::string err;
  pretrain(s, "model.pretrain.steps=2", &code, &err);
  CHECK(code == 3);
  CHECK(err.find("resolves outside the dataset root") != std::string::npos);
  CHECK(err.find("data.allow_outside_root=true") != std::string::npos);
  const std::string out = pretrain(s, "model.pretrain.steps=2 +data.allow_outside_root=true", &code, &err);
  INFO(out, err);
  CHECK(code == 0);
}

TEST_CASE("pretraining killed after a periodic checkpoint resumes to the same weights as an uninterrupted run") {
  const Setup s = make_setup();
  const std::string overrides = " model.pretrain.steps=60 model.pretrain.checkpoint_every=10";
  int code = -1;
  std::string err;
  const std::string whole = pretrain(s, overrides, &code, &err);
  INFO(whole, err);
  REQUIRE(code == 0);
  std::smatch m;
  REQUIRE(std::regex_search(whole, m, std::regex("checkpoint: (\\S+)")));
  const std::string whole_dir = m[1];

  // The same config in a second cache, killed (-9) as soon as its first
  // training state exists: any later checkpoint is as good a place to stop.
  const std::string cache = s.dir + "/cache_killed";
  const std::string partial_glob = cache + "/pretrain/llava-*.partial/train_state.safetensors";
  const auto killed = run_command(
      "MIKE_CACHE=" + cache + " " + MIKE_EXE + " pretrain --no-progress --config-dir " + s.configs + overrides +
      " >/dev/null 2>&1 & pid=$!; i=0; "
      "while ! ls " + partial_glob + " >/dev/null 2>&1; do i=$((i+1)); "
      "if [ $i -gt 3000 ]; then echo 'no training state after 30 s'; kill -9 $pid; exit 1; fi; sleep 0.01; done; "
      "kill -9 $pid; wait $pid; echo killed");
  REQUIRE_MESSAGE(killed.exit_code == 0, killed.out, killed.err);
  REQUIRE(killed.out.find("killed") != std::string::npos);
  // Nothing was cached: the run did not finish.
  const std::string killed_dir = cache + whole_dir.substr(s.cache.size());
  REQUIRE_FALSE(fs::exists(killed_dir + "/model.safetensors"));
  REQUIRE(fs::exists(killed_dir + ".partial/train_state.safetensors"));

  const auto resumed = run_command("MIKE_CACHE=" + cache + " " + MIKE_EXE + " pretrain --no-progress --resume --config-dir " +
                                   s.configs + overrides);
  INFO(resumed.out, resumed.err);
  REQUIRE(resumed.exit_code == 0);
  REQUIRE(std::regex_search(resumed.err, m, std::regex("resuming pretraining at step (\\d+)/60")));
  const int resumed_at = std::stoi(m[1]);
  CHECK(resumed_at >= 10);
  CHECK(resumed_at < 60);
  CHECK(resumed_at % 10 == 0);
  CHECK(resumed.out.find("checkpoint: " + killed_dir + "\n") != std::string::npos);
  CHECK(resumed.out.find("steps: 60 ") != std::string::npos);
  CHECK_FALSE(fs::exists(killed_dir + ".partial"));

  // Batches and the learning rate are functions of the step, and the state
  // holds weights, AdamW moments and the smoothed loss: with one thread the
  // resumed run ends bitwise where the uninterrupted one did.
  CHECK(number_after(resumed.out, "final loss:") == number_after(whole, "final loss:"));
  CHECK(resumed.out.substr(resumed.out.find("final loss:")) == whole.substr(whole.find("final loss:")));
  const std::string whole_weights = mike::test::read_file(whole_dir + "/model.safetensors");
  CHECK(whole_weights.size() > 10000);
  CHECK(mike::test::read_file(killed_dir + "/model.safetensors") == whole_weights);
}

TEST_CASE("mike run refuses a preset with no pretrained model unless initial_weights is set") {
  const Setup s = make_setup();
  setenv("MIKE_CACHE", s.cache.c_str(), 1);
  const std::string root = "model:\n  plugin: llava\n  pretrain: {steps: 40}\ndata:\n  dir: " + s.dir + "/world\nseed: 0\n";
  const mike::Config config = mike::Config::from_yaml(root, "config.yaml");
  const std::string cache_dir = mike::pretrained_checkpoint_dir(config).string();
  const std::string expected = "no pretrained model for this model/data/seed is cached (" + cache_dir +
                               "); the model comes from config.yaml:2:11; fix: run `mike pretrain` with the same "
                               "model/data/seed overrides first";
  CHECK_THROWS_WITH_AS(mike::with_pretrained_checkpoint(config, {}), doctest::Contains(expected.c_str()),
                       mike::ConfigError);
  // An interrupted pretraining is pointed at --resume.
  fs::create_directories(cache_dir + ".partial");
  mike::test::write_file(cache_dir + ".partial/train_state.safetensors", "x");
  CHECK_THROWS_WITH_AS(mike::with_pretrained_checkpoint(config, {}), doctest::Contains("run `mike pretrain --resume`"),
                       mike::ConfigError);
  // Asked for on purpose: the untrained model, unchanged.
  const mike::Config untrained = mike::Config::from_yaml(
      "model:\n  plugin: llava\n  initial_weights: true\n  pretrain: {steps: 40}\ndata:\n  dir: " + s.dir +
          "/world\nseed: 0\n",
      "config.yaml");
  CHECK(mike::pretrained_checkpoint_dir(untrained) == mike::pretrained_checkpoint_dir(config));  // not in the hash
  const mike::Config model = mike::with_pretrained_checkpoint(untrained, {});
  CHECK(model.get<bool>("initial_weights"));
  CHECK(model.get_or<std::string>("checkpoint", "").empty());
  // It still reads text: the corpus tokenizer pretraining would train, made once and cached.
  const std::string tokenizer = cache_dir + ".initial/tokenizer.model";
  CHECK(model.get<std::string>("tokenizer") == tokenizer);
  REQUIRE(fs::exists(tokenizer));
  const auto made = fs::last_write_time(tokenizer);
  CHECK(mike::with_pretrained_checkpoint(untrained, {}).get<std::string>("tokenizer") == tokenizer);
  CHECK(fs::last_write_time(tokenizer) == made);  // reused, not retrained
  // A tokenizer the config names is kept.
  const mike::Config named = mike::Config::from_yaml(
      "model:\n  plugin: llava\n  initial_weights: true\n  tokenizer: /x/t.model\n  pretrain: {steps: 40}\n"
      "data:\n  dir: " + s.dir + "/world\nseed: 0\n", "config.yaml");
  CHECK(mike::with_pretrained_checkpoint(named, {}).get<std::string>("tokenizer") == "/x/t.model");
  // No corpus to train one from: the error names the key to set.
  const std::string empty_dir = mike::test::make_temp_dir("no_corpus");
  const mike::Config no_corpus = mike::Config::from_yaml(
      "model:\n  plugin: llava\n  initial_weights: true\n  pretrain: {steps: 40}\ndata:\n  dir: " + empty_dir +
          "\nseed: 0\n", "config.yaml");
  CHECK_THROWS_WITH_AS(mike::with_pretrained_checkpoint(no_corpus, {}),
                       ("model.initial_weights=true (from config.yaml:3:20) needs a tokenizer, and there is no " +
                        empty_dir + "/pretrain.jsonl to train one from; set model.tokenizer=<path to a SentencePiece "
                        "tokenizer.model>").c_str(),
                       mike::ConfigError);
  unsetenv("MIKE_CACHE");
}

TEST_CASE("mike run ++model.initial_weights=true on a fresh world needs no other key") {
  const Setup s = make_setup();
  const auto r = run_command("MIKE_CACHE=" + s.cache + " " + MIKE_EXE + " -q run --config-dir " + MIKE_SOURCE_DIR +
                             "/configs ++model.initial_weights=true data.dir=" + s.dir +
                             "/world data.synth.entities=26 data.synth.images_per_entity=3 data.synth.image_size=16 data.limit=1 threads=1 out_dir=" + s.dir + "/run");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(fs::exists(s.dir + "/run/summary.json"));
  CHECK(r.out.find("reliability.token_acc") != std::string::npos);
}

TEST_CASE("pretrain -m trains each job in turn, caches each, and a rerun reuses them") {
  const Setup s = make_setup();
  int code = -1;
  std::string err;
  // Two step budgets of the tiny preset: two configs, two cache entries.
  const std::string swept = "-m model.pretrain.steps=6,8 model.pretrain.eval_limit=2";
  const std::string dry = pretrain(s, swept + " --dry-run", &code, &err);
  INFO(dry, err);
  REQUIRE(code == 0);
  CHECK(dry.find("0: model.pretrain.steps=6") != std::string::npos);
  CHECK(dry.find("1: model.pretrain.steps=8") != std::string::npos);
  CHECK(dry.find("(cached)") == std::string::npos);
  CHECK_FALSE(fs::exists(s.cache + "/pretrain"));  // a dry run trains nothing

  const std::string first = pretrain(s, swept, &code, &err);
  INFO(first, err);
  REQUIRE(code == 0);
  CHECK(err.find("job 1/2: model.pretrain.steps=6") != std::string::npos);
  CHECK(err.find("job 2/2: model.pretrain.steps=8") != std::string::npos);
  std::smatch m;
  REQUIRE(std::regex_search(first, m, std::regex("\\| model.pretrain.steps=6 model.pretrain.eval_limit=2 \\| "
                                                 "(llava-[0-9a-f]+) \\| 6 \\|")));
  const std::string six = m[1];
  REQUIRE(std::regex_search(first, m, std::regex("\\| model.pretrain.steps=8 model.pretrain.eval_limit=2 \\| "
                                                 "(llava-[0-9a-f]+) \\| 8 \\|")));
  const std::string eight = m[1];
  CHECK(six != eight);
  CHECK(fs::exists(s.cache + "/pretrain/" + six + "/model.safetensors"));
  CHECK(fs::exists(s.cache + "/pretrain/" + eight + "/model.safetensors"));
  CHECK(first.find("| known_seen |") != std::string::npos);

  // The same sweep again trains nothing: both jobs come from the cache.
  const std::string again = pretrain(s, swept, &code, &err);
  INFO(again);
  REQUIRE(code == 0);
  CHECK(again.find(six + " (cached) | 6 |") != std::string::npos);
  CHECK(again.find(eight + " (cached) | 8 |") != std::string::npos);

  // A bad value in any job fails before the first one trains.
  const std::string bad = pretrain(s, "-m model.pretrain.steps=10,-3 ++seed=7", &code, &err);
  CHECK(code != 0);
  CHECK(err.find("steps") != std::string::npos);
  CHECK(err.find("job 1/2") == std::string::npos);
  pretrain(s, "+model.pretrain.length_groups=99", &code, &err);
  CHECK(code != 0);
  CHECK(err.find("length_groups is 99") != std::string::npos);
}
