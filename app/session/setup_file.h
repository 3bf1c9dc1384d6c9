#pragma once
// A setup file (.dposetup): the run options of config.json, plus which lesson and tab the studio
// opens on; what a teacher hands a class (docs/setup-file.md). `dpo-studio --setup FILE` opens it,
// `dpo train --setup FILE` trains it.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "app/session/run_options.h"

namespace dpo::app {

inline constexpr const char* kSetupFormat = "dpo-studio-setup";
inline constexpr int kSetupVersion = 1;
inline constexpr uintmax_t kMaxSetupFileBytes = uintmax_t{1} << 20;
inline constexpr const char* kSetupExtension = ".dposetup";

// The studio tabs a setup may open on, by their key in the file.
const std::vector<std::string>& setup_tabs();

struct SetupFile {
  RunOptions run;      // cache_dir and no_cache are per machine and never stored
  std::string lesson;  // a lesson's name or number; empty: none
  std::string tab;     // one of setup_tabs(); empty: the studio's first tab
};

// Paths inside `base_dir` are written relative to it, so a folder holding the setup and its data
// can be handed on as it is; empty base_dir: paths as they are.
nlohmann::json setup_to_json(const SetupFile& setup, const std::filesystem::path& base_dir = {});
// Throws ConfigError, one line: "<label>: <key>: expected …, got …". Unknown keys are refused;
// settings left out keep RunOptions' defaults; relative paths are resolved against base_dir.
SetupFile setup_from_json(const nlohmann::json& j, const std::string& label,
                          const std::filesystem::path& base_dir = {});

// Size checked before reading; relative paths inside are relative to the file's folder.
SetupFile read_setup_file(const std::filesystem::path& path);
void write_setup_file(const std::filesystem::path& path, const SetupFile& setup);

}  // namespace dpo::app
