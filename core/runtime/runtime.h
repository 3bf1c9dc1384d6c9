#pragma once
#include <optional>
#include <string>

namespace dpo {

// Sets torch's intra-op thread count to `threads`, or to the hardware concurrency when empty
// (torch's default here is 1), and keeps freed memory for reuse (keep_freed_memory). Returns the
// count in effect.
int configure_threads(std::optional<int> threads);

// glibc hands every block above 32 MB to mmap and back to the kernel on free, so each training step
// page-faults its activations and logits in afresh (seen as ~45% system time on this VM). From here
// on freed memory stays in the heap and the next step reuses it. DPO_MALLOC=system leaves glibc's
// defaults (for A/B measurements). Returns whether the setting took effect.
bool keep_freed_memory();

// The BLAS library libtorch is using in this process, e.g.
// "OpenBLAS 0.3.21 (openmp) /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3".
std::string blas_description();

std::string version_string();

// Directory of the running executable (from /proc/self/exe).
std::string executable_dir();

}  // namespace dpo
