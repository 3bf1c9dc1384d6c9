#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace dpo {

namespace jinja {
struct Template;
}

// A Hugging Face chat template: the subset of Jinja2 that real tokenizer_config.json templates use,
// rendered the way transformers does (trim_blocks and lstrip_blocks on, loop controls enabled,
// tojson as json.dumps with ensure_ascii=False, raise_exception and strftime_now as globals).
//
// Errors (invalid or unsupported syntax at parse time; type errors, undefined attribute access and
// raise_exception at render time) throw TokenizerError("label:line:col: what").
class ChatTemplate {
 public:
  static ChatTemplate parse(std::string_view source, const std::string& label);

  // The context holds messages, add_generation_prompt, bos_token, eos_token and any other
  // variable the template reads; names that are absent are Jinja-undefined (empty and falsy).
  // nlohmann::json keeps object keys sorted, so dicts iterate (and tojson) in key order; pass an
  // ordered_json to keep insertion order as Python would.
  std::string render(const nlohmann::json& context) const;
  std::string render(const nlohmann::ordered_json& context) const;

  const std::string& label() const { return label_; }

 private:
  ChatTemplate(std::shared_ptr<const jinja::Template> tmpl, std::string label);

  std::shared_ptr<const jinja::Template> tmpl_;
  std::string label_;
};

}  // namespace dpo
