#pragma once
// Where a run's checkpoints live, without torch: the run catalog lists them, the trainer writes them.
// RUN/checkpoints/step-000040/ is complete once it holds trainer_state.json (written last, then the
// staging folder is renamed into place; see core/train/checkpoint.h).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/runtime/error.h"

namespace dpo {

inline constexpr std::string_view kCheckpointPrefix = "step-";

inline std::filesystem::path checkpoint_dir(const std::filesystem::path& run_dir, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%06lld", static_cast<long long>(step));
  return run_dir / "checkpoints" / name;
}

// The step a checkpoint folder holds (from its name).
inline int64_t checkpoint_step(const std::filesystem::path& checkpoint) {
  const auto name = checkpoint.filename().string();
  const auto bad = [&] {
    return TrainingError(checkpoint.string() + ": not a checkpoint folder (step-NNNNNN)");
  };
  if (name.rfind(kCheckpointPrefix, 0) != 0) throw bad();
  try {
    return std::stoll(name.substr(kCheckpointPrefix.size()));
  } catch (const std::exception&) {
    throw bad();
  }
}

// Complete checkpoints, oldest first.
inline std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& run_dir) {
  namespace fs = std::filesystem;
  std::vector<fs::path> out;
  const auto dir = run_dir / "checkpoints";
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (e.is_directory() && name.rfind(kCheckpointPrefix, 0) == 0 &&
        fs::exists(e.path() / "trainer_state.json"))
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end(),
            [](const fs::path& a, const fs::path& b) { return checkpoint_step(a) < checkpoint_step(b); });
  return out;
}

inline std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& run_dir) {
  auto all = list_checkpoints(run_dir);
  if (all.empty()) return std::nullopt;
  return all.back();
}

}  // namespace dpo
