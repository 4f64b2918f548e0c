#pragma once
// Which rows of a call's forwards are which requests, for editors that route
// at an edit site's taps (grace, wise). A tap sees [rows, width, dim]
// activations and nothing else; the cursor, made from the call's token
// layouts, says for each row which request it is and where its prompt lies.
// Models pad on the left, so a row ends at the forward's last column: a row
// of `length` tokens starts at column width - length. A one-row generate is
// the other case: its prefill (or each full recompute without a KV cache)
// starts the prompt at column 0, and a forward narrower than the prompt is a
// decoding step after it.
#include <torch/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mike/model.h"

namespace mike::memory_routing {

// A request's row: all its tokens, and the leading image + prompt ones.
struct RowShape {
  std::int64_t length = 0;
  std::int64_t prompt = 0;
};

// One request's row inside a forward.
struct RowSpan {
  std::int64_t row = 0;      // row of the forward's activation
  std::size_t request = 0;   // index of the request in the call
  std::int64_t first = 0;    // column of the row's first token
  std::int64_t prompt = 0;   // prompt tokens (image included), from `first`
  std::int64_t last_prompt() const { return first + prompt - 1; }
};

// The rows' shapes; ModelError (naming `editor`) for a row without a prompt token.
std::vector<RowShape> row_shapes(const std::vector<TokenLayout>& layouts, const std::string& editor);

class RowCursor;
// The cursor over `batch`'s rows as `model` lays them out.
RowCursor cursor_over(Model& model, const std::vector<ScoreRequest>& batch, const std::string& editor);

class RowCursor {
 public:
  RowCursor() = default;
  // The rows of score / loss / target_log_probs over these requests, in order.
  static RowCursor for_rows(std::vector<RowShape> rows, std::string editor);
  // A one-row generate whose prompt (image included) has `prompt` tokens.
  static RowCursor for_generate(std::int64_t prompt, std::string editor);

  // The rows of the next forward, whose activation at the tap is
  // [rows, width, ...]; nullopt for a decoding step after a one-row
  // generate's prompt (the step should route as the prompt did). ModelError
  // when the forward does not fit the call (more rows than requests, a row
  // wider than the forward).
  std::optional<std::vector<RowSpan>> take(const torch::Tensor& activation, const std::string& tap);

  bool generating() const { return generate_prompt_ > 0; }
  // ModelError unless every one of `requests` rows went through the tap once.
  void check_all_taken(std::size_t requests) const;
  // ModelError unless each row's last prompt token was read where `layouts`
  // (the model's own account of the forward) puts it.
  void check_columns(const std::vector<TokenLayout>& layouts) const;

 private:
  std::string editor_;
  std::vector<RowShape> rows_;
  std::int64_t generate_prompt_ = 0;
  std::size_t next_ = 0;                    // rows taken so far
  std::vector<std::int64_t> last_prompt_;   // per row taken: the column of its last prompt token
};

}  // namespace mike::memory_routing
