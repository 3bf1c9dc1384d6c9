#include "core/runtime/error.h"

namespace dpo {

std::string located(const std::string& file, size_t line, const std::string& message) {
  return file + ":" + std::to_string(line) + ": " + message;
}

}  // namespace dpo
