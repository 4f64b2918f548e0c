#pragma once
// Ctrl-C (SIGINT) and SIGTERM during a sweep: the first one asks the
// launcher to stop (no new jobs; running workers are told to stop and marked
// interrupted); a second SIGINT ends the process at once. A long-running job
// body may poll stop_requested() and throw JobInterrupted to end early.
#include <stdexcept>
#include <string>

namespace mike {

// Installs the handlers for its lifetime (restoring the previous ones after).
class InterruptScope {
 public:
  InterruptScope();
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
};

bool stop_requested();
// What asked to stop, for status.yaml: "interrupted by Ctrl-C" (SIGINT),
// "interrupted by SIGTERM" (kill, Slurm's scancel, a container stop), or
// "interrupted" when nothing has asked.
std::string stop_reason();
// Clears the request (tests, and a new sweep in the same process).
void reset_stop_request();

// Thrown by a job body that saw stop_requested(); the job is recorded as interrupted.
class JobInterrupted : public std::runtime_error {
 public:
  JobInterrupted() : std::runtime_error(stop_reason()) {}
};

}  // namespace mike
