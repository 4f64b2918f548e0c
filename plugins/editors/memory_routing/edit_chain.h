#pragma once
// The undo records of a sequential chain of edits on one shared memory
// (grace's codebook, wise's side memories): one record per live edit, oldest
// first. An edit's restore undoes exactly its own record, so restores must
// run newest first (as the runner does); anything else is refused.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "mike/error.h"

namespace mike::memory_routing {

template <class Record>
class EditChain {
 public:
  explicit EditChain(std::string editor) : editor_(std::move(editor)) {}
  std::size_t live() const { return records_.size(); }
  bool empty() const { return records_.empty(); }
  // Records the state an edit is about to change; returns the edit's depth.
  std::size_t push(Record before) {
    records_.push_back(std::move(before));
    return records_.size() - 1;
  }
  // The record of the edit at `depth`, which must be the newest live one.
  Record pop(std::size_t depth) {
    if (records_.size() != depth + 1)
      throw Error("editor " + editor_ + ": restore_original() of edit " + std::to_string(depth + 1) + " of a chain of " +
                  std::to_string(records_.size()) + " live edits; restore the newest edit first");
    Record record = std::move(records_.back());
    records_.pop_back();
    return record;
  }

 private:
  std::string editor_;
  std::vector<Record> records_;
};

}  // namespace mike::memory_routing
