#pragma once
#include <optional>
#include <string>

namespace dpo {

// Sets torch's intra-op thread count to `threads`, or to the hardware concurrency when empty
// (torch's default here is 1). Returns the count in effect.
int configure_threads(std::optional<int> threads);

// The BLAS library libtorch is using in this process, e.g.
// "OpenBLAS 0.3.21 (openmp) /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3".
std::string blas_description();

std::string version_string();

// Directory of the running executable (from /proc/self/exe).
std::string executable_dir();

}  // namespace dpo
