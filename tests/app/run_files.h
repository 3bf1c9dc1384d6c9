#pragma once
// Reading what a run wrote (tests of the dpo command line): whole files and JSONL records.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../test_files.h"

namespace {

using dpo::testing_files::fresh_dir;
inline std::string bytes_of(const std::filesystem::path& path) { return dpo::testing_files::slurp(path); }

// One JSON value per non-empty line.
inline std::vector<nlohmann::json> records(const std::filesystem::path& path) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

}  // namespace
