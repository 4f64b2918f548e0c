// Fixture model "toy": a byte-level bigram language model. Small, but real:
// score/generate/parameters/taps behave as the SDK promises, so host tests
// exercise actual plugin calls. Image inputs are ignored.
#include <torch/torch.h>

#include "mike/error.h"
#include "mike/model.h"
#include "mike/plugin.h"

namespace {

class ToyModel : public mike::Model {
 public:
  explicit ToyModel(const mike::Config& config) : scale_(config.get_or<double>("init_scale", 0.0)) {
    torch::manual_seed(config.get_or<int>("seed", 0));
    weight_ = torch::randn({256, 256}) * scale_;
  }
  std::string describe() const override { return "toy bigram model: 1 layer, 256x256, 65536 parameters"; }

  std::vector<mike::ScoreResult> score(const std::vector<mike::ScoreRequest>& batch) override {
    torch::NoGradGuard no_grad;
    std::vector<mike::ScoreResult> out;
    for (const auto& request : batch) {
      auto [logits, targets] = forward(request);
      mike::ScoreResult r;
      r.loss = torch::nn::functional::cross_entropy(logits, targets).item<double>();
      auto predicted = logits.argmax(-1);
      r.token_accuracy = predicted.eq(targets).to(torch::kFloat).mean().item<double>();
      torch::Tensor top = std::get<1>(logits.topk(std::max(1, request.top_k), -1)).contiguous();
      for (int64_t i = 0; i < targets.size(0); ++i) {
        r.target_tokens.push_back(targets[i].item<int64_t>());
        r.predicted_tokens.push_back(predicted[i].item<int64_t>());
        const int64_t* begin = top.data_ptr<int64_t>() + i * top.size(1);
        std::vector<int64_t> row(begin, begin + top.size(1));
        r.topk_tokens.push_back(std::move(row));
      }
      if (request.position_top_k > 0) {  // every byte of prompt + target predicts the next
        const std::string text = request.input.prompt + request.target;
        std::vector<int64_t> bytes(text.begin(), text.end());
        for (int64_t& b : bytes) b = static_cast<unsigned char>(b);
        auto all = taps_.apply("bigram.out", weight_.index_select(0, torch::tensor(bytes, torch::kLong)));
        torch::Tensor best = std::get<1>(all.topk(request.position_top_k, -1)).contiguous();
        for (int64_t i = 0; i < best.size(0); ++i) {
          const int64_t* begin = best.data_ptr<int64_t>() + i * best.size(1);
          r.position_topk_tokens.emplace_back(begin, begin + best.size(1));
        }
      }
      out.push_back(std::move(r));
    }
    return out;
  }
  torch::Tensor loss(const std::vector<mike::ScoreRequest>& batch) override {
    torch::Tensor total = torch::zeros({});
    for (const auto& request : batch) {
      auto [logits, targets] = forward(request);
      total = total + torch::nn::functional::cross_entropy(logits, targets);
    }
    return total / static_cast<double>(batch.size());
  }
  std::vector<std::string> generate(const std::vector<mike::ModelInput>& batch,
                                    const mike::GenerateOptions& options) override {
    torch::NoGradGuard no_grad;
    std::vector<std::string> out;
    for (const auto& input : batch) {
      std::string text;
      unsigned char previous = input.prompt.empty() ? 0 : static_cast<unsigned char>(input.prompt.back());
      for (int i = 0; i < options.max_new_tokens; ++i) {
        auto logits = taps_.apply("bigram.out", weight_[previous].unsqueeze(0));
        previous = static_cast<unsigned char>(logits.argmax(-1).item<int64_t>());
        if (previous == '\n') break;
        text.push_back(static_cast<char>(previous));
      }
      out.push_back(text);
    }
    return out;
  }
  std::vector<std::string> parameter_names() const override { return {"bigram.weight"}; }
  torch::Tensor parameter(const std::string& name) override {
    if (name != "bigram.weight") throw mike::ModelError("toy model has no parameter '" + name + "'");
    return weight_;
  }
  std::vector<std::string> tap_names() const override { return {"bigram.out"}; }
  mike::TapHandle add_tap(const std::string& tap, mike::TapCallback callback) override {
    if (tap != "bigram.out") throw mike::ModelError("toy model has no tap '" + tap + "'");
    return taps_.add(tap, std::move(callback));
  }

 private:
  // Logits predicting each target byte from the byte before it.
  std::pair<torch::Tensor, torch::Tensor> forward(const mike::ScoreRequest& request) {
    std::string text = request.input.prompt + request.target;
    std::size_t start = request.input.prompt.size();
    std::vector<int64_t> previous, next;
    for (std::size_t i = std::max<std::size_t>(start, 1); i < text.size(); ++i) {
      previous.push_back(static_cast<unsigned char>(text[i - 1]));
      next.push_back(static_cast<unsigned char>(text[i]));
    }
    auto index = torch::tensor(previous, torch::kLong);
    auto logits = taps_.apply("bigram.out", weight_.index_select(0, index));
    return {logits, torch::tensor(next, torch::kLong)};
  }
  double scale_;
  torch::Tensor weight_;
  mike::TapRegistry taps_;
};

}  // namespace

MIKE_MODEL_PLUGIN(ToyModel, "toy", "0.3.0", "Byte-level bigram model for host tests", "init_scale: 0.0\nseed: 0\n")
