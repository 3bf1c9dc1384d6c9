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

// "dpo-studio 0.1.0, libtorch 1.13.1": the version is CMake's project(VERSION).
std::string version_string();

// Directory of the running executable (from /proc/self/exe).
std::string executable_dir();

// The package's private library folder (the sentencepiece shim) and shared data folder (demo,
// lessons): /usr/lib/x86_64-linux-gnu/dpo-studio and /usr/share/dpo-studio for /usr/bin/dpo, and the same
// relative places beside a build tree's bin/, where they usually do not exist.
std::string installed_library_dir();
std::string installed_data_dir();

}  // namespace dpo
