#pragma once
// Iterative DPO (issue 14, `dpo loop`): each round samples k answers per prompt from the current
// policy, scores them, pairs them and trains on those pairs from that policy, which is also the
// round's reference; the next round starts from what it made.
//   DIR/loop.json                  the request and each round's figures
//   DIR/round-N/pairs.jsonl        the round's synthetic pairs (with provenance)
//   DIR/round-N/run/               the round's run directory (final/ is the next round's policy)
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "app/session/run_options.h"
#include "app/session/run_setup.h"
#include "core/synth/pair_builder.h"
#include "core/synth/sample_pairs.h"
#include "core/synth/scorers.h"

namespace dpo::app {

struct LoopRequest {
  RunOptions base;  // training of every round (steps, lr, β, loss, …); model_dir: the start (empty: demo)
  int rounds = 2;
  std::vector<std::string> prompts;
  CandidateSampling sampling;  // the same seed every round, so rounds differ by their policy only
  std::string scorer;          // text scorers: length, regex, keyword, true, cmd
  TextScorerOptions scorer_options;
  PairBuildOptions build;
  std::filesystem::path dir;
  bool overwrite = false;
};

struct LoopRound {
  int round = 0;
  double mean_score = std::numeric_limits<double>::quiet_NaN();    // of the answers sampled at its start
  double greedy_score = std::numeric_limits<double>::quiet_NaN();  // of its policy's greedy answers
  size_t pairs = 0;
  size_t dropped_prompts = 0;
  double heldout_accuracy = std::numeric_limits<double>::quiet_NaN();
  double train_loss = std::numeric_limits<double>::quiet_NaN();
};

struct LoopResult {
  std::vector<LoopRound> rounds;
  double final_mean_score = std::numeric_limits<double>::quiet_NaN();  // sampled from the last policy
  double final_greedy_score = std::numeric_limits<double>::quiet_NaN();
};

LoopResult run_loop(const LoopRequest& request, const PrepareProgress& progress = {});

// The prompts `dpo pairs` and `dpo loop` sample: the file's (core/synth/pair_dataset.h read_prompts),
// or with an empty path the distinct prompts of the demo's training pairs; at most max_prompts (0: all).
std::vector<std::string> load_prompts(const std::string& path, size_t max_prompts = 0);

}  // namespace dpo::app
