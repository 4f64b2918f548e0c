#include "row_cursor.h"

#include "mike/error.h"

namespace mike::memory_routing {

std::vector<RowShape> row_shapes(const std::vector<TokenLayout>& layouts, const std::string& editor) {
  std::vector<RowShape> out;
  for (const TokenLayout& l : layouts) {
    const std::int64_t prompt = l.target_begin >= 0 ? l.target_begin : l.length;
    if (prompt < 1) throw ModelError("editor " + editor + ": a row has no prompt token to key on");
    out.push_back({l.length, prompt});
  }
  return out;
}

RowCursor cursor_over(Model& model, const std::vector<ScoreRequest>& batch, const std::string& editor) {
  return RowCursor::for_rows(row_shapes(model.token_layout(batch), editor), editor);
}

RowCursor RowCursor::for_rows(std::vector<RowShape> rows, std::string editor) {
  RowCursor c;
  c.rows_ = std::move(rows);
  c.editor_ = std::move(editor);
  return c;
}

RowCursor RowCursor::for_generate(std::int64_t prompt, std::string editor) {
  if (prompt < 1) throw ModelError("editor " + editor + ": a generate prompt has no token to key on");
  RowCursor c;
  c.generate_prompt_ = prompt;
  c.editor_ = std::move(editor);
  return c;
}

std::optional<std::vector<RowSpan>> RowCursor::take(const torch::Tensor& activation, const std::string& tap) {
  if (activation.dim() < 2) throw ModelError("editor " + editor_ + ": the tap '" + tap + "' gave no [rows, tokens, ...] activation");
  const std::int64_t rows = activation.size(0), width = activation.size(1);
  if (generating()) {
    if (rows != 1) throw ModelError("editor " + editor_ + ": a one-row generate ran a forward of several rows");
    if (width < generate_prompt_) return std::nullopt;
    return std::vector<RowSpan>{{0, 0, 0, generate_prompt_}};
  }
  if (next_ + static_cast<std::size_t>(rows) > rows_.size())
    throw ModelError("editor " + editor_ + ": the model ran more rows at '" + tap + "' than the call has; " +
                     editor_ + " needs one forward per row");
  std::vector<RowSpan> spans;
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::size_t i = next_++;
    const std::int64_t first = width - rows_[i].length;
    if (first < 0) throw ModelError("editor " + editor_ + ": a row's last prompt token lies outside its forward");
    spans.push_back({r, i, first, rows_[i].prompt});
    last_prompt_.push_back(spans.back().last_prompt());
  }
  return spans;
}

void RowCursor::check_all_taken(std::size_t requests) const {
  if (next_ != requests)
    throw ModelError("editor " + editor_ + ": the model ran " + std::to_string(next_) + " rows through the edit site for " +
                     std::to_string(requests) + " requests");
}

void RowCursor::check_columns(const std::vector<TokenLayout>& layouts) const {
  check_all_taken(layouts.size());
  for (std::size_t i = 0; i < layouts.size(); ++i) {
    const TokenLayout& l = layouts[i];
    const std::int64_t prompt = l.target_begin >= 0 ? l.target_begin : l.length;
    if (l.column(prompt - 1) != last_prompt_[i])
      throw ModelError("editor " + editor_ + ": the model's rows do not end at the forward's last column; " + editor_ +
                       " reads each row's prompt from the end");
  }
}

}  // namespace mike::memory_routing
