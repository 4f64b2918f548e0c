// The synthetic fine-grained entity world (`mike data synth`). See synth.h
// for what it is and docs/dataset.md for the files it writes.
#include "data/synth.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "data/image.h"
#include "data/raster.h"
#include "data/rng.h"
#include "data/shape_families.h"
#include "mike/config.h"
#include "mike/error.h"
#include "system/text_file.h"

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

namespace mike::data {

namespace {

// Instruction families. Pretraining uses every member of the first list of
// each pair; the second lists are held out of pretraining and used only for
// T-Generality, so T-Gen measures a paraphrase the model never saw.
// "{category}" is replaced by the entity's category. kNameQuestions[0] is the
// edit question, kCaptionInstructions[0] the ELC edit prompt.
const std::vector<std::string> kNameQuestions = {
    "What is the name of this?",          "What is this called?",
    "Which {category} is this?",          "Name the {category} in this picture.",
    "What is the name of the {category} shown here?", "Tell me the name of this."};
const std::vector<std::string> kHeldOutNameQuestions = {
    "What is this {category} called?", "Tell me the name of the {category} in this picture.",
    "Which {category} is shown here?"};
const std::vector<std::string> kCaptionInstructions = {
    "Describe this image.", "Write a caption for this image.", "Describe what you see.",
    "Give a short description of this picture.", "What does this image show?"};
const std::vector<std::string> kHeldOutCaptionInstructions = {"Write a short caption for this picture.",
                                                              "Describe the picture."};
const char* const kKindPrompt = "What kind of thing is this?";
// Facts stated in the prompt. The first is the IKE editor's default
// new_fact_template and demo_template (plugins/editors/ike/ike.yaml), so the
// in-context skill pretraining teaches is the one IKE relies on; the others
// keep the model from keying on one wording.
const std::vector<std::string> kImageFactTemplates = {"New fact: the entity in this image is {name}.\n",
                                                      "New fact: the entity in this image is {name}.\n",
                                                      "Fact: this {category} is the {name}.\n",
                                                      "Note: the entity shown is the {name}.\n"};
const char* const kDemoTemplate = "Q: {prompt} A: {answer}\n";
// Bumped when the files a world holds change, so that `mike run` reports an
// older world instead of reading it (2: elc.rephrase; 3: text-known edit names, instruction
// families, in-context and CSR pretraining, held-out I-Gen photos,
// csr_locality, controls.jsonl).
constexpr int kWorldVersion = 3;
// How many names occur only in in-context pretraining records.
constexpr int kContextNames = 160;

// Stream ids for Rng::derive, one per independent random decision.
enum Stream : std::uint64_t { kLooks = 1, kNames, kSplits, kRender, kRecords, kPlaces, kPeople, kFillers, kContext };

std::string substitute(std::string text, const std::string& field, const std::string& value);

// The `q`-th (0 or 1) name question pretraining asks about view `v` of a known
// entity: two per view, rotating through the family.
std::string name_question(std::size_t v, std::size_t q, const std::string& category) {
  return substitute(kNameQuestions[(2 * v + q) % kNameQuestions.size()], "category", category);
}

std::string substitute(std::string text, const std::string& field, const std::string& value) {
  const std::string marker = "{" + field + "}";
  for (std::size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at + value.size()))
    text.replace(at, marker.size(), value);
  return text;
}

struct Entity {
  std::string id;
  std::string name;
  std::size_t family = 0;
  Look look;
  std::string split;
  std::string habitat;
  std::string recorder;  // who first recorded it: a text-only fact whose answer is the name
  int index = 0;  // global index (render seeds)
  std::vector<std::string> views, augmented, scenes, csr_images;
  std::vector<std::string> csr_questions, csr_rephrases;
  bool is_known() const { return split == "known"; }
};

std::string capitalised(std::string word) {
  word[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
  return word;
}

// Pronounceable invented words that split into several sub-words.
std::string invent_word(Rng& rng, int syllables) {
  static const std::vector<std::string> onsets = {"b", "br", "d", "dr", "f", "g", "gr", "h", "k", "l", "m",
                                                  "n", "p", "r", "s", "st", "t", "th", "tr", "v", "w", "z"};
  static const std::vector<std::string> vowels = {"a", "e", "i", "o", "u", "ai", "ea", "o"};
  static const std::vector<std::string> codas = {"", "", "n", "l", "r", "s", "th", "nd", "rk", "m", "sk"};
  std::string word;
  for (int i = 0; i < syllables; ++i) word += rng.pick(onsets) + rng.pick(vowels) + rng.pick(codas);
  return capitalised(word);
}

// True if `a` and `b` could be confused by substring matching.
bool overlaps(const std::string& a, const std::string& b) {
  return a.find(b) != std::string::npos || b.find(a) != std::string::npos;
}

std::string singular_if_one(const std::string& plural, int n) {
  return n == 1 && !plural.empty() && plural.back() == 's' ? plural.substr(0, plural.size() - 1) : plural;
}
std::string with_article(const std::string& colour, const std::string& part) {
  return (part.back() == 's' ? "" : (std::string(colour[0] == 'a' || colour[0] == 'e' || colour[0] == 'i' ||
                                                         colour[0] == 'o' || colour[0] == 'u'
                                                     ? "an "
                                                     : "a "))) +
         colour + " " + part;
}

struct WorldPlan {
  SynthOptions options;
  std::vector<Entity> entities;
  std::vector<std::string> places;
  // Names that occur only inside in-context pretraining records, so reading
  // a name from the prompt is learned on many strings, not on known names.
  std::vector<std::string> context_names;
};

int number_of(const Entity& e) { return e.look.count + families()[e.family].count_offset; }

std::vector<std::pair<std::string, std::string>> attributes_of(const Entity& e) {
  const Family& f = families()[e.family];
  return {{f.part + " colour", part_colours()[static_cast<std::size_t>(e.look.colour)].name},
          {f.counted, std::to_string(number_of(e))},
          {f.marked + " mark", mark_names()[static_cast<std::size_t>(e.look.mark)]},
          {"build", build_names()[static_cast<std::size_t>(e.look.build)]}};
}

std::vector<std::pair<std::string, std::string>> facts_of(const Entity& e) {
  const Family& f = families()[e.family];
  const std::string colour = part_colours()[static_cast<std::size_t>(e.look.colour)].name;
  const int n = number_of(e);
  return {{"What kind of thing is the " + e.name + "?", f.category},
          {"Where is the " + e.name + " found?", e.habitat},
          {"What colour " + std::string(f.part.back() == 's' ? "are" : "is") + " the " + f.part + " of the " + e.name + "?", colour},
          {"How many " + f.counted + " does the " + e.name + " have?", count_words()[static_cast<std::size_t>(n)]}};
}

// A text-only question whose answer is the entity's name.
std::pair<std::string, std::string> recorder_fact(const Entity& e) {
  const Family& f = families()[e.family];
  return {"Which " + f.category + " was first recorded by " + e.recorder + "?", e.name};
}

// The text-only facts pretraining teaches about an entity the benchmark
// edits besides recorder_fact (which lets the LM say its name): what it is
// and where it lives, but nothing about how it looks, so its images cannot be
// named by inference from text.
std::vector<std::pair<std::string, std::string>> text_facts_of_edit_entity(const Entity& e) {
  const Family& f = families()[e.family];
  return {{"What kind of thing is the " + e.name + "?", f.category},
          {"Where is the " + e.name + " found?", e.habitat}};
}

std::vector<std::string> captions_of(const Entity& e) {
  const Family& f = families()[e.family];
  const std::string colour = part_colours()[static_cast<std::size_t>(e.look.colour)].name;
  const int n = number_of(e);
  return {"A " + e.name + ", a " + f.category + " with " + with_article(colour, f.part) + " and " +
              count_words()[static_cast<std::size_t>(n)] + " " + singular_if_one(f.counted, n) + ".",
          "The " + e.name + ", a " + build_names()[static_cast<std::size_t>(e.look.build)] + " " + f.category +
              " with " + mark_names()[static_cast<std::size_t>(e.look.mark)] + " mark on its " + f.marked + ".",
          "A " + e.name + " from " + e.habitat + "."};
}

WorldPlan plan_world(const SynthOptions& options) {
  const auto& fams = families();
  const int categories = static_cast<int>(fams.size());
  const int per_category_space = static_cast<int>(part_colours().size()) * kMaxCount * kMarks * kBuilds;
  if (options.entities < 2 * categories) {
    throw ConfigError("synth.entities = " + std::to_string(options.entities) + " is too small: the world has " +
                      std::to_string(categories) + " categories and needs at least 2 entities each; use >= " +
                      std::to_string(2 * categories));
  }
  if (options.entities > categories * per_category_space) {
    throw ConfigError("synth.entities = " + std::to_string(options.entities) + " exceeds the " +
                      std::to_string(categories * per_category_space) +
                      " distinct-looking entities the categories allow; use fewer");
  }
  if (options.images_per_entity < 3) {
    throw ConfigError("synth.images_per_entity = " + std::to_string(options.images_per_entity) +
                      " is too small: an edit needs an edit image, a rephrase image and a held-out view; use >= 3");
  }
  if (options.image_size < 16 || options.image_size > 1024) {
    throw ConfigError("synth.image_size = " + std::to_string(options.image_size) + " is out of range; use 16..1024");
  }
  if (options.augmented_per_entity < 1 || options.scenes_per_entity < 1 || options.known_scenes_per_entity < 1) {
    throw ConfigError("synth.augmented_per_entity, synth.scenes_per_entity and synth.known_scenes_per_entity must be >= 1");
  }
  double rest = 1.0 - options.known_fraction - options.dev_fraction - options.train_fraction;
  if (options.known_fraction <= 0 || options.dev_fraction < 0 || options.train_fraction < 0 || rest <= 0) {
    throw ConfigError("synth split fractions must be known > 0, dev >= 0, train >= 0 and leave a share for test "
                      "(known + dev + train < 1); got known " + std::to_string(options.known_fraction) + ", dev " +
                      std::to_string(options.dev_fraction) + ", train " + std::to_string(options.train_fraction));
  }

  if (options.edit_targets != "text_names" && options.edit_targets != "novel_names" &&
      options.edit_targets != "known_names") {
    throw ConfigError("synth.edit_targets = '" + options.edit_targets +
                      "' is not known; use text_names (names the model knows from text only, MIKE), novel_names "
                      "(names the model has never seen) or known_names (counterfactual names of known entities)");
  }
  if (options.igen_views_per_entity < 1 || options.igen_views_per_entity > options.images_per_entity - 1) {
    throw ConfigError("synth.igen_views_per_entity = " + std::to_string(options.igen_views_per_entity) +
                      " must be in 1.." + std::to_string(options.images_per_entity - 1) +
                      " (images_per_entity - 1): the remaining views are the edit images");
  }

  WorldPlan plan;
  plan.options = options;
  Rng names_rng = Rng::derive(options.seed, kNames);
  std::vector<std::string> words;
  std::set<std::string> reserved;
  for (const auto& f : fams) {
    reserved.insert(capitalised(f.category));
    for (const auto& n : f.nouns) reserved.insert(n);
  }
  auto fresh_word_from = [&](Rng& rng, int syllables, const std::string& suffix) {
    for (;;) {
      std::string w = invent_word(rng, syllables) + suffix;
      if (w.size() < 4 || reserved.count(w)) continue;
      bool clash = false;
      for (const auto& other : words) clash = clash || overlaps(w, other);
      if (clash) continue;
      words.push_back(w);
      return w;
    }
  };
  auto fresh_word = [&](int syllables, const std::string& suffix) { return fresh_word_from(names_rng, syllables, suffix); };
  static const std::vector<std::string> place_suffixes = {"mere", "ford", "holm", "wick", "dale", "moor"};
  Rng places_rng = Rng::derive(options.seed, kPlaces);
  for (int i = 0; i < 16; ++i) plan.places.push_back(fresh_word(1, places_rng.pick(place_suffixes)));

  Rng looks_rng = Rng::derive(options.seed, kLooks);
  Rng splits_rng = Rng::derive(options.seed, kSplits);
  int global = 0;
  for (int c = 0; c < categories; ++c) {
    const int n = options.entities / categories + (c < options.entities % categories ? 1 : 0);
    std::vector<int> combos(static_cast<std::size_t>(per_category_space));
    for (int i = 0; i < per_category_space; ++i) combos[static_cast<std::size_t>(i)] = i;
    looks_rng.shuffle(combos);
    // Splits by entity, balanced per category: known first, then dev, train, the rest test.
    int known = std::max(1, static_cast<int>(std::lround(n * options.known_fraction)));
    int dev = static_cast<int>(std::lround(n * options.dev_fraction));
    int train = static_cast<int>(std::lround(n * options.train_fraction));
    while (known + dev + train >= n) {
      if (train > 0) --train;
      else if (dev > 0) --dev;
      else --known;
    }
    std::vector<std::string> splits;
    for (int i = 0; i < n; ++i) {
      splits.push_back(i < known ? "known" : i < known + dev ? "dev" : i < known + dev + train ? "train" : "test");
    }
    splits_rng.shuffle(splits);
    for (int i = 0; i < n; ++i) {
      Entity e;
      e.family = static_cast<std::size_t>(c);
      e.index = global++;
      char id[64];
      std::snprintf(id, sizeof(id), "%s_%03d", fams[e.family].category.c_str(), i);
      e.id = id;
      int combo = combos[static_cast<std::size_t>(i)];
      e.look.build = combo % kBuilds;
      combo /= kBuilds;
      e.look.mark = combo % kMarks;
      combo /= kMarks;
      e.look.count = 1 + combo % kMaxCount;
      combo /= kMaxCount;
      e.look.colour = combo;
      e.name = fresh_word(2, "") + " " + names_rng.pick(fams[e.family].nouns);
      e.habitat = names_rng.pick(plan.places);
      e.split = splits[static_cast<std::size_t>(i)];
      plan.entities.push_back(std::move(e));
    }
  }
  // Drawn after every name above (from streams of their own), so adding them
  // left each entity's name as it was.
  Rng people_rng = Rng::derive(options.seed, kPeople);
  for (Entity& e : plan.entities) e.recorder = fresh_word_from(people_rng, 2, "") + " " + fresh_word_from(people_rng, 2, "");
  Rng fillers_rng = Rng::derive(options.seed, kFillers);
  for (int i = 0; i < kContextNames; ++i)
    plan.context_names.push_back(fresh_word_from(fillers_rng, 2, "") + " " +
                                 fillers_rng.pick(fams[static_cast<std::size_t>(i) % fams.size()].nouns));
  if (options.edit_targets == "known_names") {
    // Renamed after every draw above, so looks, splits and images match the
    // novel_names world of the same seed exactly. Known entities keep their
    // names, so renaming in place never reads a name it already changed.
    std::vector<const Entity*> known;
    for (const Entity& e : plan.entities)
      if (e.split == "known") known.push_back(&e);
    for (Entity& e : plan.entities) {
      if (e.split == "known") continue;
      std::vector<const Entity*> other;  // another category's name: certainly not what the model answers now
      for (const Entity* k : known)
        if (k->family != e.family) other.push_back(k);
      e.name = other[static_cast<std::size_t>(e.index) % other.size()]->name;
    }
  }
  return plan;
}

// ---- rendering -------------------------------------------------------------

struct ViewParams {
  Background background = Background::kFlat;
  std::uint64_t background_seed = 0;
  Pose pose;
  float brightness = 1;
  float noise = 0;
};

ViewParams sample_view(Rng& rng, int size) {
  ViewParams v;
  const float s = static_cast<float>(size);
  v.background = static_cast<Background>(rng.below(kBackgroundKinds));
  v.background_seed = rng.next();
  v.pose.cx = s * (0.5F + rng.uniform(-0.08F, 0.08F));
  v.pose.cy = s * (0.5F + rng.uniform(-0.08F, 0.08F));
  v.pose.scale = s * 0.42F * rng.uniform(0.8F, 1.0F);
  v.pose.angle = rng.uniform(-0.3F, 0.3F);
  v.pose.flip = rng.below(2) == 1;
  v.brightness = rng.uniform(0.88F, 1.12F);
  v.noise = rng.uniform(2.0F, 7.0F);
  return v;
}

void draw_entity(Canvas& canvas, const Entity& e, const Pose& pose, float brightness) {
  Look look = e.look;
  look.brightness = brightness;
  canvas.set_pose(pose);
  families()[e.family].draw(canvas, look);
}

Image render_view(const Entity& e, const ViewParams& v, int size, std::uint64_t noise_seed) {
  Image image = make_image(size, size);
  Rng background_rng(v.background_seed);
  paint_background(image, v.background, background_rng);
  Canvas canvas(image);
  draw_entity(canvas, e, v.pose, v.brightness);
  Rng noise_rng(noise_seed);
  add_noise(image, v.noise, noise_rng);
  return image;
}

// Shapes that belong to no category, so scenes are cluttered.
void draw_clutter(Canvas& canvas, Rng& rng, int size, int count) {
  for (int i = 0; i < count; ++i) {
    Pose pose;
    pose.cx = rng.uniform(0.0F, 1.0F) * size;
    pose.cy = rng.uniform(0.0F, 1.0F) * size;
    pose.scale = size * rng.uniform(0.04F, 0.1F);
    pose.angle = rng.uniform(0.0F, 3.14F);
    canvas.set_pose(pose);
    Color c{rng.uniform(60.0F, 200.0F), rng.uniform(60.0F, 200.0F), rng.uniform(60.0F, 200.0F)};
    if (rng.below(2)) {
      canvas.ellipse(0, 0, 1.0F, rng.uniform(0.3F, 1.0F), 0, c);
    } else {
      canvas.rect(0, 0, 2.0F, rng.uniform(0.5F, 2.0F), 0, c);
    }
  }
}

const std::vector<std::vector<std::string>>& slot_names() {
  static const std::vector<std::vector<std::string>> names = {
      {},
      {},
      {"on the left", "on the right"},
      {"on the left", "in the middle", "on the right"},
      {"in the top left", "in the top right", "in the bottom left", "in the bottom right"}};
  return names;
}

Vec2 slot_centre(int slot, int count, float size) {
  if (count == 4) return {size * (slot % 2 == 0 ? 0.27F : 0.73F), size * (slot < 2 ? 0.27F : 0.73F)};
  return {size * (static_cast<float>(slot) + 0.5F) / count, size * 0.52F};
}

// CSR scene layout: the target among 1-3 siblings whose part colour
// differs; decided up front so the question is known before rendering.
struct CsrPlan {
  std::vector<const Entity*> placed;  // left to right (or grid order)
  int target_slot = 0;
  std::string question;
  std::string rephrase;  // the same question in a wording pretraining never uses (CSR T-Gen)
  std::uint64_t render_seed = 0;
};

CsrPlan plan_csr(const Entity& target, std::vector<const Entity*> distractors, int scene_index, Rng& rng) {
  CsrPlan plan;
  const int count = 1 + static_cast<int>(distractors.size());
  plan.target_slot = rng.below(count);
  plan.placed = std::move(distractors);
  plan.placed.insert(plan.placed.begin() + plan.target_slot, &target);
  plan.render_seed = rng.next();
  const Family& f = families()[target.family];
  if (scene_index % 2 == 0) {
    const std::string& slot = slot_names()[static_cast<std::size_t>(count)][static_cast<std::size_t>(plan.target_slot)];
    plan.question = "Which " + f.category + " is " + slot + "?";
    plan.rephrase = "Which " + f.category + " can you see " + slot + "?";
  } else {
    const std::string colour = part_colours()[static_cast<std::size_t>(target.look.colour)].name;
    plan.question = "Which " + f.category + " has " + with_article(colour, f.part) + "?";
    plan.rephrase = "Which " + f.category + " here has " + with_article(colour, f.part) + "?";
  }
  return plan;
}

Image render_csr(const CsrPlan& plan, int size) {
  Rng rng(plan.render_seed);
  const int count = static_cast<int>(plan.placed.size());
  const float s = static_cast<float>(size);
  Image image = make_image(size, size);
  paint_background(image, static_cast<Background>(rng.below(kBackgroundKinds)), rng);
  Canvas canvas(image);
  draw_clutter(canvas, rng, size, 2 + rng.below(3));
  const float half = (count == 4 ? 0.23F : 0.45F / count) * s;
  for (int slot = 0; slot < count; ++slot) {
    Vec2 c = slot_centre(slot, count, s);
    Pose pose;
    pose.cx = c.x + rng.uniform(-0.03F, 0.03F) * s;
    pose.cy = c.y + rng.uniform(-0.05F, 0.05F) * s;
    pose.scale = half * rng.uniform(0.85F, 1.0F);
    pose.angle = rng.uniform(-0.2F, 0.2F);
    pose.flip = rng.below(2) == 1;
    draw_entity(canvas, *plan.placed[static_cast<std::size_t>(slot)], pose, rng.uniform(0.9F, 1.1F));
  }
  add_noise(image, rng.uniform(2.0F, 6.0F), rng);
  return image;
}

// I-Gen "scene" image: the entity alone, small and off-centre, among clutter.
Image render_igen_scene(const Entity& e, int size, Rng& rng) {
  const float s = static_cast<float>(size);
  Image image = make_image(size, size);
  paint_background(image, static_cast<Background>(rng.below(kBackgroundKinds)), rng);
  Canvas canvas(image);
  draw_clutter(canvas, rng, size, 3 + rng.below(3));
  Pose pose;
  pose.scale = s * rng.uniform(0.24F, 0.3F);
  pose.cx = rng.uniform(pose.scale, s - pose.scale);
  pose.cy = rng.uniform(pose.scale, s - pose.scale);
  pose.angle = rng.uniform(-0.3F, 0.3F);
  pose.flip = rng.below(2) == 1;
  draw_entity(canvas, e, pose, rng.uniform(0.9F, 1.1F));
  add_noise(image, rng.uniform(2.0F, 6.0F), rng);
  return image;
}

void parallel_for(std::size_t n, int threads, const std::function<void(std::size_t)>& body) {
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto worker = [&]() {
    for (std::size_t i = next++; i < n; i = next++) {
      try {
        body(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        next = n;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

SynthOptions synth_options_from_config(const Config& synth) {
  SynthOptions o;
  o.seed = static_cast<std::uint64_t>(synth.get_or<std::int64_t>("seed", static_cast<std::int64_t>(o.seed)));
  o.entities = synth.get_or<int>("entities", o.entities);
  o.images_per_entity = synth.get_or<int>("images_per_entity", o.images_per_entity);
  o.igen_views_per_entity = synth.get_or<int>("igen_views_per_entity", o.igen_views_per_entity);
  o.image_size = synth.get_or<int>("image_size", o.image_size);
  o.augmented_per_entity = synth.get_or<int>("augmented_per_entity", o.augmented_per_entity);
  o.scenes_per_entity = synth.get_or<int>("scenes_per_entity", o.scenes_per_entity);
  o.known_scenes_per_entity = synth.get_or<int>("known_scenes_per_entity", o.known_scenes_per_entity);
  o.known_fraction = synth.get_or<double>("known_fraction", o.known_fraction);
  o.dev_fraction = synth.get_or<double>("dev_fraction", o.dev_fraction);
  o.train_fraction = synth.get_or<double>("train_fraction", o.train_fraction);
  o.edit_targets = synth.get_or<std::string>("edit_targets", o.edit_targets);
  o.threads = synth.get_or<int>("threads", o.threads);
  return o;
}

int world_version() { return kWorldVersion; }

std::string synth_options_json(const SynthOptions& options) {
  ordered_json o;
  o["seed"] = options.seed;
  o["entities"] = options.entities;
  o["images_per_entity"] = options.images_per_entity;
  o["igen_views_per_entity"] = options.igen_views_per_entity;
  o["image_size"] = options.image_size;
  o["augmented_per_entity"] = options.augmented_per_entity;
  o["scenes_per_entity"] = options.scenes_per_entity;
  o["known_scenes_per_entity"] = options.known_scenes_per_entity;
  o["known_fraction"] = options.known_fraction;
  o["dev_fraction"] = options.dev_fraction;
  o["train_fraction"] = options.train_fraction;
  o["edit_targets"] = options.edit_targets;
  return o.dump();
}

SynthSummary generate_world(const fs::path& out, const SynthOptions& options) {
  WorldPlan plan = plan_world(options);
  const int size = options.image_size;
  std::error_code ec;
  // Regenerating replaces a previous world (stale images would otherwise
  // linger); any other non-empty folder is refused rather than touched.
  if (fs::is_directory(out) && !fs::is_empty(out)) {
    if (!fs::exists(out / "world.json")) {
      throw DataError("refusing to write the synthetic world into '" + out.string() +
                      "': the folder is not empty and holds no world.json; fix: pick a new or empty --out folder");
    }
    fs::remove_all(out / "images", ec);
  }
  fs::create_directories(out / "images", ec);
  if (ec) throw DataError("cannot create '" + (out / "images").string() + "': " + ec.message());

  // Every image is one job with its own seed, so threads never change the bytes.
  struct Job {
    fs::path path;
    std::function<Image()> render;
  };
  std::vector<Job> jobs;
  const auto& fams = families();
  for (Entity& e : plan.entities) {
    fs::create_directories(out / "images" / e.id, ec);
    if (ec) throw DataError("cannot create '" + (out / "images" / e.id).string() + "': " + ec.message());
    Rng view_rng = Rng::derive(options.seed, kRender, static_cast<std::uint64_t>(e.index));
    std::vector<ViewParams> views;
    for (int v = 0; v < options.images_per_entity; ++v) views.push_back(sample_view(view_rng, size));
    for (int v = 0; v < options.images_per_entity; ++v) {
      e.views.push_back("images/" + e.id + "/view_" + std::to_string(v) + ".png");
      std::uint64_t noise_seed = view_rng.next();
      ViewParams params = views[static_cast<std::size_t>(v)];
      const Entity* entity = &e;
      jobs.push_back({out / e.views.back(), [entity, params, size, noise_seed] {
                        return render_view(*entity, params, size, noise_seed);
                      }});
    }
    if (e.split == "known") continue;
    // Same-view augmentations of the edit image: small shifts, rotation, brightness, fresh noise.
    for (int a = 0; a < options.augmented_per_entity; ++a) {
      ViewParams params = views[0];
      Rng aug_rng = Rng::derive(options.seed, kRender, static_cast<std::uint64_t>(e.index), 100 + a);
      params.pose.cx += aug_rng.uniform(-0.04F, 0.04F) * size;
      params.pose.cy += aug_rng.uniform(-0.04F, 0.04F) * size;
      params.pose.scale *= aug_rng.uniform(0.94F, 1.06F);
      params.pose.angle += aug_rng.uniform(-0.1F, 0.1F);
      params.brightness *= aug_rng.uniform(0.94F, 1.06F);
      std::uint64_t noise_seed = aug_rng.next();
      e.augmented.push_back("images/" + e.id + "/augmented_" + std::to_string(a) + ".png");
      const Entity* entity = &e;
      jobs.push_back({out / e.augmented.back(), [entity, params, size, noise_seed] {
                        return render_view(*entity, params, size, noise_seed);
                      }});
    }
    for (int k = 0; k < options.scenes_per_entity; ++k) {
      e.scenes.push_back("images/" + e.id + "/scene_" + std::to_string(k) + ".png");
      const Entity* entity = &e;
      std::uint64_t seed = options.seed;
      jobs.push_back({out / e.scenes.back(), [entity, seed, size, k] {
                        Rng rng = Rng::derive(seed, kRender, static_cast<std::uint64_t>(entity->index), 200 + k);
                        return render_igen_scene(*entity, size, rng);
                      }});
    }
  }
  // CSR scenes need the siblings, so they are planned after every entity
  // exists. Distractors are known entities (the model can tell them apart
  // from the target). A known entity gets known_scenes_per_entity scenes for
  // pretraining and one more, held out of it: the CSR control of
  // controls.jsonl, and the scenes CSR's M-Locality asks about.
  for (Entity& e : plan.entities) {
    std::vector<const Entity*> siblings, others;
    for (const Entity& o : plan.entities) {
      if (&o == &e || !o.is_known() || o.look.colour == e.look.colour) continue;
      (o.family == e.family ? siblings : others).push_back(&o);
    }
    const int scenes = e.is_known() ? options.known_scenes_per_entity + 1 : options.scenes_per_entity;
    for (int k = 0; k < scenes; ++k) {
      Rng rng = Rng::derive(options.seed, kRender, static_cast<std::uint64_t>(e.index), 300 + k);
      // Siblings first (the hard case), other categories only when a category is tiny.
      std::vector<const Entity*> pool = siblings, rest = others;
      rng.shuffle(pool);
      rng.shuffle(rest);
      pool.insert(pool.end(), rest.begin(), rest.end());
      std::vector<const Entity*> distractors(pool.begin(), pool.begin() + std::min<std::size_t>(pool.size(), 1 + rng.below(3)));
      e.csr_images.push_back("images/" + e.id + "/csr_" + std::to_string(k) + ".png");
      CsrPlan scene = plan_csr(e, distractors, k, rng);
      e.csr_questions.push_back(scene.question);
      e.csr_rephrases.push_back(scene.rephrase);
      jobs.push_back({out / e.csr_images.back(), [scene, size] { return render_csr(scene, size); }});
    }
  }
  int threads = options.threads > 0 ? options.threads : static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  parallel_for(jobs.size(), threads, [&jobs](std::size_t i) { write_png(jobs[i].path, jobs[i].render()); });

  SynthSummary summary;
  summary.entities = static_cast<int>(plan.entities.size());
  summary.images = static_cast<int>(jobs.size());

  // ---- world.json --------------------------------------------------------------
  ordered_json world;
  world["format"] = "mike-world";
  world["version"] = kWorldVersion;
  world["seed"] = options.seed;
  world["image_size"] = size;
  world["synth"] = ordered_json::parse(synth_options_json(options));
  world["categories"] = ordered_json::array();
  for (const auto& f : fams) {
    world["categories"].push_back(
        {{"name", f.category}, {"attributes", {f.part + " colour", f.counted, f.marked + " mark", "build"}}});
  }
  world["places"] = plan.places;
  world["entities"] = ordered_json::array();
  for (const Entity& e : plan.entities) {
    ordered_json attributes = ordered_json::object();
    for (const auto& [k, v] : attributes_of(e)) attributes[k] = v;
    ordered_json facts = ordered_json::array();
    for (const auto& [q, a] : facts_of(e)) facts.push_back({{"question", q}, {"answer", a}});
    world["entities"].push_back({{"id", e.id},
                                 {"name", e.name},
                                 {"category", fams[e.family].category},
                                 {"split", e.split},
                                 {"recorder", e.recorder},
                                 {"attributes", attributes},
                                 {"facts", facts},
                                 {"images", e.views}});
  }

  // ---- pretrain.jsonl and controls.jsonl ----------------------------------------
  // Images of known entities only; an edit entity's name occurs in text-only
  // records (text_names) or nowhere (novel_names, known_names).
  std::vector<const Entity*> known, edited;
  for (const Entity& e : plan.entities) (e.is_known() ? known : edited).push_back(&e);
  const bool text_names = options.edit_targets == "text_names";
  // The images an M-Locality probe may show: every view but the last, which
  // pretraining holds out (model.pretrain.holdout_images_per_entity = 1).
  const auto seen_views = [](const Entity& e) { return static_cast<int>(e.views.size()) - 1; };

  std::string pretrain, controls;
  auto record_line = [](const char* kind, const std::string& image, const std::string& prompt,
                        const std::string& answer, const std::string& entity_id) {
    ordered_json r;
    r["kind"] = kind;
    if (!image.empty()) r["image"] = image;
    r["prompt"] = prompt;
    r["answer"] = answer;
    r["entity_id"] = entity_id;
    return r.dump() + "\n";
  };
  auto emit = [&](const char* kind, const std::string& image, const std::string& prompt, const std::string& answer,
                  const std::string& entity_id) {
    pretrain += record_line(kind, image, prompt, answer, entity_id);
    ++summary.pretrain_records;
  };
  auto emit_control = [&](const char* kind, const std::string& image, const std::string& prompt,
                          const std::string& answer, const std::string& entity_id) {
    controls += record_line(kind, image, prompt, answer, entity_id);
  };
  // Demonstration lines in the IKE editor's format: question/answer pairs
  // about other entities that the model must not copy from.
  auto demonstrations = [&](Rng& rng, int count, const std::string& category) {
    std::string text;
    for (int d = 0; d < count; ++d) {
      const std::string& name = rng.below(2) == 0 ? rng.pick(plan.context_names) : rng.pick(known)->name;
      text += substitute(substitute(kDemoTemplate, "prompt", substitute(rng.pick(kNameQuestions), "category", category)), "answer", name);
    }
    return text;
  };
  auto image_fact = [&](Rng& rng, const std::string& name, const std::string& category) {
    return substitute(substitute(rng.pick(kImageFactTemplates), "name", name), "category", category);
  };

  for (const Entity* e : known) {
    const std::string category = fams[e->family].category;
    const auto captions = captions_of(*e);
    Rng rng = Rng::derive(options.seed, kContext, static_cast<std::uint64_t>(e->index));
    for (std::size_t v = 0; v < e->views.size(); ++v) {
      const std::string& view = e->views[v];
      // Every paraphrase of the name question, two per view, rotating.
      for (std::size_t q = 0; q < 2; ++q) emit("name", view, name_question(v, q, category), e->name, e->id);
      emit("category", view, kKindPrompt, category, e->id);
      emit("caption", view, kCaptionInstructions[(v + static_cast<std::size_t>(e->index)) % kCaptionInstructions.size()],
           captions[v % captions.size()], e->id);
      // Facts stated in the prompt: use the stated name over what the image
      // shows; ignore a stated fact that does not answer the question.
      for (int c = 0; c < 2; ++c) {
        const std::string demos = demonstrations(rng, rng.below(4), category);
        const std::string question = substitute(rng.pick(kNameQuestions), "category", category);
        const Entity& other = *rng.pick(known);
        switch (rng.below(5)) {
          case 0: {  // a known sibling's name (if there is one): the context beats memory
            const bool has_sibling = std::any_of(known.begin(), known.end(), [&](const Entity* k) {
              return k != e && k->family == e->family;
            });
            std::string name;
            if (has_sibling) {
              const Entity* sibling = e;
              while (sibling == e || sibling->family != e->family) sibling = rng.pick(known);
              name = sibling->name;
            } else {
              name = rng.pick(plan.context_names);
            }
            emit("context", view, demos + image_fact(rng, name, category) + question, name, e->id);
            break;
          }
          case 1: {  // a name seen only in contexts
            const std::string& name = rng.pick(plan.context_names);
            emit("context", view, demos + image_fact(rng, name, category) + question, name, e->id);
            break;
          }
          case 2:  // an unrelated text fact: answer from the image
            emit("context", view, demos + "New fact: the " + other.name + " is found in " + rng.pick(plan.places) + ".\n" + question,
                 e->name, e->id);
            break;
          case 3:  // a fact about an image, then a text question it does not answer
            emit("context", "", demos + image_fact(rng, rng.pick(plan.context_names), category) + "Where is the " + e->name + " found?",
                 e->habitat, e->id);
            break;
          default: {  // a stated text fact beats memory
            const std::string& place = rng.pick(plan.places);
            emit("context", "", "New fact: the " + e->name + " is found in " + place + ".\nWhere is the " + e->name + " found?",
                 place, e->id);
            break;
          }
        }
      }
    }
    for (const auto& [q, a] : facts_of(*e)) emit("fact", "", q, a, e->id);
    const auto [recorded_q, recorded_a] = recorder_fact(*e);
    emit("fact", "", recorded_q, recorded_a, e->id);
    for (int k = 0; k < options.known_scenes_per_entity; ++k)
      emit("csr", e->csr_images[static_cast<std::size_t>(k)], e->csr_questions[static_cast<std::size_t>(k)], e->name, e->id);

    // Controls: never trained on.
    for (const auto& question : kHeldOutNameQuestions)
      emit_control("heldout_paraphrase", e->views[0], substitute(question, "category", category), e->name, e->id);
    const std::size_t held_out_scene = static_cast<std::size_t>(options.known_scenes_per_entity);
    emit_control("csr_control", e->csr_images[held_out_scene], e->csr_questions[held_out_scene], e->name, e->id);
    // IKE's situation on a known image: four demonstrations, then the new fact
    // naming an edit entity (whose name no context record ever held).
    const Entity& target = *edited[static_cast<std::size_t>(e->index) % edited.size()];
    std::string demos;
    for (int d = 0; d < 4; ++d)
      demos += substitute(substitute(kDemoTemplate, "prompt", kNameQuestions[0]), "answer", rng.pick(known)->name);
    emit_control("in_context", e->views[0], demos + substitute(kImageFactTemplates[0], "name", target.name) + kNameQuestions[0],
                 target.name, e->id);
  }
  if (text_names) {
    for (const Entity* e : edited) {
      for (const auto& [q, a] : text_facts_of_edit_entity(*e)) emit("fact", "", q, a, e->id);
      const auto [recorded_q, recorded_a] = recorder_fact(*e);
      emit("fact", "", recorded_q, recorded_a, e->id);
      emit_control("edit_name_text", "", recorded_q, recorded_a, e->id);
    }
  }
  write_text_file(out / "pretrain.jsonl", pretrain);
  write_text_file(out / "controls.jsonl", controls);

  // ---- edit records ---------------------------------------------------------
  const int edit_views = options.images_per_entity - options.igen_views_per_entity;
  for (const char* split : {"train", "dev", "test"}) {
    std::string lines;
    for (const Entity& e : plan.entities) {
      if (e.split != split) continue;
      const std::string category = fams[e.family].category;
      Rng rng = Rng::derive(options.seed, kRecords, static_cast<std::uint64_t>(e.index));
      // Locality asks about known entities, never about the one whose name a
      // counterfactual edit reuses (its answers may rightly change).
      auto unrelated_known = [&]() -> const Entity& {
        for (;;) {
          const Entity& k = *known[static_cast<std::size_t>(rng.below(static_cast<int>(known.size())))];
          if (k.name != e.name) return k;
        }
      };
      const Entity& fact_entity = unrelated_known();
      const auto facts = facts_of(fact_entity);
      const auto& fact = facts[static_cast<std::size_t>(rng.below(static_cast<int>(facts.size())))];
      const Entity& image_entity = unrelated_known();
      const auto m_loc_view = static_cast<std::size_t>(rng.below(seen_views(image_entity)));
      const std::string& m_loc = image_entity.views[m_loc_view];
      const bool ask_name = rng.below(2) == 0;
      // A question pretraining asked about this very view (name_question below).
      ordered_json r;
      r["id"] = e.id;
      r["src"] = kNameQuestions[0];
      r["alt"] = e.name;
      r["rephrase"] = substitute(rng.pick(kHeldOutNameQuestions), "category", category);
      r["image"] = e.views[0];
      r["image_rephrase"] = e.views[static_cast<std::size_t>(edit_views)];
      r["loc"] = fact.first;
      r["loc_ans"] = fact.second;
      r["m_loc"] = m_loc;
      r["m_loc_q"] = ask_name ? name_question(m_loc_view, 0, fams[image_entity.family].category) : kKindPrompt;
      r["m_loc_a"] = ask_name ? image_entity.name : fams[image_entity.family].category;
      r["entity_id"] = e.id;
      r["category"] = category;
      r["images"] = std::vector<std::string>(e.views.begin(), e.views.begin() + edit_views);
      r["elc"] = {{"prompt", kCaptionInstructions[0]},
                  {"rephrase", rng.pick(kHeldOutCaptionInstructions)},
                  {"references", captions_of(e)}};
      r["csr"] = ordered_json::array();
      for (std::size_t k = 0; k < e.csr_images.size(); ++k) {
        r["csr"].push_back({{"image", e.csr_images[k]},
                            {"question", e.csr_questions[k]},
                            {"answer", e.name},
                            {"rephrase", e.csr_rephrases[k]}});
      }
      // CSR's locality: another fact, and a held-out scene of known entities.
      std::pair<std::string, std::string> csr_fact = fact;
      while (csr_fact.first == fact.first) {
        const auto csr_facts = facts_of(unrelated_known());
        csr_fact = csr_facts[static_cast<std::size_t>(rng.below(static_cast<int>(csr_facts.size())))];
      }
      const Entity& scene_entity = unrelated_known();
      const std::size_t held_out_scene = static_cast<std::size_t>(options.known_scenes_per_entity);
      r["csr_locality"] = {{"loc", csr_fact.first},
                           {"loc_ans", csr_fact.second},
                           {"m_loc", scene_entity.csr_images[held_out_scene]},
                           {"m_loc_q", scene_entity.csr_questions[held_out_scene]},
                           {"m_loc_a", scene_entity.name}};
      r["igen"] = {{"augmented", e.augmented},
                   {"other_view", std::vector<std::string>(e.views.begin() + edit_views, e.views.end())},
                   {"scene", e.scenes}};
      lines += r.dump() + "\n";
      ++summary.records;
    }
    write_text_file(out / (std::string(split) + ".jsonl"), lines);
  }
  // Last: world.json marks a complete world (a killed generation leaves none).
  write_text_file(out / "world.json", world.dump(1) + "\n");

  for (const auto& entry : fs::recursive_directory_iterator(out)) {
    if (entry.is_regular_file()) summary.bytes += entry.file_size();
  }
  return summary;
}

}  // namespace mike::data
