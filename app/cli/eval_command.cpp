#include "app/cli/eval_command.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "app/session/evaluate.h"
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

void add_common(CLI::App& cmd, EvalArgs& a) {
  auto& r = a.request;
  cmd.add_option("--reference", r.reference,
                 "reference model folder, or none (default: the run's starting model for a run's final/ "
                 "or checkpoint, else none)");
  cmd.add_option("--data", r.data_path, "preference file (default: the model's run's data, else the demo)")
      ->check(CLI::ExistingFile);
  cmd.add_option("--beta", r.beta, "β of the implicit reward")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--score", a.scoring,
                 "implicit (with a reference), or without one: sum, mean (per token) or simpo (β·mean − γ)");
  cmd.add_option("--simpo-gamma", r.simpo_gamma, "target margin γ of --score simpo")->capture_default_str();
  cmd.add_option("--device", r.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd.add_option("--batch", r.batch_size, "pairs per forward pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--cache-dir", r.cache_dir, "tokenized data and reference log-prob cache");
  cmd.add_flag("--no-cache", r.no_cache, "neither read nor write the cache");
  cmd.add_flag("!--no-sample", r.sample, "skip sampling answers (no sampled length, no KL)");
  cmd.add_option("--resamples", r.resamples, "bootstrap resamples")
      ->check(CLI::Range(10, 1000000))
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

app::PrepareProgress progress_printer(bool quiet) {
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  return [quiet, last](const std::string& stage, size_t done, size_t total) {
    if (quiet || total == 0) return true;
    const auto now = std::chrono::steady_clock::now();
    if (done == total || now - *last > std::chrono::seconds(5)) {
      *last = now;
      std::printf("%s: %zu/%zu\n", stage.c_str(), done, total);
      std::fflush(stdout);
    }
    return true;
  };
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
  const auto m = app::evaluate_model(request_for(a, a.request.model_dir), progress_printer(a.quiet));
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

int run_rank(const EvalArgs& a) {
  std::vector<std::string> models = a.models;
  if (!a.run_dir.empty()) {
    if (!models.empty()) throw ConfigError("dpo rank: pass --models or --run, not both");
    models = models_of_run(a.run_dir);
  }
  if (models.size() < 2)
    throw ConfigError("dpo rank: at least two models to rank (--models A B ..., or --run DIR)");
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
    results.push_back(app::evaluate_model(request, progress_printer(a.quiet)));
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
    write_file_atomically(dir / "rank.json", nlohmann::json{{"models", table}}.dump(2) + "\n");
    write_file_atomically(dir / "rank.csv", csv);
    std::cout << "wrote " << (dir / "rank.json").string() << " and " << (dir / "rank.csv").string() << "\n";
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
  add_common(*rank, a);
  rank_cmd() = rank;
}

bool eval_command_chosen() {
  return (eval_cmd() != nullptr && eval_cmd()->parsed()) || (rank_cmd() != nullptr && rank_cmd()->parsed());
}

int run_eval_command() { return eval_cmd()->parsed() ? run_eval(args()) : run_rank(args()); }

}  // namespace dpo::cli
