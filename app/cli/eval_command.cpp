#include "app/cli/eval_command.h"

#include "app/cli/cli_output.h"
#include "app/cli/flag_checks.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string_view>

#include "app/session/evaluate.h"
#include "app/session/head_to_head.h"
#include "app/session/loop.h"
#include "app/session/run_records.h"
#include "core/eval/beta_explorer.h"
#include "core/eval/preference_eval.h"
#include "core/io/atomic_file.h"
#include "core/runtime/error.h"
#include "core/types/checkpoint_paths.h"

namespace dpo::cli {

namespace fs = std::filesystem;

namespace {

struct EvalArgs {
  app::EvalRequest request;
  std::string scoring;
  std::string out_dir;
  bool quiet = false;
  // rank
  std::vector<std::string> models;
  std::string run_dir;
  std::string select;
  std::string export_dir;
  // rank --head-to-head
  bool head_to_head = false;
  std::string prompts_path;
  size_t max_prompts = 0;
  std::string judge;
  std::string judge_cmd;
  std::string judge_regex;
  std::vector<std::string> judge_keywords;
  bool length_control = false;
  int64_t max_new_tokens = 48;
  double temperature = 0;
  // beta
  std::string pairs_file;
  std::optional<int64_t> step;
  std::vector<double> betas{0.01, 0.03, 0.1, 0.3, 1.0};
  std::string losses = "sigmoid";
  size_t bins = 20;
  bool json = false;
};

EvalArgs& args() {
  static EvalArgs a;
  return a;
}
CLI::App*& eval_cmd() {
  static CLI::App* c = nullptr;
  return c;
}
CLI::App*& rank_cmd() {
  static CLI::App* c = nullptr;
  return c;
}
CLI::App*& beta_cmd() {
  static CLI::App* c = nullptr;
  return c;
}

void add_common(CLI::App& cmd, EvalArgs& a) {
  auto& r = a.request;
  cmd.add_option("--reference", r.reference,
                 "reference model folder, or none (default: the run's starting model for a run's final/ "
                 "or checkpoint, else none)");
  cmd.add_option("--data", r.data_path, "preference file (default: the model's run's data, else the demo)")
      ->check(CLI::ExistingFile);
  positive(cmd.add_option("--beta", r.beta, "β of the implicit reward"))->capture_default_str();
  cmd.add_option("--score", a.scoring,
                 "implicit (with a reference), or without one: sum, mean (per token) or simpo (β·mean − γ)");
  cmd.add_option("--simpo-gamma", r.simpo_gamma, "target margin γ of --score simpo")->capture_default_str();
  cmd.add_option("--device", r.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  at_least(cmd.add_option("--batch", r.batch_size, "pairs per forward pass"), 1)->capture_default_str();
  cmd.add_option("--cache-dir", r.cache_dir, "tokenized data and reference log-prob cache");
  cmd.add_flag("--no-cache", r.no_cache, "neither read nor write the cache");
  // A callback, not a "!" flag: CLI11 shows a negated flag's default as "{false}" in --help.
  cmd.add_flag_callback(
      "--no-sample", [&r] { r.sample = false; }, "skip sampling answers (no sampled length, no KL)");
  int_in_range(cmd.add_option("--resamples", r.resamples, "bootstrap resamples"), 10, 1000000)
      ->capture_default_str();
  cmd.add_option("--seed", r.seed, "bootstrap seed")->capture_default_str();
  cmd.add_option("--out", a.out_dir, "folder for the JSON (and CSV) results");
  cmd.add_flag("--quiet", a.quiet, "no progress lines");
}

std::string percent(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f%%", 100 * x);
  return b;
}
std::string fixed(double x, int digits = 3, bool sign = false) {
  char b[48];
  std::snprintf(b, sizeof b, sign ? "%+.*f" : "%.*f", digits, x);
  return b;
}

app::EvalRequest request_for(const EvalArgs& a, const std::string& model) {
  auto r = a.request;
  r.model_dir = model;
  if (!a.scoring.empty()) r.scoring = parse_pair_scoring(a.scoring);
  return r;
}

void print_report(const app::EvaluatedModel& m) {
  const auto& r = m.report;
  std::cout << "model: " << m.model_label << " (reference: " << m.reference_label
            << "), data: " << m.data_label << " (" << r.pairs
            << " pairs), scoring: " << pair_scoring_name(m.scoring) << ", beta " << m.beta << "\n";
  std::cout << "accuracy " << percent(r.accuracy.estimate) << " [" << percent(r.accuracy.lower) << ", "
            << percent(r.accuracy.upper) << "] (95% bootstrap; a tie counts as wrong), mean margin "
            << fixed(r.mean_margin.estimate, 4, true) << " [" << fixed(r.mean_margin.lower, 4, true) << ", "
            << fixed(r.mean_margin.upper, 4, true) << "]\n";
  if (r.length_pairs > 0)
    std::cout << "length: of " << r.length_pairs
              << " pairs whose answers differ in length, the model prefers the "
              << "longer in " << percent(r.model_prefers_longer) << ", the data in "
              << percent(r.data_prefers_longer) << "\n";
  if (std::isfinite(m.eval.sampled_kl) || std::isfinite(m.eval.sampled_length)) {
    std::cout << "sampled answers:";
    if (std::isfinite(m.eval.sampled_length))
      std::cout << " mean length " << fixed(m.eval.sampled_length, 1) << " tokens";
    if (std::isfinite(m.eval.sampled_kl))
      std::cout << ", KL(π‖π_ref) " << fixed(m.eval.sampled_kl, 4) << " nats";
    std::cout << "\n";
  }
  std::cout << "calibration (|margin| quintile: accuracy / σ(|margin|)):";
  for (const auto& b : r.calibration)
    std::cout << "  " << fixed(b.lower, 3) << "-" << fixed(b.upper, 3) << ": " << percent(b.accuracy) << " / "
              << percent(b.predicted);
  std::cout << "\n";
}

nlohmann::json model_json(const app::EvaluatedModel& m) {
  nlohmann::json j = m.report;
  j["model"] = m.model_label;
  j["reference"] = m.reference_label;
  j["data"] = m.data_label;
  j["scoring"] = pair_scoring_name(m.scoring);
  j["beta"] = m.beta;
  if (std::isfinite(m.eval.sampled_length)) j["sampled_length"] = m.eval.sampled_length;
  if (std::isfinite(m.eval.sampled_kl)) j["sampled_kl"] = m.eval.sampled_kl;
  return j;
}

fs::path output_folder(const std::string& dir) {
  fs::create_directories(dir);
  return dir;
}

int run_eval(const EvalArgs& a) {
  const auto m = app::evaluate_model(request_for(a, a.request.model_dir), progress_lines(a.quiet));
  print_report(m);
  if (!a.out_dir.empty()) {
    const auto dir = output_folder(a.out_dir);
    write_file_atomically(dir / "eval.json", model_json(m).dump(2) + "\n");
    std::string lines;
    for (const auto& p : m.eval.pairs) lines += nlohmann::json(p).dump() + "\n";
    write_file_atomically(dir / "pairs.jsonl", lines);
    std::cout << "wrote " << (dir / "eval.json").string() << " and " << (dir / "pairs.jsonl").string()
              << "\n";
  }
  return 0;
}

// Checkpoints (oldest first), then final/.
std::vector<std::string> models_of_run(const fs::path& run) {
  std::vector<std::string> out;
  for (const auto& c : list_checkpoints(run)) out.push_back((c / "model").string());
  if (fs::is_directory(run / "final")) out.push_back((run / "final").string());
  if (out.empty()) throw ConfigError(run.string() + ": no checkpoints and no final/ model to rank");
  return out;
}

std::string interval_text(const Interval& i) {
  return fixed(i.estimate, 2, true) + " [" + fixed(i.lower, 2, true) + ", " + fixed(i.upper, 2, true) + "]";
}

int run_head_to_head(const EvalArgs& a, const std::vector<std::string>& models) {
  if (a.judge.empty()) throw ConfigError("--head-to-head needs --judge (e.g. true, length:-1, cmd)");
  app::HeadToHeadRequest request;
  request.models = models;
  request.prompts = app::load_prompts(a.prompts_path, a.max_prompts);
  request.generation.max_new_tokens = a.max_new_tokens;
  request.generation.temperature = a.temperature;
  request.generation.seed = a.request.seed;
  request.judge = a.judge;
  request.judge_options.regex = a.judge_regex;
  request.judge_options.keywords = a.judge_keywords;
  if (!a.judge_cmd.empty()) request.judge_options.command.argv = split_command_line(a.judge_cmd);
  request.length_control = a.length_control;
  request.resamples = std::min(a.request.resamples, 2000);
  request.seed = a.request.seed;
  request.device = a.request.device;
  const auto result = app::head_to_head(request, progress_lines(a.quiet));
  std::vector<size_t> order(models.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  const auto key = [&](size_t i) {
    return a.length_control ? result.models[i].lc_strength.estimate : result.models[i].strength.estimate;
  };
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return key(x) > key(y); });
  std::cout << "head to head: " << request.prompts.size() << " prompts, " << result.comparisons
            << " comparisons judged by " << a.judge << "; Bradley-Terry strength [95% bootstrap]"
            << (a.length_control ? ", length-controlled: length held equal" : "") << "\n";
  std::printf("%-4s %-48s %-26s %-26s %-8s %-8s %s\n", "rank", "model", "strength",
              a.length_control ? "length-controlled" : "", "wins", "score", "length");
  nlohmann::json table = nlohmann::json::array();
  std::string csv =
      "rank,model,strength,strength_lower,strength_upper,lc_strength,lc_lower,lc_upper,win_rate,"
      "mean_score,mean_length\n";
  for (size_t i : order) {
    const auto& m = result.models[i];
    const int rank = a.length_control ? m.lc_rank : m.rank;
    std::printf("%-4d %-48s %-26s %-26s %-8s %-8s %s\n", rank, m.model.c_str(),
                interval_text(m.strength).c_str(),
                a.length_control ? interval_text(m.lc_strength).c_str() : "", percent(m.win_rate).c_str(),
                fixed(m.mean_score, 3).c_str(), fixed(m.mean_length, 1).c_str());
    nlohmann::json row = {
        {"rank", rank},           {"model", m.model},           {"strength", nlohmann::json(m.strength)},
        {"win_rate", m.win_rate}, {"mean_score", m.mean_score}, {"mean_length", m.mean_length}};
    if (a.length_control)
      row["length_controlled"] = {{"strength", nlohmann::json(m.lc_strength)}, {"rank", m.lc_rank}};
    table.push_back(row);
    csv += std::to_string(rank) + "," + m.model + "," + std::to_string(m.strength.estimate) + "," +
           std::to_string(m.strength.lower) + "," + std::to_string(m.strength.upper) + "," +
           (a.length_control
                ? std::to_string(m.lc_strength.estimate) + "," + std::to_string(m.lc_strength.lower) + "," +
                      std::to_string(m.lc_strength.upper)
                : std::string(",,")) +
           "," + std::to_string(m.win_rate) + "," + std::to_string(m.mean_score) + "," +
           std::to_string(m.mean_length) + "\n";
  }
  if (a.length_control)
    std::cout << "length: 100 more characters are worth " << fixed(result.length_weight, 3, true)
              << " on the logit scale to this judge\n";
  if (!a.out_dir.empty()) {
    const auto dir = output_folder(a.out_dir);
    nlohmann::json j = {{"head_to_head", true},
                        {"judge", a.judge},
                        {"prompts", request.prompts.size()},
                        {"comparisons", result.comparisons},
                        {"models", table}};
    if (a.length_control) j["length_weight_per_100_chars"] = result.length_weight;
    write_file_atomically(dir / "rank.json", j.dump(2) + "\n");
    write_file_atomically(dir / "rank.csv", csv);
    std::cout << "wrote " << (dir / "rank.json").string() << " and " << (dir / "rank.csv").string() << "\n";
  }
  return 0;
}

int run_rank(const EvalArgs& a) {
  std::vector<std::string> models = a.models;
  if (!a.run_dir.empty()) {
    if (!models.empty()) throw ConfigError("dpo rank: pass --models or --run, not both");
    models = models_of_run(a.run_dir);
  }
  if (models.size() < 2)
    throw ConfigError("dpo rank: at least two models to rank (--models A B ..., or --run DIR)");
  if (a.head_to_head) {
    if (!a.select.empty() || !a.export_dir.empty())
      throw ConfigError(
          "dpo rank --head-to-head: --select and --export pick by preference accuracy; leave them out");
    return run_head_to_head(a, models);
  }
  if (!a.select.empty() && a.select != "best") throw ConfigError("--select: expected best");
  if (!a.export_dir.empty() && a.select.empty()) throw ConfigError("--export needs --select best");
  if (!a.export_dir.empty() && fs::exists(a.export_dir))
    throw ConfigError("--export " + a.export_dir + ": exists; choose a new folder");

  std::vector<app::EvaluatedModel> results;
  for (const auto& model : models) {
    auto request = request_for(a, model);
    // One reference for all: the first model's (a run's start), so the rewards are comparable.
    if (request.reference.empty() && !results.empty()) request.reference = results.front().reference_label;
    if (request.reference == "the demo model (the run's start)") request.reference.clear();
    if (!a.quiet) std::cout << "evaluating " << model << "\n";
    results.push_back(app::evaluate_model(request, progress_lines(a.quiet)));
    if (results.back().eval.pairs.size() != results.front().eval.pairs.size())
      throw ConfigError(model + ": scored " + std::to_string(results.back().eval.pairs.size()) + " pairs, " +
                        models.front() + " " + std::to_string(results.front().eval.pairs.size()));
  }
  auto correct = [](const app::EvaluatedModel& m) {
    std::vector<double> v;
    for (const auto& p : m.eval.pairs) v.push_back(p.misranked ? 0.0 : 1.0);
    return v;
  };
  std::vector<size_t> order(results.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return results[x].report.accuracy.estimate > results[y].report.accuracy.estimate;
  });

  const auto& first = results[order[0]];
  std::cout << "data: " << first.data_label << " (" << first.report.pairs
            << " pairs), reference: " << first.reference_label
            << ", scoring: " << pair_scoring_name(first.scoring) << "\n";
  std::printf("%-4s %-52s %-24s %-10s %s\n", "rank", "model", "accuracy [95% CI]", "margin",
              "vs the next below: difference [95% CI], p");
  nlohmann::json table = nlohmann::json::array();
  std::string csv =
      "rank,model,accuracy,accuracy_lower,accuracy_upper,mean_margin,diff_to_next,diff_lower,diff_upper,p_"
      "value\n";
  for (size_t k = 0; k < order.size(); ++k) {
    const auto& m = results[order[k]];
    const auto& acc = m.report.accuracy;
    std::optional<PairedDifference> next;
    if (k + 1 < order.size())
      next = paired_bootstrap(correct(m), correct(results[order[k + 1]]), 0.95, a.request.resamples,
                              a.request.seed);
    const std::string ci =
        percent(acc.estimate) + " [" + percent(acc.lower) + ", " + percent(acc.upper) + "]";
    std::string vs = "-";
    if (next) {
      char p[32];
      std::snprintf(p, sizeof p, "%.3f", next->p_value);
      vs = percent(next->difference.estimate) + " [" + percent(next->difference.lower) + ", " +
           percent(next->difference.upper) + "], p " + p;
    }
    std::printf("%-4zu %-52s %-24s %-10s %s\n", k + 1, models[order[k]].c_str(), ci.c_str(),
                fixed(m.report.mean_margin.estimate, 4, true).c_str(), vs.c_str());
    auto row = model_json(m);
    row["rank"] = k + 1;
    row["model"] = models[order[k]];
    if (next) row["vs_next"] = {{"difference", next->difference}, {"p_value", next->p_value}};
    table.push_back(row);
    csv += std::to_string(k + 1) + "," + models[order[k]] + "," + std::to_string(acc.estimate) + "," +
           std::to_string(acc.lower) + "," + std::to_string(acc.upper) + "," +
           std::to_string(m.report.mean_margin.estimate) + "," +
           (next ? std::to_string(next->difference.estimate) + "," + std::to_string(next->difference.lower) +
                       "," + std::to_string(next->difference.upper) + "," + std::to_string(next->p_value)
                 : std::string(",,,")) +
           "\n";
  }
  if (!a.select.empty()) {
    const auto& best = models[order[0]];
    const auto gap = paired_bootstrap(correct(results[order[0]]), correct(results[order[1]]), 0.95,
                                      a.request.resamples, a.request.seed);
    std::cout << "best: " << best << " (accuracy " << percent(results[order[0]].report.accuracy.estimate)
              << "); it beats " << models[order[1]] << " by " << percent(gap.difference.estimate) << " ["
              << percent(gap.difference.lower) << ", " << percent(gap.difference.upper) << "], p "
              << fixed(gap.p_value)
              << (gap.difference.lower > 0 ? ": a real gap"
                  : gap.difference.lower == 0 && gap.difference.upper == 0
                      ? ": they rank every pair alike"
                      : ": within the noise of these pairs")
              << "\n";
    if (!a.export_dir.empty()) {
      fs::copy(best, a.export_dir, fs::copy_options::recursive);
      std::cout << "exported " << best << " to " << a.export_dir << "\n";
    }
  }
  if (!a.out_dir.empty()) {
    const auto dir = output_folder(a.out_dir);
    // Every model's pairs (the pair inspector opens them) and every two models' paired difference.
    for (size_t k = 0; k < order.size(); ++k) {
      const auto file = "pairs-" + std::to_string(k + 1) + ".jsonl";
      std::string lines;
      for (const auto& p : results[order[k]].eval.pairs) lines += nlohmann::json(p).dump() + "\n";
      write_file_atomically(dir / file, lines);
      table[k]["pairs_file"] = file;
    }
    auto pairwise = nlohmann::json::array();
    for (size_t x = 0; x < order.size(); ++x) {
      auto row = nlohmann::json::array();
      for (size_t y = 0; y < order.size(); ++y) {
        if (x == y) {
          row.push_back(nullptr);
          continue;
        }
        const auto d = paired_bootstrap(correct(results[order[x]]), correct(results[order[y]]), 0.95,
                                        a.request.resamples, a.request.seed);
        row.push_back({{"difference", d.difference}, {"p_value", d.p_value}});
      }
      pairwise.push_back(row);
    }
    write_file_atomically(dir / "rank.json",
                          nlohmann::json{{"models", table}, {"pairwise", pairwise}}.dump(2) + "\n");
    write_file_atomically(dir / "rank.csv", csv);
    std::cout << "wrote " << (dir / "rank.json").string() << " and " << (dir / "rank.csv").string() << "\n";
  }
  return 0;
}

// The pairs of a run's evaluation at `step` (default: its last one).
std::vector<PairRecord> run_pairs(const fs::path& run_dir, std::optional<int64_t> step, std::string& label) {
  const auto run = app::load_run(run_dir);
  const PreferenceEval* chosen = nullptr;
  for (const auto& e : run.evals)
    if (!e.pairs.empty() && (!step || e.step == *step)) chosen = &e;
  if (chosen == nullptr)
    throw ConfigError(run_dir.string() + ": no evaluated pairs" +
                      (step ? " at step " + std::to_string(*step) : " (pairs.jsonl is empty)"));
  label = run_dir.string() + " at step " + std::to_string(chosen->step);
  return chosen->pairs;
}

std::string sparkline(const std::vector<size_t>& histogram) {
  static const char* const kBars[] = {" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  const size_t top = std::max<size_t>(1, *std::max_element(histogram.begin(), histogram.end()));
  std::string out;
  for (size_t n : histogram) out += kBars[n == 0 ? 0 : 1 + (n * 7) / top];
  return out;
}

int run_beta(const EvalArgs& a) {
  std::vector<PairRecord> pairs;
  std::string label;
  const int sources =
      int(!a.pairs_file.empty()) + int(!a.run_dir.empty()) + int(!a.request.model_dir.empty());
  if (sources > 1) throw ConfigError("dpo beta: pass one of --pairs, --run or --model");
  if (!a.pairs_file.empty()) {
    pairs = app::read_pair_records(a.pairs_file, a.step);
    label = a.pairs_file;
  } else if (!a.run_dir.empty()) {
    pairs = run_pairs(a.run_dir, a.step, label);
  } else {
    auto request = request_for(a, a.request.model_dir);
    request.sample = false;
    const auto m = app::evaluate_model(request, progress_lines(a.quiet || a.json));
    if (m.scoring != PairScoring::Implicit)
      throw ConfigError("dpo beta: needs log-ratios against a reference (--reference DIR)");
    pairs = m.eval.pairs;
    label = m.model_label + " against " + m.reference_label + " on " + m.data_label;
  }
  BetaExplorerOptions options;
  options.betas = a.betas;
  options.bins = a.bins;
  options.losses.clear();
  for (const auto& term : parse_loss_terms(a.losses, "--loss")) options.losses.push_back(term.type);
  const auto cells = explore_betas(pairs, options);
  if (a.json) {
    auto rows = nlohmann::json::array();
    for (const auto& c : cells)
      rows.push_back({{"loss", loss_info(c.loss).name},
                      {"beta", c.beta},
                      {"mean_weight", c.mean_weight},
                      {"median_weight", c.median_weight},
                      {"saturated", c.saturated},
                      {"mean_loss", c.mean_loss},
                      {"accuracy", c.accuracy},
                      {"histogram", {{"lower", c.lower}, {"upper", c.upper}, {"counts", c.histogram}}}});
    std::cout << nlohmann::json{{"source", label}, {"pairs", pairs.size()}, {"cells", rows}}.dump(2) << "\n";
    return 0;
  }
  std::cout << "pairs: " << pairs.size() << " from " << label << "\n"
            << "gradient weight per pair (for sigmoid σ(r_l − r_w)); saturated: below "
            << percent(options.saturation_fraction) << " of its pull when π = π_ref\n";
  for (size_t i = 0; i < cells.size(); ++i) {
    const auto& c = cells[i];
    if (i == 0 || cells[i - 1].loss != c.loss)
      std::printf("%-16s %-8s %-10s %-10s %-10s %-9s %-9s histogram [%s, %s]\n",
                  std::string(loss_info(c.loss).name).c_str(), "beta", "mean w", "median w", "saturated",
                  "loss", "accuracy", fixed(c.lower, 3).c_str(), fixed(c.upper, 3).c_str());
    std::printf("%-16s %-8g %-10s %-10s %-10s %-9s %-9s %s\n", "", c.beta, fixed(c.mean_weight, 4).c_str(),
                fixed(c.median_weight, 4).c_str(), percent(c.saturated).c_str(),
                fixed(c.mean_loss, 4).c_str(), percent(c.accuracy).c_str(), sparkline(c.histogram).c_str());
  }
  return 0;
}

}  // namespace

void add_eval_commands(CLI::App& cli) {
  auto& a = args();
  auto* eval = cli.add_subcommand("eval",
                                  "score a model on preference pairs: accuracy with a bootstrap interval, "
                                  "margin, calibration, length bias, KL");
  eval->add_option("--model", a.request.model_dir, "Hugging Face model folder (default: the demo model)")
      ->check(CLI::ExistingDirectory);
  add_common(*eval, a);
  eval_cmd() = eval;
  auto* rank = cli.add_subcommand("rank",
                                  "rank models (or a run's checkpoints) on the same pairs, with "
                                  "paired-bootstrap confidence");
  rank->add_option("--models", a.models, "model folders")->expected(1, -1);
  rank->add_option("--run", a.run_dir, "rank this run's checkpoints and final model")
      ->check(CLI::ExistingDirectory);
  rank->add_option("--select", a.select, "best: name the best model and by how much it beats the next");
  rank->add_option("--export", a.export_dir, "with --select best: copy the best model folder here");
  rank->add_flag("--head-to-head", a.head_to_head,
                 "each model answers the same prompts, --judge compares the answers, Bradley-Terry ranks");
  rank->add_option("--prompts", a.prompts_path, "head-to-head prompts (default: the demo's)")
      ->check(CLI::ExistingFile);
  rank->add_option("--max-prompts", a.max_prompts, "head-to-head: the first N prompts (0: all)")
      ->capture_default_str();
  rank->add_option("--judge", a.judge,
                   "head-to-head judge: text scorers with weights (true, length, regex, "
                   "keyword, cmd)");
  rank->add_option("--judge-cmd", a.judge_cmd, "the cmd judge's program and arguments (no shell)");
  rank->add_option("--judge-regex", a.judge_regex, "the regex judge's pattern");
  rank->add_option("--judge-keywords", a.judge_keywords, "the keyword judge's words")->delimiter(',');
  rank->add_flag("--length-control", a.length_control,
                 "head-to-head: fit the length difference as a covariate");
  at_least(rank->add_option("--max-new-tokens", a.max_new_tokens, "head-to-head answer length"), 1)
      ->capture_default_str();
  non_negative(rank->add_option("--temperature", a.temperature, "head-to-head sampling (0: greedy)"))
      ->capture_default_str();
  add_common(*rank, a);
  rank_cmd() = rank;
  auto* beta = cli.add_subcommand("beta",
                                  "the beta explorer: per beta and loss, how hard each pair would still pull "
                                  "(gradient weights) and how many are saturated, without training");
  beta->add_option("--run", a.run_dir, "a run: its last evaluation's pairs (or --step N)")
      ->check(CLI::ExistingDirectory);
  beta->add_option("--pairs", a.pairs_file, "pairs.jsonl from dpo eval --out or a run")
      ->check(CLI::ExistingFile);
  beta->add_option("--step", a.step, "with --run or --pairs: the evaluation at this step");
  beta->add_option("--model", a.request.model_dir, "score this model against --reference on --data")
      ->check(CLI::ExistingDirectory);
  positive(beta->add_option("--betas", a.betas, "beta values, comma separated")->delimiter(','))
      ->default_str("0.01,0.03,0.1,0.3,1");
  beta->add_option("--loss", a.losses, "losses, comma separated (log-ratio losses: sigmoid, ipo, hinge, …)")
      ->capture_default_str();
  int_in_range(beta->add_option("--bins", a.bins, "histogram bins"), 1, 1000)->capture_default_str();
  beta->add_flag("--json", a.json, "print JSON");
  add_common(*beta, a);
  beta_cmd() = beta;
}

bool eval_command_chosen() {
  return (eval_cmd() != nullptr && eval_cmd()->parsed()) || (rank_cmd() != nullptr && rank_cmd()->parsed()) ||
         (beta_cmd() != nullptr && beta_cmd()->parsed());
}

int run_eval_command() {
  if (eval_cmd()->parsed()) return run_eval(args());
  return rank_cmd()->parsed() ? run_rank(args()) : run_beta(args());
}

}  // namespace dpo::cli
