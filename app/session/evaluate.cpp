#include "app/session/evaluate.h"

#include <limits>

#include "app/session/run_records.h"
#include "core/runtime/error.h"
#include "resources/demo_assets.h"

namespace dpo::app {

namespace fs = std::filesystem;

std::optional<fs::path> run_of_model(const fs::path& model_dir) {
  if (model_dir.empty()) return std::nullopt;
  const auto dir = fs::absolute(model_dir).lexically_normal();
  // RUN/final, RUN/checkpoints/step-N/model
  for (const auto& candidate : {dir.parent_path(), dir.parent_path().parent_path().parent_path()}) {
    std::error_code ec;
    if (fs::is_regular_file(candidate / "config.json", ec) && fs::is_directory(candidate / "checkpoints", ec))
      return candidate;
    if (fs::is_regular_file(candidate / "config.json", ec) && dir.filename() == "final") return candidate;
  }
  return std::nullopt;
}

RunReference reference_of_run(const RunOptions& run, const std::string& cache_dir) {
  if (!run.reference_dir.empty()) return {run.reference_dir, run.reference_dir};
  if (!run.model_dir.empty()) return {run.model_dir, run.model_dir};
  // The run started from the demo model.
  return {resources::unpack_demo_model(cache_dir.empty() ? default_cache_dir() : cache_dir),
          "the demo model (the run's start)"};
}

EvaluatedModel evaluate_model(const EvalRequest& request, const PrepareProgress& progress) {
  RunOptions options;
  std::optional<RunOptions> run;
  if (const auto run_dir = run_of_model(request.model_dir)) {
    auto loaded = load_run(*run_dir);
    if (loaded.config.contains("run")) run = loaded.options;
  }
  if (run) {
    // The run's data handling, so the pairs are tokenized as it saw them.
    options.format = run->format;
    options.layout = run->layout;
    options.columns = run->columns;
    options.chat_template_path = run->chat_template_path;
    options.tokenize = run->tokenize;
    options.tokenizer_path = run->tokenizer_path;
  }
  options.model_dir = request.model_dir;
  options.data_path = !request.data_path.empty() ? request.data_path : run ? run->data_path : std::string();
  options.device = request.device;
  options.cache_dir = request.cache_dir;
  options.no_cache = request.no_cache;
  options.eval_fraction = 1;  // every pair is evaluated
  options.trainer.max_steps = 0;
  options.trainer.eval_batch_size = request.batch_size;
  options.trainer.measure_sampled_length = request.sample;
  options.trainer.loss.beta = request.beta;
  options.trainer.loss.simpo_gamma = request.simpo_gamma;

  EvaluatedModel out;
  out.beta = request.beta;
  std::string reference = request.reference;
  if (reference.empty() && run) {
    const auto start = reference_of_run(*run, request.cache_dir);
    reference = start.dir;
    out.reference_label = start.label;
  }
  if (reference.empty() || reference == "none") {
    options.trainer.loss.type = LossType::Cpo;  // reads no reference: rewards are β·log π(y)
    out.scoring = request.scoring.value_or(PairScoring::Sum);
    if (out.scoring == PairScoring::Implicit)
      throw ConfigError("--score implicit needs a reference model (--reference DIR)");
    out.reference_label = "none";
  } else {
    if (!fs::is_directory(reference)) throw ConfigError("--reference " + reference + ": not a model folder");
    options.reference_dir = reference;
    options.trainer.loss.type = LossType::Sigmoid;
    out.scoring = request.scoring.value_or(PairScoring::Implicit);
    if (out.scoring != PairScoring::Implicit)
      throw ConfigError(std::string("--score ") + pair_scoring_name(out.scoring) +
                        " scores without a reference; pass --reference none");
    if (out.reference_label.empty()) out.reference_label = reference;
  }

  auto setup = prepare_run(options, progress);
  out.model_label = setup.model_label;
  out.data_label = setup.data_label;
  TrainerCallbacks callbacks;
  callbacks.on_progress = [&](const std::string& stage, size_t done, size_t total) {
    return !progress || progress(stage, done, total);
  };
  setup.trainer->prepare(callbacks);
  out.eval = setup.trainer->evaluate();
  if (options.reference_dir.empty()) out.eval.sampled_kl = std::numeric_limits<double>::quiet_NaN();
  rescore_pairs(out.eval.pairs, out.scoring, request.beta, request.simpo_gamma);
  out.report = report_pairs(out.eval.pairs, request.resamples, request.seed);
  return out;
}

}  // namespace dpo::app
