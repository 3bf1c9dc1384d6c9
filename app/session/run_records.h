#pragma once
// Reading run directories, torch-free: the studio's run catalog lists and draws runs with these.
// Writing them (RunDirectory) is in app/session/run_directory.h.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "app/session/run_options.h"
#include "core/types/eval_records.h"
#include "core/types/step_metrics.h"
#include "core/types/train_config.h"

namespace dpo::app {

// A run directory, as `dpo train` and the studio write it:
//   config.json     {"run": RunOptions, "checkpoint_every", "keep_checkpoints", labels and counts}
//   metrics.jsonl   one StepMetrics per optimiser step
//   eval.jsonl      one PreferenceEval (without its pairs) per evaluation
//   pairs.jsonl     every eval pair's PairRecord at every evaluation
//   events.jsonl    {"step", "kind", "message", "pairs", "value"?}: skipped steps, β / lr changes
//   checkpoints/step-N/, final/, adapter/ (LoRA)
// Record lines are appended and flushed one at a time, so a reader (the studio, tail -f) can follow
// a live run.
inline constexpr const char* kRunRecordFiles[] = {"metrics.jsonl", "eval.jsonl", "pairs.jsonl",
                                                  "events.jsonl"};

// A TrainerEvent as events.jsonl keeps it; `value` is the new β or learning rate (NaN: none).
struct RunEvent {
  TrainerEvent event;
  double value = std::numeric_limits<double>::quiet_NaN();
};

// Everything a run directory records, read back as core structs.
struct LoadedRun {
  std::filesystem::path dir;
  nlohmann::json config;  // config.json as written
  RunOptions options;     // config["run"]
  std::vector<StepMetrics> metrics;
  std::vector<PreferenceEval> evals;  // each with its pairs from pairs.jsonl (matched by step)
  std::vector<RunEvent> events;
  std::vector<std::filesystem::path> checkpoints;  // complete ones, oldest first
};

// Reads `dir`. A missing record file counts as empty; a line that is not a valid record throws a
// ConfigError "FILE:LINE: what" (a torn last line without its newline, from a run being written or
// killed, is skipped).
LoadedRun load_run(const std::filesystem::path& dir);

// PairRecords of a pairs.jsonl (a run's, or `dpo eval` / `dpo rank`'s): every line, or those of one
// step. Errors as load_run's ("FILE:LINE: what"); no record at all is a ConfigError too.
std::vector<PairRecord> read_pair_records(const std::filesystem::path& file,
                                          std::optional<int64_t> step = std::nullopt);

// The list view of a run without reading every record: config.json, the last metrics line,
// checkpoints.
struct RunBrief {
  std::filesystem::path dir;
  nlohmann::json config;   // empty object when config.json is missing or unreadable
  std::string error;       // why config.json could not be read ("" when fine)
  int64_t steps_done = 0;  // step of the last metrics line
  int64_t max_steps = 0;   // the run's planned steps
  std::optional<StepMetrics> last;
  std::optional<std::filesystem::path> checkpoint;  // the newest complete one
};
RunBrief brief_run(const std::filesystem::path& dir);
// Sub-directories of `root` that hold a config.json, newest name first.
std::vector<std::filesystem::path> list_run_dirs(const std::filesystem::path& root);

// $DPO_STUDIO_RUNS, else $XDG_DATA_HOME/dpo-studio/runs, else ~/.local/share/dpo-studio/runs.
std::filesystem::path default_runs_root();
// root/<yyyyMMdd-HHmmss>-<loss>-b<beta> (local time), with "-2", "-3"... when that exists already.
std::filesystem::path new_run_dir(const std::filesystem::path& root, const std::string& loss, double beta);

}  // namespace dpo::app
