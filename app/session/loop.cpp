#include "app/session/loop.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <optional>

#include "app/session/short_run.h"
#include "core/data/jsonl_reader.h"
#include "core/io/atomic_file.h"
#include "core/io/hf_folder.h"
#include "core/runtime/error.h"
#include "core/synth/pair_dataset.h"
#include "core/tokenizer/load_tokenizer.h"
#include "resources/demo_assets.h"

namespace dpo::app {

namespace fs = std::filesystem;

namespace {

double mean_score(const std::vector<PromptCandidates>& candidates) {
  double sum = 0;
  size_t n = 0;
  for (const auto& p : candidates)
    for (const auto& a : p.answers) sum += a.score, ++n;
  return n == 0 ? std::numeric_limits<double>::quiet_NaN() : sum / static_cast<double>(n);
}

nlohmann::json round_json(const LoopRound& r) {
  nlohmann::json j = {{"round", r.round}, {"pairs", r.pairs}, {"dropped_prompts", r.dropped_prompts}};
  if (std::isfinite(r.mean_score)) j["mean_score"] = r.mean_score;
  if (std::isfinite(r.greedy_score)) j["greedy_score"] = r.greedy_score;
  if (std::isfinite(r.heldout_accuracy)) j["heldout_accuracy"] = r.heldout_accuracy;
  if (std::isfinite(r.train_loss)) j["train_loss"] = r.train_loss;
  return j;
}

void check(const LoopRequest& r, const std::vector<ScorerTerm>& terms) {
  if (r.rounds < 1 || r.rounds > 100) throw ConfigError("dpo loop: --rounds must be in 1..100");
  if (r.prompts.empty()) throw ConfigError("dpo loop: no prompts to sample");
  if (r.dir.empty()) throw ConfigError("dpo loop: no output folder (--out)");
  for (const auto& t : terms)
    if (is_model_scorer(t.name))
      throw ConfigError(
          "dpo loop: scorer " + t.name +
          " scores with a model; the loop takes text scorers (length, regex, keyword, true, cmd)");
  std::error_code ec;
  if (fs::exists(r.dir, ec) && !fs::is_empty(r.dir, ec) && !r.overwrite)
    throw ConfigError(r.dir.string() + ": exists; choose a new --out or pass --overwrite");
}

}  // namespace

std::vector<std::string> load_prompts(const std::string& path, size_t max_prompts) {
  std::vector<std::string> prompts;
  if (!path.empty()) {
    prompts = read_prompts(path);
  } else {
    for (const auto& p : parse_preference_jsonl(resources::demo_preferences_jsonl(), "embedded demo"))
      prompts.push_back(p.prompt);
    prompts = distinct_prompts(prompts);
  }
  if (max_prompts > 0 && prompts.size() > max_prompts) prompts.resize(max_prompts);
  return prompts;
}

LoopResult run_loop(const LoopRequest& request, const PrepareProgress& progress) {
  const auto terms = parse_scorer_spec(request.scorer);
  check(request, terms);
  CompositeScorer scorer;
  for (const auto& t : terms) scorer.add(t, make_text_scorer(t.name, request.scorer_options));
  const auto tell = [&](const std::string& stage, size_t done, size_t total) {
    return !progress || progress(stage, done, total);
  };

  std::string model_dir = request.base.model_dir;
  if (model_dir.empty()) {
    model_dir = resources::unpack_demo_model(request.base.cache_dir.empty() ? default_cache_dir()
                                                                            : request.base.cache_dir);
    if (model_dir.empty()) throw ConfigError("this build has no embedded demo model: pass --model DIR");
  }
  fs::create_directories(request.dir);
  nlohmann::json log = {{"start_model", model_dir},
                        {"rounds", nlohmann::json::array()},
                        {"scorer", scorer_spec_string(terms)},
                        {"strategy", pair_strategy_name(request.build.strategy)},
                        {"k", request.sampling.k}};
  const auto save_log = [&] { write_file_atomically(request.dir / "loop.json", log.dump(2) + "\n"); };
  save_log();

  // The policy that samples: the start model, then each round's trained policy (still in memory).
  auto start_tokenizer = load_tokenizer(model_dir);
  auto start_model =
      load_hf_model(model_dir, {.dtype = torch::kFloat32, .device = parse_device(request.base.device)}).model;
  LlamaForCausalLM* policy = &start_model;
  const Tokenizer* tokenizer = start_tokenizer.tokenizer.get();
  std::optional<ShortRun> previous;
  const auto sample = [&](const std::string& stage, bool greedy = false) {
    auto sampling = request.sampling;
    if (greedy) sampling.k = 1, sampling.generation.temperature = 0;
    auto candidates = sample_candidates(
        *policy, *tokenizer, request.prompts, sampling,
        [&](const std::string&, size_t done, size_t total) { return tell(stage, done, total); });
    score_candidates(scorer, candidates);
    return candidates;
  };

  LoopResult result;
  for (int r = 1; r <= request.rounds; ++r) {
    const std::string name = "round-" + std::to_string(r);
    const auto round_dir = request.dir / name;
    LoopRound round;
    round.round = r;
    auto candidates = sample(name + ": sampling answers");
    round.mean_score = mean_score(candidates);
    round.greedy_score = mean_score(sample(name + ": greedy answers", true));
    const auto built = build_pairs(candidates, request.build);
    round.pairs = built.report.pairs;
    round.dropped_prompts = built.report.dropped();
    if (built.pairs.empty())
      throw Error(name + ": every prompt was dropped (no answers differ in score); nothing to train on");
    nlohmann::json provenance = {{"model", model_dir},
                                 {"round", r},
                                 {"scorer", scorer_spec_string(terms)},
                                 {"strategy", pair_strategy_name(request.build.strategy)},
                                 {"sampling",
                                  {{"k", request.sampling.k},
                                   {"temperature", request.sampling.generation.temperature},
                                   {"top_p", request.sampling.generation.top_p},
                                   {"seed", request.sampling.generation.seed},
                                   {"max_new_tokens", request.sampling.generation.max_new_tokens}}}};
    std::vector<std::string> term_names;
    for (const auto& t : terms) term_names.push_back(t.name);
    fs::create_directories(round_dir);
    const auto pairs_file = round_dir / "pairs.jsonl";
    write_file_atomically(pairs_file, synthetic_pairs_jsonl(candidates, built, term_names, provenance));

    auto options = request.base;
    options.model_dir = model_dir;
    options.reference_dir.clear();  // π_ref = this round's starting policy
    options.data_path = pairs_file.string();
    auto run = train_into(options, round_dir / "run", name, tell, {{"source", "loop"}, {"round", r}});
    round.train_loss = run.train_loss;
    if (!run.eval.pairs.empty()) round.heldout_accuracy = run.eval.accuracy;
    result.rounds.push_back(round);
    log["rounds"].push_back(round_json(round));
    save_log();
    model_dir = (round_dir / "run" / "final").string();
    previous.emplace(std::move(run));
    policy = &previous->setup.trainer->policy();
    tokenizer = previous->setup.tokenizer.get();
  }
  result.final_mean_score = mean_score(sample("final policy: sampling answers"));
  result.final_greedy_score = mean_score(sample("final policy: greedy answers", true));
  log["final_mean_score"] = result.final_mean_score;
  log["final_greedy_score"] = result.final_greedy_score;
  save_log();
  return result;
}

}  // namespace dpo::app
