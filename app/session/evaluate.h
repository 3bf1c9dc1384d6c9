#pragma once
// Scoring a model on preference pairs for `dpo eval` and `dpo rank` (issue 14): the data and models
// load as for a run (prepare_run, every pair held out), the reference pass is batched and cached as
// in training, and the records are the pair inspector's.
#include <filesystem>
#include <string>

#include "app/session/run_setup.h"
#include "core/eval/eval_report.h"
#include "core/types/eval_records.h"

namespace dpo::app {

struct EvalRequest {
  std::string model_dir;  // empty: the demo model
  // A folder; "none" (score without one); empty: the model's run's starting model when the model
  // is a run's final/ or checkpoint, else none.
  std::string reference;
  std::string data_path;  // empty: the model's run's data, else the embedded demo
  double beta = 0.1;
  std::optional<PairScoring> scoring;  // default: implicit with a reference, sum without
  double simpo_gamma = 0.5;
  std::string device = "auto";
  std::string cache_dir;
  bool no_cache = false;
  bool sample = true;  // sampled length and KL(π‖π_ref) on the policy's own answers
  int64_t batch_size = 16;
  int resamples = 2000;
  uint64_t seed = 0;
};

struct EvaluatedModel {
  std::string model_label, reference_label, data_label;
  PairScoring scoring = PairScoring::Implicit;
  double beta = 0.1;
  PreferenceEval eval;  // per-pair records, in the data's order
  EvalReport report;
};

// The run directory a model folder belongs to (RUN/final, RUN/checkpoints/step-N/model), if any.
std::optional<std::filesystem::path> run_of_model(const std::filesystem::path& model_dir);

// The reference a run's model is judged against: the run's --reference folder, else the model it
// started from (the demo model, unpacked under cache_dir, when it started from the demo).
struct RunReference {
  std::string dir;
  std::string label;  // the folder, or "the demo model (the run's start)"
};
RunReference reference_of_run(const RunOptions& run, const std::string& cache_dir);

EvaluatedModel evaluate_model(const EvalRequest& request, const PrepareProgress& progress = {});

}  // namespace dpo::app
