#include "core/train/trainer_state.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <sstream>

#include "core/io/json_file.h"
#include "core/runtime/error.h"

namespace dpo {

namespace {

// A state file is small: the order is the only list (≤ 2^31 pairs would be 20 GB of text anyway).
constexpr uintmax_t kMaxStateBytes = uintmax_t{1} << 30;

struct Reader {
  const nlohmann::json& j;
  const std::string& label;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw TrainingError(label + ": " + key + ": " + what);
  }
  const nlohmann::json& at(const char* key) const {
    const auto it = j.find(key);
    if (it == j.end()) throw TrainingError(label + ": missing field '" + key + "'");
    return *it;
  }
  int64_t integer(const char* key, int64_t lo, int64_t hi) const {
    const auto& v = at(key);
    if (!v.is_number_integer()) fail(key, std::string("expected an integer, got ") + json_type_name(v));
    const bool in_range = v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(hi)
                                                 : v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
    if (!in_range)
      fail(key, "expected " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " + v.dump());
    return v.get<int64_t>();
  }
  double number(const char* key, double lo, bool lo_open) const {
    const auto& v = at(key);
    if (!v.is_number()) fail(key, std::string("expected a number, got ") + json_type_name(v));
    const double x = v.get<double>();
    if (!std::isfinite(x) || x < lo || (lo_open && x == lo))
      fail(key,
           std::string("expected a finite number") +
               (std::isfinite(lo) ? (lo_open ? " > " : " >= ") + nlohmann::json(lo).dump() : std::string()) +
               ", got " + v.dump());
    return x;
  }
};

}  // namespace

void check_mt19937_64_state(const std::string& text, const std::string& label) {
  // libstdc++ writes the 312 state words, then the position (0..312).
  constexpr size_t kWords = 312;
  size_t count = 0;
  const char* p = text.data();
  const char* end = p + text.size();
  uint64_t value = 0;
  while (p < end) {
    while (p < end && *p == ' ') ++p;
    if (p == end) break;
    const auto [next, ec] = std::from_chars(p, end, value);
    if (ec != std::errc() || (next < end && *next != ' '))
      throw TrainingError(label + ": rng: expected " + std::to_string(kWords + 1) +
                          " unsigned 64-bit integers separated by spaces");
    ++count;
    p = next;
  }
  if (count != kWords + 1)
    throw TrainingError(label + ": rng: expected " + std::to_string(kWords + 1) + " integers, got " +
                        std::to_string(count));
  if (value > kWords)
    throw TrainingError(label + ": rng: the position (last number) must be 0.." + std::to_string(kWords) +
                        ", got " + std::to_string(value));
}

TrainerState parse_trainer_state(std::string_view text, const std::string& label, size_t train_pairs,
                                 int64_t max_step) {
  if (text.size() > kMaxStateBytes) throw TrainingError(label + ": larger than 1 GB; not a trainer state");
  const auto j = parse_json_text<TrainingError>(text, label, 4);
  if (!j.is_object()) throw TrainingError(label + ": expected a JSON object, got " + json_type_name(j));
  const Reader r{j, label};
  constexpr int64_t kBig = kMaxStateSteps * 65536;  // counters that grow with steps × tokens
  if (const auto format = r.integer("format", 0, 1000); format != kTrainerStateFormat)
    r.fail("format", "expected " + std::to_string(kTrainerStateFormat) + " (this version's), got " +
                         std::to_string(format));

  TrainerState s;
  s.train_pairs = static_cast<size_t>(r.integer("train_pairs", 0, int64_t{1} << 40));
  if (s.train_pairs != train_pairs)
    throw TrainingError(label + ": saved for " + std::to_string(s.train_pairs) +
                        " training pairs, this run has " + std::to_string(train_pairs));
  s.step = r.integer("step", 0, max_step);
  s.epoch = r.integer("epoch", -1, kMaxStateSteps);
  s.tokens = r.integer("tokens", 0, kBig);
  s.consecutive_nonfinite = r.integer("consecutive_nonfinite", 0, kMaxStateSteps);
  s.epoch_slots = r.integer("epoch_slots", 0, kBig);
  s.epoch_padded = r.integer("epoch_padded", 0, s.epoch_slots);
  s.bco_count = r.integer("bco_count", 0, kBig);
  s.bco_mean = r.number("bco_mean", -HUGE_VAL, false);
  s.beta = r.number("beta", 0, true);
  s.learning_rate = r.number("learning_rate", 0, true);
  s.elapsed_seconds = r.number("elapsed_seconds", 0, false);
  if (j.contains("world_size")) s.world_size = r.integer("world_size", 1, 4096);

  const auto& order = r.at("data_order");
  if (!order.is_array()) r.fail("data_order", std::string("expected a list, got ") + json_type_name(order));
  const std::string permutation =
      "expected a permutation of 0.." + std::to_string(train_pairs == 0 ? 0 : train_pairs - 1);
  if (order.empty()) {
    if (s.epoch != -1)
      r.fail("data_order", permutation + ", got an empty list in epoch " + std::to_string(s.epoch));
  } else {
    if (order.size() != train_pairs)
      r.fail("data_order", permutation + ", got " + std::to_string(order.size()) + " entries");
    std::vector<bool> seen(train_pairs, false);
    s.data_order.reserve(train_pairs);
    for (size_t i = 0; i < order.size(); ++i) {
      const auto& v = order[i];
      if (!v.is_number_unsigned() || v.get<uint64_t>() >= train_pairs || seen[v.get<size_t>()])
        r.fail("data_order", permutation + ", got " + v.dump() + " at index " + std::to_string(i));
      seen[v.get<size_t>()] = true;
      s.data_order.push_back(v.get<size_t>());
    }
    if (s.epoch < 0)
      r.fail("epoch", "expected 0 or more once data_order is drawn, got " + std::to_string(s.epoch));
  }
  s.cursor = static_cast<size_t>(r.integer("cursor", 0, static_cast<int64_t>(s.data_order.size())));

  const auto& rng = r.at("rng");
  if (!rng.is_string()) r.fail("rng", std::string("expected a string, got ") + json_type_name(rng));
  s.rng = rng.get<std::string>();
  check_mt19937_64_state(s.rng, label);
  return s;
}

nlohmann::json trainer_state_json(const TrainerState& s) {
  return {{"format", kTrainerStateFormat},
          {"step", s.step},
          {"epoch", s.epoch},
          {"cursor", s.cursor},
          {"data_order", s.data_order},
          {"rng", s.rng},
          {"tokens", s.tokens},
          {"consecutive_nonfinite", s.consecutive_nonfinite},
          {"epoch_slots", s.epoch_slots},
          {"epoch_padded", s.epoch_padded},
          {"bco_mean", s.bco_mean},
          {"bco_count", s.bco_count},
          {"beta", s.beta},
          {"learning_rate", s.learning_rate},
          {"elapsed_seconds", s.elapsed_seconds},
          {"train_pairs", s.train_pairs},
          {"world_size", s.world_size}};
}

}  // namespace dpo
