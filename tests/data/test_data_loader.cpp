// Loading and validating datasets: our JSON-lines format and the MMEdit/VLKEB
// importers, with every validation error's message pinned.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

#include "data/dataset.h"
#include "data/image.h"
#include "mike/error.h"
#include "bmp_bytes.h"
#include "process.h"

namespace fs = std::filesystem;
using nlohmann::ordered_json;
using namespace mike::data;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

const fs::path kFixtures = fs::path(MIKE_SOURCE_DIR) / "tests" / "fixtures";

ordered_json valid_record(const std::string& id) {
  return ordered_json{
      {"id", id},
      {"src", "What is the name of this?"},
      {"alt", "Varnel Finch"},
      {"rephrase", "What is this called?"},
      {"image", "images/a.png"},
      {"image_rephrase", "images/b.png"},
      {"loc", "Where is the Tosk Wren found?"},
      {"loc_ans", "Dunmere"},
      {"m_loc", "images/c.png"},
      {"m_loc_q", "What kind of thing is this?"},
      {"m_loc_a", "bird"},
      {"entity_id", "bird_001"},
      {"category", "bird"},
      {"images", {"images/a.png", "images/b.png"}},
      {"elc", {{"prompt", "Describe this image."}, {"references", {"A Varnel Finch, a bird with a red crown."}}}},
      {"csr", {{{"image", "images/c.png"}, {"question", "Which bird is on the left?"}, {"answer", "Varnel Finch"}}}},
      {"igen", {{"augmented", {"images/a.png"}}, {"other_view", {"images/b.png"}}, {"scene", {"images/c.png"}}}}};
}

// A dataset folder with three 4x4 images and the given test.jsonl lines.
std::string make_dataset(const std::vector<std::string>& test_lines) {
  std::string dir = mike::test::make_temp_dir("data_loader");
  fs::create_directories(fs::path(dir) / "images");
  write_png(fs::path(dir) / "images" / "a.png", make_image(4, 4, 200, 10, 10));
  write_png(fs::path(dir) / "images" / "b.png", make_image(4, 4, 10, 200, 10));
  write_png(fs::path(dir) / "images" / "c.png", make_image(4, 4, 10, 10, 200));
  std::string text;
  for (const auto& line : test_lines) text += line + "\n";
  mike::test::write_file(dir + "/test.jsonl", text);
  return dir;
}

// The DataError message load_dataset throws for `dir`'s test split.
std::string load_error(const std::string& dir, const LoadOptions& options = {}) {
  try {
    (void)load_dataset(dir, "test", "mike", options);
  } catch (const mike::DataError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string with(ordered_json record, const std::string& key, const ordered_json& value) {
  record[key] = value;
  return record.dump();
}
std::string without(ordered_json record, const std::string& key) {
  record.erase(key);
  return record.dump();
}

}  // namespace

TEST_CASE("a valid mike record loads with every field and image paths resolved against the root") {
  std::string dir = make_dataset({valid_record("r1").dump(), valid_record("r2").dump()});
  Dataset d = load_dataset(dir, "test", "mike");
  REQUIRE(d.records.size() == 2);
  const EditRecord& r = d.records[0];
  CHECK(r.id == "r1");
  CHECK(r.alt == "Varnel Finch");
  CHECK(r.pred.empty());
  CHECK(r.image == fs::absolute(dir) / "images" / "a.png");
  CHECK(r.image.is_absolute());
  CHECK(r.images.size() == 2);
  CHECK(r.elc.prompt == "Describe this image.");
  CHECK(r.elc.rephrase.empty());  // optional
  CHECK(r.elc.references == std::vector<std::string>{"A Varnel Finch, a bird with a red crown."});
  REQUIRE(r.csr.size() == 1);
  CHECK(r.csr[0].answer == "Varnel Finch");
  CHECK(r.csr[0].image.filename() == "c.png");
  CHECK(r.igen.variant("scene").size() == 1);
  CHECK(r.igen.variant("other_view")[0].filename() == "b.png");
  CHECK(r.origin == dir + "/test.jsonl:1");
  CHECK(d.records[1].origin == dir + "/test.jsonl:2");
  CHECK_THROWS_WITH_AS((void)r.igen.variant("sideways"),
                       "unknown I-Gen image variant 'sideways'; use augmented, other_view or scene", mike::ConfigError);
}

TEST_CASE("validation errors name file:line, the field and the fix") {
  ordered_json good = valid_record("r1");
  SUBCASE("missing required field") {
    std::string dir = make_dataset({good.dump(), without(valid_record("r2"), "alt")});
    CHECK(load_error(dir) == dir + "/test.jsonl:2: field 'alt': required field is missing; fix: add \"alt\" to the record");
  }
  SUBCASE("unknown field") {
    std::string dir = make_dataset({with(good, "altt", "x")});
    CHECK(contains(load_error(dir), dir + "/test.jsonl:1: field 'altt': unknown field; fix: remove it or correct its "
                                          "spelling (known fields: id, src, alt, pred,"));
  }
  SUBCASE("wrong type") {
    std::string dir = make_dataset({with(good, "src", 42)});
    CHECK(load_error(dir) ==
          dir + "/test.jsonl:1: field 'src': must be a string but is a number; fix: write it as a JSON string");
  }
  SUBCASE("wrong type inside a list") {
    std::string dir = make_dataset({with(good, "images", ordered_json::array({"images/a.png", 7}))});
    CHECK(load_error(dir) ==
          dir + "/test.jsonl:1: field 'images[1]': must be a string but is a number; fix: write it as a JSON string");
  }
  SUBCASE("empty target") {
    std::string dir = make_dataset({with(good, "alt", "  ")});
    CHECK(load_error(dir) == dir + "/test.jsonl:1: field 'alt': must not be empty; fix: give it a non-empty value");
  }
  SUBCASE("duplicate id") {
    std::string dir = make_dataset({good.dump(), valid_record("r2").dump(), valid_record("r1").dump()});
    CHECK(load_error(dir) == dir + "/test.jsonl:3: field 'id': duplicate id 'r1' (first used at line 1); fix: give "
                                   "every record its own id");
  }
  SUBCASE("missing image") {
    std::string dir = make_dataset({with(good, "image_rephrase", "images/nope.png")});
    CHECK(load_error(dir) == dir + "/test.jsonl:1: field 'image_rephrase': image 'images/nope.png' (" + dir +
                                 "/images/nope.png) cannot be used: the file does not exist; fix: put a PNG/JPEG "
                                 "image at that path or correct the path (relative to " + dir + ")");
  }
  SUBCASE("file that is not an image") {
    std::string dir = make_dataset({with(good, "m_loc", "images/notes.png")});
    mike::test::write_file(dir + "/images/notes.png", "these are not pixels");
    CHECK(contains(load_error(dir), dir + "/test.jsonl:1: field 'm_loc': image 'images/notes.png' (" + dir +
                                        "/images/notes.png) cannot be used: it is not a PNG, JPEG, BMP or GIF file"));
  }
  SUBCASE("image path escaping the dataset root is refused unless allowed") {
    std::string dir = make_dataset({with(good, "image", "../outside.png")});
    write_png(fs::path(dir).parent_path() / "outside.png", make_image(2, 2));
    CHECK(load_error(dir) == dir + "/test.jsonl:1: field 'image': image path '../outside.png' resolves outside the "
                                   "dataset root '" + dir + "'; fix: keep images inside the dataset folder and use a "
                                   "relative path, or set data.allow_outside_root=true if you trust this dataset");
    LoadOptions allow;
    allow.allow_outside_root = true;
    CHECK(load_dataset(dir, "test", "mike", allow).records[0].image == fs::path(dir).parent_path() / "outside.png");
  }
  SUBCASE("a line that is not JSON") {
    std::string dir = make_dataset({good.dump(), "{\"src\": \"What"});
    CHECK(contains(load_error(dir), dir + "/test.jsonl:2: not valid JSON (parse error"));
    CHECK(contains(load_error(dir), "; fix: each record must be one JSON object on a single line"));
  }
  SUBCASE("nested fields report their path") {
    ordered_json bad = good;
    bad["csr"][0].erase("answer");
    bad["elc"]["references"] = ordered_json::array();
    bad["igen"]["sideways"] = ordered_json::array();
    std::string dir = make_dataset({bad.dump()});
    auto problems = validate_dataset(dir, "mike");
    std::vector<std::string> texts;
    for (const auto& p : problems) texts.push_back(p.to_string());
    auto has = [&texts](const std::string& needle) {
      for (const auto& t : texts)
        if (contains(t, needle)) return true;
      return false;
    };
    CHECK(has("test.jsonl:1: field 'elc.references': must not be an empty list; fix: give at least one item"));
    CHECK(has("test.jsonl:1: field 'csr[0].answer': required field is missing"));
    CHECK(has("test.jsonl:1: field 'igen.sideways': unknown field; fix: remove it or correct its spelling (known "
              "fields: augmented, other_view, scene)"));
  }
}

TEST_CASE("validate_dataset reports every problem in one pass; load_dataset throws the first and counts the rest") {
  std::string dir = make_dataset({without(valid_record("r1"), "src"), with(valid_record("r2"), "alt", ""),
                                  with(valid_record("r3"), "image", "images/gone.png")});
  auto problems = validate_dataset(dir, "mike");
  // 3 record problems + train.jsonl, dev.jsonl and world.json missing.
  REQUIRE(problems.size() == 6);
  CHECK(problems[0].to_string() == dir + "/train.jsonl: file does not exist; fix: check the dataset folder and split "
                                         "name (mike format expects train.jsonl, dev.jsonl, test.jsonl), or create "
                                         "the dataset with `mike data synth --out DIR`");
  CHECK(problems[2].line == 1);
  CHECK(problems[2].field == "src");
  CHECK(problems[3].line == 2);
  CHECK(problems[3].field == "alt");
  CHECK(problems[4].line == 3);
  CHECK(problems[4].field == "image");
  CHECK(contains(problems[5].to_string(), dir + "/world.json: file does not exist"));
  std::string message = load_error(dir);
  CHECK(contains(message, dir + "/test.jsonl:1: field 'src': required field is missing"));
  CHECK(contains(message, "(and 2 more problems; `mike data validate " + dir + "` lists them all)"));
}

TEST_CASE("a missing dataset folder, a missing or empty split and an unknown format are clear errors") {
  CHECK_THROWS_WITH_AS((void)load_dataset("/nonexistent/data", "test", "mike"),
                       "dataset folder '/nonexistent/data' does not exist; fix: set data.dir to a dataset folder, or "
                       "create one with `mike data synth --out /nonexistent/data`",
                       mike::DataError);
  std::string dir = make_dataset({valid_record("r1").dump()});
  CHECK_THROWS_WITH_AS((void)load_dataset(dir, "test", "coco"),
                       "unknown dataset format 'coco'; use mike, mmedit or vlkeb (data.format)", mike::ConfigError);
  try {
    (void)load_dataset(dir, "dev", "mike");
    FAIL("expected an error");
  } catch (const mike::DataError& e) {
    CHECK(contains(e.what(), dir + "/dev.jsonl: file does not exist; fix:"));
  }
  mike::test::write_file(dir + "/train.jsonl", "");
  CHECK_THROWS_WITH_AS((void)load_dataset(dir, "train", "mike"),
                       (dir + "/train.jsonl: the train split has no records; fix: pick a split with records, or "
                              "generate a larger world (mike data synth --entities N)").c_str(),
                       mike::DataError);
  LoadOptions allow_empty;
  allow_empty.allow_empty = true;
  CHECK(load_dataset(dir, "train", "mike", allow_empty).records.empty());
}

TEST_CASE("MMEdit files are read as they are: a JSON array of records, line numbers kept") {
  Dataset d = load_dataset(kFixtures / "mmedit", "vqa_eval", "mmedit");
  REQUIRE(d.records.size() == 2);
  CHECK(d.records[0].id == "vqa_eval-0");
  CHECK(d.records[1].id == "vqa_eval-1");
  CHECK(d.records[0].src == "What bird is standing in the water?");
  CHECK(d.records[0].pred == "egret");
  CHECK(d.records[0].alt == "grey heron");
  CHECK(d.records[0].image == kFixtures / "mmedit" / "images" / "heron.png");
  CHECK(d.records[0].m_loc_a == "red");
  CHECK(d.records[1].loc == "nq question: what is the capital of \"Peru\" {city}");
  CHECK(d.records[0].origin == (kFixtures / "mmedit" / "vqa_eval.json").string() + ":2");
  CHECK(d.records[1].origin == (kFixtures / "mmedit" / "vqa_eval.json").string() + ":15");
  CHECK(d.records[0].entity_id.empty());
  CHECK(d.records[0].images.empty());
  // The file itself may be given instead of folder + split.
  CHECK(load_dataset(kFixtures / "mmedit" / "vqa_eval.json", "ignored", "mmedit").records.size() == 2);
  CHECK(validate_dataset(kFixtures / "mmedit", "mmedit").empty());
}

TEST_CASE("VLKEB files add port_new portability questions") {
  Dataset d = load_dataset(kFixtures / "vlkeb", "eval_multimodal_edit", "vlkeb");
  REQUIRE(d.records.size() == 1);
  const auto& port = d.records[0].port_new;
  REQUIRE(port.size() == 2);
  CHECK(port[0].question == "What does the grey heron mainly eat?");
  CHECK(port[0].answer == "fish");
  CHECK(port[0].image == kFixtures / "vlkeb" / "images" / "heron.png");
  CHECK(port[1].answer == "Europe, Asia and Africa");
  CHECK(port[1].image.empty());
  CHECK(validate_dataset(kFixtures / "vlkeb", "vlkeb").empty());
}

TEST_CASE("a broken MMEdit record is reported at the line where it starts") {
  std::string dir = mike::test::make_temp_dir("mmedit_bad");
  fs::copy(kFixtures / "mmedit" / "images", fs::path(dir) / "images");
  mike::test::write_file(dir + "/vqa.json",
                         "[\n  {\"src\": \"q\", \"alt\": \"a\", \"image\": \"images/heron.png\"},\n"
                         "  {\"src\": \"q2\",\n   \"image\": \"images/heron.png\"},\n"
                         "  {\"src\": \"q3\", \"alt\": 5, \"image\": \"images/missing.jpg\"}\n]\n");
  auto problems = validate_dataset(dir + "/vqa.json", "mmedit");
  REQUIRE(problems.size() == 3);
  CHECK(problems[0].to_string() == dir + "/vqa.json:3: field 'alt': required field is missing; fix: add \"alt\" to "
                                         "the record");
  CHECK(problems[1].to_string() == dir + "/vqa.json:5: field 'alt': must be a string but is a number; fix: write it "
                                         "as a JSON string");
  CHECK(contains(problems[2].to_string(), dir + "/vqa.json:5: field 'image': image 'images/missing.jpg'"));
  mike::test::write_file(dir + "/cut.json", "[\n  {\"src\": \"q\", \"alt\": \"a\", \"image\": \"images/heron.png\"},\n");
  auto cut = validate_dataset(dir + "/cut.json", "mmedit");
  REQUIRE(cut.size() == 1);
  CHECK(cut[0].to_string() == dir + "/cut.json:3: broken JSON: the top-level JSON array is not closed with ']'; fix: "
                                    "repair the file's JSON structure");
}

TEST_CASE("images decode to RGB and resize keeps flat colours flat") {
  Image heron = read_image(kFixtures / "mmedit" / "images" / "heron.png");
  CHECK(heron.width == 8);
  CHECK(heron.height == 6);
  // The fixture's pixel (x, y) is (200, 20x, 30y).
  CHECK(heron.at(3, 2)[0] == 200);
  CHECK(heron.at(3, 2)[1] == 60);
  CHECK(heron.at(3, 2)[2] == 60);
  Image flat = make_image(10, 7, 12, 34, 56);
  for (ResizeFilter filter : {ResizeFilter::kBilinear, ResizeFilter::kBicubic}) {
    Image up = resize_image(flat, 23, 17, filter);
    CHECK(up.width == 23);
    CHECK(up.height == 17);
    CHECK(up.at(11, 8)[0] == 12);
    CHECK(up.at(22, 16)[2] == 56);
  }
  CHECK(parse_resize_filter("bicubic") == ResizeFilter::kBicubic);
  CHECK_THROWS_WITH_AS(parse_resize_filter("nearest"), "unknown image resize filter 'nearest'; use bilinear or bicubic",
                       mike::ConfigError);
  std::string dir = mike::test::make_temp_dir("image_bad");
  // A PNG cut in half keeps a valid header; its IDAT chunk now claims more
  // bytes than are left.
  std::string png = mike::test::read_file((kFixtures / "mmedit" / "images" / "heron.png").string());
  mike::test::write_file(dir + "/x.png", png.substr(0, png.size() / 2));
  std::string reason;
  CHECK_FALSE(probe_image(dir + "/x.png", &reason));
  CHECK(contains(reason, "it is a damaged PNG: its IDAT chunk at byte "));
  CHECK(probe_image(kFixtures / "mmedit" / "images" / "heron.png", &reason));
  CHECK_THROWS_WITH_AS(read_image(dir + "/missing.png"),
                       ("cannot load image '" + dir + "/missing.png': the file does not exist; fix: point the record "
                        "at an existing PNG/JPEG/BMP/GIF file, or re-create the dataset").c_str(),
                       mike::DataError);
  // PNG round trip is lossless.
  write_png(dir + "/round.png", heron);
  CHECK(read_image(dir + "/round.png").rgb == heron.rgb);
}

TEST_CASE("an image header claiming more than 64 megapixels is refused before anything is allocated for it") {
  std::string dir = mike::test::make_temp_dir("image_bomb");
  // A PNG signature and an IHDR of 10000 x 10000 RGB pixels, and no pixel data:
  // 29 bytes that stb_image would answer with a 300 MB allocation.
  std::string png = "\x89PNG\r\n\x1a\n";
  png += std::string("\x00\x00\x00\x0dIHDR\x00\x00\x27\x10\x00\x00\x27\x10\x08\x02\x00\x00\x00", 21);
  png += std::string(4, '\0');  // CRC, which stb_image does not check
  mike::test::write_file(dir + "/bomb.png", png);
  std::string reason;
  CHECK_FALSE(probe_image(dir + "/bomb.png", &reason));
  CHECK(reason == "it is 10000x10000 pixels, more than the 67108864 an image may have; shrink it");
}

TEST_CASE("a record with a number too large for a double is a DataError naming the line, not an uncaught exception") {
  // nlohmann::json reports 1e999 as out_of_range, not parse_error (found by
  // tests/fuzz/fuzz_dataset); before the fix it escaped the loader.
  std::string dir = mike::test::make_temp_dir("huge_number");
  mike::test::write_file(dir + "/test.jsonl", "{\"src\": \"q\", \"alt\": 1e999}\n");
  LoadOptions options;
  options.check_images = false;
  CHECK_THROWS_WITH_AS(load_dataset(dir, "test", "mike", options),
                       doctest::Contains(":1: not valid JSON ([json.exception.out_of_range.406] number overflow parsing "
                                         "'1e999')"),
                       mike::DataError);
}

TEST_CASE("a BMP header whose row alone is larger than the file is refused without overflowing") {
  // width 2^31-1 at 65535 bits per pixel and height 2^31-1: the byte count of
  // the pixel array overflowed 64 bits before the fix (found by tests/fuzz/fuzz_image).
  std::string dir = mike::test::make_temp_dir("bmp_overflow");
  mike::test::write_file(dir + "/wide.bmp", mike::test::bmp_bytes(60, 0x7fffffff, 0x7fffffff, 65535, 0));
  std::string reason;
  CHECK_FALSE(probe_image(dir + "/wide.bmp", &reason));
  CHECK(contains(reason, "it is a damaged BMP: its header says 2147483647x2147483647 pixels at 65535 bits, one row "
                         "alone more than the file's 60 bytes"));
}

TEST_CASE("a BMP whose compression field is negative is checked as uncompressed, as stb decodes it") {
  // compression 0xffff0000 reads as a negative int, which stb neither refuses
  // nor decompresses: the 3x33,618,944 pixels the header claims were decoded
  // from a 231-byte file for minutes (found by tests/fuzz/fuzz_image).
  std::string dir = mike::test::make_temp_dir("bmp_negative_compression");
  mike::test::write_file(dir + "/tall.bmp", mike::test::bmp_bytes(231, 3, 0xfdff0400, 24, 0xffff0000));
  std::string reason;
  CHECK_FALSE(probe_image(dir + "/tall.bmp", &reason));
  CAPTURE(reason);
  CHECK(contains(reason, "it is a damaged BMP: its header says 3x33618944 pixels at 24 bits, 403427382 bytes, but the file has 231"));
}

TEST_CASE("a GIF whose screen is 0 pixels high is refused, not resized (a division by zero)") {
  // GIF87a, 5x0 screen, a global colour table and an image descriptor with no
  // data: stb returned it as a decoded 5x0 image (found by tests/fuzz/fuzz_image).
  std::string dir = mike::test::make_temp_dir("gif_empty");
  const unsigned char gif[] = {0x47, 0x49, 0x46, 0x38, 0x37, 0x61, 0x05, 0x00, 0x00, 0x00, 0x81, 0x03, 0x00,
                               0x0a, 0xc8, 0x1e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2c};
  mike::test::write_file(dir + "/flat.gif", std::string(reinterpret_cast<const char*>(gif), sizeof gif));
  std::string reason;
  CHECK_FALSE(probe_image(dir + "/flat.gif", &reason));
  CAPTURE(reason);
  CHECK(contains(reason, "pixels: an image with no pixels"));
  Image empty;
  CHECK_THROWS_WITH_AS(resize_image(empty, 4, 4, ResizeFilter::kBilinear), doctest::Contains("it has no pixels"),
                       mike::DataError);
}

TEST_CASE("formats stb could decode but mike is not built for (TGA, PNM, HDR) are refused by name") {
  // Each of these is a well-formed 1x1 image that a full stb_image decodes;
  // image.cpp builds stb with PNG/JPEG/BMP/GIF only, so they must be refused
  // before any decoder runs.
  std::string dir = mike::test::make_temp_dir("image_other_formats");
  const unsigned char tga[] = {0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 24, 0, 10, 20, 30};
  mike::test::write_file(dir + "/x.tga", std::string(reinterpret_cast<const char*>(tga), sizeof tga));
  mike::test::write_file(dir + "/x.ppm", std::string("P6\n1 1\n255\n\x0a\x14\x1e", 14));
  mike::test::write_file(dir + "/x.hdr", "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 1\n\x80\x80\x80\x81");
  for (const char* name : {"x.tga", "x.ppm", "x.hdr"}) {
    CAPTURE(name);
    std::string reason;
    CHECK_FALSE(probe_image(dir + "/" + name, &reason));
    CHECK(reason == "it is not a PNG, JPEG, BMP or GIF file (the formats mike reads; convert it to PNG)");
  }
  // A format mike reads still decodes.
  std::string reason;
  CHECK(probe_image(kFixtures / "mmedit" / "images" / "heron.png", &reason));
}

TEST_CASE("a GIF with a screen of more than 4 megapixels is refused before stb allocates its canvases") {
  // 50 bytes claiming a 65285x768 screen: stb spent ~900 MB and seconds on it
  // (found by tests/fuzz/fuzz_image as a timeout).
  std::string dir = mike::test::make_temp_dir("gif_huge_screen");
  const unsigned char gif[] = {0x47, 0x49, 0x46, 0x38, 0x37, 0x61, 0x05, 0xff, 0x00, 0x03, 0x00, 0x77, 0x00,
                               0x00, 0x00, 0x81, 0x00, 0x00, 0x0a, 0xc8, 0x1e, 0x00, 0x00, 0x00, 0x00, 0x00,
                               0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x03, 0x00,
                               0x00, 0x08, 0x08, 0x00, 0x28, 0x00, 0x18, 0x01, 0x08, 0x1c, 0x48};
  mike::test::write_file(dir + "/wide.gif", std::string(reinterpret_cast<const char*>(gif), sizeof gif));
  std::string reason;
  CHECK_FALSE(probe_image(dir + "/wide.gif", &reason));
  CHECK(reason == "it is a 65285x768 GIF, more than the 4194304 pixels a GIF may have (decoding one costs 12 bytes "
                  "a pixel); convert it to PNG");
}

TEST_CASE("a file that claims far more pixels than its bytes can hold is refused before decoding") {
  // A 633-byte JPEG whose header claims 8197x4096 pixels: stb fills the
  // missing data and decodes 33 megapixels (found by tests/fuzz/fuzz_image as
  // a timeout). Built here as a real 4x4 PNG with the size in its header
  // raised (stb reads IHDR without checking its CRC).
  std::string dir = mike::test::make_temp_dir("image_bomb");
  Image small = make_image(4, 4, 90, 120, 200);
  write_png(dir + "/small.png", small);
  // IHDR width and height are bytes 16-23, big-endian.
  std::string png = mike::test::read_file(dir + "/small.png");
  auto put_u32 = [&](std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) png[at + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
  };
  put_u32(16, 8197);
  put_u32(20, 4096);
  mike::test::write_file(dir + "/bomb.png", png);
  std::string reason;
  CHECK_FALSE(probe_image(dir + "/bomb.png", &reason));
  CHECK(reason == "it claims 8197x4096 pixels but holds only " + std::to_string(png.size()) +
                      " bytes, more than 1024 pixels a byte: a truncated or crafted file; re-export the image");
  // Up to a megapixel nothing is refused for its size alone: a flat
  // 1000x1000 image compresses to a few KB and still decodes.
  write_png(dir + "/flat.png", make_image(1000, 1000, 7, 7, 7));
  CHECK(probe_image(dir + "/flat.png", &reason));
}

TEST_CASE("a PNG chunk that claims more bytes than the file holds is refused before stb allocates for it") {
  // stb grew its buffer to a 1 GiB IDAT's claimed length before reading it:
  // a 286-byte file allocated 2 GiB (found by tests/fuzz/fuzz_image).
  std::string dir = mike::test::make_temp_dir("png_chunk_length");
  write_png(dir + "/ok.png", make_image(4, 4, 1, 2, 3));
  std::string png = mike::test::read_file(dir + "/ok.png");
  const std::size_t idat = png.find("IDAT");
  REQUIRE(idat == 37);  // signature (8) + IHDR (25) + this chunk's length (4)
  png[33] = 0x40;       // length 0x40000000 = 1 GiB, big-endian
  png[34] = png[35] = png[36] = 0;
  mike::test::write_file(dir + "/huge_idat.png", png);
  std::string reason;
  CHECK_FALSE(probe_image(dir + "/huge_idat.png", &reason));
  CHECK(reason == "it is a damaged PNG: its IDAT chunk at byte 33 claims 1073741824 bytes, but only " +
                      std::to_string(png.size() - 41) + " are left in the file");
  CHECK(probe_image(dir + "/ok.png", &reason));
}

TEST_CASE("JPEG decodes with libjpeg-turbo: the same pixels as PIL, and stb's crash input refused") {
  // PIL decodes with libjpeg-turbo too, with the same defaults (islow IDCT,
  // fancy upsampling), so the pixels must agree byte for byte; that is what
  // a Hugging Face image processor sees.
  const fs::path corpus = fs::path(MIKE_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / "fuzz_image";
  std::string dir = mike::test::make_temp_dir("jpeg_pil");
  for (const char* name : {"tiny.jpg", "progressive.jpg"}) {
    CAPTURE(name);
    Image ours = read_image(corpus / name);
    const std::string raw = dir + "/" + name + ".rgb";
    const auto pil = mike::test::run_command(
        "/usr/bin/python3 -c \"import sys; from PIL import Image; im = Image.open(sys.argv[1]).convert('RGB'); "
        "open(sys.argv[2], 'wb').write(im.tobytes()); print(im.size[0], im.size[1])\" " +
        (corpus / name).string() + " " + raw);
    REQUIRE_MESSAGE(pil.exit_code == 0, pil.err);
    CHECK(pil.out == std::to_string(ours.width) + " " + std::to_string(ours.height) + "\n");
    const std::string theirs = mike::test::read_file(raw);
    REQUIRE(theirs.size() == ours.rgb.size());
    CHECK(std::equal(theirs.begin(), theirs.end(), ours.rgb.begin(),
                     [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; }));
  }
  // 509 bytes of progressive JPEG whose last table segment is cut short:
  // stb_image 2.27 read its symbol table at index -36 (tests/fuzz/fuzz_image).
  const unsigned char jpeg[] = {
      0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00,
      0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x06, 0x04, 0x05,
      0x06, 0x05, 0x04, 0x07, 0x07, 0x09, 0x09, 0x08, 0x0a, 0x0c, 0x14, 0x0d, 0x0c, 0x0b,
      0x0b, 0x0c, 0x19, 0x12, 0x13, 0x0f, 0x14, 0x1d, 0x1a, 0x1f, 0x1e, 0x1d, 0x1a, 0x1c,
      0x1c, 0x20, 0x24, 0x2e, 0x27, 0x20, 0x22, 0x2c, 0x23, 0x1c, 0x1c, 0x28, 0x37, 0x29,
      0x2c, 0x30, 0x31, 0x34, 0x34, 0x34, 0x1f, 0x34, 0x34, 0x34, 0x27, 0x39, 0x3d, 0x38,
      0x32, 0x3c, 0x2e, 0x33, 0x34, 0x32, 0xff, 0xdb, 0x00, 0x43, 0x01, 0x09, 0x09, 0x09,
      0x0c, 0x0b, 0x0c, 0x18, 0x0d, 0x0d, 0x18, 0x32, 0x21, 0x1c, 0x21, 0x32, 0x32, 0x32,
      0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32,
      0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32,
      0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32, 0x32,
      0x32, 0x32, 0x32, 0x32, 0x32, 0xff, 0xc2, 0x00, 0x11, 0x08, 0x47, 0x03, 0x00, 0x05,
      0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xc4, 0x00, 0x15,
      0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x02, 0xff, 0xc4, 0x00, 0x15, 0x01, 0x01, 0x01, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x06,
      0xff, 0xda, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02, 0x10, 0x03, 0x10, 0x00, 0x00, 0x01,
      0x90, 0x3c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x06, 0xff, 0xda, 0x00, 0x0c,
      0x03, 0x01, 0x00, 0x02, 0x10, 0x03, 0x10, 0x00, 0x00, 0x01, 0x90, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x06, 0x3f,
      0x3a, 0x02, 0x7f, 0xff, 0xc4, 0x00, 0x14, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x6c, 0x6c, 0x6c,
      0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c,
      0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c,
      0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c,
      0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c,
      0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c,
      0x6c, 0x6c, 0x6c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x28, 0x28, 0x28, 0x28, 0x28, 0x48, 0x44,
      0x52, 0x00, 0x28, 0x28, 0x00};
  mike::test::write_file(dir + "/stb_crash.jpg", std::string(reinterpret_cast<const char*>(jpeg), sizeof jpeg));
  std::string reason;
  CHECK_FALSE(probe_image(dir + "/stb_crash.jpg", &reason));
  CHECK(contains(reason, "it is a damaged or unsupported JPEG (libjpeg: "));
}
