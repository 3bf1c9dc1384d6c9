#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "core/runtime/error.h"

namespace dpo {

// A whole small text file (a chat template, a run's config or records). Throws ConfigError, one
// line naming the file, when it cannot be read or is over max_bytes (checked before reading).
std::string read_text(const std::filesystem::path& path, uintmax_t max_bytes = uintmax_t{1} << 30);

// The same, throwing E (the caller layer's error: TokenizerError, ModelError) instead.
template <class E>
std::string read_text_as(const std::filesystem::path& path, uintmax_t max_bytes) {
  try {
    return read_text(path, max_bytes);
  } catch (const ConfigError& e) {
    throw E(e.what());
  }
}

}  // namespace dpo
