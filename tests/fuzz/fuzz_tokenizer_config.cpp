// A tokenizer_config.json (core/tokenizer/tokenizer_config): special tokens as strings or AddedToken
// objects, chat_template as a string or a list of named templates, model_max_length.
#include "core/tokenizer/tokenizer_config.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dpo::fuzz::expect_clean_errors(
      [&] { dpo::parse_tokenizer_config(dpo::fuzz::as_text(data, size), "tokenizer_config.json"); });
  return 0;
}
