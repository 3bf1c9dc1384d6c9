#pragma once
// Shared by the libFuzzer targets: the project's own errors (dpo::Error and its kinds: one clean line
// for the user) are the expected outcome of bad input; anything else escaping (another exception
// type, a crash, a sanitizer report, a hang, memory past -rss_limit_mb) is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/runtime/error.h"

namespace dpo::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

template <typename F>
void expect_clean_errors(F&& body) {
  try {
    body();
  } catch (const dpo::Error&) {
  }
}

}  // namespace dpo::fuzz
