#include "core/generate/generate.h"

#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

#include "core/generate/sampling.h"
#include "core/model/kv_cache.h"

namespace dpo {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::Length:
      return "length";
    case FinishReason::StopToken:
      return "stop_token";
    case FinishReason::StopString:
      return "stop_string";
    case FinishReason::Cancelled:
      return "cancelled";
  }
  return "unknown";
}

namespace {

// Cuts `tokens` after the first stop string in their decoded text; true when one was found.
bool cut_at_stop_string(std::vector<int64_t>& tokens, const std::vector<std::string>& stops,
                        const Tokenizer& tok) {
  std::vector<int> ids(tokens.begin(), tokens.end());
  const std::string text = tok.decode(ids);
  for (const auto& stop : stops) {
    if (stop.empty() || text.find(stop) == std::string::npos) continue;
    // Shortest prefix of tokens whose text contains the stop string.
    for (size_t n = 1; n <= ids.size(); ++n) {
      if (tok.decode(std::span<const int>(ids.data(), n)).find(stop) != std::string::npos) {
        tokens.resize(n);
        return true;
      }
    }
  }
  return false;
}

}  // namespace

std::vector<GeneratedSequence> generate(LlamaForCausalLM& model,
                                        const std::vector<std::vector<int64_t>>& prompts, int64_t pad_id,
                                        const GenerationConfig& config, const TokenCallback& on_token,
                                        const Tokenizer* tokenizer) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  const auto device = model->parameters().front().device();
  const auto B = static_cast<int64_t>(prompts.size());
  size_t longest = 1;
  for (const auto& p : prompts) longest = std::max(longest, p.size());

  // Left padding: (B, P) ids and mask, every prompt ending at column P-1.
  auto ids = torch::full({B, static_cast<int64_t>(longest)}, pad_id, torch::kLong);
  auto mask = torch::zeros({B, static_cast<int64_t>(longest)}, torch::kLong);
  std::vector<std::vector<int64_t>> history(prompts.begin(), prompts.end());
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[static_cast<size_t>(b)];
    const auto offset = static_cast<int64_t>(longest - p.size());
    for (size_t t = 0; t < p.size(); ++t) ids[b][offset + static_cast<int64_t>(t)] = p[t];
    mask[b].narrow(0, offset, static_cast<int64_t>(p.size())).fill_(1);
  }
  ids = ids.to(device);
  mask = mask.to(device);

  auto generator = at::make_generator<at::CPUGeneratorImpl>(config.seed);
  std::vector<GeneratedSequence> out(static_cast<size_t>(B));
  std::vector<bool> done(static_cast<size_t>(B), false);
  KVCache cache;
  torch::Tensor step_input = ids;  // (B, P) first, then (B, 1)
  bool cancelled = false;

  for (int64_t step = 0; step < config.max_new_tokens && !cancelled; ++step) {
    torch::Tensor logits;
    if (config.use_cache) {
      logits = model->forward(step_input, mask, &cache);
    } else {
      logits = model->forward(ids, mask);
    }
    auto next_logits = logits.select(1, logits.size(1) - 1).to(torch::kCPU, torch::kFloat32);  // (B, V)
    apply_repetition_penalty(next_logits, history, config.repetition_penalty);
    torch::Tensor next;
    if (config.temperature <= 0.0) {
      next = next_logits.argmax(-1);  // (B)
    } else {
      next_logits = next_logits / config.temperature;
      apply_top_k(next_logits, config.top_k);
      apply_top_p(next_logits, config.top_p);
      next = torch::multinomial(next_logits.softmax(-1), 1, /*replacement=*/false, generator).squeeze(-1);
    }
    for (int64_t b = 0; b < B; ++b) {
      const auto i = static_cast<size_t>(b);
      if (done[i]) {
        next[b] = pad_id;
        continue;
      }
      const int64_t token = next[b].item<int64_t>();
      out[i].tokens.push_back(token);
      history[i].push_back(token);
      if (on_token && !on_token(i, token)) cancelled = true;
      if (std::find(config.stop_token_ids.begin(), config.stop_token_ids.end(), token) !=
          config.stop_token_ids.end()) {
        done[i] = true;
        out[i].finish = FinishReason::StopToken;
      } else if (tokenizer != nullptr && !config.stop_strings.empty() &&
                 cut_at_stop_string(out[i].tokens, config.stop_strings, *tokenizer)) {
        done[i] = true;
        out[i].finish = FinishReason::StopString;
      }
    }
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
    step_input = next.view({B, 1}).to(device);
    ids = torch::cat({ids, step_input}, 1);
    mask = torch::cat({mask, torch::ones({B, 1}, mask.options())}, 1);
  }
  if (cancelled)
    for (size_t i = 0; i < out.size(); ++i)
      if (!done[i]) out[i].finish = FinishReason::Cancelled;
  if (was_training) model->train();
  return out;
}

}  // namespace dpo
