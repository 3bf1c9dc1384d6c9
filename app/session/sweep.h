#pragma once
// β and loss sweeps (issue 14): short runs from the same start and the same data order, one after
// another in this process, each a run directory of its own, compared on the held-out pairs.
//   SWEEP/sweep.json            the request and, once done, the table and the recommendation
//   SWEEP/<loss>-b<beta>/       a run directory (config.json, metrics.jsonl, eval.jsonl, final/, ...)
//   SWEEP/<loss>-b<beta>/sweep_cell.json   written last: the cell is complete; a rerun reuses it
#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "app/session/run_options.h"
#include "core/types/loss_config.h"

namespace dpo::app {

struct SweepRequest {
  RunOptions base;  // everything but the loss type and β, the same for every cell
  std::vector<double> betas;
  std::vector<LossType> losses;
  std::filesystem::path dir;
  bool overwrite = false;  // a folder holding a different sweep is refused unless this is set
};

struct SweepCell {
  LossType loss = LossType::Sigmoid;
  double beta = 0.1;
  std::string name;  // "sigmoid-b0.1": its folder
  bool reused = false;
  static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  double heldout_accuracy = kNaN;  // share of held-out pairs with r_w > r_l (a tie is wrong)
  double heldout_margin = kNaN;    // mean r_w − r_l at the cell's β
  double heldout_loss = kNaN;      // the cell's own loss
  double sampled_kl = kNaN;        // KL(π‖π_ref) on the policy's sampled answers, nats
  double sampled_length = kNaN;    // mean sampled answer length, tokens
  double true_reward = kNaN;       // demo data only: the demo world's reward of sampled answers
  double train_loss = kNaN;        // the last step's
};

struct SweepRecommendation {
  size_t index = 0;    // into the cells
  std::string reason;  // in words, with the numbers behind it
};

// Among the cells within one point (0.01) of the best held-out accuracy, the one with the least KL to
// the reference (where every candidate has one), else the most accurate; ties go to the smaller β.
// Torch-free; throws ConfigError for no cells or no held-out accuracy at all.
SweepRecommendation recommend_cell(const std::vector<SweepCell>& cells);

// Told each stage ("sigmoid-b0.1: training", done, total steps); returning false cancels (Cancelled).
using SweepProgress = std::function<bool(const std::string& stage, size_t done, size_t total)>;

// Runs (or reuses) every cell, losses outer, βs inner; writes sweep.json with the table at the end.
std::vector<SweepCell> run_sweep(const SweepRequest& request, const SweepProgress& progress = {});

void to_json(nlohmann::json& j, const SweepCell& c);

}  // namespace dpo::app
