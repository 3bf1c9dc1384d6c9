// Pair building from scored samples (core/synth/pair_builder.h, issue 14): every strategy and
// filter against pairs written out by hand. The scores are dyadic fractions, so every margin below
// is exact and the thresholds are met or missed exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/runtime/error.h"
#include "core/synth/pair_builder.h"
#include "core/synth/pair_dataset.h"

namespace dpo {
namespace {

// Six prompts:
//   0: alpha .875 (5), beta .125 (4), gamma .5 (5), delta .5 (5)  — gamma and delta tie
//   1: "same" three times (.25, .75, .5)                          — all identical
//   2: x, y, z all .25                                            — all tied
//   3: "only" 1, "" 0, "  \n" 0                                   — one usable answer
//   4: p .5 (1), qq .4375 (2)                                     — margin .0625
//   5: long .75 (16), short .25 (5), long again .75 (16), mid .625 (3)
std::vector<PromptCandidates> samples() {
  return {
      {"P0", {{"alpha", 0.875, 5, {}}, {"beta", 0.125, 4, {}}, {"gamma", 0.5, 5, {}}, {"delta", 0.5, 5, {}}}},
      {"P1", {{"same", 0.25, 4, {}}, {"same", 0.75, 4, {}}, {"same", 0.5, 4, {}}}},
      {"P2", {{"x", 0.25, 1, {}}, {"y", 0.25, 1, {}}, {"z", 0.25, 1, {}}}},
      {"P3", {{"only", 1.0, 4, {}}, {"", 0.0, 0, {}}, {"  \n", 0.0, 2, {}}}},
      {"P4", {{"p", 0.5, 1, {}}, {"qq", 0.4375, 2, {}}}},
      {"P5",
       {{"long answer here", 0.75, 16, {}},
        {"short", 0.25, 5, {}},
        {"long answer here", 0.75, 16, {}},
        {"mid", 0.625, 3, {}}}},
  };
}

using Triple = std::tuple<size_t, size_t, size_t>;
std::vector<Triple> triples(const PairBuildResult& r) {
  std::vector<Triple> out;
  for (const auto& p : r.pairs) out.emplace_back(p.prompt, p.chosen, p.rejected);
  return out;
}

PairBuildResult build(PairStrategy strategy, double min_margin = 0, bool ties = false, bool identical = false,
                      uint64_t seed = 0) {
  PairBuildOptions o;
  o.strategy = strategy;
  o.min_margin = min_margin;
  o.keep_ties = ties;
  o.keep_identical = identical;
  o.seed = seed;
  return build_pairs(samples(), o);
}

TEST(SynthPairs, BestVsWorst) {
  const auto r = build(PairStrategy::BestVsWorst);
  EXPECT_EQ(triples(r), (std::vector<Triple>{{0, 0, 1}, {4, 0, 1}, {5, 0, 1}}));
  const auto& rep = r.report;
  EXPECT_EQ(rep.prompts, 6u);
  EXPECT_EQ(rep.pairs, 3u);
  EXPECT_EQ(rep.dropped_identical, 1u);  // prompt 1
  EXPECT_EQ(rep.dropped_tied, 1u);       // prompt 2
  EXPECT_EQ(rep.dropped_too_few, 1u);    // prompt 3
  EXPECT_EQ(rep.dropped_below_margin, 0u);
  EXPECT_EQ(rep.dropped(), 3u);
  EXPECT_EQ(rep.unusable_answers, 2u);  // "" and "  \n"
  EXPECT_EQ(rep.repeated_answers, 3u);  // two repeats of "same", one of "long answer here"
  // alpha (5) over beta (4): longer; p (1) over qq (2): shorter; long (16) over short (5): longer.
  EXPECT_EQ(rep.chosen_longer, 2u);
  EXPECT_EQ(rep.chosen_shorter, 1u);
  EXPECT_EQ(rep.equal_length, 0u);
  EXPECT_DOUBLE_EQ(rep.longer_share(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(rep.shorter_share(), 1.0 / 3.0);
}

TEST(SynthPairs, AllAboveMarginZeroTakesEveryStrictlyOrderedPair) {
  const auto r = build(PairStrategy::AllAboveMargin);
  EXPECT_EQ(triples(r), (std::vector<Triple>{{0, 0, 1},
                                             {0, 0, 2},
                                             {0, 0, 3},
                                             {0, 2, 1},
                                             {0, 3, 1},
                                             {4, 0, 1},
                                             {5, 0, 1},
                                             {5, 0, 3},
                                             {5, 3, 1}}));
  // Longer: alpha>beta, gamma>beta, delta>beta, long>short, long>mid; shorter: p<qq, mid<short;
  // equal: alpha=gamma, alpha=delta.
  EXPECT_EQ(r.report.chosen_longer, 5u);
  EXPECT_EQ(r.report.chosen_shorter, 2u);
  EXPECT_EQ(r.report.equal_length, 2u);
  EXPECT_DOUBLE_EQ(r.report.longer_share(), 5.0 / 9.0);
}

TEST(SynthPairs, MinimumMarginIsInclusiveAndDropsNarrowPrompts) {
  // .375 exactly: alpha−gamma, alpha−delta, gamma−beta, delta−beta and mid−short reach it.
  auto r = build(PairStrategy::AllAboveMargin, 0.375);
  EXPECT_EQ(triples(r), (std::vector<Triple>{
                            {0, 0, 1}, {0, 0, 2}, {0, 0, 3}, {0, 2, 1}, {0, 3, 1}, {5, 0, 1}, {5, 3, 1}}));
  EXPECT_EQ(r.report.dropped_below_margin, 1u);  // prompt 4: .0625
  EXPECT_EQ(r.report.dropped(), 4u);

  r = build(PairStrategy::AllAboveMargin, 0.5);
  EXPECT_EQ(triples(r), (std::vector<Triple>{{0, 0, 1}, {5, 0, 1}}));

  r = build(PairStrategy::BestVsWorst, 0.8);  // wider than any prompt's spread (.75 at most)
  EXPECT_TRUE(r.pairs.empty());
  EXPECT_EQ(r.report.dropped_below_margin, 3u);  // prompts 0, 4, 5
  EXPECT_DOUBLE_EQ(r.report.longer_share(), 0.0);
}

TEST(SynthPairs, KeepTiesPairsEqualScoresEarlierFirst) {
  auto r = build(PairStrategy::AllAboveMargin, 0, /*ties=*/true);
  EXPECT_EQ(triples(r), (std::vector<Triple>{{0, 0, 1},
                                             {0, 0, 2},
                                             {0, 0, 3},
                                             {0, 2, 1},
                                             {0, 2, 3},
                                             {0, 3, 1},
                                             {2, 0, 1},
                                             {2, 0, 2},
                                             {2, 1, 2},
                                             {4, 0, 1},
                                             {5, 0, 1},
                                             {5, 0, 3},
                                             {5, 3, 1}}));
  EXPECT_EQ(r.report.dropped_tied, 0u);
  EXPECT_EQ(r.report.dropped_identical, 1u);  // identical text never pairs, tie or not

  r = build(PairStrategy::BestVsWorst, 0, /*ties=*/true);
  EXPECT_EQ(triples(r), (std::vector<Triple>{{0, 0, 1}, {2, 0, 1}, {4, 0, 1}, {5, 0, 1}}));
  // Ties kept but a positive margin asked: the tied prompt falls under the margin instead.
  r = build(PairStrategy::BestVsWorst, 0.0625, /*ties=*/true);
  EXPECT_EQ(r.report.dropped_below_margin, 1u);
  EXPECT_EQ(r.report.dropped_tied, 0u);
}

TEST(SynthPairs, KeepIdenticalKeepsRepeatsButNeverPairsThem) {
  const auto r = build(PairStrategy::AllAboveMargin, 0, false, /*identical=*/true);
  EXPECT_EQ(triples(r), (std::vector<Triple>{{0, 0, 1},
                                             {0, 0, 2},
                                             {0, 0, 3},
                                             {0, 2, 1},
                                             {0, 3, 1},
                                             {4, 0, 1},
                                             {5, 0, 1},
                                             {5, 0, 3},
                                             {5, 2, 1},
                                             {5, 2, 3},
                                             {5, 3, 1}}));
  EXPECT_EQ(r.report.repeated_answers, 0u);
  EXPECT_EQ(r.report.dropped_identical, 1u);  // "same" against "same" is still no pair
}

// The draws, checked against an independent MT19937-64 written in Python (the standard pins the
// generator's output; uniform_index rejects the 2^64 mod n lowest draws, then takes x mod n).
TEST(SynthPairs, UniformIndexIsPinned) {
  std::mt19937_64 rng;  // seed 5489: first output 14514284786278117030
  EXPECT_EQ(uniform_index(rng, 3), 1u);
  std::mt19937_64 again;
  EXPECT_EQ(uniform_index(again, 10), 0u);
  EXPECT_EQ(prompt_rng(0, 0)(), 8892643065069030078ull);
}

TEST(SynthPairs, RandomStrategiesDrawTheSamePairsForASeed) {
  // Seed 7 — best-vs-random: prompt 0 draws index 2 of {beta, gamma, delta}; prompt 5 index 1 of
  // {short, mid}. random: prompt 0 index 3 of its 5 eligible pairs (gamma over beta), prompt 5 index
  // 1 of 3 (long over mid); prompt 4 has one pair.
  auto r = build(PairStrategy::BestVsRandom, 0, false, false, 7);
  EXPECT_EQ(triples(r), (std::vector<Triple>{{0, 0, 3}, {4, 0, 1}, {5, 0, 3}}));
  r = build(PairStrategy::Random, 0, false, false, 7);
  EXPECT_EQ(triples(r), (std::vector<Triple>{{0, 2, 1}, {4, 0, 1}, {5, 0, 3}}));
  // Seed 1: prompt 0's draws are index 1 (of 3) and 1 (of 5); prompt 5's 1 (of 2) and 1 (of 3).
  r = build(PairStrategy::BestVsRandom, 0, false, false, 1);
  EXPECT_EQ(triples(r), (std::vector<Triple>{{0, 0, 2}, {4, 0, 1}, {5, 0, 3}}));
  r = build(PairStrategy::Random, 0, false, false, 1);
  EXPECT_EQ(triples(r), (std::vector<Triple>{{0, 0, 2}, {4, 0, 1}, {5, 0, 3}}));

  // Over many seeds best-vs-random reaches every other answer of prompt 0 and always chooses alpha.
  std::set<size_t> rejected;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    const auto s = build(PairStrategy::BestVsRandom, 0, false, false, seed);
    EXPECT_EQ(s.pairs.front().chosen, 0u);
    rejected.insert(s.pairs.front().rejected);
  }
  EXPECT_EQ(rejected, (std::set<size_t>{1, 2, 3}));
}

TEST(SynthPairs, APromptsDrawDoesNotDependOnThePromptsBeforeIt) {
  auto changed = samples();
  changed[0].answers.pop_back();  // prompt 0 now has fewer eligible pairs
  PairBuildOptions o;
  o.strategy = PairStrategy::Random;
  o.seed = 7;
  const auto a = build_pairs(samples(), o);
  const auto b = build_pairs(changed, o);
  EXPECT_EQ(a.pairs.back().chosen, b.pairs.back().chosen);
  EXPECT_EQ(a.pairs.back().rejected, b.pairs.back().rejected);
}

TEST(SynthPairs, FewerThanTwoAnswersAndBadInput) {
  auto r = build_pairs({{"lonely", {{"one", 1.0, 3, {}}}}, {"none", {}}}, {});
  EXPECT_EQ(r.report.dropped_too_few, 2u);
  EXPECT_TRUE(r.pairs.empty());

  PairBuildOptions negative;
  negative.min_margin = -1;
  EXPECT_THROW(build_pairs(samples(), negative), ConfigError);
  auto nan = samples();
  nan[4].answers[1].score = std::nan("");
  try {
    build_pairs(nan, {});
    FAIL() << "a NaN score was accepted";
  } catch (const DataError& e) {
    EXPECT_STREQ(e.what(), "prompt 5, answer 2: the score is not a finite number");
  }
  EXPECT_EQ(parse_pair_strategy("all-above-margin"), PairStrategy::AllAboveMargin);
  try {
    parse_pair_strategy("best");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(
        e.what(),
        "unknown pair strategy 'best' (known: best-vs-worst, best-vs-random, random, all-above-margin)");
  }
}

TEST(SynthPairs, DatasetRowsCarryProvenance) {
  auto prompts = samples();
  for (auto& p : prompts)
    for (auto& a : p.answers) a.term_scores = {a.score, 2 * a.score};
  const auto built = build_pairs(prompts, {});
  const auto text =
      synthetic_pairs_jsonl(prompts, built, {"true", "length"}, {{"strategy", "best-vs-worst"}});
  std::vector<nlohmann::json> rows;
  for (size_t start = 0; start < text.size();) {
    const size_t end = text.find('\n', start);
    rows.push_back(nlohmann::json::parse(text.substr(start, end - start)));
    start = end + 1;
  }
  ASSERT_EQ(rows.size(), 3u);
  const auto& last = rows[2];
  EXPECT_EQ(last["prompt"], "P5");
  EXPECT_EQ(last["chosen"], "long answer here");
  EXPECT_EQ(last["rejected"], "short");
  EXPECT_EQ(last["score_chosen"], 0.75);
  EXPECT_EQ(last["score_rejected"], 0.25);
  const auto& p = last["provenance"];
  EXPECT_EQ(p["strategy"], "best-vs-worst");
  EXPECT_EQ(p["prompt_index"], 5);
  EXPECT_EQ(p["chosen_index"], 0);
  EXPECT_EQ(p["rejected_index"], 1);
  EXPECT_EQ(p["scores"], (nlohmann::json{0.75, 0.25, 0.75, 0.625}));
  EXPECT_EQ(p["term_scores"]["length"], (nlohmann::json{1.5, 0.5, 1.5, 1.25}));
  EXPECT_EQ(p["lengths"], (nlohmann::json{16, 5, 16, 3}));
}

TEST(SynthPairs, ReadsPromptsFromJsonlAndPlainText) {
  const auto dir = std::filesystem::temp_directory_path() / "dpo_test_synth_prompts";
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "p.jsonl")
        << "{\"prompt\": \"Question: what is 1 + 2?\\nAnswer:\"}\n\n{\"prompt\": \"B\"}\n";
    std::ofstream(dir / "p.txt") << "first\r\n\n  \nsecond\n";
    std::ofstream(dir / "bad.jsonl") << "{\"prompt\": \"ok\"}\n{\"question\": \"no\"}\n";
  }
  EXPECT_EQ(read_prompts((dir / "p.jsonl").string()),
            (std::vector<std::string>{"Question: what is 1 + 2?\nAnswer:", "B"}));
  EXPECT_EQ(read_prompts((dir / "p.txt").string()), (std::vector<std::string>{"first", "second"}));
  try {
    read_prompts((dir / "bad.jsonl").string());
    FAIL();
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), (dir / "bad.jsonl").string() + ":2: expected a \"prompt\" string");
  }
  EXPECT_EQ(distinct_prompts({"a", "b", "a", "c", "b"}), (std::vector<std::string>{"a", "b", "c"}));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dpo
