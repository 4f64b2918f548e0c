// Hostile datasets through the executable (issue 18): `mike run` never
// rewrites a dataset that exists, generates a world only for the configured
// default folder (or when asked), and refuses records it cannot trust; each
// refusal is one message with the file, what is wrong and the fix.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>

#include "bmp_bytes.h"
#include "process.h"

namespace fs = std::filesystem;
using mike::test::CommandResult;
using mike::test::read_file;
using mike::test::write_file;

namespace {

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

// The synth options of the tiny world, as overrides of configs/data/synth.yaml.
const char* const kTinySynth = " data.synth.entities=52 data.synth.image_size=16 data.synth.images_per_entity=4";

// `mike ARGS` run from `cwd`, bounded in time.
CommandResult mike_in(const std::string& cwd, const std::string& args) {
  return mike::test::run_command("cd " + cwd + " && timeout 60 " + MIKE_EXE + " " + args);
}

// A refusal: the given exit code, not a timeout, a signal or an internal error.
void check_refused(const CommandResult& r, int exit_code) {
  CHECK_MESSAGE(r.exit_code != 124, "timed out: " << r.err);
  CHECK_MESSAGE(r.exit_code < 124, "killed by a signal: " << r.err);
  CHECK_MESSAGE(r.exit_code == exit_code, r.err);
  CHECK_FALSE(contains(r.err, "internal error"));
}

// `mike run` with the toy fixture model on `data_args`: one edit in a second.
std::string run_args(const std::string& data_args, const std::string& out_dir) {
  return std::string("run --config-dir ") + MIKE_SOURCE_DIR + "/configs --plugin-path " + MIKE_FIXTURE_PLUGIN_DIR +
         " model.plugin=toy ++model.initial_weights=true 'editor.layers=[]' 'editor.params=[bigram.weight]'"
         " editor.steps=1 data.limit=1 threads=1" + kTinySynth + " " + data_args + " out_dir=" + out_dir;
}

// Every file under `dir` (relative path -> bytes).
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) files[fs::relative(entry.path(), dir).string()] = read_file(entry.path().string());
  return files;
}

// The tiny world, made once per test binary with `mike data synth`.
const fs::path& tiny_world() {
  static const fs::path dir = [] {
    fs::path d = fs::path(mike::test::make_temp_dir("hostile_world")) / "world";
    auto r = mike::test::run_mike("-q data synth --out " + d.string() + " --entities 52 --size 16 --images-per-entity 4");
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return d;
  }();
  return dir;
}

// A copy of the tiny world the test may damage.
fs::path world_copy(const std::string& label) {
  fs::path dir = fs::path(mike::test::make_temp_dir(label)) / "world";
  fs::copy(tiny_world(), dir, fs::copy_options::recursive);
  return dir;
}

void replace_once(const fs::path& file, const std::string& from, const std::string& to) {
  std::string text = read_file(file.string());
  const std::size_t at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from << " not in " << file);
  text.replace(at, from.size(), to);
  write_file(file.string(), text);
}

}  // namespace

TEST_CASE("a damaged world.json is reported, and the dataset is not regenerated over the user's files") {
  const fs::path world = world_copy("hostile_damaged");
  const std::string text = read_file((world / "world.json").string());
  write_file((world / "world.json").string(), text.substr(0, text.size() / 2));  // cut off mid-way
  write_file((world / "test.jsonl").string(), read_file((world / "test.jsonl").string()) + "\n");  // hand-edited too
  const auto before = snapshot(world);
  auto r = mike_in(world.parent_path().string(), run_args("data.dir=" + world.string(), "run"));
  check_refused(r, 3);
  CHECK(contains(r.err, world.string() + "/world.json: not valid JSON"));
  CHECK(contains(r.err, "the folder is left as it is"));
  CHECK(contains(r.err, "mike data synth --force --out " + world.string()));
  CHECK(contains(r.err, "data.generate=new"));
  CHECK(snapshot(world) == before);
}

TEST_CASE("a world of other synth options or an older version is reported with what differs, never rewritten") {
  const fs::path world = world_copy("hostile_options");
  const auto before = snapshot(world);
  // The config asks for seed 1; the folder holds seed 0.
  auto r = mike_in(world.parent_path().string(), run_args("data.dir=" + world.string() + " data.synth.seed=1", "run"));
  check_refused(r, 3);
  CHECK(contains(r.err, "holds another synthetic world than the config asks for"));
  CHECK(contains(r.err, "seed is 0 in world.json but 1 in data.synth"));
  CHECK(contains(r.err, "--seed 1"));
  CHECK(snapshot(world) == before);

  // world.json edited by hand: another entity count, then an older version.
  replace_once(world / "world.json", "\"entities\": 52", "\"entities\": 60");
  const auto edited = snapshot(world);
  r = mike_in(world.parent_path().string(), run_args("data.dir=" + world.string(), "run2"));
  check_refused(r, 3);
  CHECK(contains(r.err, "entities is 60 in world.json but 52 in data.synth"));
  CHECK(snapshot(world) == edited);
  replace_once(world / "world.json", "\"entities\": 60", "\"entities\": 52");
  replace_once(world / "world.json", "\"version\": 3", "\"version\": 2");
  const auto older = snapshot(world);
  r = mike_in(world.parent_path().string(), run_args("data.dir=" + world.string(), "run3"));
  check_refused(r, 3);
  CHECK(contains(r.err, "the world is of version 2 but this mike reads version 3"));
  CHECK(snapshot(world) == older);
}

TEST_CASE("an empty data.dir is a config error and writes nothing into the current directory") {
  const std::string cwd = mike::test::make_temp_dir("hostile_empty_dir");
  auto r = mike_in(cwd, run_args("data.dir=", cwd + "/../hostile_empty_dir_run"));
  check_refused(r, 2);
  CHECK(contains(r.err, "data.dir is empty (from override 'data.dir=')"));
  CHECK(contains(r.err, "fix: set it, e.g. data.dir=data/synth"));
  CHECK(fs::is_empty(cwd));
}

TEST_CASE("a data.dir that does not exist is not generated unless asked for") {
  const std::string root = mike::test::make_temp_dir("hostile_typo");
  const std::string typo = root + "/wrold";
  auto r = mike_in(root, run_args("data.dir=" + typo, root + "/run"));
  check_refused(r, 3);
  CHECK(contains(r.err, "dataset folder '" + typo + "' does not exist and is not generated here"));
  CHECK(contains(r.err, "this data.dir comes from override 'data.dir=" + typo + "'"));
  CHECK(contains(r.err, "check data.dir for a typo"));
  CHECK(contains(r.err, "`mike data synth --out " + typo + " --seed 0 --entities 52 --images-per-entity 4 --size 16"));
  CHECK_FALSE(fs::exists(typo));

  // Asked for: data.generate=new makes it, and says so.
  r = mike_in(root, run_args("data.dir=" + typo + " data.generate=new", root + "/run_new"));
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(contains(r.err, "generated the synthetic world in " + typo));
  CHECK(fs::exists(typo + "/world.json"));

  auto bad = mike_in(root, run_args("data.dir=" + typo + " data.generate=sometimes", root + "/run_bad"));
  check_refused(bad, 2);
  CHECK(contains(bad.err, "data.generate is 'sometimes' (from override 'data.generate=sometimes'); use auto"));
}

TEST_CASE("the default world is generated once into its own folder, then only read") {
  // The configured default (configs/data/synth.yaml: dir data/synth, relative
  // to the working directory), as ./bootstrap.sh runs it from a clean clone.
  const std::string cwd = mike::test::make_temp_dir("hostile_default");
  auto r = mike_in(cwd, run_args("", "run1"));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(contains(r.err, "generated the synthetic world in data/synth (data.dir did not exist; data.generate=auto)"));
  const fs::path world = fs::path(cwd) / "data" / "synth";
  REQUIRE(fs::exists(world / "world.json"));
  write_file((world / "notes.txt").string(), "the user's own file");
  const auto before = snapshot(world);

  r = mike_in(cwd, run_args("", "run2"));
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK_FALSE(contains(r.err, "generated the synthetic world"));
  CHECK(snapshot(world) == before);
  // Other options on the default folder: reported, not regenerated.
  r = mike_in(cwd, run_args("data.synth.seed=3", "run3"));
  check_refused(r, 3);
  CHECK(contains(r.err, "seed is 0 in world.json but 3 in data.synth"));
  CHECK(snapshot(world) == before);
}

TEST_CASE("mike data synth replaces an existing world only with --force") {
  const fs::path world = world_copy("hostile_force");
  const auto before = snapshot(world);
  auto r = mike_in(world.parent_path().string(), "data synth --out " + world.string() + " --entities 52 --size 16");
  check_refused(r, 3);
  CHECK(contains(r.err, "'" + world.string() + "' already holds a world (world.json); nothing was written"));
  CHECK(contains(r.err, "add --force to replace that world"));
  CHECK(snapshot(world) == before);
  r = mike_in(world.parent_path().string(),
              "-q data synth --force --out " + world.string() + " --entities 52 --size 16 --images-per-entity 4");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(snapshot(world) == before);  // same options: the same bytes
}

TEST_CASE("an image path with an embedded NUL is refused by validate and run, naming the record and field") {
  const fs::path world = world_copy("hostile_nul");
  // The first test record's edit image, with "\u0000" and a suffix the OS would never see.
  const std::string test_file = (world / "test.jsonl").string();
  std::string text = read_file(test_file);
  const std::size_t image = text.find("\"image\":\"");
  REQUIRE(image != std::string::npos);
  const std::size_t end = text.find('"', image + 9);
  text.insert(end, "\\u0000.evil");
  write_file(test_file, text);
  const auto before = snapshot(world);

  auto v = mike_in(world.parent_path().string(), "data validate " + world.string());
  check_refused(v, 3);
  CHECK(contains(v.err, test_file + ":1: field 'image': image path contains the control character \\u0000 at byte"));
  CHECK(contains(v.err, "fix: remove it from the path"));

  auto r = mike_in(world.parent_path().string(), run_args("data.dir=" + world.string(), "run"));
  check_refused(r, 3);
  CHECK(contains(r.err, test_file + ":1: field 'image': image path contains the control character \\u0000"));
  CHECK(snapshot(world) == before);
}

TEST_CASE("JPEGs that broke stb_image's decoder are refused by libjpeg-turbo with its reason") {
  // stb_image 2.27 wrote past its tables on a Huffman table of 510 symbols,
  // and indexed its symbol table at -36 on a progressive file whose last
  // table segment is cut short (both found by tests/fuzz/fuzz_image). JPEGs
  // now go through libjpeg-turbo (data/jpeg_decode.h), which refuses both.
  const fs::path dataset = fs::path(mike::test::make_temp_dir("hostile_jpeg")) / "mmedit";
  fs::copy(fs::path(MIKE_SOURCE_DIR) / "tests" / "fixtures" / "mmedit", dataset, fs::copy_options::recursive);
  std::string jpeg = "\xFF\xD8\xFF\xC4";
  jpeg += std::string("\x00\x13\x00\xFF\xFF", 5) + std::string(14, '\0');  // one table: 255 + 255 symbols
  write_file((dataset / "images" / "kettle.png").string(), jpeg);

  auto v = mike_in(dataset.string(), "data validate " + dataset.string() + " --format mmedit");
  check_refused(v, 3);
  CHECK(contains(v.err, "images/kettle.png"));
  CHECK(contains(v.err, "it is a damaged or unsupported JPEG (libjpeg: "));

  // A real JPEG cut short: libjpeg would fill the rest with grey and warn;
  // the warning refuses it.
  const std::string whole = read_file((fs::path(MIKE_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / "fuzz_image" /
                                       "tiny.jpg").string());
  REQUIRE(whole.size() > 100);
  write_file((dataset / "images" / "kettle.png").string(), whole.substr(0, whole.size() * 2 / 3));
  auto cut = mike_in(dataset.string(), "data validate " + dataset.string() + " --format mmedit");
  check_refused(cut, 3);
  CHECK(contains(cut.err, "it is a damaged or unsupported JPEG (libjpeg: Premature end of JPEG file)"));
}

TEST_CASE("a truncated BMP whose header claims more pixels than the file holds is refused, not decoded as black") {
  // 92 bytes claiming 65541 x 256 pixels: stb_image reads the missing bytes
  // as zeros, so without the check the file passed `data validate` as a
  // 16-megapixel image (found by tests/fuzz/fuzz_image as a timeout).
  const fs::path dataset = fs::path(mike::test::make_temp_dir("hostile_bmp")) / "mmedit";
  fs::copy(fs::path(MIKE_SOURCE_DIR) / "tests" / "fixtures" / "mmedit", dataset, fs::copy_options::recursive);
  write_file((dataset / "images" / "kettle.png").string(), mike::test::bmp_bytes(92, 65541, 256, 24, 0));  // BI_RGB

  auto v = mike_in(dataset.string(), "data validate " + dataset.string() + " --format mmedit");
  check_refused(v, 3);
  CHECK(contains(v.err, "images/kettle.png"));
  CHECK(contains(v.err, "it is a damaged BMP: its header says 65541x256 pixels at 24 bits, one row alone more than "
                        "the file's 92 bytes (truncated?)"));
}
