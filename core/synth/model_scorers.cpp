#include "core/synth/model_scorers.h"

#include <torch/torch.h>

#include <cmath>

#include "core/data/collator.h"
#include "core/data/tokenize.h"
#include "core/runtime/error.h"
#include "core/train/pair_logps.h"

namespace dpo {

namespace {

struct AnswerLogps {
  std::vector<double> sum;     // (N) Σ log π over the answer's tokens
  std::vector<double> tokens;  // (N)
};

std::vector<double> to_doubles(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU).to(torch::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

std::vector<TokenizedPair> encode(const Tokenizer& tokenizer, std::span<const ScoreInput> inputs,
                                  const TokenizeOptions& options) {
  std::vector<TokenizedPair> rows;
  for (const auto& in : inputs) {
    try {
      auto t =
          tokenize_unpaired(tokenizer, {std::string(in.prompt), std::string(in.answer), true, 0}, options);
      // The answer as the chosen half of a pair; the empty rejected half is never run.
      rows.push_back({std::move(t.prompt_ids), std::move(t.completion_ids), {}, in.prompt_index + 1});
    } catch (const Error& e) {
      throw DataError(row_name(in) + ": " + e.what());
    }
  }
  return rows;
}

// Σ log π of each answer given its prompt, batch_size answers per forward pass.
AnswerLogps answer_logps(LlamaForCausalLM& model, const std::vector<TokenizedPair>& rows, int64_t pad_id,
                         int64_t batch_size) {
  c10::InferenceMode inference;
  const bool was_training = model->is_training();
  model->eval();
  AnswerLogps out;
  const auto step = static_cast<size_t>(std::max<int64_t>(1, batch_size));
  for (size_t start = 0; start < rows.size(); start += step) {
    const size_t n = std::min(step, rows.size() - start);
    auto batch = collate_pairs(std::span(rows).subspan(start, n), pad_id);
    const auto B = static_cast<int64_t>(n);
    // Only the chosen half, rows [0, B): (B, T).
    auto scores =
        model_response_logprobs(model, batch.input_ids.narrow(0, 0, B), batch.attention_mask.narrow(0, 0, B),
                                batch.response_mask.narrow(0, 0, B));
    const auto sums = to_doubles(scores.logps.sum), tokens = to_doubles(scores.logps.tokens);
    out.sum.insert(out.sum.end(), sums.begin(), sums.end());
    out.tokens.insert(out.tokens.end(), tokens.begin(), tokens.end());
  }
  if (was_training) model->train();
  return out;
}

int64_t pad_of(const Tokenizer& tokenizer) {
  return tokenizer.pad_id().value_or(tokenizer.eos_id().value_or(0));
}

class LogprobScorer : public Scorer {
 public:
  LogprobScorer(LlamaForCausalLM model, const Tokenizer& tokenizer, ModelScorerOptions options)
      : model_(std::move(model)), tokenizer_(tokenizer), options_(std::move(options)) {}

  std::vector<double> score(std::span<const ScoreInput> inputs) override {
    const auto lp = answer_logps(model_, encode(tokenizer_, inputs, options_.tokenize), pad_of(tokenizer_),
                                 options_.batch_size);
    std::vector<double> out;
    for (size_t i = 0; i < lp.sum.size(); ++i)
      out.push_back(lp.tokens[i] > 0 ? lp.sum[i] / lp.tokens[i] : 0.0);
    return out;
  }

 private:
  LlamaForCausalLM model_;
  const Tokenizer& tokenizer_;
  ModelScorerOptions options_;
};

class ImplicitScorer : public Scorer {
 public:
  ImplicitScorer(LlamaForCausalLM policy, LlamaForCausalLM reference, const Tokenizer& tokenizer, double beta,
                 ModelScorerOptions options)
      : policy_(std::move(policy)),
        reference_(std::move(reference)),
        tokenizer_(tokenizer),
        beta_(beta),
        options_(std::move(options)) {
    if (!(beta > 0) || !std::isfinite(beta))
      throw ConfigError("scorer implicit: beta must be a positive number");
    if (policy_->config().vocab_size != reference_->config().vocab_size)
      throw ConfigError("scorer implicit: the reference's vocab_size " +
                        std::to_string(reference_->config().vocab_size) + " differs from the model's " +
                        std::to_string(policy_->config().vocab_size));
  }

  std::vector<double> score(std::span<const ScoreInput> inputs) override {
    const auto rows = encode(tokenizer_, inputs, options_.tokenize);
    const auto pi = answer_logps(policy_, rows, pad_of(tokenizer_), options_.batch_size);
    const auto ref = answer_logps(reference_, rows, pad_of(tokenizer_), options_.batch_size);
    std::vector<double> out;
    for (size_t i = 0; i < pi.sum.size(); ++i) out.push_back(beta_ * (pi.sum[i] - ref.sum[i]));
    return out;
  }

 private:
  LlamaForCausalLM policy_, reference_;
  const Tokenizer& tokenizer_;
  double beta_;
  ModelScorerOptions options_;
};

}  // namespace

std::unique_ptr<Scorer> make_logprob_scorer(LlamaForCausalLM model, const Tokenizer& tokenizer,
                                            const ModelScorerOptions& options) {
  return std::make_unique<LogprobScorer>(std::move(model), tokenizer, options);
}

std::unique_ptr<Scorer> make_implicit_scorer(LlamaForCausalLM policy, LlamaForCausalLM reference,
                                             const Tokenizer& tokenizer, double beta,
                                             const ModelScorerOptions& options) {
  return std::make_unique<ImplicitScorer>(std::move(policy), std::move(reference), tokenizer, beta, options);
}

}  // namespace dpo
