#pragma once
// The files of `dpo pairs` (issue 14): the prompts it reads and the dataset it writes.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/synth/pair_builder.h"

namespace dpo {

inline constexpr size_t kMaxSynthPrompts = 1'000'000;

// Prompts, in file order: a .jsonl/.json/.csv/.tsv file (optionally .gz) gives each row's "prompt"
// string (core/data/readers.h); any other file is plain text, one prompt per line (blank lines
// skipped, a trailing \r dropped). DataError "file:line: ..." for a row without a prompt string or
// an empty one; ConfigError for an unreadable file or over kMaxSynthPrompts prompts.
std::vector<std::string> read_prompts(const std::string& path);

// Distinct prompts in first-seen order.
std::vector<std::string> distinct_prompts(const std::vector<std::string>& prompts);

// One JSON object per written pair, in the standard layout `dpo train` reads: prompt, chosen,
// rejected, score_chosen, score_rejected, then "provenance": `provenance` (the run's settings: model,
// scorer, strategy, sampling) plus the row's own prompt_index, chosen_index, rejected_index (0-based)
// and every answer's score, per-term scores (named by `term_names`) and length.
std::string synthetic_pairs_jsonl(const std::vector<PromptCandidates>& prompts, const PairBuildResult& built,
                                  const std::vector<std::string>& term_names,
                                  const nlohmann::json& provenance);

}  // namespace dpo
