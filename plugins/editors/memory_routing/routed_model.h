#pragma once
// The edited model of an editor that routes the base model's forward at one
// edit site's taps (grace's codebook, wise's side memories), written once:
// each evaluation call (score, loss, target_log_probs, generate) opens the
// editor's routing over the call's rows for its duration and checks
// afterwards that every row went through the site where the model's token
// layout says it lies. The base model called directly is unedited; once
// routing() is false (the edit restored) every call goes straight to it.
#include <memory>
#include <string>
#include <utility>

#include "mike/editor.h"
#include "row_cursor.h"

namespace mike::memory_routing {

class RoutedModel : public ForwardingModel {
 public:
  RoutedModel(Model& base, std::string editor) : ForwardingModel(base), editor_(std::move(editor)) {}

  std::vector<ScoreResult> score(const std::vector<ScoreRequest>& batch) override;
  torch::Tensor loss(const std::vector<ScoreRequest>& batch) override;
  torch::Tensor target_log_probs(const std::vector<ScoreRequest>& batch) override;
  // One row at a time, so each row's prompt sits at known columns of every
  // forward (the prefill, or each full recompute without a KV cache); known
  // tokens are dropped (the output is the same) so the prefill is the prompt.
  std::vector<std::string> generate(const std::vector<ModelInput>& batch, const GenerateOptions& options) override;

  // The cursor over `batch`'s rows, as this model lays them out.
  RowCursor cursor_for(const std::vector<ScoreRequest>& batch);

  // Routing open for one call; closed when destroyed.
  class Routing {
   public:
    virtual ~Routing();
    virtual const RowCursor& cursor() const = 0;  // the rows, as the call consumed them
  };

 protected:
  virtual std::unique_ptr<Routing> open_routing(RowCursor cursor) = 0;
  virtual bool routing() const = 0;
  const std::string& editor_name() const { return editor_; }

 private:
  std::string editor_;
};

// The Routing of a memory (grace's codebook, wise's side memories) that
// routes while a Memory::Scope(memory, Memory::Route) is open: the Route
// holds the mode and the rows' cursor.
template <class Memory>
class ScopedRouting : public RoutedModel::Routing {
 public:
  ScopedRouting(Memory& memory, typename Memory::Route route) : scope_(memory, std::move(route)) {}
  const RowCursor& cursor() const override { return scope_.route().cursor; }

 private:
  typename Memory::Scope scope_;
};

// An edited model's open_routing() for its evaluation calls: `memory`
// routing in mode `infer` over `cursor`'s rows.
template <class Memory, class Mode>
std::unique_ptr<RoutedModel::Routing> inference_routing(Memory& memory, RowCursor cursor, Mode infer) {
  typename Memory::Route route;
  route.mode = infer;
  route.cursor = std::move(cursor);
  return std::make_unique<ScopedRouting<Memory>>(memory, std::move(route));
}

}  // namespace mike::memory_routing
