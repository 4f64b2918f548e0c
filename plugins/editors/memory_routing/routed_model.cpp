#include "routed_model.h"

namespace mike::memory_routing {

RoutedModel::Routing::~Routing() = default;

RowCursor RoutedModel::cursor_for(const std::vector<ScoreRequest>& batch) {
  return cursor_over(inner_, batch, editor_);
}

std::vector<ScoreResult> RoutedModel::score(const std::vector<ScoreRequest>& batch) {
  if (!routing()) return inner_.score(batch);
  const std::unique_ptr<Routing> open = open_routing(cursor_for(batch));
  std::vector<ScoreResult> results = inner_.score(batch);
  std::vector<TokenLayout> layouts;
  for (const ScoreResult& r : results) layouts.push_back(r.layout);
  open->cursor().check_columns(layouts);
  return results;
}

torch::Tensor RoutedModel::loss(const std::vector<ScoreRequest>& batch) {
  if (!routing()) return inner_.loss(batch);
  const std::unique_ptr<Routing> open = open_routing(cursor_for(batch));
  torch::Tensor out = inner_.loss(batch);
  open->cursor().check_columns(inner_.token_layout(batch));
  return out;
}

torch::Tensor RoutedModel::target_log_probs(const std::vector<ScoreRequest>& batch) {
  if (!routing()) return inner_.target_log_probs(batch);
  const std::unique_ptr<Routing> open = open_routing(cursor_for(batch));
  torch::Tensor out = inner_.target_log_probs(batch);
  open->cursor().check_columns(inner_.token_layout(batch));
  return out;
}

std::vector<std::string> RoutedModel::generate(const std::vector<ModelInput>& batch, const GenerateOptions& options) {
  if (!routing()) return inner_.generate(batch, options);
  GenerateOptions one = options;
  one.known_tokens.clear();
  std::vector<std::string> out;
  for (const ModelInput& input : batch) {
    const std::vector<RowShape> shape = row_shapes(inner_.token_layout({{input, ""}}), editor_);
    const std::unique_ptr<Routing> open = open_routing(RowCursor::for_generate(shape.at(0).prompt, editor_));
    out.push_back(inner_.generate({input}, one).at(0));
  }
  return out;
}

}  // namespace mike::memory_routing
