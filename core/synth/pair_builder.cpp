#include "core/synth/pair_builder.h"

#include <cmath>
#include <limits>
#include <set>

#include "core/data/readers.h"
#include "core/runtime/error.h"

namespace dpo {

namespace {

struct StrategyName {
  PairStrategy strategy;
  const char* name;
};
constexpr StrategyName kStrategies[] = {{PairStrategy::BestVsWorst, "best-vs-worst"},
                                        {PairStrategy::BestVsRandom, "best-vs-random"},
                                        {PairStrategy::Random, "random"},
                                        {PairStrategy::AllAboveMargin, "all-above-margin"}};

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// What a dataset row can hold as a completion (the readers refuse the rest).
bool usable(const std::string& text) {
  return text.find_first_not_of(" \t\r\n") != std::string::npos &&
         find_invalid_utf8(text) == std::string::npos;
}

// The answers of one prompt that may be paired, in answer order.
struct Pool {
  std::vector<size_t> answers;
  size_t usable = 0;  // repeats included
};

Pool pool_of(const std::vector<ScoredAnswer>& answers, bool keep_identical, PairBuildReport& report) {
  Pool pool;
  std::set<std::string_view> seen;
  for (size_t a = 0; a < answers.size(); ++a) {
    if (!usable(answers[a].text)) {
      ++report.unusable_answers;
      continue;
    }
    ++pool.usable;
    if (!seen.insert(answers[a].text).second && !keep_identical) {
      ++report.repeated_answers;
    } else {
      pool.answers.push_back(a);
    }
  }
  return pool;
}

// Every (chosen, rejected) the filters allow, chosen index then rejected index ascending.
std::vector<BuiltPair> eligible_pairs(size_t prompt, const std::vector<ScoredAnswer>& answers,
                                      const std::vector<size_t>& pool, const PairBuildOptions& options) {
  std::vector<BuiltPair> out;
  for (size_t i : pool) {
    for (size_t j : pool) {
      const auto& c = answers[i];
      const auto& r = answers[j];
      if (i == j || c.text == r.text) continue;
      const bool ordered = c.score > r.score || (options.keep_ties && c.score == r.score && i < j);
      if (ordered && c.score - r.score >= options.min_margin) out.push_back({prompt, i, j});
    }
  }
  return out;
}

// Why a prompt with no eligible pair gave none (the first reason that applies).
void count_drop(const std::vector<ScoredAnswer>& answers, const Pool& pool, const PairBuildOptions& options,
                PairBuildReport& report) {
  if (pool.usable < 2) {
    ++report.dropped_too_few;
    return;
  }
  bool distinct = false;
  double spread = 0;  // the largest score difference between two different texts
  for (size_t i : pool.answers) {
    for (size_t j : pool.answers) {
      if (answers[i].text == answers[j].text) continue;
      distinct = true;
      spread = std::max(spread, answers[i].score - answers[j].score);
    }
  }
  if (!distinct) {
    ++report.dropped_identical;
  } else if (spread == 0 && !options.keep_ties) {
    ++report.dropped_tied;
  } else {
    ++report.dropped_below_margin;
  }
}

// The eligible pair with the largest score difference, the first of equals.
const BuiltPair& widest(const std::vector<BuiltPair>& eligible, const std::vector<ScoredAnswer>& answers) {
  const BuiltPair* best = &eligible.front();
  for (const auto& p : eligible)
    if (answers[p.chosen].score - answers[p.rejected].score >
        answers[best->chosen].score - answers[best->rejected].score)
      best = &p;
  return *best;
}

void choose(size_t prompt, const std::vector<ScoredAnswer>& answers, const std::vector<BuiltPair>& eligible,
            const PairBuildOptions& options, std::vector<BuiltPair>& out) {
  switch (options.strategy) {
    case PairStrategy::BestVsWorst:
      out.push_back(widest(eligible, answers));
      return;
    case PairStrategy::BestVsRandom: {
      const size_t best = widest(eligible, answers).chosen;
      std::vector<BuiltPair> against;
      for (const auto& p : eligible)
        if (p.chosen == best) against.push_back(p);
      auto rng = prompt_rng(options.seed, prompt);
      out.push_back(against[uniform_index(rng, against.size())]);
      return;
    }
    case PairStrategy::Random: {
      auto rng = prompt_rng(options.seed, prompt);
      out.push_back(eligible[uniform_index(rng, eligible.size())]);
      return;
    }
    case PairStrategy::AllAboveMargin:
      out.insert(out.end(), eligible.begin(), eligible.end());
      return;
  }
}

}  // namespace

PairStrategy parse_pair_strategy(std::string_view name) {
  std::string known;
  for (const auto& s : kStrategies) {
    if (name == s.name) return s.strategy;
    known += (known.empty() ? "" : ", ") + std::string(s.name);
  }
  throw ConfigError("unknown pair strategy '" + std::string(name) + "' (known: " + known + ")");
}

const char* pair_strategy_name(PairStrategy strategy) {
  for (const auto& s : kStrategies)
    if (s.strategy == strategy) return s.name;
  return "unknown";
}

double PairBuildReport::longer_share() const {
  return pairs == 0 ? 0.0 : static_cast<double>(chosen_longer) / static_cast<double>(pairs);
}
double PairBuildReport::shorter_share() const {
  return pairs == 0 ? 0.0 : static_cast<double>(chosen_shorter) / static_cast<double>(pairs);
}

size_t uniform_index(std::mt19937_64& rng, size_t n) {
  const uint64_t range = n;
  const uint64_t floor = (uint64_t{0} - range) % range;  // 2^64 mod n: the draws below it are biased
  uint64_t x = rng();
  while (x < floor) x = rng();
  return static_cast<size_t>(x % range);
}

std::mt19937_64 prompt_rng(uint64_t seed, size_t prompt) {
  return std::mt19937_64(splitmix64(seed ^ splitmix64(static_cast<uint64_t>(prompt))));
}

PairBuildResult build_pairs(const std::vector<PromptCandidates>& prompts, const PairBuildOptions& options) {
  if (!std::isfinite(options.min_margin) || options.min_margin < 0)
    throw ConfigError("minimum score margin " + std::to_string(options.min_margin) +
                      ": expected a finite number >= 0");
  PairBuildResult result;
  auto& report = result.report;
  for (size_t p = 0; p < prompts.size(); ++p) {
    const auto& answers = prompts[p].answers;
    for (size_t a = 0; a < answers.size(); ++a)
      if (!std::isfinite(answers[a].score))
        throw DataError("prompt " + std::to_string(p + 1) + ", answer " + std::to_string(a + 1) +
                        ": the score is not a finite number");
    ++report.prompts;
    const auto pool = pool_of(answers, options.keep_identical, report);
    const auto eligible = eligible_pairs(p, answers, pool.answers, options);
    if (eligible.empty()) {
      count_drop(answers, pool, options, report);
      continue;
    }
    const size_t before = result.pairs.size();
    choose(p, answers, eligible, options, result.pairs);
    for (size_t i = before; i < result.pairs.size(); ++i) {
      const auto c = answers[result.pairs[i].chosen].length;
      const auto r = answers[result.pairs[i].rejected].length;
      ++(c > r ? report.chosen_longer : c < r ? report.chosen_shorter : report.equal_length);
    }
  }
  report.pairs = result.pairs.size();
  return result;
}

}  // namespace dpo
