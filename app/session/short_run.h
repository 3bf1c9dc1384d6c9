#pragma once
// One headless run into its own run directory, recorded as `dpo train` records it: what `dpo sweep`
// runs per β × loss and `dpo loop` per round.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <limits>
#include <string>

#include "app/session/run_setup.h"
#include "core/types/eval_records.h"

namespace dpo::app {

struct ShortRun {
  RunSetup setup;       // the trained policy stays loaded (setup.trainer->policy())
  PreferenceEval eval;  // the final evaluation on the held-out pairs (empty pairs: none held out)
  double train_loss = std::numeric_limits<double>::quiet_NaN();  // the last step's
};

// Trains `options` into `dir` (what an earlier run wrote there is replaced; nothing else is touched):
// config.json, metrics/eval/pairs/events records, a final evaluation, final/. `label` prefixes the
// progress stages ("sigmoid-b0.1: training"); progress returning false cancels (dpo::Cancelled).
// `extra` is merged into config.json.
ShortRun train_into(const RunOptions& options, const std::filesystem::path& dir, const std::string& label,
                    const PrepareProgress& progress = {},
                    const nlohmann::json& extra = nlohmann::json::object());

}  // namespace dpo::app
