#include "app/session/short_run.h"

#include "app/session/run_directory.h"
#include "core/runtime/error.h"

namespace dpo::app {

ShortRun train_into(const RunOptions& options, const std::filesystem::path& dir, const std::string& label,
                    const PrepareProgress& progress, const nlohmann::json& extra) {
  const auto tell = [&](const std::string& stage, size_t done, size_t total) {
    return !progress || progress(label + ": " + stage, done, total);
  };
  ShortRun out;
  auto records = RunDirectory::create(dir, /*overwrite=*/true);
  out.setup = prepare_run(options, tell);
  auto& trainer = *out.setup.trainer;
  records.write_config({.run = options,
                        .model_label = out.setup.model_label,
                        .data_label = out.setup.data_label,
                        .train_pairs = out.setup.train_pairs,
                        .eval_pairs = out.setup.eval_pairs,
                        .parameters = out.setup.parameter_count,
                        .extra = extra});
  records.open_records();
  bool cancelled = false;
  TrainerCallbacks callbacks;
  callbacks.on_progress = tell;
  callbacks.on_eval = [&](const PreferenceEval& e) { records.append_eval(e); };
  callbacks.on_event = [&](const TrainerEvent& e) { records.append_event(e); };
  callbacks.on_step = [&](const StepMetrics& m) {
    records.append_metrics(m);
    out.train_loss = m.loss;
    cancelled =
        !tell("training", static_cast<size_t>(m.step), static_cast<size_t>(options.trainer.max_steps));
    return !cancelled;
  };
  train(trainer, callbacks);
  if (cancelled) throw Cancelled(label + ": cancelled");
  if (!trainer.eval_pairs().empty()) {
    out.eval = trainer.evaluate();
    records.append_eval(out.eval);
  }
  records.save_final(out.setup, options);
  return out;
}

}  // namespace dpo::app
