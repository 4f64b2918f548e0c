#include "launch/interrupt.h"

#include <csignal>

namespace mike {
namespace {

volatile std::sig_atomic_t g_stop_requested = 0;
volatile std::sig_atomic_t g_stop_signal = 0;  // the first signal that asked
struct sigaction g_previous_int {};
struct sigaction g_previous_term {};

extern "C" void on_stop_signal(int signal) {
  if (g_stop_requested && signal == SIGINT) {
    // Second Ctrl-C: the user wants out now.
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
    return;
  }
  if (!g_stop_requested) g_stop_signal = signal;
  g_stop_requested = 1;
}

}  // namespace

InterruptScope::InterruptScope() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

InterruptScope::~InterruptScope() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

bool stop_requested() { return g_stop_requested != 0; }
void reset_stop_request() {
  g_stop_requested = 0;
  g_stop_signal = 0;
}

std::string stop_reason() {
  if (!g_stop_requested) return "interrupted";
  if (g_stop_signal == SIGTERM) return "interrupted by SIGTERM";
  return "interrupted by Ctrl-C";
}

}  // namespace mike
