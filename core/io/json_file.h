#pragma once
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/runtime/error.h"

namespace dpo {

// JSON from a user's folder (config.json, tokenizer.json, an index, a safetensors header): read
// with a size limit checked before reading, nesting depth checked before parsing, so a hostile
// file costs neither memory nor stack. Torch-free (fuzzers link it).
inline constexpr size_t kMaxJsonDepth = 256;
inline constexpr uintmax_t kMaxJsonFileBytes = uintmax_t{64} << 20;

// The deepest [ / { nesting outside strings, counting stops just past max_depth.
size_t json_nesting_depth(std::string_view text, size_t max_depth);

namespace json_file_detail {
// Throw ConfigError "label: ..." (one line, no nlohmann prefixes).
nlohmann::json parse(std::string_view text, const std::string& label, size_t max_depth);
nlohmann::json parse_file(const std::filesystem::path& path, uintmax_t max_bytes, size_t max_depth);

template <class E, class F>
nlohmann::json rethrow_as(F&& f) {
  if constexpr (std::is_same_v<E, ConfigError>) {
    return f();
  } else {
    try {
      return f();
    } catch (const ConfigError& e) {
      throw E(e.what());
    }
  }
}
}  // namespace json_file_detail

// E: the error the caller's layer throws (ModelError, TokenizerError, ...).
template <class E = ConfigError>
nlohmann::json parse_json_text(std::string_view text, const std::string& label,
                               size_t max_depth = kMaxJsonDepth) {
  return json_file_detail::rethrow_as<E>([&] { return json_file_detail::parse(text, label, max_depth); });
}

template <class E = ConfigError>
nlohmann::json parse_json_file(const std::filesystem::path& path, uintmax_t max_bytes = kMaxJsonFileBytes,
                               size_t max_depth = kMaxJsonDepth) {
  return json_file_detail::rethrow_as<E>(
      [&] { return json_file_detail::parse_file(path, max_bytes, max_depth); });
}

// "an integer", "a string", ... for messages of the form "key: expected X, got <json_type_name>".
inline const char* json_type_name(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::array:
      return "a list";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return "an integer";
    case nlohmann::json::value_t::number_float:
      return "a number with a fraction";
    default:
      return "binary data";
  }
}

}  // namespace dpo
