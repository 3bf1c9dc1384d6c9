#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "core/data/layout.h"
#include "core/data/tokenize.h"

namespace dpo {

// Token lengths of one column: summary numbers and a histogram over power-of-two bins
// [0, 8), [8, 16), [16, 32), ... up to the longest row.
struct LengthSummary {
  size_t count = 0;
  size_t min = 0;
  size_t max = 0;
  double mean = 0.0;
  size_t p50 = 0;
  size_t p95 = 0;
  std::vector<size_t> bin_starts;  // lower edge of each bin
  std::vector<size_t> bin_counts;
};
LengthSummary summarize_lengths(std::vector<size_t> lengths);

struct DatasetStats {
  std::string source;
  std::string layout;
  std::string explanation;
  size_t pairs = 0;
  size_t unpaired = 0;      // KTO rows
  size_t desirable = 0;     // KTO rows labelled true
  size_t skipped_rows = 0;  // read or tokenization failures under on_bad_row = skip
  LengthSummary prompt;
  LengthSummary chosen;    // KTO: the completions
  LengthSummary rejected;  // empty for KTO
  // Length bias: share of pairs whose chosen completion has more tokens than the rejected one.
  size_t chosen_longer = 0;
  size_t rejected_longer = 0;
  size_t same_length = 0;
  double chosen_longer_share = 0.0;
  bool length_bias_warning = false;  // share above 0.6 over at least 10 pairs
  size_t distinct_prompts = 0;
  size_t duplicate_prompt_rows = 0;  // rows whose prompt already appeared on an earlier row
  size_t duplicate_pairs =
      0;  // rows identical (prompt, chosen, rejected / completion, label) to an earlier one
  size_t prompt_truncated = 0;
  size_t completion_truncated = 0;
  std::optional<double> mean_margin;  // score_chosen - score_rejected over scored pairs
  std::vector<std::string> warnings;

  nlohmann::ordered_json to_json() const;
  std::string to_text() const;
};

// Texts come from `dataset`; lengths from `tokenized` (same rows, same order, minus any rows the tokenizer
// skipped); truncation and skipped counts from `limited` when given (the same rows tokenized under the
// training limits while `tokenized` had none, so histograms show the data, not the limits).
DatasetStats compute_dataset_stats(const PreferenceDataset& dataset, const TokenizedDataset& tokenized,
                                   const TokenizedDataset* limited = nullptr);

// Options that tokenize without cutting anything (for length statistics).
TokenizeOptions untruncated(TokenizeOptions options);

}  // namespace dpo
