#pragma once
// The journal beside run.h5 (`run.h5.journal`): every write a RunLog makes,
// appended as self-checking records, with one `commit` record per unit.
//
// HDF5 keeps no journal of its own: a writer killed between two flushes can
// leave a file whose metadata points past its recorded end, whose global
// heap disagrees with its datasets, or that crashes the library on reading
// (all seen in tests/kill). So run.h5 is never trusted after a kill. It is
// rebuilt as `run.h5.base` (a copy taken when the writer opened a cleanly
// closed log; none when the log was new) plus the journal's records up to
// its last commit. A record is [type u32][length u64][payload][FNV-1a u64];
// a torn or damaged tail ends the journal at the last whole commit.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mike {

class RunLog;
struct EditRow;
struct MetricRow;
struct GenerationRow;

class RunJournal {
 public:
  // Opens `file` for appending (created if absent).
  explicit RunJournal(const std::filesystem::path& file);
  ~RunJournal();
  RunJournal(const RunJournal&) = delete;
  RunJournal& operator=(const RunJournal&) = delete;

  void attribute(const std::string& name, const std::string& value);
  void metric(const std::string& name, const MetricRow& row);
  void generations(const std::string& probe, const std::vector<GenerationRow>& rows);
  void weight_delta(const std::string& param, std::int64_t edit, const std::vector<std::int64_t>& shape,
                    const float* data, std::size_t count);
  void activations(const std::string& tap, std::int64_t edit, std::int64_t sample,
                   const std::vector<std::int64_t>& positions, std::int64_t width, const float* data,
                   std::size_t count);
  // Closes a unit: once this returns, the unit survives any kill.
  void commit(const std::vector<EditRow>& rows);

  // Applies the records of `file` up to its last commit to `log` (which
  // must not journal), cuts `file` back to that commit, and returns the
  // number of commits applied. A missing file is an empty journal.
  static std::int64_t replay(const std::filesystem::path& file, RunLog& log);

 private:
  void append(std::uint32_t type, const std::string& payload);
  std::filesystem::path file_;
  int fd_ = -1;
};

}  // namespace mike
