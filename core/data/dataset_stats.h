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

// What a run's length limits cut, counted on untruncated token lengths with tokenize_dataset's
// arithmetic (prompt kept to max_prompt_length, each answer to max_length - kept prompt and to
// max_completion_length).
struct TruncationCounts {
  TokenizeOptions limits;
  size_t rows = 0;                  // pairs and unpaired rows
  size_t prompts_over = 0;          // prompts longer than max_prompt_length (when > 0)
  size_t answers = 0;               // chosen + rejected answers (KTO: completions)
  size_t answers_over = 0;          // answers longer than max_completion_length (when > 0)
  size_t rows_over_max_length = 0;  // rows whose kept prompt + longer answer exceeds max_length
  size_t rows_cut = 0;              // rows training would cut anything of
  size_t rows_failing = 0;          // rows whose kept prompt alone reaches max_length (tokenizing fails)
};
TruncationCounts count_truncation(const TokenizedDataset& untruncated, const TokenizeOptions& limits);

// How warnings name the limits: the CLI's flags unless told otherwise (the studio's labels).
struct LimitNames {
  std::string max_length = "--max-length";
  std::string max_prompt_length = "--max-prompt-length";
  std::string max_completion_length = "--max-completion-length";
};
// One line per limit that cuts something, e.g. "12 of 300 prompts are longer than --max-prompt-length
// 128 tokens (they will be cut: keep_end)"; none when nothing is cut.
std::vector<std::string> truncation_warnings(const TruncationCounts& counts, const LimitNames& names = {});

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
  std::optional<TruncationCounts> truncation;  // with compute_dataset_stats' limits
  std::optional<double> mean_margin;           // score_chosen - score_rejected over scored pairs
  std::vector<std::string> warnings;

  nlohmann::ordered_json to_json() const;
  std::string to_text() const;
};

// Texts come from `dataset`; lengths from `tokenized` (same rows, same order, minus any rows the tokenizer
// skipped); truncation and skipped counts from `limited` when given (the same rows tokenized under the
// training limits while `tokenized` had none, so histograms show the data, not the limits). With
// `limits` (those of `limited`), `truncation` counts what they cut and the warnings say so per limit.
DatasetStats compute_dataset_stats(const PreferenceDataset& dataset, const TokenizedDataset& tokenized,
                                   const TokenizedDataset* limited = nullptr,
                                   const TokenizeOptions* limits = nullptr, const LimitNames& names = {});

// Options that tokenize without cutting anything (for length statistics).
TokenizeOptions untruncated(TokenizeOptions options);

}  // namespace dpo
