#pragma once
#include <memory>
#include <string>

#include "core/tokenizer/tokenizer.h"

namespace dpo {

// A sentencepiece model, run through libdpo_spm_shim.so in its own dlmopen namespace.
class SentencePieceTokenizer final : public Tokenizer {
 public:
  static std::unique_ptr<SentencePieceTokenizer> from_file(const std::string& path);
  static std::unique_ptr<SentencePieceTokenizer> from_bytes(std::string_view model_proto,
                                                            const std::string& label);
  ~SentencePieceTokenizer() override;

  std::vector<int> encode(std::string_view text) const override;
  std::string decode(std::span<const int> ids) const override;
  std::string piece(int id) const override;
  int vocab_size() const override;
  std::optional<int> bos_id() const override;
  std::optional<int> eos_id() const override;
  std::optional<int> pad_id() const override;

 private:
  struct Impl;
  explicit SentencePieceTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Trains a sentencepiece model with trainer arguments ("--input=a.txt --model_prefix=m ...").
void train_sentencepiece(const std::string& args);

// Where the shim is looked for: $DPO_SPM_SHIM, else next to the executable (a build tree), else in
// installed_library_dir() (the package: /usr/lib/x86_64-linux-gnu/dpo-studio).
std::string sentencepiece_shim_path();

}  // namespace dpo
