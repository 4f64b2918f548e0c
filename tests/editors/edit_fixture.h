#pragma once
// What editor tests share: a pretrain.jsonl corpus of the tiny model's
// sentences (for layer statistics) and a few edit requests on test images.
#include <fstream>
#include <stdexcept>
#include <string>

#include "../model/llava_fixture.h"
#include "mike/editor.h"

namespace mike::test {

// A dataset folder holding a text-only pretrain.jsonl of tiny_corpus()'s questions.
inline const std::string& tiny_corpus_dir() {
  static const std::string dir = [] {
    const std::string d = make_temp_dir("editor_corpus");
    std::ofstream out(d + "/pretrain.jsonl");
    for (const std::string& line : tiny_corpus()) {
      const std::size_t q = line.find('?');
      if (q == std::string::npos) continue;
      out << R"({"kind": "fact", "prompt": ")" << line.substr(0, q + 1) << R"(", "answer": ")" << line.substr(q + 2)
          << "\"}\n";
    }
    return d;
  }();
  return dir;
}

// `yaml` with top-level `key`'s value replaced (the comment after it kept).
inline std::string with_value(std::string yaml, const std::string& key, const std::string& value) {
  const std::size_t at = yaml.find("\n" + key + ":");
  if (at == std::string::npos) throw std::invalid_argument("with_value: the yaml has no top-level key '" + key + "'");
  const std::size_t begin = at + key.size() + 2, end = yaml.find_first_of("#\n", begin);
  yaml.replace(begin, end - begin, " " + value + " ");
  return yaml;
}

// Edit i: a bird or a flower image renamed to a name the tiny corpus has.
inline EditRequest edit_request(int i) {
  EditRequest r;
  r.id = "r" + std::to_string(i);
  r.input.prompt = i % 2 ? "What is the name of this bird?" : "What is the name of this flower?";
  r.input.image = test_image(i);
  r.target = i % 2 ? "It is Quintara." : "It is Morrow.";
  return r;
}

// Training edits for editors that fit (Editor::fit_use) on the tiny model: edits on
// images 2..(1 + count), each with the other question as an in-scope
// rephrase and two text-only corpus facts out of scope.
inline std::vector<TrainingEdit> training_edits(int count = 6) {
  std::vector<TrainingEdit> out;
  for (int i = 2; i < 2 + count; ++i) {
    TrainingEdit example;
    example.edit = edit_request(i);
    ModelInput rephrase = example.edit.input;
    rephrase.prompt = "What is this?";
    example.in_scope.push_back({rephrase, example.edit.target});
    for (std::size_t k = 0; k < 2; ++k) {
      // Even lines of the corpus are its questions ("What is the name of this bird? It is Zorvel.").
      const std::string& line = tiny_corpus().at((4 * static_cast<std::size_t>(i) + 2 * k) % tiny_corpus().size());
      const std::size_t q = line.find('?');
      ModelInput fact;
      fact.prompt = line.substr(0, q + 1);
      example.out_of_scope.push_back({fact, line.substr(q + 2)});
    }
    out.push_back(std::move(example));
  }
  return out;
}

// A trained editor plugin (mend, ke) with its defaults but `fit_steps` and `layers`.
inline std::shared_ptr<Editor> make_trained_editor(const std::string& plugin, int fit_steps, const std::string& layers) {
  std::string yaml = build_registry().find("editor", plugin)->default_config;
  yaml = with_value(with_value(yaml, "fit_steps", std::to_string(fit_steps)), "layers", layers);
  return build_registry().create_editor(plugin, Config::from_yaml(yaml, plugin + ".yaml"));
}

// Teacher-forced NLL of the request's target.
inline double request_loss(Model& model, const EditRequest& r) { return model.score({{r.input, r.target, 1}}).at(0).loss; }

// Mean post-edit NLL of `edits` under `editor`, each edit restored after.
inline double mean_post_edit_loss(Model& model, Editor& editor, const std::vector<TrainingEdit>& edits) {
  double sum = 0;
  for (const TrainingEdit& e : edits) {
    auto edited = editor.edit(model, {e.edit});
    sum += request_loss(*edited, e.edit);
    edited->restore_original();
  }
  return sum / static_cast<double>(edits.size());
}

// Whether `a` and `b` (e.g. a fitted editor and one that loaded its state)
// edit block `block`'s weight bitwise alike for edit_request(1).
inline bool same_edit(Model& model, Editor& a, Editor& b, int block) {
  const EditSite site = edit_site(model, block, "test");
  auto by_a = a.edit(model, {edit_request(1)});
  const torch::Tensor weight_a = model.parameter(site.weight).detach().clone();
  by_a->restore_original();
  auto by_b = b.edit(model, {edit_request(1)});
  const bool same = torch::equal(model.parameter(site.weight), weight_a);
  by_b->restore_original();
  return same;
}

class SilentFitProgress : public FitProgress {
 public:
  void update(std::int64_t, std::int64_t, const std::string&) override {}
};

}  // namespace mike::test
