#include "app/session/run_directory.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iomanip>
#include <map>
#include <sstream>

#include "core/io/atomic_file.h"
#include "core/io/json_file.h"
#include "core/io/text_file.h"
#include "core/runtime/error.h"

namespace dpo::app {

namespace fs = std::filesystem;

namespace {

nlohmann::json read_config(const fs::path& dir) {
  const auto path = dir / "config.json";
  if (!fs::exists(path))
    throw ConfigError(path.string() + ": missing; is " + dir.string() + " a run directory?");
  try {
    auto j = nlohmann::json::parse(read_text(path));
    if (!j.is_object()) throw ConfigError(path.string() + ": not a JSON object");
    return j;
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(path.string() + ": " + e.what());
  }
}

// nlohmann writes a non-finite double as null; read it back as NaN so from_json accepts it.
void nulls_to_nan(nlohmann::json& j) {
  for (auto& [key, value] : j.items())
    if (value.is_null()) value = std::numeric_limits<double>::quiet_NaN();
}

// Calls `each(json, line_number)` for every line of a record file. A line that is not a JSON
// object, or that `each` rejects, throws "FILE:LINE: what"; a torn last line (no newline) is skipped.
template <typename Fn>
void for_each_record(const fs::path& path, Fn&& each) {
  if (!fs::exists(path)) return;
  const std::string text = read_text(path);
  size_t start = 0, number = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const bool complete = end != std::string::npos;
    std::string line = text.substr(start, complete ? end - start : std::string::npos);
    start = complete ? end + 1 : text.size();
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      if (!complete) return;  // being written, or cut off by a kill
      std::string what = e.what();
      // "[json.exception.parse_error.101] parse error at line 1, column 5: ..." → without the tag
      const auto tag = what.find("] ");
      if (tag != std::string::npos) what = what.substr(tag + 2);
      throw ConfigError(located(path.string(), number, "not a JSON record (" + what + ")"));
    }
    if (!j.is_object()) throw ConfigError(located(path.string(), number, "expected a JSON object"));
    nulls_to_nan(j);
    try {
      each(j, number);
    } catch (const nlohmann::json::out_of_range& e) {
      // "[json.exception.out_of_range.403] key 'loss' not found" → "missing field 'loss'"
      std::string what = e.what();
      const auto key = what.find("key '");
      const auto quote = key == std::string::npos ? key : what.find('\'', key + 5);
      throw ConfigError(located(path.string(), number,
                                quote != std::string::npos
                                    ? "missing field '" + what.substr(key + 5, quote - key - 5) + "'"
                                    : what));
    } catch (const nlohmann::json::exception& e) {
      std::string what = e.what();
      const auto bracket = what.find("] ");
      throw ConfigError(
          located(path.string(), number, bracket != std::string::npos ? what.substr(bracket + 2) : what));
    }
  }
}

double number_or_nan(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

nlohmann::json to_config_json(const RunDirectoryConfig& c) {
  nlohmann::json j{{"run", c.run},
                   {"checkpoint_every", c.checkpoint_every},
                   {"keep_checkpoints", c.keep_checkpoints},
                   {"model_label", c.model_label},
                   {"data_label", c.data_label},
                   {"train_pairs", c.train_pairs},
                   {"eval_pairs", c.eval_pairs},
                   {"parameters", c.parameters}};
  if (c.extra.is_object()) j.update(c.extra);
  return j;
}

RunDirectory RunDirectory::create(const fs::path& dir, bool overwrite, bool touch) {
  RunDirectory d(dir);
  if (fs::exists(dir / "metrics.jsonl") || fs::exists(dir / "config.json")) {
    if (!overwrite)
      throw ConfigError(dir.string() + ": already holds a run (pass --overwrite, --resume " + dir.string() +
                        ", or another --out)");
    if (!touch) return d;
    for (const char* f : kRunRecordFiles) fs::remove(dir / f);
    fs::remove(dir / "config.json");
    const auto checkpoints = dir / "checkpoints";
    if (fs::is_directory(checkpoints)) {
      for (const auto& e : fs::directory_iterator(checkpoints)) {
        const auto name = e.path().filename().string();
        if (e.is_directory() && (name.rfind(kCheckpointPrefix, 0) == 0 || name.rfind(".partial-", 0) == 0))
          fs::remove_all(e.path());
      }
      if (fs::is_empty(checkpoints)) fs::remove(checkpoints);
    }
  }
  return d;
}

RunDirectory RunDirectory::resume(const fs::path& dir) {
  RunDirectory d(dir);
  d.saved_ = read_config(dir);
  if (!d.saved_.contains("run") || !d.saved_["run"].is_object())
    throw ConfigError((dir / "config.json").string() + ": no \"run\" settings");
  d.resume_from_ = latest_checkpoint(dir);
  return d;
}

namespace {

// Leaves of a settings object by JSON pointer; lists are leaves.
void flatten(const nlohmann::json& j, const std::string& prefix, std::map<std::string, nlohmann::json>& out) {
  if (j.is_object() && !j.empty()) {
    for (const auto& [key, value] : j.items()) flatten(value, prefix + "/" + key, out);
  } else {
    out[prefix] = j;
  }
}

// What a run can take mid-way: it only changes what the next steps do.
bool changeable_on_resume(const std::string& pointer) {
  static const char* const kChangeable[] = {"/device",
                                            "/trainer/max_steps",
                                            "/trainer/learning_rate",
                                            "/trainer/beta",
                                            "/trainer/bf16",
                                            "/trainer/eval_steps",
                                            "/trainer/max_nonfinite_steps",
                                            "/trainer/sample_prompts",
                                            "/trainer/sample_max_new_tokens",
                                            "/trainer/measure_sampled_length",
                                            "/trainer/per_device_eval_batch_size"};
  return std::any_of(std::begin(kChangeable), std::end(kChangeable),
                     [&](const char* key) { return pointer == key; });
}

std::string short_key(const std::string& pointer) { return pointer.substr(pointer.rfind('/') + 1); }

}  // namespace

int64_t RunDirectory::resume_step() const { return resume_from_ ? checkpoint_step(*resume_from_) : 0; }

RunOptions RunDirectory::resume_options(const nlohmann::json& overrides,
                                        std::vector<ResumeChange>& changes) const {
  const auto config_path = (dir_ / "config.json").string();
  nlohmann::json asked = saved_.at("run");
  for (const auto& [pointer, value] : overrides.items()) asked[nlohmann::json::json_pointer(pointer)] = value;
  RunOptions options;
  try {
    from_json(asked, options);
  } catch (const Error& e) {
    throw ConfigError(config_path + ": " + e.what());
  }
  // Normalised: both sides as this version writes them.
  const nlohmann::json asked_json = options;
  nlohmann::json base_json = asked_json;
  if (resume_from_) {
    const auto run_json = *resume_from_ / "run.json";
    // Checkpoints of earlier versions have no run.json: config.json is what they were made with.
    RunOptions base;
    try {
      from_json(fs::exists(run_json) ? parse_json_file<TrainingError>(run_json, uintmax_t{16} << 20, 32)
                                     : saved_.at("run"),
                base);
    } catch (const nlohmann::json::exception& e) {
      throw TrainingError(run_json.string() + ": " + e.what());
    } catch (const ConfigError& e) {
      throw TrainingError(run_json.string() + ": " + e.what());
    }
    base_json = base;
  } else {
    base_json = saved_options();
  }
  std::map<std::string, nlohmann::json> before, after;
  flatten(base_json, "", before);
  flatten(asked_json, "", after);
  changes.clear();
  for (const auto& [pointer, value] : after) {
    const auto it = before.find(pointer);
    const nlohmann::json from = it == before.end() ? nlohmann::json() : it->second;
    if (from == value) continue;
    if (resume_from_ && !changeable_on_resume(pointer))
      throw ConfigError("--resume: " + short_key(pointer) + " cannot change (checkpoint " + from.dump() +
                        ", asked " + value.dump() + "); start a new run for that");
    changes.push_back({pointer, from, value});
  }
  if (resume_from_ && options.trainer.max_steps < resume_step())
    throw ConfigError("--steps " + std::to_string(options.trainer.max_steps) +
                      " is below the checkpoint's step " + std::to_string(resume_step()) + " (" +
                      resume_from_->string() + ")");
  return options;
}

std::vector<TrainerEvent> RunDirectory::continue_run(Trainer& trainer,
                                                     const std::vector<ResumeChange>& changes,
                                                     const RunDirectoryConfig& config) {
  // Everything that can fail on the user's files comes first.
  auto events = restore(trainer, changes);
  // From here on the folder changes.
  truncate_records(resume_from_ ? trainer.steps_done() : -1);
  write_config(config);
  open_records();
  for (const auto& e : events) append_event(e, e.value);
  return events;
}

std::vector<TrainerEvent> RunDirectory::restore(Trainer& trainer,
                                                const std::vector<ResumeChange>& changes) const {
  if (resume_from_) restore_checkpoint(*resume_from_, trainer);
  std::vector<TrainerEvent> events;
  const int64_t step = trainer.steps_done();
  for (const auto& c : changes) {
    if (c.key == "/trainer/learning_rate") {
      events.push_back(trainer.set_learning_rate(c.to.get<double>()));
    } else if (c.key == "/trainer/beta") {
      events.push_back(trainer.set_beta(c.to.get<double>()));
    } else {
      events.push_back({.step = step,
                        .kind = "setting",
                        .message = short_key(c.key) + " " + c.from.dump() + " -> " + c.to.dump() +
                                   " on resume at step " + std::to_string(step)});
    }
  }
  return events;
}

RunOptions RunDirectory::saved_options() const {
  RunOptions o;
  if (saved_.contains("run")) from_json(saved_.at("run"), o);
  return o;
}

void RunDirectory::write_config(const RunDirectoryConfig& config) {
  fs::create_directories(dir_);
  write_file_atomically(dir_ / "config.json", to_config_json(config).dump(2) + "\n");
}

void RunDirectory::truncate_records(int64_t step) {
  for (const char* name : kRunRecordFiles) {
    const auto path = dir_ / name;
    std::ifstream in(path);
    if (!in) continue;
    std::string kept, line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      try {
        if (nlohmann::json::parse(line).value("step", int64_t{0}) <= step) kept += line + "\n";
      } catch (const nlohmann::json::exception&) {
        // A torn last line of a killed run.
      }
    }
    in.close();
    write_file_atomically(path, kept);
  }
}

void RunDirectory::open_records() {
  fs::create_directories(dir_);
  for (int i = 0; i < 4; ++i) {
    if (files_[i].is_open()) continue;
    const auto path = dir_ / kRunRecordFiles[i];
    files_[i].open(path, std::ios::app);
    if (!files_[i]) throw ConfigError(path.string() + ": cannot write");
  }
}

std::ofstream& RunDirectory::stream(int index) {
  if (!files_[index].is_open()) open_records();
  return files_[index];
}

void RunDirectory::written(int index) {
  if (!files_[index])
    throw TrainingError((dir_ / kRunRecordFiles[index]).string() + ": cannot write: " +
                        (errno != 0 ? std::strerror(errno) : "write failed (disk full?)"));
}

void RunDirectory::append_metrics(const StepMetrics& m) {
  errno = 0;
  stream(0) << nlohmann::json(m).dump() << "\n" << std::flush;
  written(0);
}

void RunDirectory::append_eval(const PreferenceEval& e) {
  errno = 0;
  stream(1) << nlohmann::json(e).dump() << "\n" << std::flush;
  written(1);
  auto& pairs = stream(2);
  for (const auto& r : e.pairs) pairs << nlohmann::json(r).dump() << "\n";
  pairs << std::flush;
  written(2);
}

void RunDirectory::append_event(const TrainerEvent& e, std::optional<double> value) {
  nlohmann::json j{{"step", e.step}, {"kind", e.kind}, {"message", e.message}, {"pairs", e.pair_lines}};
  if (value && std::isfinite(*value)) j["value"] = *value;
  errno = 0;
  stream(3) << j.dump() << "\n" << std::flush;
  written(3);
}

fs::path RunDirectory::save_checkpoint(Trainer& trainer, const RunSetup& setup, const RunOptions& options,
                                       int64_t keep) {
  // run.json: the settings this checkpoint was made with, against which a resume checks changes;
  // the tokenizer beside the weights, so model/ is a folder `dpo eval` and others can load.
  std::map<std::string, std::string> extra = {{"run.json", nlohmann::json(options).dump(2) + "\n"}};
  for (auto& [name, bytes] : extra_tokenizer_files(options)) extra["model/" + name] = std::move(bytes);
  return write_checkpoint(dir_, trainer,
                          {.model = export_options(setup, options),
                           .keep = keep,
                           .lora = options.lora,
                           .extra_files = std::move(extra)});
}

void RunDirectory::save_final(RunSetup& setup, const RunOptions& options) {
  save_policy(setup, options, (dir_ / "final").string(), (dir_ / "adapter").string());
}

std::vector<PairRecord> read_pair_records(const fs::path& file, std::optional<int64_t> step) {
  std::vector<PairRecord> pairs;
  if (!fs::is_regular_file(file)) throw ConfigError(file.string() + ": no such file");
  for_each_record(file, [&](const nlohmann::json& j, size_t) {
    auto r = j.get<PairRecord>();
    if (!step || r.step == *step) pairs.push_back(r);
  });
  if (pairs.empty())
    throw ConfigError(file.string() + ": no pair records" +
                      (step ? " at step " + std::to_string(*step) : ""));
  return pairs;
}

LoadedRun load_run(const fs::path& dir) {
  LoadedRun run;
  run.dir = dir;
  run.config = read_config(dir);
  if (run.config.contains("run")) {
    try {
      from_json(run.config.at("run"), run.options);
    } catch (const nlohmann::json::exception& e) {
      throw ConfigError((dir / "config.json").string() + ": " + e.what());
    }
  }
  for_each_record(dir / "metrics.jsonl",
                  [&](const nlohmann::json& j, size_t) { run.metrics.push_back(j.get<StepMetrics>()); });
  std::map<int64_t, size_t> eval_at;
  for_each_record(dir / "eval.jsonl", [&](const nlohmann::json& j, size_t) {
    auto e = j.get<PreferenceEval>();
    eval_at[e.step] = run.evals.size();
    run.evals.push_back(std::move(e));
  });
  for_each_record(dir / "pairs.jsonl", [&](const nlohmann::json& j, size_t) {
    auto r = j.get<PairRecord>();
    const auto it = eval_at.find(r.step);
    if (it != eval_at.end()) run.evals[it->second].pairs.push_back(r);
  });
  for_each_record(dir / "events.jsonl", [&](const nlohmann::json& j, size_t) {
    RunEvent e;
    e.event.step = j.at("step").get<int64_t>();
    e.event.kind = j.at("kind").get<std::string>();
    e.event.message = j.value("message", std::string());
    if (j.contains("pairs") && j["pairs"].is_array())
      e.event.pair_lines = j["pairs"].get<std::vector<size_t>>();
    e.value = number_or_nan(j, "value");
    run.events.push_back(std::move(e));
  });
  run.checkpoints = list_checkpoints(dir);
  return run;
}

RunBrief brief_run(const fs::path& dir) {
  RunBrief b;
  b.dir = dir;
  b.config = nlohmann::json::object();
  try {
    b.config = read_config(dir);
    b.max_steps = b.config.value(nlohmann::json::json_pointer("/run/trainer/max_steps"), int64_t{0});
  } catch (const std::exception& e) {
    b.error = e.what();
  }
  // The last complete metrics line.
  std::ifstream in(dir / "metrics.jsonl", std::ios::binary);
  if (in) {
    in.seekg(0, std::ios::end);
    const auto size = static_cast<int64_t>(in.tellg());
    const int64_t tail = std::min<int64_t>(size, 64 * 1024);
    in.seekg(size - tail);
    std::string text(static_cast<size_t>(tail), '\0');
    in.read(text.data(), tail);
    std::istringstream lines(text);
    std::vector<std::string> all;
    for (std::string line; std::getline(lines, line);) all.push_back(line);
    if (!text.empty() && text.back() != '\n' && !all.empty()) all.pop_back();  // torn
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      try {
        auto j = nlohmann::json::parse(*it);
        nulls_to_nan(j);
        b.last = j.get<StepMetrics>();
        b.steps_done = b.last->step;
        break;
      } catch (const nlohmann::json::exception&) {
        // the first (partial) line of the tail, or a bad one: try the one before
      }
    }
  }
  try {
    b.checkpoint = latest_checkpoint(dir);
  } catch (const std::exception&) {
  }
  return b;
}

std::vector<fs::path> list_run_dirs(const fs::path& root) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  for (const auto& entry : fs::directory_iterator(root, ec))
    if (entry.is_directory(ec) && fs::exists(entry.path() / "config.json", ec)) out.push_back(entry.path());
  std::sort(out.begin(), out.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() > b.filename(); });
  return out;
}

fs::path default_runs_root() {
  if (const char* env = std::getenv("DPO_STUDIO_RUNS"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg)
    return fs::path(xdg) / "dpo-studio" / "runs";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : ".") / ".local" / "share" / "dpo-studio" / "runs";
}

fs::path new_run_dir(const fs::path& root, const std::string& loss, double beta) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  std::ostringstream name;
  name << std::put_time(&local, "%Y%m%d-%H%M%S") << "-" << loss << "-b" << std::setprecision(6) << beta;
  fs::path dir = root / name.str();
  for (int i = 2; fs::exists(dir); ++i) dir = root / (name.str() + "-" + std::to_string(i));
  return dir;
}

}  // namespace dpo::app
