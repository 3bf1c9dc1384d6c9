#include "core/tokenizer/tokenizer_config.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/io/json_file.h"
#include "core/io/text_file.h"
#include "core/runtime/error.h"

namespace dpo {
namespace {

using nlohmann::json;

constexpr uintmax_t kMaxTokenizerConfigBytes = uintmax_t{16} << 20;

std::optional<std::string> token_field(const json& j, const char* key, const std::string& label) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto content = it->find("content");
    if (content != it->end() && content->is_string()) return content->get<std::string>();
  }
  throw TokenizerError(label + ": \"" + key + "\" must be a string or an object with a string \"content\"");
}

bool bool_field(const json& j, const char* key, const std::string& label) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return false;
  if (!it->is_boolean()) throw TokenizerError(label + ": \"" + key + "\" must be true or false");
  return it->get<bool>();
}

std::optional<std::string> chat_template_field(const json& j, const std::string& label) {
  auto it = j.find("chat_template");
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) {
    const json* first = nullptr;
    for (const json& entry : *it) {
      if (!entry.is_object() || !entry.contains("template") || !entry["template"].is_string())
        throw TokenizerError(label + ": each \"chat_template\" list entry needs a string \"template\"");
      if (first == nullptr) first = &entry;
      if (entry.value("name", "") == "default") return entry["template"].get<std::string>();
    }
    // No "default" entry: transformers then has no default template either, but the first is usable.
    if (first != nullptr) return (*first)["template"].get<std::string>();
    return std::nullopt;
  }
  throw TokenizerError(label + ": \"chat_template\" must be a string or a list of {name, template}");
}

int64_t max_length_field(const json& j, const std::string& label) {
  auto it = j.find("model_max_length");
  if (it == j.end() || it->is_null()) return std::numeric_limits<int64_t>::max();
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number_unsigned()) {
    auto v = it->get<uint64_t>();
    return v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
               ? std::numeric_limits<int64_t>::max()
               : static_cast<int64_t>(v);
  }
  if (it->is_number_float()) {
    double v = it->get<double>();
    if (v >= 9.2e18) return std::numeric_limits<int64_t>::max();
    if (v < 0) throw TokenizerError(label + ": \"model_max_length\" is negative");
    return static_cast<int64_t>(v);
  }
  throw TokenizerError(label + ": \"model_max_length\" must be a number");
}

void fill_config(const json& j, const std::string& label, TokenizerConfig& config) {
  config.bos_token = token_field(j, "bos_token", label);
  config.eos_token = token_field(j, "eos_token", label);
  config.pad_token = token_field(j, "pad_token", label);
  config.unk_token = token_field(j, "unk_token", label);
  config.add_bos_token = bool_field(j, "add_bos_token", label);
  config.add_eos_token = bool_field(j, "add_eos_token", label);
  config.chat_template = chat_template_field(j, label);
  if (auto it = j.find("tokenizer_class"); it != j.end() && it->is_string()) config.tokenizer_class = *it;
  config.model_max_length = max_length_field(j, label);
}

}  // namespace

json parse_json_object(std::string_view json_text, const std::string& label) {
  json j = parse_json_text<TokenizerError>(json_text, label);
  if (!j.is_object()) throw TokenizerError(label + ": expected a JSON object at the top level");
  return j;
}

TokenizerConfig parse_tokenizer_config(std::string_view json_text, const std::string& label) {
  const json j = parse_json_object(json_text, label);
  TokenizerConfig config;
  try {
    fill_config(j, label, config);
  } catch (const json::exception& e) {  // last resort: the fields are type-checked above
    throw TokenizerError(label + ": unexpected layout (" + std::string(e.what()) + ")");
  }
  return config;
}

TokenizerConfig read_tokenizer_config(const std::string& path) {
  const auto text = read_text_as<TokenizerError>(path, kMaxTokenizerConfigBytes);
  TokenizerConfig config = parse_tokenizer_config(text, path);
  if (!config.chat_template) {
    auto jinja = std::filesystem::path(path).parent_path() / "chat_template.jinja";
    if (std::ifstream t(jinja, std::ios::binary); t) {
      std::stringstream jinja_text;
      jinja_text << t.rdbuf();
      config.chat_template = jinja_text.str();
    }
  }
  return config;
}

}  // namespace dpo
