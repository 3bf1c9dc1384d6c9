#include "core/runtime/runtime.h"

#include "core/runtime/build_info.h"
#include "core/runtime/version.h"

#include <dlfcn.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace dpo {

int configure_threads(std::optional<int> threads) {
  int n = threads.value_or(static_cast<int>(std::thread::hardware_concurrency()));
  if (n < 1) n = 1;
  torch::set_num_threads(n);
  return torch::get_num_threads();
}

std::string blas_description() {
  // libtorch reaches BLAS through libblas.so.3, whose alternative decides the implementation.
  std::string path;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string file = line.substr(slash);
    if (file.find("blas") != std::string::npos) {
      std::error_code ec;
      path = std::filesystem::canonical(file, ec).string();
      if (ec) path = file;
      if (path.find("libblas") != std::string::npos || path.find("openblas") != std::string::npos) break;
    }
  }
  std::string name = "unknown BLAS";
  using ConfigFn = const char* (*)();
  if (auto* config = reinterpret_cast<ConfigFn>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
    name = config();  // "OpenBLAS 0.3.21 ... USE_OPENMP ..."
  } else if (path.find("/blas/") != std::string::npos) {
    name = "reference BLAS (slow: install libopenblas0-openmp)";
  }
  return path.empty() ? name : name + " " + path;
}

const char* version() { return DPO_VERSION; }

const char* torch_version() { return TORCH_VERSION; }

std::string version_string() {
  return std::string("dpo-studio ") + version() + ", libtorch " + torch_version();
}

std::string executable_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

std::string installed_library_dir() {
  return (std::filesystem::path(executable_dir()) / DPO_RELATIVE_PKGLIBDIR).lexically_normal().string();
}

std::string installed_data_dir() {
  return (std::filesystem::path(executable_dir()) / DPO_RELATIVE_PKGDATADIR).lexically_normal().string();
}

}  // namespace dpo
