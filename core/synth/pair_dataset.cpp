#include "core/synth/pair_dataset.h"

#include <unordered_set>

#include "core/data/readers.h"
#include "core/io/text_file.h"
#include "core/runtime/error.h"

namespace dpo {

namespace {

bool is_table_file(std::string_view name) {
  if (name.ends_with(".gz")) name.remove_suffix(3);
  for (const char* ext : {".jsonl", ".json", ".csv", ".tsv"})
    if (name.ends_with(ext)) return true;
  return false;
}

void add_prompt(std::vector<std::string>& prompts, std::string prompt, const std::string& path) {
  if (prompts.size() >= kMaxSynthPrompts)
    throw ConfigError(path + ": more than " + std::to_string(kMaxSynthPrompts) + " prompts");
  prompts.push_back(std::move(prompt));
}

}  // namespace

std::vector<std::string> read_prompts(const std::string& path) {
  std::vector<std::string> prompts;
  if (is_table_file(path)) {
    read_rows(path, std::nullopt, [&](RawRow&& row) {
      const auto& v = row.value;
      const auto it = v.is_object() ? v.find("prompt") : v.end();
      if (it == v.end() || !it->is_string())
        throw DataError(located(path, row.line, "expected a \"prompt\" string"));
      auto text = it->get<std::string>();
      if (text.empty()) throw DataError(located(path, row.line, "field \"prompt\" is empty"));
      add_prompt(prompts, std::move(text), path);
      return true;
    });
  } else {
    const auto text = read_text(path, uintmax_t{256} << 20);
    if (const auto bad = find_invalid_utf8(text); bad != std::string::npos) {
      size_t line = 1;
      for (size_t i = 0; i < bad; ++i) line += text[i] == '\n';
      throw DataError(located(path, line, "not UTF-8 text"));
    }
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(start, end - start);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") != std::string::npos) add_prompt(prompts, std::move(line), path);
      start = end + 1;
    }
  }
  if (prompts.empty()) throw DataError(path + ": no prompts");
  return prompts;
}

std::vector<std::string> distinct_prompts(const std::vector<std::string>& prompts) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (const auto& p : prompts)
    if (seen.insert(p).second) out.push_back(p);
  return out;
}

std::string synthetic_pairs_jsonl(const std::vector<PromptCandidates>& prompts, const PairBuildResult& built,
                                  const std::vector<std::string>& term_names,
                                  const nlohmann::json& provenance) {
  std::string out;
  for (const auto& pair : built.pairs) {
    const auto& candidates = prompts.at(pair.prompt);
    const auto& chosen = candidates.answers.at(pair.chosen);
    const auto& rejected = candidates.answers.at(pair.rejected);
    nlohmann::json scores = nlohmann::json::array(), lengths = nlohmann::json::array();
    nlohmann::json terms = nlohmann::json::object();
    for (const auto& name : term_names) terms[name] = nlohmann::json::array();
    for (const auto& a : candidates.answers) {
      scores.push_back(a.score);
      lengths.push_back(a.length);
      for (size_t t = 0; t < term_names.size() && t < a.term_scores.size(); ++t)
        terms[term_names[t]].push_back(a.term_scores[t]);
    }
    nlohmann::json row_provenance = provenance;
    row_provenance["prompt_index"] = pair.prompt;
    row_provenance["chosen_index"] = pair.chosen;
    row_provenance["rejected_index"] = pair.rejected;
    row_provenance["scores"] = std::move(scores);
    row_provenance["term_scores"] = std::move(terms);
    row_provenance["lengths"] = std::move(lengths);
    nlohmann::ordered_json row;
    row["prompt"] = candidates.prompt;
    row["chosen"] = chosen.text;
    row["rejected"] = rejected.text;
    row["score_chosen"] = chosen.score;
    row["score_rejected"] = rejected.score;
    row["provenance"] = row_provenance;
    // The builder pairs only valid UTF-8 answers; a prompt is the user's own (read as UTF-8).
    out += row.dump() + "\n";
  }
  return out;
}

}  // namespace dpo
