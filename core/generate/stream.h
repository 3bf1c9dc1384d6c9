#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/generate/generate.h"
#include "core/model/llama.h"
#include "core/tokenizer/tokenizer.h"

namespace dpo {

// Called once per new token as soon as it is sampled; return false to stop (finish = Cancelled).
using StreamCallback = std::function<bool(int64_t token)>;

// One prompt, no padding: the same decoding as generate() (same tokens for the same config and
// seed), with each new token handed to `on_token` before the next one is computed.
GeneratedSequence generate_stream(LlamaForCausalLM& model, const std::vector<int64_t>& prompt,
                                  const GenerationConfig& config, const StreamCallback& on_token,
                                  const Tokenizer* tokenizer = nullptr);

// Σ_t log π(answer_t | prompt, answer_<t): one forward pass over prompt + answer, summed over the
// answer tokens only (response_logprobs, as training scores completions). 0 for an empty answer.
// Runs under no_grad in eval mode and restores the model's training flag.
double answer_logp(LlamaForCausalLM& model, const std::vector<int64_t>& prompt,
                   const std::vector<int64_t>& answer);

// Incremental detokenization for streaming: what each new token adds to the decoded text.
// Decoding merges byte tokens and drops a leading "▁", so a piece is the growth of the decoded
// prefix; a token that leaves the text not yet a clean extension (half a UTF-8 character) adds ""
// and its text arrives with a later token. The concatenated pieces plus finish() are the text.
class TextStream {
 public:
  explicit TextStream(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  std::string push(int64_t token);
  std::string finish();  // whatever the full decode adds beyond what push() returned
  const std::string& emitted() const { return emitted_; }

 private:
  std::string grow();
  const Tokenizer& tokenizer_;
  std::vector<int> ids_;
  std::string emitted_;
};

}  // namespace dpo
