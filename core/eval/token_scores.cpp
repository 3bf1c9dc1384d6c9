#include "core/eval/token_scores.h"

#include <torch/torch.h>

#include <span>

#include "core/data/collator.h"

namespace dpo {

namespace {

// (N, T−1): log π(ids[:, t+1] | ids[:, ≤t]), the same gather as response_logprobs before its sum.
torch::Tensor token_logps(LlamaForCausalLM& model, const torch::Tensor& ids, const torch::Tensor& attention) {
  const auto device = model->parameters().front().device();
  auto logits = model(ids.to(device), attention.to(device)).to(torch::kFloat32);  // (N, T, V)
  const auto T = logits.size(1);
  auto shifted = logits.narrow(1, 0, T - 1);         // (N, T−1, V)
  auto labels = ids.to(device).narrow(1, 1, T - 1);  // (N, T−1)
  return (shifted.gather(-1, labels.unsqueeze(-1)).squeeze(-1) - shifted.logsumexp(-1)).to(torch::kCPU);
}

// What each token adds to the decoded text: decoding drops a leading "▁" or merges bytes, so a
// token's text is the growth of the decoded prefix (responses are short; quadratic is fine).
std::vector<std::string> token_texts(const Tokenizer& tokenizer, const std::vector<int64_t>& ids) {
  std::vector<int> prefix;
  std::vector<std::string> out;
  std::string previous;
  for (int64_t id : ids) {
    prefix.push_back(static_cast<int>(id));
    std::string now = tokenizer.decode(prefix);
    out.push_back(now.size() >= previous.size() && now.compare(0, previous.size(), previous) == 0
                      ? now.substr(previous.size())
                      : tokenizer.decode(std::span<const int>(&prefix.back(), 1)));
    previous = std::move(now);
  }
  return out;
}

std::vector<double> to_doubles(const torch::Tensor& t) {
  auto c = t.to(torch::kCPU).to(torch::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

// mask: (T) response mask in the input_ids frame; policy, reference: (T−1), token t scored at t − 1.
std::vector<TokenScore> response_scores(const Tokenizer& tokenizer, const std::vector<int64_t>& completion,
                                        const std::vector<double>& mask, const std::vector<double>& policy,
                                        const std::vector<double>* reference) {
  const auto texts = token_texts(tokenizer, completion);
  std::vector<TokenScore> out;
  size_t k = 0;
  for (size_t t = 1; t < mask.size() && k < completion.size(); ++t) {
    if (mask[t] == 0.0) continue;
    TokenScore s;
    s.id = completion[k];
    s.piece = tokenizer.piece(static_cast<int>(s.id));
    s.text = texts[k];
    s.policy_logp = policy[t - 1];
    s.reference_logp = reference ? (*reference)[t - 1] : 0.0;
    out.push_back(std::move(s));
    ++k;
  }
  return out;
}

}  // namespace

PairTokenScores score_pair_tokens(LlamaForCausalLM& policy, LlamaForCausalLM* reference,
                                  const TokenizedPair& pair, int64_t pad_id, const Tokenizer& tokenizer) {
  torch::NoGradGuard no_grad;
  const bool was_training = policy->is_training();
  policy->eval();
  auto batch = collate_pairs(std::span(&pair, 1), pad_id);  // (2, T): chosen row, rejected row
  const auto pi = token_logps(policy, batch.input_ids, batch.attention_mask);  // (2, T−1)
  torch::Tensor ref;
  if (reference != nullptr) ref = token_logps(*reference, batch.input_ids, batch.attention_mask);
  if (was_training) policy->train();

  PairTokenScores out;
  out.line = pair.line;
  out.has_reference = reference != nullptr;
  std::vector<int> prompt;
  const auto bos = tokenizer.bos_id();
  for (int64_t id : pair.prompt_ids)
    if (!bos || id != *bos) prompt.push_back(static_cast<int>(id));
  out.prompt = tokenizer.decode(prompt);
  for (int64_t row : {0, 1}) {
    const auto mask = to_doubles(batch.response_mask[row]);
    const auto policy_row = to_doubles(pi[row]);
    std::vector<double> reference_row;
    if (ref.defined()) reference_row = to_doubles(ref[row]);
    (row == 0 ? out.chosen : out.rejected) =
        response_scores(tokenizer, row == 0 ? pair.chosen_ids : pair.rejected_ids, mask, policy_row,
                        ref.defined() ? &reference_row : nullptr);
  }
  return out;
}

}  // namespace dpo
