#pragma once
// Gradient synchronisation the way DDP's reducer does it: parameters grouped into size-bounded
// buckets (in reverse order, the order backward produces their gradients), each bucket all-reduced
// asynchronously as soon as backward has accumulated all of its gradients, so communication overlaps
// the rest of the backward pass.
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/dist/communicator.h"

namespace torch::autograd {
struct Node;
}

namespace dpo::dist {

// DDP's first bucket is small (1 MB) so that communication starts early in backward.
inline constexpr int64_t kFirstBucketBytes = int64_t{1} << 20;

class GradientSync {
 public:
  // `parameters`: the trainable ones, identical in order and shape on every rank. Buckets close
  // once they hold `bucket_bytes` (default: the communicator's bucket_mb), the first at 1 MB.
  GradientSync(std::shared_ptr<Communicator> communicator, std::vector<torch::Tensor> parameters,
               int64_t bucket_bytes = 0);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // The next backward pass all-reduces (the last micro-batch of a step; earlier ones only
  // accumulate locally, with no communication).
  void arm();
  // After that backward: all-reduces the buckets backward did not fill (parameters without a
  // gradient count as zeros), waits for every bucket and writes the sums into the gradients.
  void finish();

  // rank 0's parameter values on every rank (before the first step).
  void broadcast_parameters();

  size_t buckets() const { return buckets_.size(); }
  // Seconds finish() has spent so far waiting for all-reduces: the communication backward did not hide.
  double wait_seconds() const { return wait_seconds_; }
  std::vector<int64_t> bucket_bytes() const;

 private:
  struct Bucket {
    std::vector<size_t> members;  // indices into parameters_
    int64_t numel = 0;
    torch::Tensor flat;          // (numel) while in flight
    std::function<void()> wait;  // set once launched
    size_t ready = 0;
  };
  void on_gradient(size_t parameter);  // AccumulateGrad's post hook
  void launch(Bucket& bucket);
  void launch_ready();  // in bucket order, as DDP does: every rank issues the same sequence

  std::shared_ptr<Communicator> communicator_;
  std::vector<torch::Tensor> parameters_;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;  // kept alive: the hooks live on them
  std::vector<uintptr_t> hook_keys_;  // removed again by the destructor: the model may outlive this
  std::vector<size_t> bucket_of_;
  std::vector<Bucket> buckets_;
  size_t next_launch_ = 0;
  bool armed_ = false;
  double wait_seconds_ = 0;
  std::mutex mutex_;  // CUDA backward runs hooks on the device's autograd thread
};

}  // namespace dpo::dist
