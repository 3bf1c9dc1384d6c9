#include "core/train/logprobs.h"

#include <torch/torch.h>

#include "core/runtime/torch_compat.h"

namespace dpo {

SequenceLogps response_logprobs(const torch::Tensor& logits, const torch::Tensor& input_ids,
                                const torch::Tensor& response_mask) {
  const auto T = logits.size(1);
  auto shifted_logits = logits.narrow(1, 0, T - 1).to(torch::kFloat32);  // (N, T-1, V)
  auto labels = input_ids.narrow(1, 1, T - 1);                           // (N, T-1)
  auto mask = response_mask.narrow(1, 1, T - 1).to(torch::kFloat32);     // (N, T-1)
  // log_softmax gathered at the label = logit[label] - logsumexp(logits)
  auto token_logps =
      shifted_logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1) - shifted_logits.logsumexp(-1);  // (N, T-1)
  return {(token_logps * mask).sum(-1), mask.sum(-1)};
}

int64_t default_logit_chunk_rows(int64_t vocab) {
  constexpr int64_t kChunkFloats = int64_t{8} << 20;  // 32 MB of fp32 logits
  return std::max<int64_t>(64, kChunkFloats / std::max<int64_t>(1, vocab) / 64 * 64);
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// One chunk's fp32 logits: (n, V).
torch::Tensor chunk_logits(const torch::Tensor& h, const torch::Tensor& head_t) {
  return torch::matmul(h.to(head_t.scalar_type()), head_t).to(torch::kFloat32);
}

// (M, C) states, (V, C) head, (M) labels -> (M) log softmax(h·headᵀ)[label], chunk by chunk.
// wpo_out: (M) float32 receives log p[label] − log Σ_v p_v² (not differentiated), or (0) for none
// (libtorch 1.13's Function::apply refuses undefined tensors).
class HeadLogSoftmaxGather : public torch::autograd::Function<HeadLogSoftmaxGather> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& h, const torch::Tensor& head,
                               const torch::Tensor& labels, int64_t chunk, int64_t dtype,
                               torch::Tensor wpo_out) {
    const auto compute = static_cast<at::ScalarType>(dtype);
    auto head_t = head.to(compute).t();  // (C, V)
    const int64_t M = h.size(0);
    auto out = torch::empty({M}, h.options().dtype(torch::kFloat32));
    auto lse = torch::empty({M}, h.options().dtype(torch::kFloat32));
    for (int64_t start = 0; start < M; start += chunk) {
      const int64_t n = std::min(chunk, M - start);
      auto logits = chunk_logits(h.narrow(0, start, n), head_t);  // (n, V)
      auto l = lse.narrow(0, start, n), o = out.narrow(0, start, n);
      torch::logsumexp_out(l, logits, {1});
      torch::sub_out(o, logits.gather(1, labels.narrow(0, start, n).unsqueeze(1)).squeeze(1), l);
      // log Σ_v p_v² = logsumexp(2·logits) − 2·logsumexp(logits)
      if (wpo_out.numel() > 0) wpo_out.narrow(0, start, n).copy_(o - logits.mul(2.0).logsumexp(1) + 2.0 * l);
    }
    ctx->save_for_backward({h, head, labels, lse});
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["dtype"] = dtype;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto &h = saved[0], &head = saved[1], &labels = saved[2], &lse = saved[3];
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const auto compute = static_cast<at::ScalarType>(ctx->saved_data["dtype"].toInt());
    const auto grad = grad_outputs[0].to(torch::kFloat32);  // (M)
    const bool want_h = ctx->needs_input_grad(0), want_head = ctx->needs_input_grad(1);
    auto head_c = head.to(compute);  // (V, C)
    auto head_t = head_c.t();
    const int64_t M = h.size(0);
    torch::Tensor grad_h, grad_head;
    if (want_h) grad_h = torch::empty_like(h);
    if (want_head) grad_head = torch::zeros(head.sizes(), head.options().dtype(torch::kFloat32));
    for (int64_t start = 0; start < M; start += chunk) {
      const int64_t n = std::min(chunk, M - start);
      auto hc = h.narrow(0, start, n);
      auto g = grad.narrow(0, start, n).unsqueeze(1);  // (n, 1)
      // d(logit[label] − logsumexp)/dlogits = onehot(label) − softmax, times the incoming gradient.
      auto dlogits = chunk_logits(hc, head_t);  // (n, V)
      dlogits.sub_(lse.narrow(0, start, n).unsqueeze(1)).exp_().mul_(g).neg_();
      dlogits.scatter_add_(1, labels.narrow(0, start, n).unsqueeze(1), g);
      auto d = dlogits.to(compute);
      if (want_h) grad_h.narrow(0, start, n).copy_(torch::matmul(d, head_c));  // (n, C)
      if (want_head) {
        if (compute == torch::kFloat32)
          grad_head.addmm_(d.t(), hc);  // (V, C)
        else
          grad_head.add_(torch::matmul(d.t(), hc.to(compute)).to(torch::kFloat32));
      }
    }
    if (want_head) grad_head = grad_head.to(head.scalar_type());
    return {grad_h, grad_head, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

ResponseScores response_logprobs_from_hidden(const torch::Tensor& hidden, const torch::Tensor& head,
                                             const torch::Tensor& input_ids,
                                             const torch::Tensor& response_mask, int64_t chunk_rows,
                                             const ResponseScoreOptions& options) {
  const int64_t N = hidden.size(0), T = hidden.size(1), C = hidden.size(2);
  const auto device = hidden.device();
  // Positions t < T−1 whose next token is a response token; found on the host (the collator's mask
  // is a CPU tensor), so the device never waits for nonzero().
  auto mask = response_mask.narrow(1, 1, T - 1).to(torch::kCPU);  // (N, T−1)
  auto where = (mask > 0).nonzero();                              // (M, 2): row, position
  auto rows = where.select(1, 0).contiguous();                    // (M)
  auto flat = (rows * T + where.select(1, 1)).to(device);         // (M) index into (N·T)
  auto tokens = mask.to(torch::kFloat32).sum(-1).to(device);      // (N)
  rows = rows.to(device);
  auto h = hidden.reshape({N * T, C}).index_select(0, flat);                      // (M, C)
  auto labels = input_ids.to(device).reshape({N * T}).index_select(0, flat + 1);  // (M)
  const int64_t M = h.size(0);
  const int64_t chunk = chunk_rows == 0
                            ? std::max<int64_t>(1, M)
                            : (chunk_rows < 0 ? default_logit_chunk_rows(head.size(0)) : chunk_rows);
  const auto dtype = compat::matmul_dtype(device, h.scalar_type());
  auto wpo = torch::empty({options.wpo ? M : 0}, h.options().dtype(torch::kFloat32).requires_grad(false));
  auto token_logps =
      HeadLogSoftmaxGather::apply(h, head, labels, chunk, static_cast<int64_t>(dtype), wpo);  // (M)
  ResponseScores out;
  auto weighted = token_logps;
  if (options.token_weights.defined()) {
    auto w =
        options.token_weights.narrow(1, 1, T - 1).to(torch::kCPU, torch::kFloat32).reshape({N * (T - 1)});
    auto at = (where.select(1, 0) * (T - 1) + where.select(1, 1));  // (M) index into (N·(T−1))
    weighted = token_logps * w.index_select(0, at).to(device);      // (M)
  }
  out.logps.sum = torch::zeros({N}, token_logps.options()).index_add(0, rows, weighted);  // (N)
  out.logps.tokens = tokens;
  if (options.wpo)
    out.wpo_mean = torch::zeros({N}, wpo.options()).index_add(0, rows, wpo) / tokens.clamp_min(1.0);  // (N)
  {
    // The mean logit over the vocabulary at a position is h · mean_v(head_v): no logits needed.
    torch::NoGradGuard no_grad;
    auto per_position =
        torch::matmul(h.detach().to(torch::kFloat32), head.detach().to(torch::kFloat32).mean(0));  // (M)
    out.mean_logits =
        torch::zeros({N}, per_position.options()).index_add(0, rows, per_position) / tokens.clamp_min(1.0);
  }
  return out;
}

}  // namespace dpo
