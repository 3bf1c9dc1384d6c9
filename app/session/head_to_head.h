#pragma once
// Head-to-head ranking (issue 14, `dpo rank --head-to-head`): every model answers the same prompts, a
// judge scores each answer, every two models' answers to a prompt are one comparison (the higher
// score wins, equal scores are a tie: half a win each), and a Bradley–Terry fit gives each model a
// strength with percentile bootstrap intervals (Chatbot Arena's recipe); rank = 1 + the number of
// models whose lower bound is above its upper bound. Length control (AlpacaEval's idea): the fit
// also takes the answers' length difference as a covariate, so the strengths hold length equal.
#include <string>
#include <vector>

#include "app/session/run_setup.h"
#include "core/eval/statistics.h"
#include "core/generate/generate.h"
#include "core/synth/scorers.h"

namespace dpo::app {

struct HeadToHeadRequest {
  std::vector<std::string> models;  // model folders
  std::vector<std::string> prompts;
  GenerationConfig generation;  // default greedy: each model's own best answer
  std::string judge;            // text scorers with weights (length, regex, keyword, true, cmd)
  TextScorerOptions judge_options;
  bool length_control = false;
  int resamples = 500;
  uint64_t seed = 0;
  std::string device = "auto";
};

struct HeadToHeadModel {
  std::string model;
  Interval strength;  // Bradley–Terry, logit scale, centred
  int rank = 1;
  Interval lc_strength;  // with the length covariate (length_control only)
  int lc_rank = 1;
  double win_rate = 0;     // share of its comparisons won, ties counted half
  double mean_score = 0;   // the judge's mean score of its answers
  double mean_length = 0;  // characters per answer
};

struct HeadToHeadResult {
  std::vector<HeadToHeadModel> models;  // in the request's order
  size_t comparisons = 0;
  double length_weight = 0;  // γ per 100 characters of length difference (length_control)
};

HeadToHeadResult head_to_head(const HeadToHeadRequest& request, const PrepareProgress& progress = {});

}  // namespace dpo::app
