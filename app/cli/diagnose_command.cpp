// dpo diagnose: the seed 002 §10 findings for a run's metrics.jsonl, in plain words or JSON.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "app/cli/commands.h"
#include "app/cli/flag_checks.h"
#include "core/diagnose/diagnostics.h"
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
  for (const auto* node :
       {&j, j.contains("loss") ? &j["loss"] : nullptr,
        j.contains("trainer") && j["trainer"].contains("loss") ? &j["trainer"]["loss"] : nullptr}) {
    if (node && node->is_object() && node->contains("beta") && (*node)["beta"].is_number())
      return (*node)["beta"].get<double>();
  }
  return std::nullopt;
}

void print_text(const std::string& source, size_t steps, double beta, const std::string& beta_source,
                const std::vector<diagnose::Finding>& findings) {
  std::cout << "dpo diagnose: " << source << ", " << steps << " steps, β " << beta << " (" << beta_source
            << ")\n";
  if (findings.empty()) {
    std::cout << "All clear: no §10 symptom in " << steps << " steps.\n";
    return;
  }
  for (const auto& f : findings) {
    std::cout << "\n"
              << diagnose::severity_name(f.severity) << " [" << f.id << "] " << f.title << "\n"
              << "  evidence: " << f.evidence << "\n"
              << "  meaning:  " << f.meaning << "\n"
              << "  try:      " << f.suggestion << "\n"
              << "  see:      " << f.reference << "\n";
  }
}

}  // namespace

void add_diagnose_options(CLI::App& cmd, DiagnoseArgs& args) {
  cmd.add_option("RUN", args.path, "run directory (with metrics.jsonl) or a metrics.jsonl file")->required();
  positive(cmd.add_option("--beta", args.beta,
                          "β of the run (default: config.json's, else the records', else 0.1)"));
  cmd.add_flag("--json", args.json, "print the findings as JSON");
}

int run_diagnose(const DiagnoseArgs& args) {
  const fs::path given(args.path);
  if (!fs::exists(given)) throw DataError(args.path + ": no such file or directory");
  const fs::path metrics = fs::is_directory(given) ? given / "metrics.jsonl" : given;
  const fs::path config = metrics.parent_path() / "config.json";

  diagnose::DiagnoseInput input;
  auto file = read_metrics(metrics);
  input.steps = std::move(file.steps);
  std::string beta_source = "--beta";
  if (args.beta) {
    input.beta = *args.beta;
  } else if (const auto from_config = beta_from_config(config)) {
    input.beta = *from_config;
    beta_source = "from config.json";
  } else if (file.beta) {
    input.beta = *file.beta;
    beta_source = "from metrics.jsonl";
  } else {
    input.beta = kDefaultBeta;
    beta_source = "assumed; pass --beta";
  }
  const auto findings = diagnose::diagnose(input);

  if (!args.json) {
    print_text(metrics.string(), input.steps.size(), input.beta, beta_source, findings);
    return 0;
  }
  nlohmann::json out{{"file", metrics.string()},
                     {"steps", input.steps.size()},
                     {"beta", input.beta},
                     {"beta_source", beta_source},
                     {"findings", nlohmann::json::array()}};
  for (const auto& f : findings) {
    out["findings"].push_back({{"id", f.id},
                               {"severity", diagnose::severity_name(f.severity)},
                               {"title", f.title},
                               {"evidence", f.evidence},
                               {"meaning", f.meaning},
                               {"suggestion", f.suggestion},
                               {"reference", f.reference},
                               {"step", f.step}});
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace dpo::cli
