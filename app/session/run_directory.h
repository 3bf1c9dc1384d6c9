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

class RunDirectory {
 public:
  // A new run in `dir`. A directory that already holds a run (config.json or metrics.jsonl) is
  // refused with a ConfigError unless `overwrite`; then its records and checkpoints are removed.
  // The directory is made by the first write (a failed preparation leaves nothing behind).
  static RunDirectory create(const std::filesystem::path& dir, bool overwrite);
  // An existing run to continue: reads config.json and finds the newest complete checkpoint.
  // Throws ConfigError (no or bad config.json) or TrainingError (no checkpoint).
  static RunDirectory resume(const std::filesystem::path& dir);

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

  std::filesystem::path dir_;
  nlohmann::json saved_ = nlohmann::json::object();
  std::optional<std::filesystem::path> resume_from_;
  std::ofstream files_[4];
};

}  // namespace dpo::app
