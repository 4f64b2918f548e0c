#include "counterfactual_model.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <random>

#include "mike/edit_training.h"
#include "mike/error.h"

namespace mike::serac {

std::string fact_for(const std::string& template_text, const std::string& name) {
  const std::string marker = "{target}";
  std::string text = template_text;
  for (std::size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at + name.size()))
    text.replace(at, marker.size(), name);
  return text;
}

ModelInput with_fact(ModelInput input, const std::string& fact) {
  input.prompt = fact + input.prompt;
  return input;
}

ScoreRequest with_fact(ScoreRequest request, const std::string& fact) {
  request.input = with_fact(std::move(request.input), fact);
  return request;
}

std::vector<std::string> tuned_parameter_names(Model& model, const std::vector<std::string>& prefixes,
                                               const ScoreRequest& text_probe, const std::string& key) {
  const std::vector<std::string> all = model.parameter_names();
  if (prefixes.empty()) {
    if (text_probe.input.image.defined())
      throw Error("editor serac: the probe that finds the language model's parameters must be text-only");
    std::vector<std::string> reached;
    FrozenParameters frozen(model);
    std::vector<torch::Tensor> params;
    for (const std::string& name : all) {
      params.push_back(model.parameter(name));
      params.back().set_requires_grad(true);
    }
    model.loss({text_probe}).backward();
    for (std::size_t i = 0; i < all.size(); ++i) {
      torch::Tensor& grad = params[i].mutable_grad();
      if (grad.defined() && grad.ne(0).any().item<bool>()) reached.push_back(all[i]);
      grad = torch::Tensor();
    }
    if (reached.empty())
      throw ModelError("editor serac: no parameter of the model gets a gradient from a text-only prompt; name the "
                       "ones to tune in `counterfactual_params`");
    return reached;
  }
  std::vector<std::string> names;
  for (const std::string& prefix : prefixes) {
    std::size_t matched = 0;
    for (const std::string& name : all)
      if (name.rfind(prefix, 0) == 0 && std::find(names.begin(), names.end(), name) == names.end()) {
        names.push_back(name);
        ++matched;
      }
    if (matched == 0)
      throw ConfigError(key + ": no parameter of the model starts with '" + prefix +
                        "'; `mike model describe` lists them (an empty list tunes every parameter)");
  }
  return names;
}

SwappedWeights::SwappedWeights(Model& model, const ParameterSnapshot& weights) : model_(model) {
  std::vector<std::string> names;
  for (const auto& [name, value] : weights) names.push_back(name);
  original_ = model.snapshot(names);
  try {
    for (const auto& [name, value] : weights) model.set_parameter(name, value);
  } catch (...) {
    model.restore(original_);
    throw;
  }
}

SwappedWeights::~SwappedWeights() { model_.restore(original_); }

namespace {

// The words of the train split's names, the material invented names are
// made of.
std::vector<std::string> name_words(const std::vector<CounterfactualExample>& examples) {
  std::vector<std::string> words;
  for (const CounterfactualExample& e : examples) {
    std::size_t at = 0;
    while (at < e.name.size()) {
      const std::size_t space = std::min(e.name.find(' ', at), e.name.size());
      const std::string word = e.name.substr(at, space - at);
      if (word.size() >= 2 && std::find(words.begin(), words.end(), word) == words.end()) words.push_back(word);
      at = space + 1;
    }
  }
  return words;
}

// `name` with each word, with probability 1/2 (at least one word), replaced
// by an invented one: the front of one train-name word joined to the back of
// another, cut at random inner points. Invented names are then spelled in
// the same sub-word pieces as real ones (a name of random letters would
// teach copying pieces the world's names never use), and a word kept (e.g.
// a kind of bird) stays what the image and the fact agree on.
std::string invented_name(const std::string& name, const std::vector<std::string>& words, std::mt19937_64& rng) {
  auto invented_word = [&] {
    const std::string& front = words[rng() % words.size()];
    const std::string& back = words[rng() % words.size()];
    const std::size_t cut_front = 1 + rng() % (front.size() - 1), cut_back = 1 + rng() % (back.size() - 1);
    std::string w = front.substr(0, cut_front) + back.substr(cut_back);
    w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
    return w;
  };
  std::vector<std::string> parts;
  std::size_t at = 0;
  while (at <= name.size()) {
    const std::size_t space = std::min(name.find(' ', at), name.size());
    parts.push_back(name.substr(at, space - at));
    at = space + 1;
  }
  const std::size_t forced = rng() % parts.size();  // at least this word is replaced
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += ' ';
    out += (i == forced || rng() % 2 == 0) && !parts[i].empty() ? invented_word() : parts[i];
  }
  return out;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  if (from.empty()) return text;
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

}  // namespace

CounterfactualFit train_counterfactual(Model& model, const std::vector<std::string>& names,
                                       const std::vector<CounterfactualExample>& examples,
                                       const CounterfactualTraining& options, FitProgress& progress,
                                       std::int64_t first, std::int64_t total) {
  if (examples.empty()) throw DataError("editor serac: no training rows for the counterfactual model");
  const ParameterSnapshot original = model.snapshot(names);
  const std::vector<std::string> words = name_words(examples);
  if (words.empty()) throw DataError("editor serac: the train split's names have no word of two letters or more");
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  auto draw_batch = [&] {
    std::vector<ScoreRequest> batch;
    for (int i = 0; i < options.batch_size; ++i) {
      const CounterfactualExample& example = examples[rng() % examples.size()];
      const std::string name = coin(rng) < options.invented_name_fraction ? invented_name(example.name, words, rng) : example.name;
      ScoreRequest request{with_fact(example.input, fact_for(options.fact_template, name)),
                           replaced(example.answer, example.name, name), 1};
      request.end_with_eos = true;  // teaches greedy decoding to stop after the answer
      batch.push_back(std::move(request));
    }
    return batch;
  };
  CounterfactualFit fit;
  try {
    FrozenParameters frozen(model);
    std::vector<torch::Tensor> tuned;
    for (const std::string& name : names) {
      tuned.push_back(model.parameter(name));
      tuned.back().set_requires_grad(true);
    }
    EditTrainingOptions adam;
    adam.steps = options.steps;
    adam.lr = options.lr;
    adam.early_stop_loss = -1.0;  // a fresh batch every step: no loss is final enough to stop on
    double smoothed = -1;
    int step = 0;
    AdamObjective objective;
    objective.loss = [&] {
      torch::Tensor loss = model.loss(draw_batch());
      const double value = loss.item<double>();
      smoothed = smoothed < 0 ? value : 0.95 * smoothed + 0.05 * value;
      return loss;
    };
    const EditTrainingResult result = minimise_with_adam(tuned, objective, adam, [&] {
      ++step;
      char status[64];
      std::snprintf(status, sizeof status, "counterfactual NLL %.3f", smoothed);
      progress.update(first + step, total, status);
    });
    fit.loss_first = result.loss_first;
    fit.loss_last = result.loss_last;
    for (torch::Tensor& t : tuned) t.mutable_grad() = torch::Tensor();
  } catch (...) {
    model.restore(original);  // a failed fit leaves the base model as it found it
    throw;
  }
  fit.weights = model.snapshot(names);
  model.restore(original);
  return fit;
}

}  // namespace mike::serac
