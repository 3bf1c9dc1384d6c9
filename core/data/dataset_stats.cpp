#include "core/data/dataset_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <numeric>
#include <unordered_set>

namespace dpo {

namespace {

size_t percentile(const std::vector<size_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

nlohmann::ordered_json lengths_json(const LengthSummary& s) {
  nlohmann::ordered_json j;
  j["count"] = s.count;
  j["min"] = s.min;
  j["max"] = s.max;
  j["mean"] = s.mean;
  j["p50"] = s.p50;
  j["p95"] = s.p95;
  auto bins = nlohmann::ordered_json::array();
  for (size_t i = 0; i < s.bin_starts.size(); ++i) {
    const size_t end = i + 1 < s.bin_starts.size() ? s.bin_starts[i + 1] : s.bin_starts[i] * 2;
    bins.push_back({{"from", s.bin_starts[i]}, {"to", end}, {"count", s.bin_counts[i]}});
  }
  j["histogram"] = bins;
  return j;
}

std::string format(const char* fmt, double a, double b = 0, double c = 0) {
  char buffer[256];
  std::snprintf(buffer, sizeof buffer, fmt, a, b, c);
  return buffer;
}

std::string lengths_text(const std::string& name, const LengthSummary& s) {
  std::string out = name + " tokens: min " + std::to_string(s.min) + ", mean " + format("%.1f", s.mean) +
                    ", p50 " + std::to_string(s.p50) + ", p95 " + std::to_string(s.p95) + ", max " +
                    std::to_string(s.max) + "\n";
  const size_t top = s.bin_counts.empty() ? 0 : *std::max_element(s.bin_counts.begin(), s.bin_counts.end());
  for (size_t i = 0; i < s.bin_starts.size(); ++i) {
    const size_t end = i + 1 < s.bin_starts.size() ? s.bin_starts[i + 1] : s.bin_starts[i] * 2;
    char label[64];
    std::snprintf(label, sizeof label, "  %6zu-%-6zu %6zu ", s.bin_starts[i], end - 1, s.bin_counts[i]);
    const size_t bar = top == 0 ? 0 : (s.bin_counts[i] * 40 + top - 1) / top;
    out += label + std::string(bar, '#') + "\n";
  }
  return out;
}

}  // namespace

LengthSummary summarize_lengths(std::vector<size_t> lengths) {
  LengthSummary s;
  s.count = lengths.size();
  if (lengths.empty()) return s;
  std::sort(lengths.begin(), lengths.end());
  s.min = lengths.front();
  s.max = lengths.back();
  s.mean = static_cast<double>(std::accumulate(lengths.begin(), lengths.end(), size_t{0})) /
           static_cast<double>(lengths.size());
  s.p50 = percentile(lengths, 0.5);
  s.p95 = percentile(lengths, 0.95);
  s.bin_starts.push_back(0);
  for (size_t edge = 8; edge <= s.max; edge *= 2) s.bin_starts.push_back(edge);
  s.bin_counts.assign(s.bin_starts.size(), 0);
  for (auto n : lengths) {
    const auto it = std::upper_bound(s.bin_starts.begin(), s.bin_starts.end(), n);
    ++s.bin_counts[static_cast<size_t>(it - s.bin_starts.begin()) - 1];
  }
  return s;
}

TruncationCounts count_truncation(const TokenizedDataset& untruncated, const TokenizeOptions& limits) {
  TruncationCounts c;
  c.limits = limits;
  const auto row = [&](size_t prompt, std::initializer_list<size_t> answers) {
    ++c.rows;
    const bool prompt_over =
        limits.max_prompt_length > 0 && prompt > static_cast<size_t>(limits.max_prompt_length);
    const size_t kept_prompt = prompt_over ? static_cast<size_t>(limits.max_prompt_length) : prompt;
    c.prompts_over += prompt_over;
    if (static_cast<int64_t>(kept_prompt) >= limits.max_length) {
      ++c.rows_failing;
      return;
    }
    size_t longest = 0;
    bool answer_cut = false;
    const auto room = static_cast<size_t>(limits.max_length) - kept_prompt;
    for (size_t n : answers) {
      ++c.answers;
      longest = std::max(longest, n);
      const bool over =
          limits.max_completion_length > 0 && n > static_cast<size_t>(limits.max_completion_length);
      c.answers_over += over;
      answer_cut = answer_cut || over || n > room;
    }
    c.rows_over_max_length += kept_prompt + longest > static_cast<size_t>(limits.max_length);
    c.rows_cut += prompt_over || answer_cut;
  };
  for (const auto& p : untruncated.pairs)
    row(p.prompt_ids.size(), {p.chosen_ids.size(), p.rejected_ids.size()});
  for (const auto& u : untruncated.unpaired) row(u.prompt_ids.size(), {u.completion_ids.size()});
  return c;
}

std::vector<std::string> truncation_warnings(const TruncationCounts& c, const LimitNames& names) {
  std::vector<std::string> out;
  const auto of = [](size_t n, size_t all, const char* what) {
    return std::to_string(n) + " of " + std::to_string(all) + " " + what + (n == 1 ? " is" : " are");
  };
  if (c.prompts_over > 0)
    out.push_back(of(c.prompts_over, c.rows, "prompts") + " longer than " + names.max_prompt_length + " " +
                  std::to_string(c.limits.max_prompt_length) +
                  (c.prompts_over == 1 ? " tokens (it will be cut: " : " tokens (they will be cut: ") +
                  (c.limits.prompt_truncation == PromptTruncation::kKeepEnd ? "keep_end" : "keep_start") +
                  ")");
  if (c.answers_over > 0)
    out.push_back(
        of(c.answers_over, c.answers, "answers") + " longer than " + names.max_completion_length + " " +
        std::to_string(c.limits.max_completion_length) +
        (c.answers_over == 1 ? " tokens (its end will be cut)" : " tokens (their ends will be cut)"));
  if (c.rows_over_max_length > 0)
    out.push_back(of(c.rows_over_max_length, c.rows, "rows") + " longer than " + names.max_length + " " +
                  std::to_string(c.limits.max_length) +
                  " tokens as prompt + longer answer (the answers' ends will be cut)");
  if (c.rows_failing > 0)
    out.push_back(std::to_string(c.rows_failing) + " of " + std::to_string(c.rows) +
                  " rows have a prompt that leaves no room for an answer under " + names.max_length + " " +
                  std::to_string(c.limits.max_length) + " (training stops on them)");
  if (c.rows_cut > 0)
    out.push_back("in all, " + std::to_string(c.rows_cut) + " of " + std::to_string(c.rows) +
                  (c.rows == 1 ? " row" : " rows") + " will be truncated");
  return out;
}

TokenizeOptions untruncated(TokenizeOptions options) {
  options.max_length = std::numeric_limits<int64_t>::max();
  options.max_prompt_length = 0;
  options.max_completion_length = 0;
  return options;
}

DatasetStats compute_dataset_stats(const PreferenceDataset& dataset, const TokenizedDataset& tokenized,
                                   const TokenizedDataset* limited, const TokenizeOptions* limits,
                                   const LimitNames& names) {
  const auto& report = limited ? limited->report : tokenized.report;
  DatasetStats st;
  st.source = dataset.source;
  st.layout = to_string(dataset.layout);
  st.explanation = dataset.explanation;
  st.pairs = tokenized.pairs.size();
  st.unpaired = tokenized.unpaired.size();
  st.skipped_rows = dataset.skipped.size() + report.skipped.size();
  st.prompt_truncated = report.prompt_truncated;
  st.completion_truncated = report.completion_truncated;

  std::vector<size_t> prompt, chosen, rejected;
  for (const auto& p : tokenized.pairs) {
    prompt.push_back(p.prompt_ids.size());
    chosen.push_back(p.chosen_ids.size());
    rejected.push_back(p.rejected_ids.size());
    if (p.chosen_ids.size() > p.rejected_ids.size()) {
      ++st.chosen_longer;
    } else if (p.chosen_ids.size() < p.rejected_ids.size()) {
      ++st.rejected_longer;
    } else {
      ++st.same_length;
    }
  }
  for (const auto& u : tokenized.unpaired) {
    prompt.push_back(u.prompt_ids.size());
    chosen.push_back(u.completion_ids.size());
    st.desirable += u.label;
  }
  st.prompt = summarize_lengths(prompt);
  st.chosen = summarize_lengths(chosen);
  st.rejected = summarize_lengths(rejected);
  if (st.pairs > 0)
    st.chosen_longer_share = static_cast<double>(st.chosen_longer) / static_cast<double>(st.pairs);
  st.length_bias_warning = st.pairs >= 10 && st.chosen_longer_share > 0.6;

  // A separator that cannot occur in UTF-8 text keeps (prompt, chosen, rejected) keys unambiguous.
  const std::string sep = "\xFF";
  std::unordered_set<std::string> prompts, rows;
  double margin_sum = 0;
  size_t margins = 0;
  auto see = [&](const std::string& p, const std::string& row) {
    if (!prompts.insert(p).second) ++st.duplicate_prompt_rows;
    if (!rows.insert(row).second) ++st.duplicate_pairs;
  };
  for (const auto& p : dataset.pairs) {
    see(p.prompt, p.prompt + sep + p.chosen + sep + p.rejected);
    if (auto m = p.margin()) {
      margin_sum += *m;
      ++margins;
    }
  }
  for (const auto& u : dataset.unpaired)
    see(u.prompt, u.prompt + sep + u.completion + sep + (u.label ? "1" : "0"));
  st.distinct_prompts = prompts.size();
  if (margins > 0) st.mean_margin = margin_sum / static_cast<double>(margins);

  if (st.length_bias_warning)
    st.warnings.push_back(
        format("chosen is longer than rejected in %.0f%% of pairs: the policy can learn "
               "\"longer is better\" (consider length-normalised or length-controlled losses)",
               100.0 * st.chosen_longer_share));
  if (st.duplicate_pairs > 0)
    st.warnings.push_back(std::to_string(st.duplicate_pairs) + " exact duplicate rows");
  if (limits) {
    st.truncation = count_truncation(tokenized, *limits);
    for (auto& w : truncation_warnings(*st.truncation, names)) st.warnings.push_back(std::move(w));
  } else if (st.prompt_truncated + st.completion_truncated > 0) {
    st.warnings.push_back(std::to_string(st.prompt_truncated) + " prompts and " +
                          std::to_string(st.completion_truncated) + " rows' completions were truncated");
  }
  if (st.skipped_rows > 0) st.warnings.push_back(std::to_string(st.skipped_rows) + " bad rows skipped");
  return st;
}

nlohmann::ordered_json DatasetStats::to_json() const {
  nlohmann::ordered_json j;
  j["source"] = source;
  j["layout"] = layout;
  j["explanation"] = explanation;
  j["pairs"] = pairs;
  j["unpaired"] = unpaired;
  if (unpaired > 0) {
    j["desirable"] = desirable;
    j["undesirable"] = unpaired - desirable;
  }
  j["skipped_rows"] = skipped_rows;
  j["prompt_tokens"] = lengths_json(prompt);
  j[unpaired > 0 && pairs == 0 ? "completion_tokens" : "chosen_tokens"] = lengths_json(chosen);
  if (pairs > 0) {
    j["rejected_tokens"] = lengths_json(rejected);
    j["chosen_longer"] = chosen_longer;
    j["rejected_longer"] = rejected_longer;
    j["same_length"] = same_length;
    j["chosen_longer_share"] = chosen_longer_share;
    j["length_bias_warning"] = length_bias_warning;
  }
  j["distinct_prompts"] = distinct_prompts;
  j["duplicate_prompt_rows"] = duplicate_prompt_rows;
  j["duplicate_pairs"] = duplicate_pairs;
  j["prompt_truncated"] = prompt_truncated;
  j["completion_truncated"] = completion_truncated;
  if (truncation) {
    const auto& t = *truncation;
    j["truncation"] = {{"max_length", t.limits.max_length},
                       {"max_prompt_length", t.limits.max_prompt_length},
                       {"max_completion_length", t.limits.max_completion_length},
                       {"prompt_truncation",
                        t.limits.prompt_truncation == PromptTruncation::kKeepEnd ? "keep_end" : "keep_start"},
                       {"rows", t.rows},
                       {"prompts_over", t.prompts_over},
                       {"answers", t.answers},
                       {"answers_over", t.answers_over},
                       {"rows_over_max_length", t.rows_over_max_length},
                       {"rows_cut", t.rows_cut},
                       {"rows_failing", t.rows_failing}};
  }
  if (mean_margin) j["mean_margin"] = *mean_margin;
  j["warnings"] = warnings;
  return j;
}

std::string DatasetStats::to_text() const {
  std::string out = source + "\n" + explanation + "\n";
  if (pairs > 0) out += "pairs: " + std::to_string(pairs) + "\n";
  if (unpaired > 0)
    out += "unpaired examples: " + std::to_string(unpaired) + " (" + std::to_string(desirable) +
           " desirable, " + std::to_string(unpaired - desirable) + " undesirable)\n";
  if (skipped_rows > 0) out += "skipped rows: " + std::to_string(skipped_rows) + "\n";
  out += lengths_text("prompt", prompt);
  out += lengths_text(pairs > 0 ? "chosen" : "completion", chosen);
  if (pairs > 0) {
    out += lengths_text("rejected", rejected);
    out +=
        format("chosen longer than rejected: %.0f of %.0f pairs (%.1f%%)", static_cast<double>(chosen_longer),
               static_cast<double>(pairs), 100.0 * chosen_longer_share) +
        "; rejected longer: " + std::to_string(rejected_longer) + "; same: " + std::to_string(same_length) +
        "\n";
  }
  out += "distinct prompts: " + std::to_string(distinct_prompts) +
         "; rows repeating an earlier prompt: " + std::to_string(duplicate_prompt_rows) +
         "; exact duplicate rows: " + std::to_string(duplicate_pairs) + "\n";
  out += "truncated: " + std::to_string(prompt_truncated) + " prompts, " +
         std::to_string(completion_truncated) + " rows' completions\n";
  if (mean_margin) out += format("mean score margin (chosen - rejected): %.3f", *mean_margin) + "\n";
  for (const auto& w : warnings) out += "warning: " + w + "\n";
  return out;
}

}  // namespace dpo
