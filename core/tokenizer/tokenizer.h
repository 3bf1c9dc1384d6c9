#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

// What the data pipeline needs from any tokenizer (sentencepiece now; byte-level BPE later).
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Encodes text without special tokens.
  virtual std::vector<int> encode(std::string_view text) const = 0;
  virtual std::string decode(std::span<const int> ids) const = 0;
  virtual std::string piece(int id) const = 0;
  virtual int vocab_size() const = 0;
  virtual std::optional<int> bos_id() const = 0;
  virtual std::optional<int> eos_id() const = 0;
  virtual std::optional<int> pad_id() const = 0;

  // XXH3 of every file the tokenizer was built from (0 when built in code). Cache keys need it:
  // a changed normalizer, pre-tokenizer or merge list does not show in the vocabulary pieces.
  uint64_t source_hash() const { return source_hash_; }
  void set_source_hash(uint64_t hash) { source_hash_ = hash; }

 private:
  uint64_t source_hash_ = 0;
};

}  // namespace dpo
