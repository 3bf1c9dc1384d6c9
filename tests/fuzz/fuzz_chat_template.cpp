// The chat-template interpreter (core/tokenizer/chat_template): the input is the template source;
// one that parses is rendered on a conversation with a system prompt, two turns, a tool call and
// add_generation_prompt, as the data layouts and transformers would call it.
#include <nlohmann/json.hpp>

#include "core/tokenizer/chat_template.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nlohmann::ordered_json context = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are terse."},
      {"role": "user", "content": "What is 2 + 2?"},
      {"role": "assistant", "content": "4", "tool_calls": [{"type": "function",
        "function": {"name": "add", "arguments": {"a": 2, "b": 2}}}]},
      {"role": "user", "content": "And <b>3</b> × 3 — \"quoted\"?"}
    ],
    "tools": [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}],
    "add_generation_prompt": true,
    "bos_token": "<s>",
    "eos_token": "</s>"
  })");
  dpo::fuzz::expect_clean_errors([&] {
    const auto tmpl = dpo::ChatTemplate::parse(dpo::fuzz::as_text(data, size), "chat_template");
    (void)tmpl.render(context);
  });
  return 0;
}
