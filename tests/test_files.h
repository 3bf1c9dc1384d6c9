#pragma once
// Scratch folders and whole-file reads and writes for tests that build hostile or damaged files.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace dpo::testing_files {

namespace fs = std::filesystem;

// An empty folder TMP/dpo_PREFIX_PID/NAME, made anew.
inline fs::path fresh_dir(const std::string& prefix, const std::string& name) {
  auto dir = fs::temp_directory_path() / ("dpo_" + prefix + "_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

inline std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

}  // namespace dpo::testing_files
