#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "core/runtime/error.h"
#include "core/runtime/runtime.h"
#include "resources/demo_assets.h"

namespace dpo::resources {

namespace {

namespace fs = std::filesystem;

// True when `dir` holds exactly the embedded files, byte for byte. Anything else (a planted
// weight file, an extra index.json that would redirect the loader, a half-written copy) fails.
bool holds_exactly(const fs::path& dir, const std::vector<EmbeddedFile>& files) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || fs::is_symlink(dir, ec)) return false;
  const auto entries = std::distance(fs::directory_iterator(dir, ec), fs::directory_iterator{});
  if (ec || static_cast<size_t>(entries) != files.size()) return false;
  std::string buffer;
  for (const auto& f : files) {
    const fs::path path = dir / std::string(f.name);
    if (!fs::is_regular_file(fs::symlink_status(path, ec)) || fs::file_size(path, ec) != f.bytes.size())
      return false;
    std::ifstream in(path, std::ios::binary);
    buffer.resize(f.bytes.size());
    if (!in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) ||
        std::memcmp(buffer.data(), f.bytes.data(), buffer.size()) != 0)
      return false;
  }
  return true;
}

}  // namespace

std::string unpack_demo_model(const std::string& parent) {
  return unpack_demo_model(parent, (fs::path(installed_data_dir()) / "demo" / "model").string());
}

std::string unpack_demo_model(const std::string& parent, const std::string& installed) {
  const auto& files = demo_model_files();
  if (files.empty()) return {};
  if (!installed.empty() && holds_exactly(installed, files)) return installed;
  uint64_t hash = 1469598103934665603ULL;  // FNV-1a over names and bytes
  for (const auto& f : files)
    for (auto part : {f.name, f.bytes})
      for (unsigned char c : part) hash = (hash ^ c) * 1099511628211ULL;
  char name[40];
  std::snprintf(name, sizeof name, "demo-model-%016llx", static_cast<unsigned long long>(hash));
  const fs::path dir = fs::path(parent) / name;
  if (holds_exactly(dir, files)) return dir.string();

  // Written beside and renamed into place, so a concurrent reader never sees half a folder.
  std::error_code ec;
  const std::string suffix = ".tmp" + std::to_string(::getpid());
  const fs::path tmp = fs::path(parent) / (std::string(name) + suffix);
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw ModelError(tmp.string() + ": cannot unpack the demo model: " + ec.message());
  for (const auto& f : files) {
    const fs::path path = tmp / std::string(f.name);
    std::ofstream out(path, std::ios::binary);
    out.write(f.bytes.data(), static_cast<std::streamsize>(f.bytes.size()));
    out.close();
    if (!out) {
      const int err = errno;  // before remove_all can change it
      fs::remove_all(tmp, ec);
      throw ModelError(path.string() + ": cannot unpack the demo model: " + std::strerror(err));
    }
  }
  if (fs::exists(fs::symlink_status(dir, ec))) {
    // A copy that failed verification: moved aside, never used or merged into.
    const fs::path stale = fs::path(parent) / (std::string(name) + ".stale" + std::to_string(::getpid()));
    fs::rename(dir, stale, ec);
    fs::remove_all(stale, ec);
  }
  fs::rename(tmp, dir, ec);
  if (ec) fs::remove_all(tmp, ec);  // another process won the race: checked below like any copy
  if (!holds_exactly(dir, files))
    throw ModelError(dir.string() + ": the unpacked demo model does not match the embedded one");
  return dir.string();
}

}  // namespace dpo::resources
