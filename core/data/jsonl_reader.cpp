#include "core/data/jsonl_reader.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "core/runtime/error.h"

namespace dpo {

namespace {

std::string string_field(const nlohmann::json& row, const char* field, const std::string& label,
                         size_t line) {
  auto it = row.find(field);
  if (it == row.end()) throw DataError(located(label, line, std::string("missing field \"") + field + "\""));
  if (!it->is_string())
    throw DataError(located(label, line, std::string("field \"") + field + "\" must be a string, got " +
                                             it->type_name()));
  return it->get<std::string>();
}

PreferencePair parse_row(std::string_view text, const std::string& label, size_t line) {
  nlohmann::json row;
  try {
    row = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw DataError(located(label, line, std::string("invalid JSON: ") + e.what()));
  }
  if (!row.is_object())
    throw DataError(located(label, line, std::string("expected a JSON object, got ") + row.type_name()));
  PreferencePair pair;
  pair.prompt = string_field(row, "prompt", label, line);
  pair.chosen = string_field(row, "chosen", label, line);
  pair.rejected = string_field(row, "rejected", label, line);
  pair.line = line;
  if (pair.chosen.empty()) throw DataError(located(label, line, "field \"chosen\" is empty"));
  if (pair.rejected.empty()) throw DataError(located(label, line, "field \"rejected\" is empty"));
  if (pair.chosen == pair.rejected)
    throw DataError(located(label, line, "\"chosen\" and \"rejected\" are identical"));
  return pair;
}

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

}  // namespace

std::vector<PreferencePair> parse_preference_jsonl(std::string_view text, const std::string& label) {
  std::vector<PreferencePair> pairs;
  size_t line = 0, start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    ++line;
    auto row = text.substr(start, end - start);
    if (!blank(row)) pairs.push_back(parse_row(row, label, line));
    start = end + 1;
  }
  if (pairs.empty()) throw DataError(label + ": no preference rows found");
  return pairs;
}

std::vector<PreferencePair> read_preference_jsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_preference_jsonl(buffer.str(), path);
}

}  // namespace dpo
