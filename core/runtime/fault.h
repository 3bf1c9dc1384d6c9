#pragma once
// Test hook for the kill-and-resume tests: DPO_FAULT=WHERE:N kills the process with SIGKILL (as
// `kill -9` would) the first time point WHERE is reached with a count of N or more. Points:
// reference:PAIRS_DONE (the reference pass), step:STEP (mid-step, after the gradients, before the optimiser),
// checkpoint:STEP (its files written, not yet renamed into place). Unset, it costs one getenv per process.
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace dpo {

inline void fault_point(std::string_view where, int64_t count) {
  static const char* const fault = std::getenv("DPO_FAULT");
  if (fault == nullptr || *fault == '\0') return;
  const std::string_view spec(fault);
  const auto colon = spec.rfind(':');
  if (colon == std::string_view::npos || spec.substr(0, colon) != where) return;
  if (count >= std::atoll(std::string(spec.substr(colon + 1)).c_str())) std::raise(SIGKILL);
}

}  // namespace dpo
