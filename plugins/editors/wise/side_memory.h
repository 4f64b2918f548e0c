#pragma once
// WISE's side memories at one edit site and the router that chooses between
// them and the main memory (Wang et al., NeurIPS 2024, "WISE: Rethinking the
// Knowledge Memory for Lifelong Model Editing of Large Language Models";
// EasyEdit's easyeditor/models/wise/WISE.py, WISEAdapter, is the authors'
// code). The edit site is one LM block's MLP down-projection W_v (the FFN's
// value matrix); a side memory is a copy W_v' of it, kept as its difference
// D = W_v' - W_v so that its output is the main output plus A(x) Dᵀ, with
// A(x) the projection's input (the FFN activation).
//
// Routing (WISE, memory routing): a token's activation score is
// Δ_act(x) = ||A(x) · (W_v' - W_v)||_2, the gap between the side and the main
// output; a row's score is its mean over the row's prompt tokens (image and
// question: what is known before any answer token, so a teacher-forced
// target and greedy decoding route alike; EasyEdit averages over every
// token of the forward). A row goes to the side memory whose score is the
// largest among those above their threshold ε (WISE-Retrieve), at every
// position of the row, and to the main memory (the block's own output,
// bitwise) when none is. ε of a memory = act_ratio × the smallest score of
// its edits, measured after each edit trained (EasyEdit's
// EditingMeanAct.min_act() * act_ratio). Among the memories above their ε,
// Retrieval::score picks the largest score (the paper, EasyEdit);
// Retrieval::relative the largest score / ε, so that a memory whose gap is
// large for every input (a large ε) does not take the queries of memories
// with smaller gaps.
//
// Routing runs only inside calls of the edited model (and the editor's own
// training and measuring calls); the base model called directly is unedited.
#include <torch/types.h>

#include <limits>
#include <optional>
#include <vector>

#include "edit_chain.h"
#include "mike/model.h"
#include "row_cursor.h"

namespace mike::wise {

struct SideMemory {
  torch::Tensor delta;  // W_v' - W_v, [output_dim, input_dim]
  double min_activation = std::numeric_limits<double>::infinity();  // smallest score of its edits
  int edits = 0;
  int shards = 1;  // knowledge shards merged into it
  std::vector<std::size_t> prompts;  // its edits' prompts, as indices into SideMemories::edit_prompts()
};

// Everything an edit changes, so that its undo record is a copy of it.
struct MemoryState {
  std::vector<SideMemory> saved;  // full shards and merged memories, oldest first
  SideMemory current;             // the shard being filled (no delta until its first edit)
  torch::Tensor mask;             // the current shard's random subspace (gradient mask, ratio ρ)
  int shards_started = 0;
  int shards_unmerged = 0;        // full shards saved since the last merge
  std::size_t prompts_recorded = 0;  // how many of SideMemories::edit_prompts() this state's memories refer to
};

enum class Retrieval { score, relative };

enum class Mode {
  off,
  train,    // rows run through `delta` (in_scope) or the main memory; scores recorded
  infer,    // route each row (the evaluation)
  measure,  // rows run through the main memory; every routable memory's score recorded
};

class SideMemories {
 public:
  SideMemories(Model& base, EditSite site, double act_ratio, Retrieval retrieval);
  SideMemories(const SideMemories&) = delete;
  SideMemories& operator=(const SideMemories&) = delete;

  Model& base() const { return base_; }
  const EditSite& site() const { return site_; }
  double act_ratio() const { return act_ratio_; }
  Retrieval retrieval() const { return retrieval_; }
  MemoryState& state() { return state_; }
  memory_routing::EditChain<MemoryState>& undo() { return undo_; }
  void remove_taps() { handles_.clear(); }
  // Every edit's training prompt in the chain, oldest first (a memory's
  // `prompts` index it): the negatives replay draws on. Append-only while
  // editing; a restore truncates it to the restored state's prompts_recorded.
  std::vector<ScoreRequest>& edit_prompts() { return edit_prompts_; }

  // What the next forwards do, and which of their rows are which requests.
  struct Route {
    Mode mode = Mode::off;
    memory_routing::RowCursor cursor;
    torch::Tensor delta;     // train: the side memory being trained (differentiable)
    bool in_scope = false;   // train: the rows are edits (side output) or irrelevant (main output)
    std::vector<torch::Tensor> scores;  // train: per request, its activation score (a scalar tensor)
    std::vector<int> chosen;            // infer: per request, the memory it routed to (-1: main)
    std::vector<std::vector<double>> memory_scores;  // measure: per request, each routable() memory's score
    int decided = -1;                   // infer, generate: the memory the prompt routed to
  };

  class Scope {
   public:
    Scope(SideMemories& memories, Route route);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    Route& route() { return memories_.route_; }
    const Route& route() const { return memories_.route_; }

   private:
    SideMemories& memories_;
  };

  // The memories a query may route to: the saved ones, then the current
  // shard once it holds an edit.
  std::vector<const SideMemory*> routable() const;
  double threshold(const SideMemory& memory) const { return act_ratio_ * memory.min_activation; }

 private:
  torch::Tensor on_output(const torch::Tensor& y);
  torch::Tensor routed(const torch::Tensor& y, const std::vector<memory_routing::RowSpan>& spans);

  Model& base_;
  EditSite site_;
  double act_ratio_;
  Retrieval retrieval_;
  MemoryState state_;
  std::vector<ScoreRequest> edit_prompts_;
  memory_routing::EditChain<MemoryState> undo_;
  Mode mode_ = Mode::off;
  Route route_;
  torch::Tensor input_;  // the projection's input in the current forward
  std::vector<TapHandle> handles_;  // last: removed first when the memories go
};

// Per row of `spans`, the mean over its prompt columns of ||gap||_2, with
// gap = A(x) Dᵀ as [rows, width, output_dim].
torch::Tensor prompt_activation_scores(const torch::Tensor& gap, const std::vector<memory_routing::RowSpan>& spans);

}  // namespace mike::wise
