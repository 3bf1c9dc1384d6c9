#pragma once
// Scorers of sampled answers (issue 14), composable with weights: `length:-0.1,true:1,regex:0.5`.
// The text scorers live here (torch-free); `logprob` and `implicit` need a model and live in
// core/synth/model_scorers.h.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/synth/external_command.h"

namespace dpo {

// One term of a composite scorer. Names: length, regex, keyword, true, cmd (text), logprob, implicit
// (model).
struct ScorerTerm {
  std::string name;
  double weight = 1;
};

// "name[:weight],..." → terms in order; ConfigError naming the bad part (unknown name, a weight that
// is not a finite number, an empty part, a name given twice).
std::vector<ScorerTerm> parse_scorer_spec(std::string_view spec);
std::string scorer_spec_string(const std::vector<ScorerTerm>& terms);  // "length:-0.1,true:1"
bool is_model_scorer(std::string_view name);                           // logprob, implicit

// One answer to score. Numbers are 0-based; messages show them 1-based ("prompt 3, answer 2").
struct ScoreInput {
  std::string_view prompt;
  std::string_view answer;
  size_t prompt_index = 0;
  size_t answer_index = 0;
  int64_t tokens = 0;  // the answer's sampled tokens (the model scorers retokenize)
};
std::string row_name(const ScoreInput& input);  // "prompt 3, answer 2"

class Scorer {
 public:
  virtual ~Scorer() = default;
  // One score per input, in order; throws dpo::Error naming the row on failure.
  virtual std::vector<double> score(std::span<const ScoreInput> inputs) = 0;
};

inline constexpr size_t kMaxScorerPatternBytes = 4096;
inline constexpr size_t kMaxScorerKeywords = 10000;

struct TextScorerOptions {
  std::string regex;                  // `regex`: PCRE2 pattern (UTF-8, Unicode properties)
  std::vector<std::string> keywords;  // `keyword`: single words, matched whole and ASCII-case-blind
  ExternalCommand command;            // `cmd`
};

// length: the answer's length in characters (UTF-8 code points), so a positive weight prefers longer
//   answers and a negative one shorter;
// regex: the number of non-overlapping matches of the pattern in the answer (PCRE2 with match and
//   depth limits, so a pathological pattern fails instead of running away);
// keyword: the number of the answer's words that are in the lexicon;
// true: the demo world's programmatic reward, dpo::true_reward(prompt, answer), in [0, 1];
// cmd: the external command's number (external_command.h): it reads one JSON object
//   {"prompt": ..., "answer": ..., "index": answer index (0-based)} and a newline on stdin.
// ConfigError for a model scorer's name, an unknown name, or a missing or bad option.
std::unique_ptr<Scorer> make_text_scorer(const std::string& name, const TextScorerOptions& options);

// Σ weight · term over the terms; every term's values are kept for the provenance of each answer.
class CompositeScorer {
 public:
  void add(ScorerTerm term, std::unique_ptr<Scorer> scorer);
  const std::vector<ScorerTerm>& terms() const { return terms_; }

  struct Scores {
    std::vector<double> total;               // (N)
    std::vector<std::vector<double>> terms;  // (terms, N) unweighted
  };
  // Throws dpo::Error "scorer NAME: prompt P, answer A: ..." for a non-finite value.
  Scores score(std::span<const ScoreInput> inputs) const;

 private:
  std::vector<ScorerTerm> terms_;
  std::vector<std::unique_ptr<Scorer>> scorers_;
};

}  // namespace dpo
