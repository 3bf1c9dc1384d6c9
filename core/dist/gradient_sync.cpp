#include "core/dist/gradient_sync.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/torch.h>

#include <chrono>

#include "core/runtime/error.h"

namespace dpo::dist {

GradientSync::GradientSync(std::shared_ptr<Communicator> communicator, std::vector<torch::Tensor> parameters,
                           int64_t bucket_bytes)
    : communicator_(std::move(communicator)), parameters_(std::move(parameters)) {
  bucket_of_.resize(parameters_.size());
  if (bucket_bytes <= 0) bucket_bytes = static_cast<int64_t>(communicator_->bucket_mb() * (1 << 20));
  // Reverse order; a bucket holds one dtype and device and closes once it reaches its size.
  int64_t bytes = 0;
  for (size_t k = parameters_.size(); k-- > 0;) {
    const auto& p = parameters_[k];
    const int64_t cap = buckets_.size() == 1 ? std::min(bucket_bytes, kFirstBucketBytes) : bucket_bytes;
    const bool fits = !buckets_.empty() && bytes < cap &&
                      parameters_[buckets_.back().members.front()].scalar_type() == p.scalar_type() &&
                      parameters_[buckets_.back().members.front()].device() == p.device();
    if (!fits) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().members.push_back(k);
    buckets_.back().numel += p.numel();
    bytes += p.numel() * static_cast<int64_t>(p.element_size());
    bucket_of_[k] = buckets_.size() - 1;
  }
  for (size_t k = 0; k < parameters_.size(); ++k) {
    auto accumulator = torch::autograd::impl::grad_accumulator(parameters_[k]);
    if (!accumulator)
      throw std::logic_error("GradientSync: parameter " + std::to_string(k) + " is not a leaf");
    hook_keys_.push_back(accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [this, k](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          on_gradient(k);
          return outputs;
        })));
    accumulators_.push_back(std::move(accumulator));
  }
}

GradientSync::~GradientSync() {
  for (size_t k = 0; k < accumulators_.size(); ++k) accumulators_[k]->del_post_hook(hook_keys_[k]);
}

std::vector<int64_t> GradientSync::bucket_bytes() const {
  std::vector<int64_t> out;
  for (const auto& b : buckets_)
    out.push_back(b.numel * static_cast<int64_t>(parameters_[b.members.front()].element_size()));
  return out;
}

void GradientSync::arm() {
  std::lock_guard lock(mutex_);
  armed_ = true;
  next_launch_ = 0;
  for (auto& b : buckets_) {
    b.ready = 0;
    b.wait = nullptr;
    b.flat = torch::Tensor();
  }
}

void GradientSync::on_gradient(size_t parameter) {
  std::lock_guard lock(mutex_);
  if (!armed_) return;
  auto& bucket = buckets_[bucket_of_[parameter]];
  if (++bucket.ready == bucket.members.size()) launch_ready();
}

void GradientSync::launch(Bucket& bucket) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  grads.reserve(bucket.members.size());
  for (auto k : bucket.members) {
    const auto& g = parameters_[k].grad();
    grads.push_back(g.defined() ? g.reshape(-1)
                                : torch::zeros({parameters_[k].numel()}, parameters_[k].options()));
  }
  bucket.flat = torch::cat(grads);  // (numel)
  bucket.wait = communicator_->all_reduce_sum_async(bucket.flat);
}

void GradientSync::launch_ready() {
  while (next_launch_ < buckets_.size() &&
         buckets_[next_launch_].ready == buckets_[next_launch_].members.size())
    launch(buckets_[next_launch_++]);
}

void GradientSync::finish() {
  std::lock_guard lock(mutex_);
  if (!armed_) return;
  armed_ = false;
  const auto started = std::chrono::steady_clock::now();
  while (next_launch_ < buckets_.size()) launch(buckets_[next_launch_++]);
  torch::NoGradGuard no_grad;
  for (auto& bucket : buckets_) {
    bucket.wait();
    int64_t offset = 0;
    for (auto k : bucket.members) {
      auto& p = parameters_[k];
      auto sum = bucket.flat.narrow(0, offset, p.numel()).view_as(p);
      offset += p.numel();
      if (p.grad().defined())
        p.mutable_grad().copy_(sum);
      else
        p.mutable_grad() = sum.clone();
    }
    bucket.flat = torch::Tensor();
    bucket.wait = nullptr;
  }
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

void GradientSync::broadcast_parameters() {
  torch::NoGradGuard no_grad;
  for (const auto& bucket : buckets_) {
    std::vector<torch::Tensor> values;
    for (auto k : bucket.members) values.push_back(parameters_[k].detach().reshape(-1));
    auto flat = torch::cat(values);  // (numel)
    communicator_->broadcast(flat, 0);
    int64_t offset = 0;
    for (auto k : bucket.members) {
      auto& p = parameters_[k];
      p.detach().copy_(flat.narrow(0, offset, p.numel()).view_as(p));
      offset += p.numel();
    }
  }
}

}  // namespace dpo::dist
