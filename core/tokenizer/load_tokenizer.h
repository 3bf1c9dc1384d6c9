#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/tokenizer_config.h"

namespace dpo {

struct LoadedTokenizer {
  std::unique_ptr<Tokenizer> tokenizer;
  TokenizerConfig config;  // tokenizer_config.json when present
  std::string kind;        // "tokenizer.json (BPE)" or "sentencepiece"
  bool add_bos = false;    // prepend BOS when encoding with special tokens
};

// A tokenizer file (tokenizer.json or a sentencepiece .model) or a model folder holding one;
// tokenizer.json wins when a folder has both, as in transformers' fast tokenizers.
LoadedTokenizer load_tokenizer(const std::filesystem::path& path);

// Ids of `text` with the special tokens the model expects in front (BOS where add_bos).
std::vector<int> encode_with_special(const LoadedTokenizer& tokenizer, std::string_view text);

}  // namespace dpo
