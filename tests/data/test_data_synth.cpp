// The synthetic world: deterministic, complete, split-disjoint, and with a
// real fine-grained signal (a trivial classifier tells siblings apart).
// torch before doctest: glog (via torch) defines CHECK too, and doctest's must win.
#include "data/dataset_corpus.h"
#include "mike/corpus.h"
#include "mike/model.h"
#undef CHECK
#include <doctest/doctest.h>

#include "mike/hash.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>

#include "data/dataset.h"
#include "data/image.h"
#include "data/synth.h"
#include "data/synth_folder.h"
#include "data/world.h"
#include "mike/error.h"
#include "process.h"

namespace fs = std::filesystem;
using namespace mike::data;

namespace {

// FNV-1a over every file's relative path and bytes, in sorted path order.
std::map<std::string, std::uint64_t> file_hashes(const fs::path& dir) {
  std::map<std::string, std::uint64_t> hashes;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::string bytes = mike::test::read_file(entry.path().string());
    hashes[fs::relative(entry.path(), dir).string()] = mike::Fnv1a64().add_bytes(bytes).value();
  }
  return hashes;
}

SynthOptions small_world(std::uint64_t seed, int threads) {
  SynthOptions o;
  o.seed = seed;
  o.entities = 130;
  o.image_size = 32;
  o.threads = threads;
  return o;
}

// One shared world for the read-only checks (generated once per process).
const fs::path& shared_world() {
  static const fs::path dir = [] {
    fs::path d = mike::test::make_temp_dir("synth_shared");
    generate_world(d, small_world(7, 2));
    return d;
  }();
  return dir;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

TEST_CASE("same seed gives byte-identical files whatever the thread count; another seed differs") {
  fs::path a = mike::test::make_temp_dir("synth_a"), b = mike::test::make_temp_dir("synth_b");
  fs::path c = mike::test::make_temp_dir("synth_c");
  SynthSummary sa = generate_world(a, small_world(3, 1));
  generate_world(b, small_world(3, 2));
  generate_world(c, small_world(4, 2));
  auto ha = file_hashes(a), hb = file_hashes(b), hc = file_hashes(c);
  CHECK(ha.size() == static_cast<std::size_t>(sa.images) + 6);  // + world.json, pretrain.jsonl, controls.jsonl, 3 splits
  CHECK(ha == hb);
  CHECK(ha.size() == hc.size());
  CHECK(ha.at("world.json") != hc.at("world.json"));
  CHECK(ha.at("images/bird_000/view_0.png") != hc.at("images/bird_000/view_0.png"));
  // Regenerating into a world folder replaces it; other non-empty folders are refused.
  generate_world(a, small_world(3, 2));
  CHECK(file_hashes(a) == hb);
  fs::path foreign = mike::test::make_temp_dir("synth_foreign");
  mike::test::write_file((foreign / "notes.txt").string(), "mine");
  CHECK_THROWS_WITH_AS(generate_world(foreign, small_world(3, 1)),
                       ("refusing to write the synthetic world into '" + foreign.string() +
                        "': the folder is not empty and holds no world.json; fix: pick a new or empty --out folder")
                           .c_str(),
                       mike::DataError);
}

TEST_CASE("ensure_world makes a missing world only when allowed and never rewrites one of an older version") {
  const fs::path dir = fs::path(mike::test::make_temp_dir("synth_version")) / "world";
  const SynthOptions options = small_world(3, 1);
  CHECK_THROWS_AS(ensure_world(dir, options, false), mike::DataError);  // not allowed: nothing made
  CHECK_FALSE(fs::exists(dir));
  CHECK(ensure_world(dir, options, true));         // generated
  CHECK_FALSE(ensure_world(dir, options, true));   // same options and version: kept
  CHECK_FALSE(ensure_world(dir, options, false));  // an existing world needs no permission
  std::string world = mike::test::read_file((dir / "world.json").string());
  const std::size_t at = world.find("\"version\": 3");
  REQUIRE(at != std::string::npos);
  world.replace(at, 12, "\"version\": 2");
  mike::test::write_file((dir / "world.json").string(), world);
  CHECK_THROWS_WITH_AS(ensure_world(dir, options, true),
                       doctest::Contains("world.json: the world is of version 2 but this mike reads version 3"),
                       mike::DataError);
  CHECK(mike::test::read_file((dir / "world.json").string()) == world);  // left as it is
}

TEST_CASE("the world has the promised shape: 13 categories, splits by entity, named images") {
  World world = load_world(shared_world());
  CHECK(world.seed == 7);
  CHECK(world.image_size == 32);
  CHECK(world.categories.size() == 13);
  std::map<std::string, int> splits;
  std::set<std::string> names;
  for (const auto& e : world.entities) {
    ++splits[e.split];
    names.insert(e.name);
    CHECK(e.images.size() == 6);
    CHECK(e.attributes.size() == 4);
    CHECK(e.facts.size() == 4);
    // Invented two-word names: a made-up word plus a category noun.
    CHECK(std::count(e.name.begin(), e.name.end(), ' ') == 1);
  }
  CHECK(names.size() == world.entities.size());
  CHECK(splits == std::map<std::string, int>{{"dev", 13}, {"known", 78}, {"test", 26}, {"train", 13}});
  Image view = read_image(world.entities[0].images[0]);
  CHECK(view.width == 32);
  CHECK(view.height == 32);
  CHECK_THROWS_WITH_AS(generate_world(mike::test::make_temp_dir("synth_tiny"), [] {
                         SynthOptions o;
                         o.entities = 20;
                         return o;
                       }()),
                       "synth.entities = 20 is too small: the world has 13 categories and needs at least 2 entities "
                       "each; use >= 26",
                       mike::ConfigError);
}

TEST_CASE("every record is complete and valid, and locality QA comes from the pretraining corpus") {
  const fs::path& dir = shared_world();
  CHECK(validate_dataset(dir, "mike").empty());
  World world = load_world(dir);
  std::map<std::string, const WorldEntity*> by_id;
  for (const auto& e : world.entities) by_id[e.id] = &e;
  auto corpus = load_pretrain_corpus(dir);
  std::set<std::pair<std::string, std::string>> text_qa, image_qa;
  for (const auto& r : corpus) {
    (r.image.empty() ? text_qa : image_qa).insert({r.image.string() + "|" + r.prompt, r.answer});
  }
  std::map<std::string, std::size_t> counts;
  for (const char* split : {"train", "dev", "test"}) {
    Dataset d = load_dataset(dir, split, "mike");
    counts[split] = d.records.size();
    for (const EditRecord& r : d.records) {
      CAPTURE(r.origin);
      const WorldEntity& e = *by_id.at(r.entity_id);
      CHECK(e.split == split);
      CHECK(r.alt == e.name);
      CHECK(r.category == e.category);
      for (const std::string* field : {&r.src, &r.rephrase, &r.loc, &r.loc_ans, &r.m_loc_q, &r.m_loc_a})
        CHECK_FALSE(field->empty());
      CHECK(r.src != r.rephrase);
      // Views 0-3 are the edit images (one per multi-step step), 4-5 the I-Gen photos.
      CHECK(r.image == e.images[0]);
      CHECK(r.images == std::vector<fs::path>(e.images.begin(), e.images.begin() + 4));
      CHECK(r.igen.other_view == std::vector<fs::path>(e.images.begin() + 4, e.images.end()));
      CHECK(r.image_rephrase == e.images[4]);
      CHECK(r.igen.augmented.size() == 2);
      CHECK(r.igen.scene.size() == 2);
      CHECK(r.elc.references.size() == 3);
      CHECK(r.elc.references[0].find(e.name) != std::string::npos);
      CHECK_FALSE(r.elc.rephrase.empty());  // ELC T-Generality: another caption instruction
      CHECK(r.elc.rephrase != r.elc.prompt);
      REQUIRE(r.csr.size() == 2);
      for (const CsrItem& scene : r.csr) {
        CHECK(scene.answer == e.name);
        CHECK(scene.question.rfind("Which " + e.category + " ", 0) == 0);
        CHECK_FALSE(scene.rephrase.empty());
        CHECK(scene.rephrase != scene.question);
      }
      // T-Loc: a text fact pretraining teaches; M-Loc: an image question about a known entity.
      CHECK(text_qa.count({"|" + r.loc, r.loc_ans}) == 1);
      CHECK(image_qa.count({r.m_loc.string() + "|" + r.m_loc_q, r.m_loc_a}) == 1);
      // CSR has locality of its own: another known fact, and a scene of known
      // entities that pretraining held out.
      CHECK(text_qa.count({"|" + r.csr_locality.loc, r.csr_locality.loc_ans}) == 1);
      CHECK(r.csr_locality.loc != r.loc);
      CHECK(r.csr_locality.m_loc.filename().string().rfind("csr_", 0) == 0);
      CHECK(image_qa.count({r.csr_locality.m_loc.string() + "|" + r.csr_locality.m_loc_q, r.csr_locality.m_loc_a}) == 0);
    }
  }
  CHECK(counts == std::map<std::string, std::size_t>{{"dev", 13}, {"test", 26}, {"train", 13}});
}

TEST_CASE("world invariants: no I-Gen image is edited, T-Gen wordings are held out, locality is disjoint from editor statistics") {
  const fs::path& dir = shared_world();
  std::set<std::string> pretrain_prompts;
  for (const auto& r : load_pretrain_corpus(dir)) {
    // Context records end with the question they ask; the question is the last line.
    pretrain_prompts.insert(r.prompt.substr(r.prompt.rfind('\n') == std::string::npos ? 0 : r.prompt.rfind('\n') + 1));
  }
  std::shared_ptr<const mike::Corpus> stats = dataset_corpus_source()->open(dir.string(), 0);
  std::set<std::pair<std::string, std::string>> stats_inputs;
  for (std::size_t i = 0; i < stats->size(); ++i) {
    const mike::ScoreRequest sample = stats->sample(i);
    stats_inputs.insert({sample.input.image.defined() ? "image" : "", sample.input.prompt});
  }
  const auto corpus = load_pretrain_corpus(dir);
  std::size_t locality_records = 0;
  std::set<std::pair<std::string, std::string>> locality;
  for (const char* split : {"train", "dev", "test"}) {
    for (const EditRecord& r : load_dataset(dir, split, "mike").records) {
      CAPTURE(r.origin);
      for (const char* variant : {"other_view", "augmented", "scene"})
        for (const fs::path& image : r.igen.variant(variant))
          CHECK(std::find(r.images.begin(), r.images.end(), image) == r.images.end());
      CHECK(pretrain_prompts.count(r.rephrase) == 0);
      CHECK(pretrain_prompts.count(r.elc.rephrase) == 0);
      for (const CsrItem& scene : r.csr) CHECK(pretrain_prompts.count(scene.rephrase) == 0);
      CHECK(pretrain_prompts.count(r.src) == 1);
      CHECK(pretrain_prompts.count(r.elc.prompt) == 1);
      locality.insert({"", r.loc});
      locality.insert({r.m_loc.string(), r.m_loc_q});
      locality.insert({"", r.csr_locality.loc});
    }
  }
  for (const auto& r : corpus)
    if (locality.count({r.image.string(), r.prompt})) ++locality_records;
  // The locality probes are pretraining records, and the statistics corpus
  // holds every pretraining record but those.
  CHECK(locality_records > 52);
  CHECK(stats->size() == corpus.size() - locality_records);
  for (const auto& [image, prompt] : locality)
    if (image.empty()) CHECK(stats_inputs.count({"", prompt}) == 0);
}

TEST_CASE("pretraining pairs no edit entity with an image; text_names edit names occur in text-only records") {
  const fs::path& dir = shared_world();
  World world = load_world(dir);
  const auto corpus = load_pretrain_corpus(dir);
  std::string image_text, text_only;
  std::set<std::string> text_answers;
  for (const auto& r : corpus) {
    (r.image.empty() ? text_only : image_text) += lower(r.prompt + "\n" + r.answer + "\n");
    if (r.image.empty()) text_answers.insert(r.answer);
    if (!r.image.empty()) {
      // Only known entities' images are in pretraining.
      const std::string entity = r.image.parent_path().filename().string();
      CAPTURE(r.image);
      CHECK(std::any_of(world.entities.begin(), world.entities.end(),
                        [&](const WorldEntity& e) { return e.id == entity && e.split == "known"; }));
    }
  }
  for (const auto& e : world.entities) {
    CAPTURE(e.name);
    // Every entity can be said: a text-only question has its name as the answer.
    CHECK(text_answers.count(e.name) == 1);
    if (e.split != "known") CHECK(image_text.find(lower(e.name)) == std::string::npos);
    else CHECK(image_text.find(lower(e.name)) != std::string::npos);
  }
  std::map<std::string, int> kinds;
  for (const auto& r : corpus) ++kinds[r.kind];
  // 78 known entities x 6 views x (2 name + category + caption + 2 context),
  // 4 CSR scenes each, 5 facts each; 52 edit entities x 3 text facts.
  CHECK(kinds == std::map<std::string, int>{{"caption", 468}, {"category", 468}, {"context", 936}, {"csr", 312},
                                            {"fact", 546}, {"name", 936}});
  std::map<std::string, int> controls;
  for (const auto& r : load_pretrain_controls(dir)) ++controls[r.kind];
  CHECK(controls == std::map<std::string, int>{{"csr_control", 78}, {"edit_name_text", 52}, {"heldout_paraphrase", 234},
                                               {"in_context", 78}});
}

TEST_CASE("novel_names: no pretraining record names an edit entity, not even its invented word") {
  const fs::path dir = mike::test::make_temp_dir("synth_novel");
  SynthOptions options = small_world(7, 2);
  options.edit_targets = "novel_names";
  generate_world(dir, options);
  World world = load_world(dir);
  std::string corpus = lower(mike::test::read_file((dir / "pretrain.jsonl").string()));
  for (const auto& e : world.entities) {
    CAPTURE(e.name);
    bool named = corpus.find(lower(e.name)) != std::string::npos;
    CHECK(named == (e.split == "known"));
    std::string word = lower(e.name.substr(0, e.name.find(' ')));
    CHECK((corpus.find(word) != std::string::npos) == (e.split == "known"));
  }
}

TEST_CASE("a nearest-centroid classifier on colour features tells siblings apart well above chance") {
  // Background colours are muted (channel spread < 60), so saturated pixels
  // belong to entities; their hue histogram carries the part-colour
  // attribute. Counts, marks and proportions need shape features, so this
  // trivial classifier is a lower bound on the fine-grained signal.
  constexpr int kHueBins = 12;
  constexpr float kSaturated = 60.0F, kColourWeight = 4.0F;
  // Train on views 1..5 of every entity, test on view 0, choosing among its siblings.
  World world = load_world(shared_world());
  // Features: a hue histogram of the saturated pixels and the share of near-white pixels.
  auto features = [](const fs::path& path) {
    Image image = read_image(path);
    std::vector<float> f(kHueBins + 1, 0.0F);
    const float pixels = static_cast<float>(image.width * image.height);
    for (std::size_t i = 0; i < image.rgb.size(); i += 3) {
      const float r = image.rgb[i], g = image.rgb[i + 1], b = image.rgb[i + 2];
      const float hi = std::max({r, g, b}), lo = std::min({r, g, b});
      if (lo > 225) f[kHueBins] += kColourWeight / pixels;
      if (hi - lo < kSaturated) continue;
      float hue = hi == r ? (g - b) / (hi - lo) : hi == g ? 2 + (b - r) / (hi - lo) : 4 + (r - g) / (hi - lo);
      int bin = static_cast<int>((hue + 1.0F) / 6.0F * kHueBins + kHueBins) % kHueBins;
      f[static_cast<std::size_t>(bin)] += kColourWeight / pixels;
    }
    return f;
  };
  std::map<std::string, std::vector<const WorldEntity*>> by_category;
  for (const auto& e : world.entities) by_category[e.category].push_back(&e);
  int correct = 0, total = 0;
  double chance = 0;
  for (const auto& [category, members] : by_category) {
    std::vector<std::vector<float>> centroids;
    for (const WorldEntity* e : members) {
      std::vector<float> sum;
      for (std::size_t v = 1; v < e->images.size(); ++v) {
        auto f = features(e->images[v]);
        if (sum.empty()) sum.assign(f.size(), 0.0F);
        for (std::size_t i = 0; i < f.size(); ++i) sum[i] += f[i];
      }
      centroids.push_back(sum);
      for (auto& s : centroids.back()) s /= static_cast<float>(e->images.size() - 1);
    }
    for (std::size_t m = 0; m < members.size(); ++m) {
      auto f = features(members[m]->images[0]);
      std::size_t best = 0;
      float best_distance = 1e30F;
      for (std::size_t c = 0; c < centroids.size(); ++c) {
        float d = 0;
        for (std::size_t i = 0; i < f.size(); ++i) d += (f[i] - centroids[c][i]) * (f[i] - centroids[c][i]);
        if (d < best_distance) best_distance = d, best = c;
      }
      correct += best == m;
      ++total;
      chance += 1.0 / static_cast<double>(members.size());
    }
  }
  const double accuracy = static_cast<double>(correct) / total;
  chance /= total;
  MESSAGE("nearest-centroid sibling accuracy " << accuracy << " (chance " << chance << ")");
  CHECK(chance == doctest::Approx(0.1));
  CHECK(accuracy >= 4 * chance);
}

TEST_CASE("edit_targets known_names: counterfactual names of another category, everything else identical") {
  const fs::path novel = mike::test::make_temp_dir("synth_cf_novel");
  const fs::path counterfactual = mike::test::make_temp_dir("synth_counterfactual");
  SynthOptions options = small_world(7, 2);
  options.edit_targets = "novel_names";
  generate_world(novel, options);
  options.edit_targets = "known_names";
  generate_world(counterfactual, options);

  // Pretraining data and every image are byte-identical to the novel_names
  // world's: one pretrained model serves both.
  const auto novel_files = file_hashes(novel), counterfactual_files = file_hashes(counterfactual);
  for (const auto& [path, hash] : novel_files) {
    if (path.rfind("images", 0) == 0 || path == "pretrain.jsonl") {
      CAPTURE(path);
      CHECK(counterfactual_files.at(path) == hash);
    }
  }
  const World a = load_world(novel), b = load_world(counterfactual);
  REQUIRE(a.entities.size() == b.entities.size());
  std::map<std::string, std::string> known_category;  // known name -> its category
  for (const auto& e : a.entities)
    if (e.split == "known") known_category[e.name] = e.category;
  int renamed = 0;
  for (std::size_t i = 0; i < a.entities.size(); ++i) {
    const auto &x = a.entities[i], &y = b.entities[i];
    CAPTURE(x.id);
    CHECK(x.id == y.id);
    CHECK(x.split == y.split);
    if (x.split == "known") {
      CHECK(y.name == x.name);
      continue;
    }
    // A name the model was pretrained to produce, taken from another category.
    REQUIRE(known_category.count(y.name) == 1);
    CHECK(known_category.at(y.name) != y.category);
    ++renamed;
  }
  CHECK(renamed == 52);
  // The records ask for the new name everywhere the entity is named.
  const Dataset test = load_dataset(counterfactual, "test", "mike");
  REQUIRE(!test.records.empty());
  for (const auto& r : test.records) {
    CAPTURE(r.id);
    CHECK(known_category.count(r.alt) == 1);
    for (const auto& csr : r.csr) CHECK(csr.answer == r.alt);
    for (const auto& reference : r.elc.references) CHECK(reference.find(r.alt) != std::string::npos);
    // Locality never asks about the known entity whose name became the target.
    for (const std::string* probe : {&r.loc, &r.loc_ans, &r.m_loc_a, &r.csr_locality.loc, &r.csr_locality.m_loc_a})
      CHECK(probe->find(r.alt) == std::string::npos);
  }
  CHECK(mike::test::read_file((counterfactual / "world.json").string()).find("\"edit_targets\": \"known_names\"") !=
        std::string::npos);

  options.edit_targets = "famous_names";
  CHECK_THROWS_WITH_AS(generate_world(mike::test::make_temp_dir("synth_bad_targets"), options),
                       doctest::Contains("synth.edit_targets = 'famous_names' is not known; use text_names"),
                       mike::ConfigError);
}
