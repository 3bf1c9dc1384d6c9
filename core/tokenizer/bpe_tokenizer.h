#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/tokenizer_config.h"

namespace dpo {

// A Hugging Face tokenizer.json with a BPE model: byte-level (GPT-2, Llama 3, Qwen2) or
// Metaspace/byte-fallback (Llama 2). Every const method may be called from several threads at once.
class BpeTokenizer final : public Tokenizer {
 public:
  // Reads tokenizer.json; a tokenizer_config.json next to it, when present, supplies bos/eos/pad.
  static std::unique_ptr<BpeTokenizer> from_file(const std::string& tokenizer_json_path);
  static std::unique_ptr<BpeTokenizer> from_json_text(std::string_view json_text, const std::string& label);
  ~BpeTokenizer() override;

  // Added tokens in the text are matched (as HF tokenizers always does); no BOS/EOS from the post-processor.
  std::vector<int> encode(std::string_view text) const override;
  // encode() followed by the post-processor (TemplateProcessing, Roberta/Bert, ByteLevel = nothing).
  std::vector<int> encode_with_special(std::string_view text) const;
  // Added tokens decode to their content, special ones included.
  std::string decode(std::span<const int> ids) const override;
  std::string decode(std::span<const int> ids, bool skip_special_tokens) const;
  std::string piece(int id) const override;
  int vocab_size() const override;
  std::optional<int> bos_id() const override;
  std::optional<int> eos_id() const override;
  std::optional<int> pad_id() const override;

  std::optional<int> token_to_id(std::string_view token) const;
  // tokenizer_config.json is authoritative: a token it leaves out (or sets to null) is absent.
  void apply_config(const TokenizerConfig& config);

 private:
  struct Impl;
  explicit BpeTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dpo
