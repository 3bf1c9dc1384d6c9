#include "core/io/json_file.h"

#include <algorithm>

#include "core/io/text_file.h"

namespace dpo {

size_t json_nesting_depth(std::string_view text, size_t max_depth) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > max_depth) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

namespace json_file_detail {

nlohmann::json parse(std::string_view text, const std::string& label, size_t max_depth) {
  if (json_nesting_depth(text, max_depth) > max_depth)
    throw ConfigError(label + ": JSON nested deeper than " + std::to_string(max_depth) + " levels");
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 1, column 5: ..."; a number
    // too large for a double (1e400) is an out_of_range error of the parser, not a parse_error.
    std::string what = e.what();
    if (auto at = what.find("] "); at != std::string::npos) what.erase(0, at + 2);
    throw ConfigError(label + ": not valid JSON: " + what);
  }
}

nlohmann::json parse_file(const std::filesystem::path& path, uintmax_t max_bytes, size_t max_depth) {
  return parse(read_text(path, max_bytes), path.string(), max_depth);
}

}  // namespace json_file_detail
}  // namespace dpo
