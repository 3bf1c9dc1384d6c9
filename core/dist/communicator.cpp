#include "core/dist/communicator.h"

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#if defined(USE_C10D_GLOO)  // libtorch's own compile definitions (Debian's, and PyTorch wheels')
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <atomic>
#include <cstdlib>
#include <limits>
#include <mutex>

#include "core/runtime/error.h"
#include "core/runtime/torch_compat.h"

namespace dpo::dist {

namespace {

// A c10d message is often many lines (a C++ trace): its first line is the one a user can read.
std::string first_line(const std::string& text) {
  auto line = text.substr(0, text.find('\n'));
  return line.size() > 300 ? line.substr(0, 300) + "…" : line;
}

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

bool is_loopback(const std::string& address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

}  // namespace

int64_t environment_int(const char* name, int64_t fallback, int64_t lo, int64_t hi) {
  const auto v = env(name);
  if (!v) return fallback;
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(*v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v->size() || value < lo || value > hi)
    throw ConfigError(std::string("environment: ") + name + "='" + *v + "': expected an integer in [" +
                      std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return value;
}

std::optional<DistConfig> config_from_environment() {
  if (!env("WORLD_SIZE")) return std::nullopt;
  DistConfig c;
  c.world_size = static_cast<int>(environment_int("WORLD_SIZE", 1, 1, 4096));
  if (c.world_size > 1 && !env("RANK")) throw ConfigError("environment: WORLD_SIZE is set but RANK is not");
  c.rank = static_cast<int>(environment_int("RANK", 0, 0, c.world_size - 1));
  c.local_rank = static_cast<int>(environment_int("LOCAL_RANK", c.rank, 0, 4095));
  c.master_addr = env("MASTER_ADDR").value_or("127.0.0.1");
  c.master_port = static_cast<int>(environment_int("MASTER_PORT", 29500, 1, 65535));
  c.timeout_seconds = static_cast<double>(environment_int("DPO_DIST_TIMEOUT", 300, 1, 86400));
  c.backend = env("DPO_DIST_BACKEND").value_or("auto");
  c.store_file = env("DPO_RENDEZVOUS_FILE").value_or("");
  c.bucket_mb = static_cast<double>(environment_int("DPO_BUCKET_MB", 25, 1, 4096));
  if (c.backend != "auto" && c.backend != "gloo" && c.backend != "nccl")
    throw ConfigError("environment: DPO_DIST_BACKEND='" + c.backend + "': expected gloo, nccl or auto");
  return c;
}

bool nccl_available() {
#if defined(USE_C10D_NCCL)
  return true;
#else
  return false;
#endif
}

std::pair<size_t, size_t> shard_range(size_t count, int rank, int world) {
  const auto r = static_cast<size_t>(rank), w = static_cast<size_t>(world);
  return {count * r / w, count * (r + 1) / w};
}

struct Communicator::Impl {
  DistConfig config;
  std::string backend;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<compat::C10dBackend> group;
  std::atomic<int64_t> all_reduces{0};

  [[noreturn]] void fail(const char* what, const std::exception& e) const {
    throw TrainingError("distributed (rank " + std::to_string(config.rank) + " of " +
                        std::to_string(config.world_size) + "): " + what + " failed: " +
                        first_line(e.what()) + " (another process stopped, or was silent for more than " +
                        std::to_string(static_cast<int64_t>(config.timeout_seconds)) + " s)");
  }

  void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) const {
    try {
      work->wait();
    } catch (const std::exception& e) {
      fail(what, e);
    }
  }
};

std::shared_ptr<Communicator> Communicator::connect(const DistConfig& config, torch::Device device) {
  if (config.world_size < 1 || config.rank < 0 || config.rank >= config.world_size)
    throw ConfigError("distributed: rank " + std::to_string(config.rank) + " is outside a world of " +
                      std::to_string(config.world_size));
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(config.timeout_seconds * 1000));
  const bool nccl =
      config.backend == "nccl" || (config.backend == "auto" && device.is_cuda() && nccl_available());
  if (nccl && !nccl_available())
    throw ConfigError(
        "distributed: the nccl backend needs a CUDA libtorch built with NCCL; this build has gloo");
  if (nccl && !device.is_cuda()) throw ConfigError("distributed: the nccl backend needs --device cuda");
  impl->backend = nccl ? "nccl" : "gloo";
  try {
    if (!config.store_file.empty()) {
      auto file = c10::make_intrusive<c10d::FileStore>(config.store_file, config.world_size);
      file->setTimeout(timeout);
      impl->store = c10::make_intrusive<c10d::PrefixStore>("dpo", file);
    } else {
      c10d::TCPStoreOptions options;
      options.port = static_cast<uint16_t>(config.master_port);
      options.isServer = config.rank == 0;
      options.numWorkers = static_cast<size_t>(config.world_size);
      options.waitWorkers = true;
      options.timeout = timeout;
      auto tcp = c10::make_intrusive<c10d::TCPStore>(config.master_addr, options);
      impl->store = c10::make_intrusive<c10d::PrefixStore>("dpo", tcp);
    }
  } catch (const std::exception& e) {
    throw TrainingError("distributed (rank " + std::to_string(config.rank) + "): rendezvous at " +
                        (config.store_file.empty()
                             ? config.master_addr + ":" + std::to_string(config.master_port)
                             : config.store_file) +
                        " failed: " + first_line(e.what()));
  }
  try {
    if (nccl) {
#if defined(USE_C10D_NCCL)
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      impl->group =
          c10::make_intrusive<c10d::ProcessGroupNCCL>(impl->store, config.rank, config.world_size, options);
#endif
    } else {
#if !defined(USE_C10D_GLOO)
      throw ConfigError("distributed: this libtorch was built without c10d's Gloo backend");
#else
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      // The pairs' sockets listen on the rendezvous' side of the network: loopback for a local run;
      // GLOO_SOCKET_IFNAME names the interface on a cluster (as for PyTorch).
      if (is_loopback(config.master_addr))
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else if (const auto ifname = env("GLOO_SOCKET_IFNAME"))
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(*ifname));
      else
        options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      options->threads = 2;
      impl->group =
          c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, config.rank, config.world_size, options);
#endif
    }
  } catch (const std::exception& e) {
    throw TrainingError("distributed (rank " + std::to_string(config.rank) + "): connecting the " +
                        std::to_string(config.world_size) + " processes failed: " + first_line(e.what()));
  }
  return std::shared_ptr<Communicator>(new Communicator(std::move(impl)));
}

Communicator::Communicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Communicator::~Communicator() = default;

int Communicator::rank() const { return impl_->config.rank; }
int Communicator::world_size() const { return impl_->config.world_size; }
const std::string& Communicator::backend() const { return impl_->backend; }
double Communicator::timeout_seconds() const { return impl_->config.timeout_seconds; }
double Communicator::bucket_mb() const { return impl_->config.bucket_mb; }
int64_t Communicator::all_reduce_calls() const { return impl_->all_reduces.load(); }

std::function<void()> Communicator::all_reduce_sum_async(const torch::Tensor& tensor) {
  std::vector<at::Tensor> tensors{tensor};
  c10::intrusive_ptr<c10d::Work> work;
  try {
    work = impl_->group->allreduce(tensors);
  } catch (const std::exception& e) {
    impl_->fail("all-reduce", e);
  }
  ++impl_->all_reduces;
  return [impl = impl_.get(), work] { impl->wait(work, "all-reduce"); };
}

void Communicator::all_reduce_sum(const torch::Tensor& tensor) { all_reduce_sum_async(tensor)(); }

void Communicator::broadcast(const torch::Tensor& tensor, int root) {
  std::vector<at::Tensor> tensors{tensor};
  c10d::BroadcastOptions options;
  options.rootRank = root;
  try {
    impl_->wait(impl_->group->broadcast(tensors, options), "broadcast");
  } catch (const TrainingError&) {
    throw;
  } catch (const std::exception& e) {
    impl_->fail("broadcast", e);
  }
}

void Communicator::barrier() {
  try {
    impl_->wait(impl_->group->barrier(), "barrier");
  } catch (const TrainingError&) {
    throw;
  } catch (const std::exception& e) {
    impl_->fail("barrier", e);
  }
}

}  // namespace dpo::dist
