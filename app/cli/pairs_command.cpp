#include "app/cli/pairs_command.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "app/cli/flag_checks.h"
#include "app/session/evaluate.h"
#include "app/session/loop.h"
#include "app/session/run_records.h"
#include "app/session/run_setup.h"
#include "core/io/atomic_file.h"
#include "core/io/hf_folder.h"
#include "core/runtime/error.h"
#include "core/synth/model_scorers.h"
#include "core/synth/pair_dataset.h"
#include "core/synth/sample_pairs.h"
#include "core/tokenizer/load_tokenizer.h"
#include "resources/demo_assets.h"

namespace dpo::cli {

namespace fs = std::filesystem;

namespace {

struct PairsArgs {
  std::string model_dir;
  std::string prompts_path;
  size_t max_prompts = 0;
  int64_t k = 4;
  std::string scorer;
  std::string strategy = "best-vs-worst";
  double min_margin = 0;
  bool keep_ties = false;
  bool keep_identical = false;
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t top_k = 0;
  uint64_t seed = 0;
  int64_t max_new_tokens = 64;
  int64_t batch = 32;
  std::string scorer_cmd;
  std::vector<std::string> scorer_args;
  double scorer_timeout = 10;
  std::string scorer_regex;
  std::vector<std::string> scorer_keywords;
  std::string scorer_model;
  std::string reference;
  double beta = 0.1;
  std::string device = "auto";
  std::string cache_dir;
  std::string out;
  bool overwrite = false;
  std::string candidates_out;
  bool quiet = false;
};

PairsArgs& args() {
  static PairsArgs a;
  return a;
}
CLI::App*& pairs_cmd() {
  static CLI::App* c = nullptr;
  return c;
}

std::string cache_of(const PairsArgs& a) {
  return a.cache_dir.empty() ? app::default_cache_dir() : a.cache_dir;
}

std::string percent(size_t part, size_t whole) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f%%",
                whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return b;
}

struct LoadedPolicy {
  std::string dir;
  LoadedTokenizer tokenizer;
  LlamaForCausalLM model{nullptr};
};

LoadedPolicy load_policy(const std::string& dir, torch::Device device) {
  LoadedPolicy p;
  p.dir = dir;
  p.tokenizer = load_tokenizer(dir);
  p.model = load_hf_model(dir, {.dtype = torch::kFloat32, .device = device}).model;
  return p;
}

// The reference of the implicit scorer: --reference, else the start of the run the model belongs to.
std::string implicit_reference(const PairsArgs& a, const std::string& scorer_model) {
  if (!a.reference.empty()) return a.reference;
  if (const auto run = app::run_of_model(scorer_model)) {
    const auto loaded = app::load_run(*run);
    if (loaded.config.contains("run")) return app::reference_of_run(loaded.options, cache_of(a)).dir;
  }
  throw ConfigError("scorer implicit needs --reference DIR: " + scorer_model +
                    " is not a run's final/ or checkpoint model, so its reference is unknown");
}

struct Scoring {
  CompositeScorer scorer;
  std::vector<std::string> term_names;
  nlohmann::json provenance = nlohmann::json::object();
  std::vector<LlamaForCausalLM> keep_alive;
};

Scoring make_scoring(const PairsArgs& a, const LoadedPolicy& sampler, torch::Device device) {
  Scoring s;
  const auto terms = parse_scorer_spec(a.scorer);
  TextScorerOptions text;
  text.regex = a.scorer_regex;
  text.keywords = a.scorer_keywords;
  if (!a.scorer_cmd.empty()) text.command.argv = split_command_line(a.scorer_cmd);
  text.command.argv.insert(text.command.argv.end(), a.scorer_args.begin(), a.scorer_args.end());
  text.command.timeout_s = a.scorer_timeout;
  // The model scorers' model: --scorer-model, else the sampling model itself.
  const std::string scorer_dir = a.scorer_model.empty() ? sampler.dir : a.scorer_model;
  std::optional<LoadedPolicy> judge;
  auto judge_model = [&]() -> LlamaForCausalLM {
    if (a.scorer_model.empty()) return sampler.model;
    if (!judge) judge = load_policy(a.scorer_model, device);
    if (judge->tokenizer.tokenizer->vocab_size() != sampler.tokenizer.tokenizer->vocab_size())
      throw ConfigError("--scorer-model " + a.scorer_model +
                        ": its tokenizer differs from the sampling model's");
    return judge->model;
  };
  for (const auto& term : terms) {
    s.term_names.push_back(term.name);
    if (term.name == "logprob") {
      s.scorer.add(term, make_logprob_scorer(judge_model(), *sampler.tokenizer.tokenizer));
      s.provenance["scorer_model"] = scorer_dir;
    } else if (term.name == "implicit") {
      const auto reference_dir = implicit_reference(a, scorer_dir);
      auto reference = load_hf_model(reference_dir, {.dtype = torch::kFloat32, .device = device}).model;
      s.keep_alive.push_back(reference);
      s.scorer.add(term,
                   make_implicit_scorer(judge_model(), reference, *sampler.tokenizer.tokenizer, a.beta));
      s.provenance["scorer_model"] = scorer_dir;
      s.provenance["reference"] = reference_dir;
      s.provenance["beta"] = a.beta;
    } else {
      s.scorer.add(term, make_text_scorer(term.name, text));
      if (term.name == "cmd") s.provenance["scorer_command"] = text.command.argv;
      if (term.name == "regex") s.provenance["scorer_regex"] = a.scorer_regex;
      if (term.name == "keyword") s.provenance["scorer_keywords"] = a.scorer_keywords;
    }
  }
  if (judge) s.keep_alive.push_back(judge->model);
  s.provenance["scorer"] = scorer_spec_string(terms);
  return s;
}

void print_report(const PairBuildReport& r, const std::string& out) {
  std::cout << "pairs: " << r.pairs << " written to " << out << " from " << r.prompts << " prompts\n";
  std::cout << "dropped prompts: " << r.dropped() << " (all answers identical " << r.dropped_identical
            << ", all scores tied " << r.dropped_tied << ", margin below the minimum "
            << r.dropped_below_margin << ", fewer than 2 usable answers " << r.dropped_too_few << ")";
  if (r.unusable_answers > 0 || r.repeated_answers > 0)
    std::cout << "; answers left out: " << r.unusable_answers << " empty or not UTF-8, " << r.repeated_answers
              << " repeats";
  std::cout << "\n";
  std::cout << "length bias: the chosen answer is the longer in " << percent(r.chosen_longer, r.pairs)
            << " of pairs, the shorter in " << percent(r.chosen_shorter, r.pairs) << ", as long in "
            << percent(r.equal_length, r.pairs) << "\n";
}

int run_pairs(const PairsArgs& a) {
  if (a.out.empty()) throw ConfigError("dpo pairs: --out FILE is required");
  if (fs::exists(a.out) && !a.overwrite)
    throw ConfigError("--out " + a.out + ": exists; pass --overwrite to replace it");
  if (a.k < 2)
    throw ConfigError("--k " + std::to_string(a.k) + ": a pair needs at least 2 answers per prompt");
  PairBuildOptions build;
  build.strategy = parse_pair_strategy(a.strategy);
  build.min_margin = a.min_margin;
  build.keep_ties = a.keep_ties;
  build.keep_identical = a.keep_identical;
  build.seed = a.seed;
  if (!(a.min_margin >= 0)) throw ConfigError("--min-margin: expected a number >= 0");
  const auto prompts = app::load_prompts(a.prompts_path, a.max_prompts);

  const auto device = app::parse_device(a.device);
  std::string model_dir = a.model_dir;
  std::string model_label = a.model_dir;
  if (model_dir.empty()) {
    model_dir = resources::unpack_demo_model(cache_of(a));
    if (model_dir.empty()) throw ConfigError("this build has no embedded demo model: pass --model DIR");
    model_label = "demo model (SFT on the demo world)";
  }
  const auto sampler = load_policy(model_dir, device);
  auto scoring = make_scoring(a, sampler, device);

  CandidateSampling sampling;
  sampling.k = a.k;
  sampling.batch_sequences = a.batch;
  sampling.generation.max_new_tokens = a.max_new_tokens;
  sampling.generation.temperature = a.temperature;
  sampling.generation.top_p = a.top_p;
  sampling.generation.top_k = a.top_k;
  sampling.generation.seed = a.seed;
  auto model = sampler.model;
  auto candidates = sample_candidates(model, *sampler.tokenizer.tokenizer, prompts, sampling,
                                      [&](const std::string& stage, size_t done, size_t total) {
                                        if (!a.quiet)
                                          std::printf("%s: %zu/%zu\n", stage.c_str(), done, total);
                                        std::fflush(stdout);
                                        return true;
                                      });
  if (!a.quiet) std::cout << "scoring " << prompts.size() * static_cast<size_t>(a.k) << " answers\n";
  score_candidates(scoring.scorer, candidates);
  const auto built = build_pairs(candidates, build);

  auto provenance = scoring.provenance;
  provenance["model"] = model_label;
  provenance["strategy"] = pair_strategy_name(build.strategy);
  provenance["min_margin"] = a.min_margin;
  provenance["keep_ties"] = a.keep_ties;
  provenance["keep_identical"] = a.keep_identical;
  provenance["sampling"] = {
      {"k", a.k},       {"temperature", a.temperature},       {"top_p", a.top_p}, {"top_k", a.top_k},
      {"seed", a.seed}, {"max_new_tokens", a.max_new_tokens}, {"batch", a.batch}};
  if (!a.candidates_out.empty()) {
    // Every sampled answer with its score, and which became chosen or rejected: what a preview shows.
    std::vector<std::vector<std::string>> role(candidates.size());
    for (size_t p = 0; p < candidates.size(); ++p) role[p].assign(candidates[p].answers.size(), "");
    for (const auto& b : built.pairs) {
      role[b.prompt][b.chosen] = role[b.prompt][b.chosen] == "rejected" ? "both" : "chosen";
      role[b.prompt][b.rejected] = role[b.prompt][b.rejected] == "chosen" ? "both" : "rejected";
    }
    std::string lines;
    for (size_t p = 0; p < candidates.size(); ++p) {
      auto answers = nlohmann::json::array();
      for (size_t i = 0; i < candidates[p].answers.size(); ++i) {
        const auto& x = candidates[p].answers[i];
        answers.push_back({{"text", x.text}, {"score", x.score}, {"tokens", x.length}, {"role", role[p][i]}});
      }
      lines += nlohmann::json{{"prompt", candidates[p].prompt}, {"answers", answers}}.dump() + "\n";
    }
    write_file_atomically(a.candidates_out, lines);
  }
  print_report(built.report, a.out);
  if (built.pairs.empty())
    throw Error("no pair to write: every prompt was dropped (see above); " + a.out + " was not written");
  if (fs::exists(a.out) && !a.overwrite)  // appeared while sampling
    throw ConfigError("--out " + a.out + ": exists; pass --overwrite to replace it");
  const auto parent = fs::absolute(a.out).parent_path();
  fs::create_directories(parent);
  write_file_atomically(a.out, synthetic_pairs_jsonl(candidates, built, scoring.term_names, provenance));
  return 0;
}

}  // namespace

void add_pairs_command(CLI::App& cli) {
  auto& a = args();
  auto* cmd = cli.add_subcommand(
      "pairs", "sample k answers per prompt, score them and write preference pairs dpo train reads");
  cmd->add_option("--model", a.model_dir,
                  "Hugging Face model folder to sample from (default: the demo model)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--prompts", a.prompts_path,
                  "prompts: JSONL/JSON/CSV with a \"prompt\" field, or plain text one per line (default: the "
                  "demo's prompts)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--max-prompts", a.max_prompts, "use only the first N prompts (0: all)")
      ->capture_default_str();
  int_in_range(cmd->add_option("--k", a.k, "answers sampled per prompt"), 2, kMaxCandidatesPerPrompt)
      ->capture_default_str();
  cmd->add_option(
         "--scorer", a.scorer,
         "weighted scorers name[:weight],...: length, regex, keyword, true (demo reward), cmd, logprob, "
         "implicit")
      ->required();
  cmd->add_option("--strategy", a.strategy, "best-vs-worst, best-vs-random, random or all-above-margin")
      ->capture_default_str();
  cmd->add_option("--min-margin", a.min_margin, "minimum score difference of a pair")->capture_default_str();
  cmd->add_flag("--keep-ties", a.keep_ties, "pair answers of equal score too (the earlier one chosen)");
  cmd->add_flag("--keep-identical", a.keep_identical,
                "keep repeated answers as candidates (identical texts still never form a pair)");
  non_negative(cmd->add_option("--temperature", a.temperature, "sampling temperature (0: greedy)"))
      ->capture_default_str();
  above_zero_up_to(cmd->add_option("--top-p", a.top_p, "nucleus sampling (1: off)"), 1.0)
      ->capture_default_str();
  at_least(cmd->add_option("--top-k", a.top_k, "top-k sampling (0: off)"), 0)->capture_default_str();
  cmd->add_option("--seed", a.seed, "sampling and pairing seed")->capture_default_str();
  int_in_range(cmd->add_option("--max-new-tokens", a.max_new_tokens, "longest answer"), 1, int64_t{1} << 20)
      ->capture_default_str();
  at_least(cmd->add_option("--batch", a.batch, "sequences per sampling call"), 1)->capture_default_str();
  cmd->add_option("--scorer-cmd", a.scorer_cmd,
                  "scorer cmd's program and arguments, split on spaces (quotes group; never a shell)");
  cmd->add_option("--scorer-arg", a.scorer_args, "one more argument of scorer cmd (repeatable)");
  positive(cmd->add_option("--scorer-timeout", a.scorer_timeout, "seconds scorer cmd may take per answer"))
      ->capture_default_str();
  cmd->add_option("--scorer-regex", a.scorer_regex, "scorer regex's PCRE2 pattern (counts matches)");
  cmd->add_option("--scorer-keywords", a.scorer_keywords, "scorer keyword's words (comma-separated)")
      ->delimiter(',');
  cmd->add_option("--scorer-model", a.scorer_model,
                  "model of the logprob and implicit scorers (default: the sampling model)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--reference", a.reference,
                  "reference of the implicit scorer (default: the start of the scorer model's run)")
      ->check(CLI::ExistingDirectory);
  positive(cmd->add_option("--beta", a.beta, "β of the implicit scorer"))->capture_default_str();
  cmd->add_option("--device", a.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--cache-dir", a.cache_dir, "where the demo model is unpacked");
  cmd->add_option("--out", a.out, "the JSONL dataset to write")->required();
  cmd->add_flag("--overwrite", a.overwrite, "replace --out when it exists");
  cmd->add_option("--candidates", a.candidates_out,
                  "also write every sampled answer with its score and role (chosen/rejected) here, as JSONL");
  cmd->add_flag("--quiet", a.quiet, "no progress lines");
  pairs_cmd() = cmd;
}

bool pairs_command_chosen() { return pairs_cmd() != nullptr && pairs_cmd()->parsed(); }

int run_pairs_command() { return run_pairs(args()); }

}  // namespace dpo::cli
