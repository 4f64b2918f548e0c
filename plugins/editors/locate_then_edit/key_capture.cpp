// Keys at key positions through the model's token layout (see key_capture.h).
#include "key_capture.h"

#include <torch/torch.h>

#include "mike/error.h"

namespace mike::locate_edit {
namespace {

std::vector<std::int64_t> key_positions(const ScoreRequest& request, const ScoreResult& result, KeyPosition position,
                                        std::size_t index) {
  const TokenLayout& layout = result.layout;
  // target_tokens holds what was scored: the target's tokens (and EOS if requested).
  const auto scored = static_cast<std::int64_t>(result.target_tokens.size());
  if (layout.target_begin < 1 || layout.target_begin + scored != layout.length)
    throw ModelError("the model reported no token layout for input " + std::to_string(index) +
                     " (ScoreResult.layout: target_begin " + std::to_string(layout.target_begin) + ", length " +
                     std::to_string(layout.length) + ", " + std::to_string(scored) +
                     " scored tokens); locate-then-edit needs a model that fills it");
  switch (position) {
    case KeyPosition::kLastPromptToken: return {layout.target_begin - 1};
    case KeyPosition::kAnswerTokens: {
      std::vector<std::int64_t> positions;  // every position that predicts a scored token, in order
      for (std::int64_t p = layout.target_begin - 1; p < layout.length - 1; ++p) positions.push_back(p);
      return positions;
    }
    case KeyPosition::kLastImageToken:
      if (layout.image_end <= 0)
        throw DataError("key_position last_image_token: input " + std::to_string(index) + " ('" +
                        request.input.prompt.substr(0, 60) +
                        "') has no image tokens; edit image inputs or set key_position: last_prompt_token");
      return {layout.image_end - 1};
  }
  return {};
}

}  // namespace

KeyPosition parse_key_position(const std::string& name) {
  if (name == "last_image_token") return KeyPosition::kLastImageToken;
  if (name == "last_prompt_token") return KeyPosition::kLastPromptToken;
  if (name == "answer_tokens") return KeyPosition::kAnswerTokens;
  throw ConfigError("key position '" + name + "' is not known; use " + kKeyPositionChoices);
}

const char* key_position_name(KeyPosition position) {
  switch (position) {
    case KeyPosition::kLastImageToken: return "last_image_token";
    case KeyPosition::kLastPromptToken: return "last_prompt_token";
    case KeyPosition::kAnswerTokens: return "answer_tokens";
  }
  return "?";
}

KeyCapture capture_keys(Model& model, const std::string& tap, const std::vector<ScoreRequest>& requests,
                        KeyPosition position) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> rows;
  std::vector<ScoreResult> results;
  {
    TapHandle handle = model.add_tap(tap, [&](const std::string&, const torch::Tensor& x) {
      if (x.dim() != 3)
        throw ModelError("tap '" + tap + "' gave a " + std::to_string(x.dim()) +
                         "-D activation; locate-then-edit needs [batch, tokens, dim] language-model taps");
      for (std::int64_t r = 0; r < x.size(0); ++r) rows.push_back(x[r].detach().clone());
      return x;
    });
    results = model.score(requests);
  }
  if (rows.size() != requests.size())
    throw ModelError("tap '" + tap + "' fired for " + std::to_string(rows.size()) + " rows while scoring " +
                     std::to_string(requests.size()) + " inputs; use a language-model tap that runs once per forward");
  KeyCapture out;
  std::vector<torch::Tensor> at_key;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    std::vector<std::int64_t> positions = key_positions(requests[i], results[i], position, i);
    for (std::int64_t p : positions) at_key.push_back(rows[i][results[i].layout.column(p)]);
    out.positions.push_back(std::move(positions));
    out.target_tokens.push_back(results[i].target_tokens);
  }
  out.at_key = torch::stack(at_key);
  return out;
}

torch::Tensor activations_at_key(Model& model, const std::string& tap, const std::vector<ScoreRequest>& requests,
                                 KeyPosition position) {
  return capture_keys(model, tap, requests, position).at_key;
}

KeyPositions columns_in_forward(Model& model, const std::vector<ScoreRequest>& requests, const KeyPositions& positions) {
  const std::vector<TokenLayout> layouts = model.token_layout(requests);
  if (layouts.size() != requests.size() || positions.size() != requests.size())
    throw ModelError("token_layout() gave " + std::to_string(layouts.size()) + " rows for " +
                     std::to_string(requests.size()) + " requests");
  KeyPositions columns(positions.size());
  for (std::size_t r = 0; r < positions.size(); ++r)
    for (std::int64_t p : positions[r]) columns[r].push_back(layouts[r].column(p));
  return columns;
}

torch::Tensor add_at_columns(const torch::Tensor& x, const torch::Tensor& shift, const KeyPositions& columns,
                             const std::vector<std::int64_t>& first_rows) {
  if (columns.size() != static_cast<std::size_t>(x.size(0)) ||
      (!first_rows.empty() && first_rows.size() != columns.size()))
    throw ModelError("a value shift was placed for " + std::to_string(columns.size()) + " rows but the tap saw " +
                     std::to_string(x.size(0)) + "; the model's token_layout() and its forward disagree");
  // The one-hot placement, filled on the host (a step runs this every
  // forward; per-element tensor writes would cost an op each).
  torch::Tensor select = torch::zeros({x.size(0), x.size(1), shift.size(0)}, torch::kFloat32);
  auto at = select.accessor<float, 3>();
  for (std::int64_t r = 0; r < x.size(0); ++r) {
    const auto& row = columns[static_cast<std::size_t>(r)];
    const std::int64_t first = first_rows.empty() ? 0 : first_rows[static_cast<std::size_t>(r)];
    for (std::size_t j = 0; j < row.size(); ++j) {
      const std::int64_t shift_row = first + static_cast<std::int64_t>(j);
      if (row[j] < 0 || row[j] >= x.size(1) || shift_row < 0 || shift_row >= shift.size(0))
        throw ModelError("a value shift's column " + std::to_string(row[j]) + " (shift row " +
                         std::to_string(shift_row) + ") lies outside the tap's [" + std::to_string(x.size(1)) +
                         " columns, " + std::to_string(shift.size(0)) +
                         " shift rows]; the model's token_layout() and its forward disagree");
      at[r][row[j]][shift_row] = 1.0F;
    }
  }
  return x + torch::matmul(select.to(x.device(), x.scalar_type()), shift);
}

std::vector<ScoreRequest> templated_requests(const EditRequest& edit, const std::vector<std::string>& context_templates) {
  std::vector<ScoreRequest> out;
  for (const std::string& t : context_templates) {
    const std::size_t at = t.find("{}");
    if (at == std::string::npos) throw ConfigError("context template '" + t + "' has no {} (where the edit prompt goes)");
    ScoreRequest request;
    request.input.prompt = t.substr(0, at) + edit.input.prompt + t.substr(at + 2);
    request.input.image = edit.input.image;
    request.target = edit.target;
    // The value is optimised to end the answer too, so greedy decoding stops after it.
    request.end_with_eos = true;
    out.push_back(std::move(request));
  }
  return out;
}

}  // namespace mike::locate_edit
