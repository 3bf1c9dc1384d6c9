// A tokenizer.json (core/tokenizer/bpe_tokenizer): normalizers, pre-tokenizers with their PCRE2
// regexes, the BPE model and merges, added tokens, the post-processor and the decoder. The input is
// the JSON, then optionally a NUL byte and a text to encode; each tokenizer that loads encodes that
// text and a fixed one, and decodes the ids back.
#include <cstring>

#include "core/tokenizer/bpe_tokenizer.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = dpo::fuzz::as_text(data, size);
  const size_t nul = input.find('\0');
  const std::string_view json = input.substr(0, nul);
  const std::string_view text =
      nul == std::string_view::npos ? "Hello world, it's 2026!\n  é 😀" : input.substr(nul + 1);
  dpo::fuzz::expect_clean_errors([&] {
    const auto tokenizer = dpo::BpeTokenizer::from_json_text(json, "tokenizer.json");
    const auto ids = tokenizer->encode(text);
    (void)tokenizer->decode(ids);
    (void)tokenizer->decode(ids, /*skip_special_tokens=*/true);
    const auto with_special = tokenizer->encode_with_special(text);
    for (int id : with_special) (void)tokenizer->piece(id);
    (void)tokenizer->vocab_size();
  });
  return 0;
}
