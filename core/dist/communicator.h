#pragma once
// Data-parallel processes on PyTorch's own distributed engine (c10d): a TCPStore rendezvous and a
// Gloo process group on CPU, NCCL when built against a CUDA libtorch that has it. c10d stays inside
// communicator.cpp; the rest of the core sees tensors and this class.
#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dpo::dist {

// How a process finds the others: the variables torchrun, Slurm wrappers and Kubernetes jobs set.
struct DistConfig {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";  // the rendezvous (rank 0 serves it)
  int master_port = 29500;
  double timeout_seconds = 300;  // a collective that waits longer fails (a stopped or hung rank)
  std::string backend = "auto";  // "gloo", "nccl", or "auto": NCCL for CUDA tensors when built with it
  // A c10d FileStore instead of the TCP rendezvous (one machine: `dpo train --nproc` makes a fresh
  // one in a private folder), so that no port listens at all. libtorch 1.13's TCPStore listens on
  // every interface of master_port, whatever master_addr says.
  std::string store_file;
  double bucket_mb = 25;  // gradient bucket size (DDP's bucket_cap_mb); DPO_BUCKET_MB
};

// RANK and WORLD_SIZE (and LOCAL_RANK, MASTER_ADDR, MASTER_PORT, DPO_DIST_TIMEOUT,
// DPO_DIST_BACKEND, DPO_RENDEZVOUS_FILE, DPO_BUCKET_MB) from the environment; nullopt when WORLD_SIZE is
// unset. A malformed value throws ConfigError naming it.
std::optional<DistConfig> config_from_environment();

// One whole number of that environment (a launcher's RANK, LOCAL_WORLD_SIZE, ...): `fallback` when
// unset or empty, else the value if it lies in [lo, hi]; anything else throws ConfigError naming it.
int64_t environment_int(const char* name, int64_t fallback, int64_t lo, int64_t hi);

// Whether this build can use the NCCL backend (a CUDA libtorch with c10d's ProcessGroupNCCL).
bool nccl_available();

// One process's membership of the group. Every collective is matched in order across ranks; a
// failure (a rank that died, or one silent past the timeout) throws TrainingError naming this rank.
class Communicator {
 public:
  // Joins the group: rank 0 serves the rendezvous on master_addr:master_port, the others connect;
  // returns once all world_size processes are there (or throws after the timeout).
  static std::shared_ptr<Communicator> connect(const DistConfig& config, torch::Device device);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const;
  int world_size() const;
  const std::string& backend() const;
  double timeout_seconds() const;
  double bucket_mb() const;

  // In-place sum over all ranks, blocking.
  void all_reduce_sum(const torch::Tensor& tensor);
  // Starts an in-place sum; the returned function blocks until it is done (and throws on failure).
  std::function<void()> all_reduce_sum_async(const torch::Tensor& tensor);
  // `tensor` takes rank `root`'s value on every rank, blocking.
  void broadcast(const torch::Tensor& tensor, int root);
  // Waits for every rank to get here.
  void barrier();

  // All-reduce calls made so far (gradient buckets and metric sums alike).
  int64_t all_reduce_calls() const;

 private:
  struct Impl;
  explicit Communicator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The contiguous share [begin, end) of `count` items that rank `rank` of `world` takes: sizes differ
// by at most one, in rank order.
std::pair<size_t, size_t> shard_range(size_t count, int rank, int world);

}  // namespace dpo::dist
