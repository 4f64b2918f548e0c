// Pretraining's length-grouped loss (pretrain/grouped_loss.h): a batch run as
// several token-weighted passes of similar-length records gives the same
// loss and the same gradient as one pass over the whole padded batch.
#include "llava_fixture.h"  // before doctest: it includes torch, which defines its own CHECK
#include <doctest/doctest.h>

#include <cmath>
#include <functional>

#include "mike/error.h"
#include "pretrain/grouped_loss.h"

using mike::ScoreRequest;
using mike::test::make_tiny_model;
using mike::test::test_image;

namespace {

// Records of very different lengths and target lengths, with and without images.
std::vector<ScoreRequest> mixed_batch() {
  const char* prompts[] = {"<image>\nWhat is the name of this bird?", "What is the name of this building?",
                           "Describe the image:", "<image>\nDescribe the image: a dog called",
                           "What is the name of this tree? It is Morrow. What is the name of this car?",
                           "<image>\nWhat is this?"};
  const char* answers[] = {"Zorvel", "It is Quintara.", "a flower called Belmuth on a plain background.", "Morrow",
                           "Praxiel", "a car called Akkodine"};
  std::vector<ScoreRequest> batch;
  for (int i = 0; i < 6; ++i) {
    ScoreRequest r;
    r.input.prompt = prompts[i];
    if (std::string(prompts[i]).find("<image>") != std::string::npos) r.input.image = test_image(i);
    r.target = answers[i];
    r.end_with_eos = true;
    batch.push_back(r);
  }
  return batch;
}

std::vector<torch::Tensor> gradients_of(mike::Model& model, const std::function<double()>& step, double& value) {
  std::vector<torch::Tensor> params;
  for (const auto& name : model.parameter_names()) {
    params.push_back(model.parameter(name));
    params.back().set_requires_grad(true);
    params.back().mutable_grad() = torch::Tensor();
  }
  value = step();
  std::vector<torch::Tensor> grads;
  for (auto& p : params) grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  for (auto& p : params) p.mutable_grad() = torch::Tensor();
  return grads;
}

}  // namespace

TEST_CASE("a length-grouped batch has the loss and gradient of the whole batch") {
  auto model = make_tiny_model();
  const auto batch = mixed_batch();
  // The pretrainer counts target tokens as answer pieces + EOS; that must be
  // what Model::loss averages over, or the group weights would be off.
  std::vector<std::size_t> target_tokens, lengths;
  const auto scored = model->score(batch);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    target_tokens.push_back(mike::Tokenizer::load(mike::test::tiny_tokenizer_path()).encode(batch[i].target).size() + 1);
    CHECK(target_tokens.back() == scored[i].target_tokens.size());
    lengths.push_back(mike::Tokenizer::load(mike::test::tiny_tokenizer_path()).encode(batch[i].input.prompt).size() + target_tokens.back());
  }
  double whole_value = 0;
  const auto whole = gradients_of(*model, [&] {
    torch::Tensor loss = model->loss(batch);
    loss.backward();
    return loss.item<double>();
  }, whole_value);
  for (int groups : {1, 2, 3, 6}) {
    CAPTURE(groups);
    double grouped_value = 0;
    const auto grouped = gradients_of(
        *model, [&] { return mike::accumulate_grouped_loss(*model, batch, target_tokens, lengths, groups); },
        grouped_value);
    CHECK(grouped_value == doctest::Approx(whole_value).epsilon(1e-6));
    double max_difference = 0, max_gradient = 0;
    for (std::size_t k = 0; k < whole.size(); ++k) {
      max_difference = std::max(max_difference, (whole[k] - grouped[k]).abs().max().item<double>());
      max_gradient = std::max(max_gradient, whole[k].abs().max().item<double>());
    }
    CHECK(max_gradient > 1e-3);  // the comparison is not between two zero gradients
    CHECK(max_difference < 1e-5 * max_gradient);
  }
}

TEST_CASE("length groups refuse mismatched inputs and clamp to the batch size") {
  auto model = make_tiny_model();
  const auto batch = mixed_batch();
  CHECK_THROWS_WITH_AS(mike::accumulate_grouped_loss(*model, batch, {1, 2}, {1, 2}, 2),
                       doctest::Contains("6 records but 2 token counts"), mike::Error);
  std::vector<std::size_t> ones(batch.size(), 1);
  // More groups than records: one record per pass, still a finite loss.
  CHECK(std::isfinite(mike::accumulate_grouped_loss(*model, batch, ones, ones, 50)));
}
