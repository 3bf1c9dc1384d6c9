#include "core/generate/stream.h"

#include <torch/torch.h>

#include "core/train/logprobs.h"

namespace dpo {

GeneratedSequence generate_stream(LlamaForCausalLM& model, const std::vector<int64_t>& prompt,
                                  const GenerationConfig& config, const StreamCallback& on_token,
                                  const Tokenizer* tokenizer) {
  TokenCallback each;
  if (on_token) each = [&](size_t, int64_t token) { return on_token(token); };
  // A batch of one needs no padding, so pad_id never reaches the model.
  return generate(model, {prompt}, /*pad_id=*/0, config, each, tokenizer).front();
}

double answer_logp(LlamaForCausalLM& model, const std::vector<int64_t>& prompt,
                   const std::vector<int64_t>& answer) {
  if (answer.empty()) return 0.0;
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  const auto device = model->parameters().front().device();
  std::vector<int64_t> row(prompt);
  row.insert(row.end(), answer.begin(), answer.end());
  const auto T = static_cast<int64_t>(row.size());
  auto ids = torch::tensor(row, torch::kLong).view({1, T});
  auto attention = torch::ones({1, T}, torch::kLong);
  auto response = torch::zeros({1, T}, torch::kLong);
  response.narrow(1, static_cast<int64_t>(prompt.size()), static_cast<int64_t>(answer.size())).fill_(1);
  ids = ids.to(device);
  const auto logits = model->forward(ids, attention.to(device));
  const auto logps = response_logprobs(logits, ids, response.to(device));
  if (was_training) model->train();
  return logps.sum.to(torch::kCPU, torch::kFloat64).item<double>();
}

std::string TextStream::grow() {
  const std::string text = tokenizer_.decode(ids_);
  if (text.size() <= emitted_.size() || text.compare(0, emitted_.size(), emitted_) != 0) return {};
  // A decoder may render half a UTF-8 character as U+FFFD: wait for the rest of its bytes.
  if (text.ends_with("\xEF\xBF\xBD")) return {};
  std::string piece = text.substr(emitted_.size());
  emitted_ = text;
  return piece;
}

std::string TextStream::push(int64_t token) {
  ids_.push_back(static_cast<int>(token));
  return grow();
}

std::string TextStream::finish() { return grow(); }

}  // namespace dpo
