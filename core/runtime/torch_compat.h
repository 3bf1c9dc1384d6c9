#pragma once
// The one place that knows which libtorch it is built against: Debian 12's 1.13 (CPU) or a current
// PyTorch 2.x with CUDA. Everything that differs between them goes through here.
#include <ATen/autocast_mode.h>
#include <torch/types.h>
#include <torch/version.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <type_traits>
#if defined(DPO_WITH_CUDA)  // set by core/CMakeLists.txt when libtorch has c10_cuda
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#define DPO_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

// at::scaled_dot_product_attention (fused flash / memory-efficient kernels) exists from 2.0.
#define DPO_HAVE_SDPA DPO_TORCH_AT_LEAST(2, 0)

namespace c10d {
class ProcessGroup;
class Backend;
}  // namespace c10d

namespace dpo::compat {

// c10d: 2.0 split process groups into a front (ProcessGroup) and backends (Gloo, NCCL) deriving from
// Backend; in 1.13 the Gloo group is itself a ProcessGroup.
#if DPO_TORCH_AT_LEAST(2, 0)
using C10dBackend = c10d::Backend;
#else
using C10dBackend = c10d::ProcessGroup;
#endif

// The key of a parameter in an optimiser's state map: 1.13 keys by the TensorImpl address as text,
// later versions by the address itself.
template <class StateMap>
typename StateMap::key_type optimizer_state_key(const StateMap&, const at::Tensor& parameter) {
  if constexpr (std::is_same_v<typename StateMap::key_type, std::string>) {
    std::ostringstream key;
    key << static_cast<const void*>(parameter.unsafeGetTensorImpl());
    return key.str();
  } else {
    return parameter.unsafeGetTensorImpl();
  }
}

// CUDA autocast: 2.4 made the API device-generic and deprecated the CUDA-only calls.
inline bool cuda_autocast_enabled() {
#if DPO_TORCH_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(at::kCUDA);
#else
  return at::autocast::is_enabled();
#endif
}

inline at::ScalarType cuda_autocast_dtype() {
#if DPO_TORCH_AT_LEAST(2, 4)
  return at::autocast::get_autocast_dtype(at::kCUDA);
#else
  return at::autocast::get_autocast_gpu_dtype();
#endif
}

inline void set_cuda_autocast(bool enabled, at::ScalarType dtype) {
#if DPO_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_dtype(at::kCUDA, dtype);
  at::autocast::set_autocast_enabled(at::kCUDA, enabled);
#else
  at::autocast::set_autocast_gpu_dtype(dtype);
  at::autocast::set_enabled(enabled);
#endif
}

// The dtype matmuls of tensors on `device` run in right now: the autocast dtype inside a CUDA
// autocast region, else `fallback` (the tensors' own).
inline at::ScalarType matmul_dtype(const torch::Device& device, at::ScalarType fallback) {
  return device.is_cuda() && cuda_autocast_enabled() ? cuda_autocast_dtype() : fallback;
}

// Peak bytes the CUDA caching allocator handed out on `device` since the last reset (-1 without
// CUDA). Index 0 of the stat arrays is the aggregate over pool kinds in every version.
inline int64_t cuda_peak_allocated_bytes(int device) {
#if defined(DPO_WITH_CUDA)
  return c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device))
      .allocated_bytes[0]
      .peak;
#else
  (void)device;
  return -1;
#endif
}

inline void cuda_reset_peak(int device) {
#if defined(DPO_WITH_CUDA)
  c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(device));
#else
  (void)device;
#endif
}

}  // namespace dpo::compat
