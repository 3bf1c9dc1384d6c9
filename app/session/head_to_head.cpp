#include "app/session/head_to_head.h"

#include "core/io/hf_folder.h"
#include "core/runtime/error.h"
#include "core/synth/sample_pairs.h"
#include "core/tokenizer/load_tokenizer.h"

namespace dpo::app {

namespace {

// UTF-8 code points: comparable across models whose tokenizers differ.
double characters(const std::string& text) {
  double n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

HeadToHeadResult head_to_head(const HeadToHeadRequest& request, const PrepareProgress& progress) {
  if (request.models.size() < 2) throw ConfigError("head-to-head: at least two models");
  if (request.prompts.empty()) throw ConfigError("head-to-head: no prompts");
  const auto terms = parse_scorer_spec(request.judge);
  CompositeScorer judge;
  for (const auto& t : terms) {
    if (is_model_scorer(t.name))
      throw ConfigError("--judge " + t.name +
                        ": a head-to-head judge is a text scorer (length, regex, keyword, "
                        "true, cmd; cmd runs any judge program)");
    judge.add(t, make_text_scorer(t.name, request.judge_options));
  }
  const auto device = parse_device(request.device);
  const size_t M = request.models.size(), P = request.prompts.size();
  std::vector<std::vector<ScoredAnswer>> answers(M);  // [model][prompt]
  for (size_t m = 0; m < M; ++m) {
    const auto stage = "answering: " + request.models[m];
    if (progress && !progress(stage, 0, P)) throw Cancelled("head-to-head cancelled");
    auto tokenizer = load_tokenizer(request.models[m]);
    auto model = load_hf_model(request.models[m], {.dtype = torch::kFloat32, .device = device}).model;
    CandidateSampling sampling;
    sampling.k = 1;
    sampling.generation = request.generation;
    auto candidates = sample_candidates(model, *tokenizer.tokenizer, request.prompts, sampling,
                                        [&](const std::string&, size_t done, size_t total) {
                                          return !progress || progress(stage, done, total);
                                        });
    score_candidates(judge, candidates);
    for (auto& c : candidates) answers[m].push_back(std::move(c.answers.front()));
  }

  std::vector<Comparison> comparisons;
  HeadToHeadResult out;
  out.models.resize(M);
  std::vector<double> wins(M, 0), played(M, 0);
  for (size_t p = 0; p < P; ++p)
    for (size_t i = 0; i < M; ++i)
      for (size_t j = i + 1; j < M; ++j) {
        const double si = answers[i][p].score, sj = answers[j][p].score;
        const double outcome = si > sj ? 1.0 : si < sj ? 0.0 : 0.5;
        // Per 100 characters, so γ reads as "what 100 more characters are worth".
        const double length = (characters(answers[i][p].text) - characters(answers[j][p].text)) / 100.0;
        comparisons.push_back({i, j, outcome, length});
        wins[i] += outcome, wins[j] += 1 - outcome;
        played[i] += 1, played[j] += 1;
      }
  out.comparisons = comparisons.size();
  const auto plain = rank_bradley_terry(M, comparisons, false, 0.95, request.resamples, request.seed);
  std::vector<RankedModel> controlled;
  if (request.length_control) {
    controlled = rank_bradley_terry(M, comparisons, true, 0.95, request.resamples, request.seed);
    out.length_weight = fit_bradley_terry(M, comparisons, true).covariate_weight;
  }
  for (size_t m = 0; m < M; ++m) {
    auto& r = out.models[m];
    r.model = request.models[m];
    r.strength = plain[m].strength;
    r.rank = plain[m].rank;
    if (request.length_control) r.lc_strength = controlled[m].strength, r.lc_rank = controlled[m].rank;
    r.win_rate = wins[m] / played[m];
    for (const auto& a : answers[m]) {
      r.mean_score += a.score / static_cast<double>(P);
      r.mean_length += characters(a.text) / static_cast<double>(P);
    }
  }
  return out;
}

}  // namespace dpo::app
