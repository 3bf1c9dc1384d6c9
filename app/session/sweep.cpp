#include "app/session/sweep.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "app/session/lesson_run.h"
#include "app/session/run_setup.h"
#include "app/session/short_run.h"
#include "core/demo/sampled_reward.h"
#include "core/io/atomic_file.h"
#include "core/io/json_file.h"
#include "core/runtime/error.h"

namespace dpo::app {

namespace fs = std::filesystem;

namespace {

std::string number(double x, const char* format = "%g") {
  char b[48];
  std::snprintf(b, sizeof b, format, x);
  return b;
}
std::string percent(double x) { return number(100 * x, "%.1f") + "%"; }

std::string cell_name(LossType loss, double beta) {
  return std::string(loss_info(loss).name) + "-b" + number(beta);
}

std::string cell_label(const SweepCell& c) {
  return "β " + number(c.beta) + " (" + std::string(loss_info(c.loss).name) + ")";
}

bool is_demo_data(const RunOptions& o) {
  return o.data_path.empty() || o.data_path.rfind(kDemoDataPrefix, 0) == 0;
}

double or_nan(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : SweepCell::kNaN;
}

SweepCell cell_from_json(const nlohmann::json& j) {
  SweepCell c;
  c.loss = parse_loss_type(j.at("loss").get<std::string>()).value_or(LossType::Sigmoid);
  c.beta = j.at("beta").get<double>();
  c.name = j.at("name").get<std::string>();
  c.heldout_accuracy = or_nan(j, "heldout_accuracy");
  c.heldout_margin = or_nan(j, "heldout_margin");
  c.heldout_loss = or_nan(j, "heldout_loss");
  c.sampled_kl = or_nan(j, "sampled_kl");
  c.sampled_length = or_nan(j, "sampled_length");
  c.true_reward = or_nan(j, "true_reward");
  c.train_loss = or_nan(j, "train_loss");
  return c;
}

RunOptions cell_options(const SweepRequest& r, LossType loss, double beta) {
  auto o = r.base;
  o.trainer.loss.type = loss;
  o.trainer.loss.terms.clear();
  o.trainer.loss.beta = beta;
  o.trainer.measure_sampled_length = true;  // the KL to the reference is measured on sampled answers
  return o;
}

nlohmann::json request_json(const SweepRequest& r) {
  auto losses = nlohmann::json::array();
  for (auto l : r.losses) losses.push_back(loss_info(l).name);
  nlohmann::json base = r.base;
  // Per invocation, not part of what the sweep computes.
  base.erase("cache_dir");
  base.erase("no_cache");
  return {{"base", base}, {"betas", r.betas}, {"losses", losses}};
}

// A reused cell must have been made with exactly this cell's settings.
bool reusable(const fs::path& cell_dir, const nlohmann::json& options, SweepCell& cell) {
  const auto file = cell_dir / "sweep_cell.json";
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return false;
  const auto j = parse_json_file(file);
  if (!j.contains("options") || j["options"] != options || !j.contains("cell")) return false;
  try {
    cell = cell_from_json(j["cell"]);
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(file.string() + ": " + e.what());
  }
  cell.reused = true;
  return true;
}

SweepCell run_cell(const SweepRequest& request, LossType loss, double beta, const SweepProgress& progress) {
  SweepCell cell;
  cell.loss = loss;
  cell.beta = beta;
  cell.name = cell_name(loss, beta);
  const auto dir = request.dir / cell.name;
  const auto options = cell_options(request, loss, beta);
  nlohmann::json options_json = options;
  options_json.erase("cache_dir");
  options_json.erase("no_cache");
  if (reusable(dir, options_json, cell)) return cell;

  auto run = train_into(options, dir, cell.name, progress, {{"source", "sweep"}});
  if (run.eval.pairs.empty())
    throw ConfigError("dpo sweep: no held-out pairs to compare the runs on (--eval-fraction must be > 0)");
  cell.train_loss = run.train_loss;
  cell.heldout_accuracy = run.eval.accuracy;
  cell.heldout_margin = run.eval.mean_margin;
  cell.heldout_loss = run.eval.mean_loss;
  cell.sampled_kl = run.eval.sampled_kl;
  cell.sampled_length = run.eval.sampled_length;
  if (is_demo_data(options)) {
    if (progress) progress(cell.name + ": sampling the true reward", 0, 0);
    cell.true_reward =
        sample_true_reward(run.setup.trainer->policy(), *run.setup.tokenizer, demo_heldout_prompts())
            .mean_reward;
  }
  write_file_atomically(dir / "sweep_cell.json",
                        nlohmann::json{{"options", options_json}, {"cell", cell}}.dump(2) + "\n");
  return cell;
}

void check(const SweepRequest& r) {
  if (r.betas.empty()) throw ConfigError("dpo sweep: no beta values");
  if (r.losses.empty()) throw ConfigError("dpo sweep: no losses");
  for (double b : r.betas)
    if (!(b > 0) || !std::isfinite(b))
      throw ConfigError("dpo sweep: every beta must be > 0, got " + number(b));
  if (r.betas.size() * r.losses.size() > 200) throw ConfigError("dpo sweep: more than 200 runs asked for");
  if (r.dir.empty()) throw ConfigError("dpo sweep: no output folder (--out)");
  if (!(r.base.eval_fraction > 0))
    throw ConfigError("dpo sweep: the runs are compared on held-out pairs: --eval-fraction must be > 0");
}

// A folder may hold this sweep (resumed), nothing, or with overwrite anything.
void claim_folder(const SweepRequest& r, const nlohmann::json& request) {
  std::error_code ec;
  const auto file = r.dir / "sweep.json";
  if (fs::is_regular_file(file, ec)) {
    const auto saved = parse_json_file(file);
    if (saved.contains("request") && saved["request"] == request) return;
    if (!r.overwrite)
      throw ConfigError(r.dir.string() +
                        ": holds a sweep with other settings; run it with its own settings to resume it, "
                        "or pass --overwrite");
    return;
  }
  if (fs::exists(r.dir, ec) && !fs::is_empty(r.dir, ec) && !r.overwrite)
    throw ConfigError(r.dir.string() +
                      ": exists and is not a sweep folder; choose a new --out or pass --overwrite");
}

}  // namespace

void to_json(nlohmann::json& j, const SweepCell& c) {
  j = {{"loss", loss_info(c.loss).name}, {"beta", c.beta}, {"name", c.name}};
  const std::pair<const char*, double> numbers[] = {{"heldout_accuracy", c.heldout_accuracy},
                                                    {"heldout_margin", c.heldout_margin},
                                                    {"heldout_loss", c.heldout_loss},
                                                    {"sampled_kl", c.sampled_kl},
                                                    {"sampled_length", c.sampled_length},
                                                    {"true_reward", c.true_reward},
                                                    {"train_loss", c.train_loss}};
  for (const auto& [key, v] : numbers)
    if (std::isfinite(v)) j[key] = v;
}

SweepRecommendation recommend_cell(const std::vector<SweepCell>& cells) {
  if (cells.empty()) throw ConfigError("dpo sweep: no runs to compare");
  size_t best = cells.size();
  for (size_t i = 0; i < cells.size(); ++i) {
    if (!std::isfinite(cells[i].heldout_accuracy)) continue;
    if (best == cells.size() || cells[i].heldout_accuracy > cells[best].heldout_accuracy) best = i;
  }
  if (best == cells.size()) throw ConfigError("dpo sweep: no run has a held-out accuracy");
  const double floor = cells[best].heldout_accuracy - 0.01;
  std::vector<size_t> near;
  for (size_t i = 0; i < cells.size(); ++i)
    if (std::isfinite(cells[i].heldout_accuracy) && cells[i].heldout_accuracy >= floor) near.push_back(i);
  const bool kl_everywhere =
      std::all_of(near.begin(), near.end(), [&](size_t i) { return std::isfinite(cells[i].sampled_kl); });
  auto better = [&](size_t x, size_t y) {  // x before y
    if (kl_everywhere && cells[x].sampled_kl != cells[y].sampled_kl)
      return cells[x].sampled_kl < cells[y].sampled_kl;
    if (!kl_everywhere && cells[x].heldout_accuracy != cells[y].heldout_accuracy)
      return cells[x].heldout_accuracy > cells[y].heldout_accuracy;
    return cells[x].beta < cells[y].beta;
  };
  const size_t pick = *std::min_element(near.begin(), near.end(), better);
  const auto& c = cells[pick];
  const auto& top = cells[best];
  SweepRecommendation r{pick, {}};
  if (pick == best || c.heldout_accuracy >= top.heldout_accuracy) {
    r.reason = cell_label(c) + ": the highest held-out accuracy (" + percent(c.heldout_accuracy) + ")";
    if (kl_everywhere && near.size() > 1)
      r.reason += ", and the least KL to the reference (" + number(c.sampled_kl, "%.3g") +
                  " nats) of the runs within 1 point of it";
  } else {
    r.reason = cell_label(c) + ": held-out accuracy " + percent(c.heldout_accuracy) +
               ", within 1 point of the best (" + percent(top.heldout_accuracy) + ", " + cell_label(top) +
               ")";
    if (kl_everywhere) {
      r.reason += top.sampled_kl > 0
                      ? " with " + number(c.sampled_kl / top.sampled_kl, "%.2f") + "× its KL (" +
                            number(c.sampled_kl, "%.3g") + " vs " + number(top.sampled_kl, "%.3g") + " nats)"
                      : " with no more KL";
    }
  }
  return r;
}

std::vector<SweepCell> run_sweep(const SweepRequest& request, const SweepProgress& progress) {
  check(request);
  const auto request_j = request_json(request);
  claim_folder(request, request_j);
  fs::create_directories(request.dir);
  write_file_atomically(request.dir / "sweep.json", nlohmann::json{{"request", request_j}}.dump(2) + "\n");
  std::vector<SweepCell> cells;
  for (auto loss : request.losses)
    for (double beta : request.betas) cells.push_back(run_cell(request, loss, beta, progress));
  const auto choice = recommend_cell(cells);
  write_file_atomically(
      request.dir / "sweep.json",
      nlohmann::json{{"request", request_j},
                     {"cells", cells},
                     {"recommendation", {{"cell", cells[choice.index].name}, {"reason", choice.reason}}}}
              .dump(2) +
          "\n");
  return cells;
}

}  // namespace dpo::app
