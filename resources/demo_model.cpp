#include <unistd.h>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "resources/demo_assets.h"

namespace dpo::resources {

std::string unpack_demo_model(const std::string& parent) {
  namespace fs = std::filesystem;
  const auto& files = demo_model_files();
  if (files.empty()) return {};
  uint64_t hash = 1469598103934665603ULL;  // FNV-1a over names and bytes
  for (const auto& f : files)
    for (auto part : {f.name, f.bytes})
      for (unsigned char c : part) hash = (hash ^ c) * 1099511628211ULL;
  char name[40];
  std::snprintf(name, sizeof name, "demo-model-%016llx", static_cast<unsigned long long>(hash));
  const fs::path dir = fs::path(parent) / name;
  if (fs::exists(dir / "model.safetensors")) return dir.string();
  // Written beside and renamed into place, so a concurrent reader never sees half a folder.
  const fs::path tmp = fs::path(parent) / (std::string(name) + ".tmp" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  for (const auto& f : files) {
    std::ofstream out(tmp / std::string(f.name), std::ios::binary);
    out.write(f.bytes.data(), static_cast<std::streamsize>(f.bytes.size()));
    if (!out) return {};
  }
  std::error_code ec;
  fs::rename(tmp, dir, ec);
  if (ec) fs::remove_all(tmp, ec);  // another process won the race: its copy is identical
  return dir.string();
}

}  // namespace dpo::resources
