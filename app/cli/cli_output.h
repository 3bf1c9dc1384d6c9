#pragma once
// What the commands print: numbers that may be missing, and throttled progress lines.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "app/session/run_setup.h"

namespace dpo::cli {

// v with printf's format, or "-" when it was not measured (NaN).
inline std::string number_or_dash(double v, const char* format) {
  if (!std::isfinite(v)) return "-";
  char b[48];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

// "stage: done/total" (or "stage" when not counted) when a stage starts, ends, or every 5 s; nothing
// when quiet. Never cancels.
inline app::PrepareProgress progress_lines(bool quiet) {
  struct State {
    std::string stage;
    std::chrono::steady_clock::time_point last;
  };
  auto state = std::make_shared<State>();
  return [quiet, state](const std::string& stage, size_t done, size_t total) {
    if (quiet) return true;
    const auto now = std::chrono::steady_clock::now();
    if (stage != state->stage || done == total || now - state->last > std::chrono::seconds(5)) {
      state->stage = stage;
      state->last = now;
      if (total > 0)
        std::printf("%s: %zu/%zu\n", stage.c_str(), done, total);
      else
        std::printf("%s\n", stage.c_str());
      std::fflush(stdout);
    }
    return true;
  };
}

}  // namespace dpo::cli
