#pragma once
// SERAC's counterfactual model (Mitchell et al. 2022, §3.2): the model that
// answers a query the scope classifier put under a stored edit, given that
// edit. Ours is the base model's own network with its own weights,
// fine-tuned once at fit time to answer with the edit's fact stated in front
// of the query ("New fact: the entity in this image is X.\n" + question), so
// it costs one copy of the tuned parameters (by default the language
// model's: ~0.5M floats for llava_xs; restrict `counterfactual_params` for a
// large model) and no second network. At inference the tuned values are swapped into the
// base model for the in-scope rows' forward and swapped back after it, so
// between calls the base model is bitwise itself.
//
// The train split has few entities, so a model tuned on their names alone
// would learn those names, not to read a name from its prompt: most training
// rows replace words of the edit's name (in the fact and the answer alike)
// by invented ones, recombined from pieces of the train split's names, which
// only copying from the fact can get right.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mike/editor.h"
#include "mike/model.h"

namespace mike::serac {

// `template_text` with every "{target}" replaced by `name`.
std::string fact_for(const std::string& template_text, const std::string& name);
// `request` with `fact` stated in front of its prompt.
ScoreRequest with_fact(ScoreRequest request, const std::string& fact);
ModelInput with_fact(ModelInput input, const std::string& fact);

// The base model's parameters the counterfactual model tunes: those whose
// name starts with one of `prefixes`; when empty, every parameter a
// text-only prompt reaches (found by one backward pass of `text_probe`):
// the language model, not the vision side. Reading a fact is a language
// skill, and leaving the vision side alone keeps the image features a model
// may cache valid across the swaps. ConfigError naming `key` when a prefix
// matches none.
std::vector<std::string> tuned_parameter_names(Model& model, const std::vector<std::string>& prefixes,
                                               const ScoreRequest& text_probe, const std::string& key);

// While alive, `model`'s parameters named in `weights` hold those values;
// its destructor writes the originals back bitwise.
class SwappedWeights {
 public:
  SwappedWeights(Model& model, const ParameterSnapshot& weights);
  ~SwappedWeights();
  SwappedWeights(const SwappedWeights&) = delete;
  SwappedWeights& operator=(const SwappedWeights&) = delete;

 private:
  Model& model_;
  ParameterSnapshot original_;
};

// One training row: the query, the answer expected once `name` is the
// entity's new name (the edit's own input and its in-scope inputs).
struct CounterfactualExample {
  ModelInput input;
  std::string answer;
  std::string name;
};

struct CounterfactualTraining {
  int steps = 400;
  int batch_size = 16;
  double lr = 1.0e-3;
  double invented_name_fraction = 0.75;  // rows whose name is replaced by an invented one
  std::uint64_t seed = 0;
  std::string fact_template;
};

struct CounterfactualFit {
  ParameterSnapshot weights;  // the tuned parameters' values
  double loss_first = 0, loss_last = 0;
};

// Fine-tunes `names` of `model` on `examples` and returns their tuned
// values; the model itself is left bitwise as it was. Reports steps
// [first, first + options.steps) of `total` on `progress`.
CounterfactualFit train_counterfactual(Model& model, const std::vector<std::string>& names,
                                       const std::vector<CounterfactualExample>& examples,
                                       const CounterfactualTraining& options, FitProgress& progress,
                                       std::int64_t first, std::int64_t total);

}  // namespace mike::serac
