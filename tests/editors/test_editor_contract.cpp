// One contract for every editor plugin, in the spirit of ggml's
// test-backend-ops: each editor the build produced is run, with its own
// default config, through the same checks on two tiny models whose
// parameter and tap names differ (the llava plugin, and the same network
// behind a wrapper that renames everything), so an editor that guesses names
// instead of asking the model for its edit sites fails here. A new editor
// plugin is covered without writing a test.
//   - the edit raises the target's log-probability on the edit input (an
//     editor that changes no parameter, i.e. an in-context one, must at least
//     change that output: these tiny random models cannot read a fact from
//     their prompt, so IKE cannot be held to raising it here);
//   - restore_original() brings back every parameter bitwise (all of them are
//     hashed, not only the ones the editor snapshotted);
//   - sequential edits compose (the second edit of an edited model holds
//     both) and restore in reverse order, each step bitwise;
//   - supports_batch() says what a two-request edit does: both land, or a
//     mike::Error refuses it;
//   - a trained editor (fit_use() required) is fitted first, briefly, and
//     fit() leaves every parameter of the model bitwise as it was and a state
//     to cache (an optional fit, IKE's demonstrations, is its own test's:
//     the contract runs editors as a dataset without a train split would);
//   - a bad config value (a string where a number goes) is refused at
//     creation with the key named (as a plugin failure, exit 4, like every
//     error a plugin throws).
#include "edit_fixture.h"
#include "mike/editor.h"
#include "mike/error.h"
#include "mike/hash.h"

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>

namespace mike::test {
namespace {

// Renames every parameter and tap of the wrapped model by prefix, the way a
// model with another tensor-name layout (e.g. Hugging Face's) differs.
class RenamedModel : public ForwardingModel {
 public:
  explicit RenamedModel(std::shared_ptr<Model> inner) : ForwardingModel(*inner), owned_(std::move(inner)) {}

  std::vector<std::string> parameter_names() const override { return renamed(inner_.parameter_names()); }
  torch::Tensor parameter(const std::string& n) override { return inner_.parameter(original(n)); }
  void set_parameter(const std::string& n, const torch::Tensor& v) override { inner_.set_parameter(original(n), v); }
  ParameterSnapshot snapshot(const std::vector<std::string>& names) override {
    std::vector<std::string> inner_names;
    for (const std::string& n : names) inner_names.push_back(original(n));
    ParameterSnapshot out;
    for (auto& [name, value] : inner_.snapshot(inner_names)) out.emplace(outer(name), value);
    return out;
  }
  void restore(const ParameterSnapshot& snapshot) override {
    ParameterSnapshot inner_snapshot;
    for (const auto& [name, value] : snapshot) inner_snapshot.emplace(original(name), value);
    inner_.restore(inner_snapshot);
  }
  std::vector<std::string> tap_names() const override { return renamed(inner_.tap_names()); }
  TapHandle add_tap(const std::string& t, TapCallback c) override { return inner_.add_tap(original(t), std::move(c)); }
  std::vector<EditSite> edit_sites() const override {
    std::vector<EditSite> sites = inner_.edit_sites();
    for (EditSite& s : sites) {
      s.weight = outer(s.weight);
      s.input_tap = outer(s.input_tap);
      s.output_tap = outer(s.output_tap);
      s.block_output_tap = outer(s.block_output_tap);
    }
    return sites;
  }

 private:
  static constexpr const char* kOtherPrefix = "other.";  // names under no prefix below
  static constexpr std::pair<const char*, const char*> kPrefixes[] = {
      {"lm.", "language_model.model."}, {"vision.", "vision_tower.vision_model."}, {"projector.", "multi_modal_projector."}};
  static std::string outer(const std::string& name) {
    for (const auto& [from, to] : kPrefixes)
      if (name.rfind(from, 0) == 0) return to + name.substr(std::string(from).size());
    return kOtherPrefix + name;
  }
  static std::string original(const std::string& name) {
    for (const auto& [from, to] : kPrefixes)
      if (name.rfind(to, 0) == 0) return from + name.substr(std::string(to).size());
    if (name.rfind(kOtherPrefix, 0) == 0) return name.substr(std::string(kOtherPrefix).size());
    // A name of the other layout (what an editor that guesses would use):
    // unknown here, as it would be in a real second model.
    throw ModelError("renamed model has no parameter or tap '" + name + "'");
  }
  static std::vector<std::string> renamed(std::vector<std::string> names) {
    for (std::string& n : names) n = outer(n);
    return names;
  }
  std::shared_ptr<Model> owned_;
};

struct Fixture {
  std::string name;
  std::function<std::shared_ptr<Model>()> make;
};

std::vector<Fixture> fixtures() {
  return {{"llava", [] { return make_tiny_model(); }},
          {"llava renamed", [] { return std::make_shared<RenamedModel>(make_tiny_model()); }}};
}

// Hash of every parameter's name and bytes.
std::uint64_t all_parameters_hash(Model& model) {
  Fnv1a64 hash;
  for (const std::string& name : model.parameter_names()) {
    const torch::Tensor p = model.parameter(name).detach().contiguous();
    hash.add_field(name).add_words(p.data_ptr(), p.numel() * p.element_size());
  }
  return hash.value();
}

const std::string& corpus_dir() { return tiny_corpus_dir(); }

// The plugin's embedded default config, with the one interpolation the
// host would resolve (the run's dataset folder) pointing at the test corpus.
std::string default_yaml(const PluginRecord& record) {
  std::string yaml = record.default_config;
  for (std::size_t at = yaml.find("${data.dir}"); at != std::string::npos; at = yaml.find("${data.dir}"))
    yaml.replace(at, 11, corpus_dir());
  return yaml;
}


double target_loss(Model& model, const EditRequest& r) { return model.score({{r.input, r.target, 1}}).at(0).loss; }

std::vector<std::string> editor_names() {
  std::vector<std::string> names = build_registry().names("editor");
  REQUIRE_MESSAGE(names.size() >= 6, "expected every in-tree editor plugin in the build tree");
  return names;
}

std::shared_ptr<Editor> make_editor(const std::string& name, const std::string& yaml) {
  return build_registry().create_editor(name, Config::from_yaml(yaml, name + " defaults"));
}

// An editor with its defaults; a trained one fitted briefly (fit_steps cut
// to 60) on the tiny model, as the host would before its first edit.
std::shared_ptr<Editor> make_ready_editor(const std::string& name, const std::string& yaml, Model& model) {
  const FitUse use = make_editor(name, yaml)->fit_use();
  const bool trained = use == FitUse::required;
  auto editor = make_editor(name, trained && yaml.find("\nfit_steps:") != std::string::npos
                                      ? with_value(yaml, "fit_steps", "60")
                                      : yaml);
  if (trained) {
    SilentFitProgress progress;
    const std::uint64_t before = all_parameters_hash(model);
    editor->fit(model, training_edits(3), progress);
    CHECK(all_parameters_hash(model) == before);
    CHECK_FALSE(editor->fitted_state().empty());
  }
  return editor;
}

// Every numeric scalar leaf of `node`, as dotted keys.
void numeric_leaves(const YAML::Node& node, const std::string& prefix, std::vector<std::string>& out) {
  for (const auto& kv : node) {
    const std::string path = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
    double number = 0;
    if (kv.second.IsMap())
      numeric_leaves(kv.second, path, out);
    else if (kv.second.IsScalar() && YAML::convert<double>::decode(kv.second, number))
      out.push_back(path);
  }
}

// `yaml` with the value at dotted `key` replaced by a string.
std::string with_string_at(const std::string& yaml, const std::string& key) {
  YAML::Node root = YAML::Load(yaml);
  YAML::Node node = root;
  std::size_t start = 0;
  for (std::size_t dot = key.find('.'); dot != std::string::npos; start = dot + 1, dot = key.find('.', start))
    node.reset(node[key.substr(start, dot - start)]);
  node[key.substr(start)] = "not-a-number";
  YAML::Emitter out;
  out << root;
  return out.c_str();
}

// Runs `check(model, editor)` for every editor plugin on every fixture model,
// each pair freshly made from the plugin's default config.
void for_each_editor_and_model(const std::function<void(Model&, Editor&)>& check) {
  for (const std::string& name : editor_names()) {
    const PluginRecord& record = build_registry().require("editor", name);
    for (const Fixture& fixture : fixtures()) {
      CAPTURE(name);
      CAPTURE(fixture.name);
      auto model = fixture.make();
      auto editor = make_ready_editor(name, default_yaml(record), *model);
      check(*model, *editor);
    }
  }
}

}  // namespace

TEST_CASE("every editor: the edit raises the target, restore is bitwise for all parameters") {
  for_each_editor_and_model([](Model& model, Editor& editor) {
    const std::uint64_t original = all_parameters_hash(model);
    const EditRequest request = edit_request(0);
    const double before = target_loss(model, request);
    std::unique_ptr<EditedModel> edited = editor.edit(model, {request});
    const double after = target_loss(*edited, request);
    if (all_parameters_hash(model) != original || dynamic_cast<InPlaceEdit*>(edited.get()) != nullptr)
      CHECK(after < before);
    else
      CHECK(after != before);
    edited->restore_original();
    CHECK(all_parameters_hash(model) == original);
    CHECK(target_loss(model, request) == before);
  });
}

TEST_CASE("every editor: sequential edits compose and restore in reverse") {
  for_each_editor_and_model([](Model& model, Editor& editor) {
    const std::uint64_t original = all_parameters_hash(model);
    const EditRequest first = edit_request(0), second = edit_request(1);
    const double second_before = target_loss(model, second);
    std::unique_ptr<EditedModel> one = editor.edit(model, {first});
    const std::uint64_t after_one = all_parameters_hash(model);
    const double first_after_one = target_loss(*one, first);
    std::unique_ptr<EditedModel> two = editor.edit(*one, {second});
    if (all_parameters_hash(model) != after_one)
      CHECK(target_loss(*two, second) < second_before);
    else
      CHECK(target_loss(*two, second) != second_before);
    two->restore_original();
    CHECK(all_parameters_hash(model) == after_one);
    CHECK(target_loss(*one, first) == first_after_one);
    one->restore_original();
    CHECK(all_parameters_hash(model) == original);
  });
}

TEST_CASE("every editor: supports_batch() says what a two-request edit does") {
  for (const std::string& name : editor_names()) {
    CAPTURE(name);
    const PluginRecord& record = build_registry().require("editor", name);
    auto model = make_tiny_model();
    auto editor = make_ready_editor(name, default_yaml(record), *model);
    const std::uint64_t original = all_parameters_hash(*model);
    const std::vector<EditRequest> batch{edit_request(0), edit_request(1)};
    if (editor->supports_batch()) {
      const double before0 = target_loss(*model, batch[0]), before1 = target_loss(*model, batch[1]);
      std::unique_ptr<EditedModel> edited = editor->edit(*model, batch);
      CHECK(target_loss(*edited, batch[0]) < before0);
      CHECK(target_loss(*edited, batch[1]) < before1);
      edited->restore_original();
    } else {
      CHECK_THROWS_AS(editor->edit(*model, batch), Error);
    }
    CHECK(all_parameters_hash(*model) == original);  // a refused batch leaves nothing behind
  }
}

TEST_CASE("every editor: a non-numeric value for a numeric key is refused naming the key") {
  for (const std::string& name : editor_names()) {
    const PluginRecord& record = build_registry().require("editor", name);
    const std::string yaml = default_yaml(record);
    std::vector<std::string> keys;
    numeric_leaves(YAML::Load(yaml), "", keys);
    CHECK_MESSAGE(!keys.empty(), name << " has no numeric settings to check");
    for (const std::string& key : keys) {
      CAPTURE(name);
      CAPTURE(key);
      try {
        make_editor(name, with_string_at(yaml, key));
        FAIL("no error for a string at " << key);
      } catch (const Error& e) {
        const std::string what = e.what();
        CAPTURE(what);
        CHECK(e.exit_code() == 2);  // the plugin's ConfigError keeps its code, with the plugin named
        CHECK(what.find("config key '" + key + "'") != std::string::npos);
      }
    }
  }
}

}  // namespace mike::test
