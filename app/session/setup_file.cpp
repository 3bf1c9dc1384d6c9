#include "app/session/setup_file.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <regex>

#include "app/session/run_setup.h"
#include "core/io/atomic_file.h"
#include "core/io/json_file.h"
#include "core/runtime/error.h"
#include "core/train/losses.h"
#include "core/train/schedule.h"

namespace dpo::app {

namespace fs = std::filesystem;

const std::vector<std::string>& setup_tabs() {
  static const std::vector<std::string> tabs = {"training", "inspector", "compare", "optimiser", "dataset",
                                                "beta",     "sweep",     "rank",    "playground"};
  return tabs;
}

namespace {

using nlohmann::json;

// The run settings that name files: relative to the setup file's folder inside it.
constexpr const char* kPathKeys[] = {"data", "tokenizer", "model", "reference", "chat_template"};

std::string join(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& w : words) text += (text.empty() ? "" : ", ") + w;
  return text;
}

std::string shown(const json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

[[noreturn]] void fail(const std::string& label, const std::string& key, const std::string& expected,
                       const json& got) {
  throw ConfigError(label + ": " + key + ": expected " + expected + ", got " + shown(got));
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

[[noreturn]] void unknown_key(const std::string& label, const std::string& key, const std::string& name,
                              const std::vector<std::string>& known) {
  std::string closest;
  size_t best = 4;  // further than 3 edits is no typo
  for (const auto& k : known)
    if (const size_t d = edit_distance(name, k); d < best) best = d, closest = k;
  throw ConfigError(
      label + ": " + key + ": unknown key" +
      (closest.empty() ? " (expected one of " + join(known) + ")" : " (did you mean \"" + closest + "\"?)"));
}

std::vector<std::string> keys_of(const json& object) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : object.items()) keys.push_back(k);
  return keys;
}

// Bounds of the numeric settings a run would fail on or misread (the CLI checks the same).
struct Bound {
  double low, high;
  bool low_open;
  const char* expected;
  bool high_open = false;
};
const std::map<std::string, Bound>& bounds() {
  constexpr double inf = std::numeric_limits<double>::infinity();
  static const std::map<std::string, Bound> table = {
      {"run.eval_fraction", {0, 0.9, false, "a number from 0 to 0.9"}},
      {"run.max_length", {1, inf, false, "a whole number >= 1"}},
      {"run.lora.r", {0, inf, false, "a whole number >= 0"}},
      {"run.lora.lora_alpha", {0, inf, true, "a number > 0"}},
      {"run.max_prompt_length", {0, inf, false, "a whole number >= 0"}},
      {"run.max_completion_length", {0, inf, false, "a whole number >= 0"}},
      {"run.lora.lora_dropout", {0, 1, false, "a number from 0 to below 1", true}},
      {"run.trainer.beta", {0, inf, true, "a number > 0"}},
      {"run.trainer.learning_rate", {0, inf, true, "a number > 0"}},
      {"run.trainer.label_smoothing", {0, 0.49, false, "a number from 0 to 0.49"}},
      {"run.trainer.fdpo_alpha", {0, inf, true, "a number > 0"}},
      {"run.trainer.rpo_alpha", {0, inf, false, "a number >= 0"}},
      {"run.trainer.orpo_lambda", {0, inf, false, "a number >= 0"}},
      {"run.trainer.discopop_tau", {0, inf, true, "a number > 0"}},
      {"run.trainer.ref_model_mixup_alpha", {0, 1, false, "a number from 0 to 1"}},
      {"run.trainer.ld_alpha", {0, 1, false, "a number from 0 to 1"}},
      {"run.trainer.max_steps", {1, inf, false, "a whole number >= 1"}},
      {"run.trainer.per_device_train_batch_size", {1, inf, false, "a whole number >= 1"}},
      {"run.trainer.per_device_eval_batch_size", {1, inf, false, "a whole number >= 1"}},
      {"run.trainer.gradient_accumulation_steps", {1, inf, false, "a whole number >= 1"}},
      {"run.trainer.warmup_steps", {0, inf, false, "a whole number >= 0"}},
      {"run.trainer.eval_steps", {0, inf, false, "a whole number >= 0"}},
      {"run.trainer.max_nonfinite_steps", {1, inf, false, "a whole number >= 1"}},
      {"run.trainer.ref_model_sync_steps", {0, inf, false, "a whole number >= 0"}},
      {"run.trainer.weight_decay", {0, inf, false, "a number >= 0"}},
      {"run.trainer.pad_to_multiple_of", {1, inf, false, "a whole number >= 1"}},
      {"run.trainer.sample_prompts", {0, inf, false, "a whole number >= 0"}},
      {"run.trainer.sample_max_new_tokens", {0, inf, false, "a whole number >= 0"}},
  };
  return table;
}

// Settings spelled as one of a few words.
const std::map<std::string, std::vector<std::string>>& choices() {
  static const std::map<std::string, std::vector<std::string>> table = [] {
    std::map<std::string, std::vector<std::string>> t = {
        {"run.on_bad_row", {"error", "skip"}},
        {"run.truncation_mode", {"keep_end", "keep_start"}},
        {"run.trainer.objective", {"preference", "sft"}},
        {"run.trainer.lr_scheduler_type", {"constant", "linear", "cosine"}},
    };
    for (const auto& info : loss_table()) t["run.trainer.loss_type"].emplace_back(info.name);
    return t;
  }();
  return table;
}

void check_value(const json& value, const json& known, const std::string& key, const std::string& label) {
  if (known.is_string()) {
    if (!value.is_string()) fail(label, key, "a string", value);
    const auto& word = value.get_ref<const std::string&>();
    if (const auto it = choices().find(key); it != choices().end()) {
      if (std::find(it->second.begin(), it->second.end(), word) == it->second.end())
        fail(label, key, "one of " + join(it->second), value);
    } else if (key == "run.device" && !std::regex_match(word, std::regex("auto|cpu|cuda(:[0-9]{1,3})?"))) {
      fail(label, key, "auto, cpu, cuda or cuda:N", value);
    } else if (word.size() > 4096) {
      fail(label, key, "a string under 4096 characters", json(word.substr(0, 40)));
    }
    return;
  }
  if (known.is_boolean()) {
    if (!value.is_boolean()) fail(label, key, "true or false", value);
    return;
  }
  if (known.is_number()) {
    if (known.is_number_integer()) {  // unsigned included
      if (!value.is_number_integer()) fail(label, key, "a whole number", value);
      if (known.is_number_unsigned() && !value.is_number_unsigned())
        fail(label, key, "a whole number >= 0", value);
      if (!known.is_number_unsigned() && value.is_number_unsigned() &&
          value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail(label, key, "a whole number that fits 64 bits", value);
    } else if (!value.is_number()) {
      fail(label, key, "a number", value);
    }
    if (const auto it = bounds().find(key); it != bounds().end()) {
      const double v = value.get<double>();
      const auto& b = it->second;
      if (!(v >= b.low) || (b.low_open && v == b.low) || v > b.high || (b.high_open && v == b.high))
        fail(label, key, b.expected, value);
    }
    return;
  }
  if (key == "run.lora.target_modules") {
    if (!value.is_array() || value.empty()) fail(label, key, "a list of module names", value);
    for (const auto& m : value)
      if (!m.is_string() || m.get_ref<const std::string&>().empty()) fail(label, key, "module names", m);
    return;
  }
  if (key == "run.trainer.loss_terms") {
    if (!value.is_array()) fail(label, key, "a list of {\"loss_type\", \"weight\"}", value);
    for (const auto& term : value) {
      if (!term.is_object()) fail(label, key, "{\"loss_type\": name, \"weight\": number}", term);
      for (const auto& [k, v] : term.items()) {
        const std::string at = key + "." + k;
        if (k == "loss_type")
          check_value(v, json(""), "run.trainer.loss_type", label);
        else if (k == "weight")
          check_value(v, json(1.0), at, label);
        else
          unknown_key(label, at, k, {"loss_type", "weight"});
      }
      if (!term.contains("loss_type")) fail(label, key, "a \"loss_type\" in each term", term);
    }
    return;
  }
  fail(label, key, json_type_name(known), value);
}

void check_object(const json& given, const json& known, const std::string& key, const std::string& label) {
  if (!given.is_object()) fail(label, key, "an object", given);
  for (const auto& [name, value] : given.items()) {
    const std::string at = key + "." + name;
    if (!known.contains(name)) unknown_key(label, at, name, keys_of(known));
    const auto& k = known[name];
    if (k.is_object())
      check_object(value, k, at, label);
    else
      check_value(value, k, at, label);
  }
}

}  // namespace

json setup_to_json(const SetupFile& setup, const fs::path& base_dir) {
  json run = setup.run;
  if (!base_dir.empty()) {
    const fs::path base = fs::absolute(base_dir).lexically_normal();
    for (const char* key : kPathKeys) {
      const auto& value = run[key].get_ref<const std::string&>();
      if (value.empty() || value.starts_with(kDemoDataPrefix)) continue;
      const fs::path inside = fs::absolute(value).lexically_normal().lexically_relative(base);
      if (!inside.empty() && *inside.begin() != "..") run[key] = inside.generic_string();
    }
  }
  json j = {{"format", kSetupFormat}, {"version", kSetupVersion}, {"run", run}};
  if (!setup.lesson.empty()) j["lesson"] = setup.lesson;
  if (!setup.tab.empty()) j["tab"] = setup.tab;
  return j;
}

SetupFile setup_from_json(const json& j, const std::string& label, const fs::path& base_dir) {
  if (!j.is_object()) throw ConfigError(label + ": expected a JSON object, got " + json_type_name(j));
  if (!j.contains("format") || j["format"] != kSetupFormat)
    fail(label, "format", std::string("\"") + kSetupFormat + "\" (is this a setup file?)",
         j.value("format", json()));
  if (!j.contains("version")) fail(label, "version", std::to_string(kSetupVersion), json());
  const auto& version = j["version"];
  if (!version.is_number_integer()) fail(label, "version", "a whole number", version);
  if (version.get<int64_t>() > kSetupVersion)
    throw ConfigError(label + ": version " + version.dump() + " is newer than this program reads (" +
                      std::to_string(kSetupVersion) + "); update DPO Studio");
  if (version != kSetupVersion) fail(label, "version", std::to_string(kSetupVersion), version);

  SetupFile setup;
  for (const auto& [key, value] : j.items()) {
    if (key == "format" || key == "version") continue;
    if (key == "run") {
      json run = setup.run;  // RunOptions' defaults under whatever the file leaves out
      check_object(value, run, "run", label);
      run.merge_patch(value);
      for (const char* path_key : kPathKeys) {
        const auto& path = run[path_key].get_ref<const std::string&>();
        if (!path.empty() && !base_dir.empty() && !path.starts_with(kDemoDataPrefix) &&
            fs::path(path).is_relative())
          run[path_key] = (base_dir / path).lexically_normal().string();
      }
      try {
        from_json(run, setup.run);
      } catch (const Error& e) {
        throw ConfigError(label + ": " + e.what());
      }
    } else if (key == "lesson") {
      if (value.is_number_unsigned() && value.get<uint64_t>() > 0 && value.get<uint64_t>() < 1000)
        setup.lesson = std::to_string(value.get<uint64_t>());
      else if (value.is_string() && !value.get_ref<const std::string&>().empty() &&
               value.get_ref<const std::string&>().size() <= 200)
        setup.lesson = value.get<std::string>();
      else
        fail(label, "lesson", "a lesson's name or number", value);
    } else if (key == "tab") {
      const auto& tabs = setup_tabs();
      if (!value.is_string() || std::find(tabs.begin(), tabs.end(), value.get<std::string>()) == tabs.end())
        fail(label, "tab", "one of " + join(tabs), value);
      setup.tab = value.get<std::string>();
    } else {
      unknown_key(label, key, key, {"format", "version", "run", "lesson", "tab"});
    }
  }
  return setup;
}

SetupFile read_setup_file(const fs::path& path) {
  const json j = parse_json_file(path, kMaxSetupFileBytes, 16);
  return setup_from_json(j, path.string(), fs::absolute(path).parent_path());
}

void write_setup_file(const fs::path& path, const SetupFile& setup) {
  write_file_atomically(path, setup_to_json(setup, fs::absolute(path).parent_path()).dump(2) + "\n");
}

}  // namespace dpo::app
