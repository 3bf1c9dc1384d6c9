#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "app/session/run_records.h"
#include "app/session/run_setup.h"
#include "core/eval/preference_eval.h"
#include "core/train/checkpoint.h"
#include "core/train/metrics.h"
#include "core/train/trainer.h"

namespace dpo::app {

// What config.json holds besides the run options.
struct RunDirectoryConfig {
  RunOptions run;
  int64_t checkpoint_every = 0;  // 0: only on request / at the end
  int64_t keep_checkpoints = 3;  // 0: all
  std::string model_label;
  std::string data_label;
  size_t train_pairs = 0;
  size_t eval_pairs = 0;
  int64_t parameters = 0;
  nlohmann::json extra = nlohmann::json::object();  // merged into config.json (e.g. {"source": "studio"})
};
nlohmann::json to_config_json(const RunDirectoryConfig& c);

// A setting a resumed run takes differently from its checkpoint (a flag, or an edit of config.json).
struct ResumeChange {
  std::string key;  // JSON pointer into the run options, e.g. "/trainer/learning_rate"
  nlohmann::json from, to;
};

class RunDirectory {
 public:
  // A new run in `dir`. A directory that already holds a run (config.json or metrics.jsonl) is
  // refused with a ConfigError unless `overwrite`; then the files a run writes are removed (records,
  // config.json, checkpoints/step-*) and nothing else: final/ is replaced at the end, keeping the
  // user's own files in it. The directory is made by the first write. `touch` false checks the same
  // but removes nothing (the other ranks of a data-parallel run, whose rank 0 does it).
  static RunDirectory create(const std::filesystem::path& dir, bool overwrite, bool touch = true);
  // An existing run to continue: reads config.json and finds the newest complete checkpoint (a run
  // killed before its first one starts again from step 0). Throws ConfigError (no or bad config.json).
  static RunDirectory resume(const std::filesystem::path& dir);

  // The settings a resumed run continues with: config.json's (as the user may have edited them)
  // with `overrides` (JSON pointer → value, from flags) on top, compared with the settings the
  // checkpoint was made with. Steps, learning rate, β, device and the evaluation cadence may change
  // (returned in `changes`); any other difference throws ConfigError
  // "--resume: KEY cannot change (checkpoint A, asked B)", as does max_steps below the checkpoint.
  RunOptions resume_options(const nlohmann::json& overrides, std::vector<ResumeChange>& changes) const;
  // The step the checkpoint holds (from its folder name), 0 without one.
  int64_t resume_step() const;
  // Continues the run in `trainer` (built from resume_options): restores the checkpoint, every file
  // checked, applies `changes`; only then cuts the records back to the checkpoint's step, rewrites
  // config.json and logs the changes as events. When it throws, nothing in the folder has changed.
  // Returns the events it logged.
  std::vector<TrainerEvent> continue_run(Trainer& trainer, const std::vector<ResumeChange>& changes,
                                         const RunDirectoryConfig& config);
  // continue_run's first half: restores the checkpoint into `trainer` and applies `changes`,
  // changing nothing in the folder (the other ranks of a data-parallel run). Returns the events.
  std::vector<TrainerEvent> restore(Trainer& trainer, const std::vector<ResumeChange>& changes) const;

  const std::filesystem::path& path() const { return dir_; }
  bool resuming() const { return resume_from_.has_value(); }
  const std::optional<std::filesystem::path>& resume_checkpoint() const { return resume_from_; }
  // config.json as read by resume() (empty object for a new run).
  const nlohmann::json& saved_config() const { return saved_; }
  // The run options of a resumed run (from config.json's "run").
  RunOptions saved_options() const;

  void write_config(const RunDirectoryConfig& config);  // atomically
  // Keeps the record lines whose step is <= `step` (what a checkpoint of that step had seen);
  // drops a torn last line. Call before open_records().
  void truncate_records(int64_t step);
  // Opens the record files for appending (creating the directory).
  void open_records();

  void append_metrics(const StepMetrics& m);
  void append_eval(const PreferenceEval& e);  // eval.jsonl, and its pairs to pairs.jsonl
  void append_event(const TrainerEvent& e, std::optional<double> value = std::nullopt);

  // checkpoints/step-N/ of the trainer's current step (atomic; keeps the newest `keep`).
  std::filesystem::path save_checkpoint(Trainer& trainer, const RunSetup& setup, const RunOptions& options,
                                        int64_t keep);
  // final/ (and adapter/ with LoRA).
  void save_final(RunSetup& setup, const RunOptions& options);

 private:
  explicit RunDirectory(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::ofstream& stream(int index);
  void written(int index);  // throws when the last append failed (disk full)

  std::filesystem::path dir_;
  nlohmann::json saved_ = nlohmann::json::object();
  std::optional<std::filesystem::path> resume_from_;
  std::ofstream files_[4];
};

}  // namespace dpo::app
