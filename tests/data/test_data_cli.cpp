// `mike data synth|validate|stats` end to end through the executable.
#include <doctest/doctest.h>

#include <filesystem>

#include "data/image.h"
#include "process.h"

namespace fs = std::filesystem;
using mike::test::run_mike;

namespace {
bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}
const fs::path kFixtures = fs::path(MIKE_SOURCE_DIR) / "tests" / "fixtures";
}  // namespace

TEST_CASE("synth writes a world that validate accepts and stats summarises with a contact sheet") {
  std::string dir = mike::test::make_temp_dir("cli_synth") + "/world";
  auto synth = run_mike("data synth --out " + dir + " --seed 5 --entities 26 --images-per-entity 3 --size 24");
  CHECK(synth.exit_code == 0);
  CHECK(contains(synth.out, "wrote 26 entities, "));
  CHECK(contains(synth.out, " edit records, "));
  auto validate = run_mike("data validate " + dir);
  CHECK(validate.exit_code == 0);
  CHECK(validate.out == dir + ": valid (mike format)\n");
  auto stats = run_mike("data stats " + dir + " --columns 2");
  CHECK(stats.exit_code == 0);
  CHECK(contains(stats.out, "world: 26 entities in 13 categories, 78 entity views, 24 px, seed 5"));
  CHECK(contains(stats.out, "entities by split: known 13 test 13\n"));
  CHECK(contains(stats.out, "edit records: train 0 (0 CSR scenes) dev 0 (0 CSR scenes) test 13 (26 CSR scenes)"));
  mike::data::Image sheet = mike::data::read_image(dir + "/contact_sheet.png");
  CHECK(sheet.width == 116 + 2 * 102 + 6);
  CHECK(sheet.height == 6 + 13 * 124);
}

TEST_CASE("synth reads its sizes from a data config, flags win") {
  std::string dir = mike::test::make_temp_dir("cli_synth_config");
  mike::test::write_file(dir + "/tiny.yaml", "dir: " + dir + "/from_config\nsynth:\n  entities: 26\n  image_size: 16\n  images_per_entity: 3\n");
  auto r = run_mike("data synth --config " + dir + "/tiny.yaml --seed 2");
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "wrote 26 entities, "));
  CHECK(mike::data::read_image(dir + "/from_config/images/bird_000/view_0.png").width == 16);
  mike::test::write_file(dir + "/bad.yaml", "synth:\n  entities: many\n");
  auto bad = run_mike("data synth --config " + dir + "/bad.yaml --out " + dir + "/x");
  CHECK(bad.exit_code == 2);
  CHECK(contains(bad.err, "synth.entities"));
  // The counterfactual world from a flag; a wrong value is one clear error.
  auto counterfactual = run_mike("data synth --out " + dir + "/cf --entities 26 --size 16 --images-per-entity 3 "
                                 "--edit-targets known_names");
  CHECK(counterfactual.exit_code == 0);
  CHECK(contains(mike::test::read_file(dir + "/cf/world.json"), "\"edit_targets\": \"known_names\""));
  auto unknown = run_mike("data synth --out " + dir + "/cf2 --edit-targets famous");
  CHECK(unknown.exit_code == 2);
  CHECK(contains(unknown.err, "synth.edit_targets = 'famous' is not known"));
  auto none = run_mike("data synth");
  CHECK(none.exit_code == 2);
  CHECK(contains(none.err, "data synth: say where to write the world: --out DIR (or --config with `dir`)"));
}

TEST_CASE("validate lists every problem and exits 3; importers validate too") {
  std::string dir = mike::test::make_temp_dir("cli_validate");
  mike::test::write_file(dir + "/test.jsonl", "{\"id\": \"a\"}\nnot json\n");
  auto r = run_mike("data validate " + dir);
  CHECK(r.exit_code == 3);
  CHECK(contains(r.err, dir + "/train.jsonl: file does not exist"));
  CHECK(contains(r.err, dir + "/test.jsonl:1: field 'src': required field is missing"));
  CHECK(contains(r.err, dir + "/test.jsonl:2: not valid JSON"));
  CHECK(contains(r.err, dir + "/world.json: file does not exist"));
  CHECK(contains(r.err, "mike: error: " + dir + ": "));
  CHECK(contains(r.err, " problems found\n"));
  auto mmedit = run_mike("data validate " + (kFixtures / "mmedit").string() + " --format mmedit");
  CHECK(mmedit.exit_code == 0);
  auto format = run_mike("data validate " + dir + " --format coco");
  CHECK(format.exit_code == 2);
  CHECK(contains(format.err, "unknown dataset format 'coco'; use mike, mmedit or vlkeb"));
  auto action = run_mike("data shuffle");
  CHECK(action.exit_code == 2);
  CHECK(contains(action.err, "data: unknown action 'shuffle'; use synth, validate or stats"));
}
