// dpo diagnose: what a run's metrics.jsonl (and eval.jsonl, pairs.jsonl beside it) say, in plain
// words or JSON; --explain ID prints the background of one finding.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "app/cli/commands.h"
#include "app/cli/flag_checks.h"
#include "core/diagnose/diagnostics.h"
#include "core/eval/preference_eval.h"
#include "core/runtime/error.h"
#include "core/train/metrics.h"

namespace dpo::cli {

namespace fs = std::filesystem;

namespace {

constexpr double kDefaultBeta = 0.1;  // TRL's default, when neither --beta nor config.json says

// JSON has no NaN: nlohmann writes a non-finite double as null. Read it back as NaN so the
// non-finite rule sees it instead of the parser rejecting the line.
void nulls_to_nan(nlohmann::json& j) {
  for (auto& item : j.items())
    if (item.value().is_null()) item.value() = std::numeric_limits<double>::quiet_NaN();
}

struct MetricsFile {
  std::vector<StepMetrics> steps;
  std::optional<double> beta;  // the records' own "beta", when the trainer wrote one
};

MetricsFile read_metrics(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw DataError(path.string() + ": cannot open");
  MetricsFile file;
  auto& steps = file.steps;
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      throw DataError(
          located(path.string(), line_no, "expected one JSON object per line (a StepMetrics record)"));
    }
    if (!j.is_object()) throw DataError(located(path.string(), line_no, "expected a JSON object"));
    nulls_to_nan(j);
    StepMetrics m;
    try {
      from_json(j, m);
    } catch (const nlohmann::json::exception& e) {
      std::string what = e.what();
      // "[json.exception.out_of_range.403] key 'loss' not found" → "key 'loss' not found"
      if (const auto close = what.find("] "); close != std::string::npos) what = what.substr(close + 2);
      throw DataError(located(path.string(), line_no, "expected a metrics record with TRL's keys: " + what));
    }
    steps.push_back(m);
    if (j.contains("beta") && j["beta"].is_number() && j["beta"].get<double>() > 0)
      file.beta = j["beta"].get<double>();
  }
  if (steps.empty())
    throw DataError(path.string() + ": no metrics records (expected one JSON object per step)");
  return file;
}

// β of the run from config.json: top level "beta", or nested under "loss" / "trainer"."loss".
std::optional<double> beta_from_config(const fs::path& config) {
  std::ifstream in(config);
  if (!in) return std::nullopt;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception&) {
    throw DataError(config.string() + ": not valid JSON");
  }
  const auto child = [](nlohmann::json* node, const char* key) -> nlohmann::json* {
    return node && node->is_object() && node->contains(key) ? &(*node)[key] : nullptr;
  };
  // dpo train writes run.trainer.loss.beta.
  for (auto* node : {&j, child(&j, "loss"), child(child(&j, "trainer"), "loss"),
                     child(child(child(&j, "run"), "trainer"), "loss")}) {
    if (node && node->is_object() && node->contains("beta") && (*node)["beta"].is_number())
      return (*node)["beta"].get<double>();
  }
  return std::nullopt;
}

// A metrics.jsonl-style file beside the metrics: one JSON object per line, each handed to `add`.
template <typename F>
void read_lines(const fs::path& path, const char* what, F add) {
  std::ifstream in(path);
  if (!in) return;  // optional
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      auto j = nlohmann::json::parse(line);
      nulls_to_nan(j);
      add(j);
    } catch (const nlohmann::json::exception&) {
      throw DataError(located(path.string(), line_no, std::string("expected ") + what));
    }
  }
}

struct Evals {
  std::vector<PreferenceEval> evals;
  std::map<int64_t, size_t> pair_counts;  // "eval_pairs" by step: pairs.jsonl may be absent
};

// The run's evaluations (eval.jsonl) with their per-pair records (pairs.jsonl), when present.
Evals read_evals(const fs::path& dir) {
  Evals out;
  auto& evals = out.evals;
  read_lines(dir / "eval.jsonl", "an evaluation record with TRL's eval_ keys", [&](const nlohmann::json& j) {
    PreferenceEval e;
    from_json(j, e);
    evals.push_back(e);
    if (j.contains("eval_pairs") && j["eval_pairs"].is_number_unsigned())
      out.pair_counts[e.step] = j["eval_pairs"].get<size_t>();
  });
  std::sort(evals.begin(), evals.end(), [](const auto& a, const auto& b) { return a.step < b.step; });
  if (evals.empty()) return out;
  read_lines(dir / "pairs.jsonl", "a per-pair evaluation record", [&](const nlohmann::json& j) {
    PairRecord r;
    from_json(j, r);
    const auto e = std::lower_bound(evals.begin(), evals.end(), r.step,
                                    [](const PreferenceEval& x, int64_t step) { return x.step < step; });
    if (e != evals.end() && e->step == r.step) e->pairs.push_back(r);
  });
  return out;
}

void print_text(const std::string& source, size_t steps, size_t evals, double beta,
                const std::string& beta_source, const std::vector<diagnose::Finding>& findings) {
  std::cout << "dpo diagnose: " << source << ", " << steps << " steps, "
            << (evals ? std::to_string(evals) + " evaluations, " : std::string()) << "β " << beta << " ("
            << beta_source << ")\n";
  if (findings.empty()) {
    std::cout << "All clear: no warning sign in " << steps << " steps.\n";
    return;
  }
  for (const auto& f : findings) {
    std::cout << "\n"
              << diagnose::severity_name(f.severity) << " [" << f.id << "] " << f.title << "\n"
              << "  evidence: " << f.evidence << "\n"
              << "  meaning:  " << f.meaning << "\n"
              << "  try:      " << f.suggestion << "\n"
              << "  more:     dpo diagnose --explain " << f.id << "\n";
  }
}

std::string rule_ids() {
  std::string ids;
  for (const auto& r : diagnose::rules()) ids += (ids.empty() ? "" : ", ") + std::string(r.id);
  return ids;
}

// --explain ID: the rule's background, wrapped at 80 columns, then exit as --help does.
void explain(const std::string& id) {
  const auto text = diagnose::explanation(id);
  if (text.empty())
    throw CLI::ValidationError("--explain", "no finding '" + id + "'; the findings are: " + rule_ids());
  for (const auto& r : diagnose::rules())
    if (r.id == id) std::cout << r.id << ": " << r.name << "\n\n";
  size_t column = 0;
  size_t at = 0;
  while (at < text.size()) {
    if (text.compare(at, 2, "\n\n") == 0) {
      std::cout << "\n\n";
      column = 0;
      at += 2;
      continue;
    }
    const size_t end = std::min(text.find_first_of(" \n", at), text.size());
    const auto word = text.substr(at, end - at);
    // Bytes, not characters: a line with β or ≈ wraps a little early, which is harmless.
    if (column > 0 && column + 1 + word.size() > 80) {
      std::cout << "\n";
      column = 0;
    } else if (column > 0) {
      std::cout << ' ';
      ++column;
    }
    std::cout << word;
    column += word.size();
    at = end < text.size() && text[end] == ' ' ? end + 1 : end;
  }
  std::cout << "\n";
  throw CLI::Success();
}

}  // namespace

void add_diagnose_options(CLI::App& cmd, DiagnoseArgs& args) {
  cmd.add_option("RUN", args.path, "run directory (with metrics.jsonl) or a metrics.jsonl file")->required();
  positive(cmd.add_option("--beta", args.beta,
                          "β of the run (default: config.json's, else the records', else 0.1)"));
  cmd.add_flag("--json", args.json, "print the findings as JSON");
  cmd.add_option_function<std::string>("--explain", explain,
                                       "explain one finding in plain words and exit (ID: " + rule_ids() + ")")
      ->type_name("ID");
}

int run_diagnose(const DiagnoseArgs& args) {
  const fs::path given(args.path);
  if (!fs::exists(given)) throw DataError(args.path + ": no such file or directory");
  const fs::path metrics = fs::is_directory(given) ? given / "metrics.jsonl" : given;
  const fs::path config = metrics.parent_path() / "config.json";

  auto file = read_metrics(metrics);
  double beta = kDefaultBeta;
  std::string beta_source = "--beta";
  if (args.beta) {
    beta = *args.beta;
  } else if (const auto from_config = beta_from_config(config)) {
    beta = *from_config;
    beta_source = "from config.json";
  } else if (file.beta) {
    beta = *file.beta;
    beta_source = "from metrics.jsonl";
  } else {
    beta_source = "assumed; pass --beta";
  }
  const auto [evals, pair_counts] = read_evals(metrics.parent_path());
  auto input = diagnose::make_input(std::move(file.steps), beta, evals);
  for (auto& e : input.evals)
    if (const auto count = pair_counts.find(e.step); e.pairs == 0 && count != pair_counts.end())
      e.pairs = count->second;
  const auto findings = diagnose::diagnose(input);

  if (!args.json) {
    print_text(metrics.string(), input.steps.size(), evals.size(), input.beta, beta_source, findings);
    return 0;
  }
  nlohmann::json out{{"file", metrics.string()},    {"steps", input.steps.size()},
                     {"evaluations", evals.size()}, {"beta", input.beta},
                     {"beta_source", beta_source},  {"findings", nlohmann::json::array()}};
  for (const auto& f : findings) {
    out["findings"].push_back({{"id", f.id},
                               {"severity", diagnose::severity_name(f.severity)},
                               {"title", f.title},
                               {"evidence", f.evidence},
                               {"meaning", f.meaning},
                               {"suggestion", f.suggestion},
                               {"explanation", std::string(diagnose::explanation(f.id))},
                               {"step", f.step}});
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace dpo::cli
