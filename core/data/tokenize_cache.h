#pragma once
#include <filesystem>
#include <optional>
#include <string>

#include "core/data/layout.h"
#include "core/data/tokenize.h"

namespace dpo {

// Identity of a tokenizer for cache keys: the full content of the files it was loaded from, its
// vocabulary pieces and special ids (no encode calls).
uint64_t tokenizer_fingerprint(const Tokenizer& tokenizer);

// What a tokenized dataset depends on: the file's bytes, the tokenizer and every option.
struct TokenizeCacheKey {
  uint64_t data_hash = 0;
  uint64_t tokenizer_hash = 0;
  std::string options;  // readable description of layout and tokenize options
  std::string text() const;
};
std::string cache_options_text(const LayoutOptions& layout, const TokenizeOptions& tokenize);

std::filesystem::path tokenize_cache_path(const std::filesystem::path& dir, const TokenizeCacheKey& key);
// nullopt when absent, written for another key, or damaged (a cache is never an error).
std::optional<TokenizedDataset> read_tokenize_cache(const std::filesystem::path& dir,
                                                    const TokenizeCacheKey& key);
void write_tokenize_cache(const std::filesystem::path& dir, const TokenizeCacheKey& key,
                          const TokenizedDataset& data);

// Reads, converts and tokenizes `path`, or, for the same file bytes, tokenizer and options, returns
// what an earlier call stored in `cache_dir` (from_cache set, no tokenizer call). An empty cache_dir
// disables caching.
TokenizedDataset load_tokenized_dataset(const std::string& path, const LayoutOptions& layout,
                                        const Tokenizer& tokenizer, const TokenizeOptions& options,
                                        const std::filesystem::path& cache_dir);

}  // namespace dpo
