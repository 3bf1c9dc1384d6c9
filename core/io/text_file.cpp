#include "core/io/text_file.h"

#include <fstream>
#include <sstream>
#include <system_error>

#include "core/runtime/error.h"

namespace dpo {

std::string read_text(const std::filesystem::path& path, uintmax_t max_bytes) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw ConfigError(path.string() + ": cannot read (" + ec.message() + ")");
  if (size > max_bytes)
    throw ConfigError(path.string() + ": " + std::to_string(size) + " bytes, more than the " +
                      std::to_string(max_bytes) + " this file may have");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path.string() + ": cannot read");
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throw ConfigError(path.string() + ": read error");
  return s.str();
}

}  // namespace dpo
