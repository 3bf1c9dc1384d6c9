#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace dpo {

// What DPO Studio reads from a transformers tokenizer_config.json.
struct TokenizerConfig {
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::optional<std::string> pad_token;
  std::optional<std::string> unk_token;
  bool add_bos_token = false;
  bool add_eos_token = false;
  std::optional<std::string> chat_template;
  std::string tokenizer_class;
  // transformers writes int(1e30) for "no limit"; anything beyond int64 is clamped to its max.
  int64_t model_max_length = std::numeric_limits<int64_t>::max();
};

// Tokens may be plain strings or AddedToken objects ({"content": ...}); chat_template may be a string or a
// list of {name, template} (the "default" one is taken). Without a chat_template key, a chat_template.jinja
// next to the file is used when present.
TokenizerConfig read_tokenizer_config(const std::string& path);
TokenizerConfig parse_tokenizer_config(std::string_view json_text, const std::string& label);

// Parses tokenizer JSON files; throws TokenizerError "label: ..." unless the top level is an object.
nlohmann::json parse_json_object(std::string_view json_text, const std::string& label);

}  // namespace dpo
