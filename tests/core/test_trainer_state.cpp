// trainer_state.json is checked field by field before a resume takes it (issue 19): the state of a
// hostile or damaged checkpoint gives one line naming the file and the key.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>
#include <sstream>

#include "core/runtime/error.h"
#include "core/train/trainer_state.h"

namespace {

using dpo::parse_trainer_state;

std::string rng_text() {
  std::mt19937_64 rng(42);
  rng();
  std::ostringstream s;
  s << rng;
  return s.str();
}

nlohmann::json valid_state() {
  dpo::TrainerState s;
  s.step = 3;
  s.epoch = 0;
  s.cursor = 6;
  s.data_order = {3, 1, 7, 0, 5, 2, 6, 4};
  s.rng = rng_text();
  s.tokens = 420;
  s.epoch_slots = 24;
  s.epoch_padded = 5;
  s.beta = 0.1;
  s.learning_rate = 1e-3;
  s.train_pairs = 8;
  return dpo::trainer_state_json(s);
}

std::string error_of(const nlohmann::json& j, size_t pairs = 8, int64_t max_step = 100) {
  try {
    parse_trainer_state(j.dump(), "ck/trainer_state.json", pairs, max_step);
  } catch (const dpo::TrainingError& e) {
    return e.what();
  }
  return "no error";
}

TEST(TrainerState, RoundTripsAndRestoresTheRng) {
  const auto s = parse_trainer_state(valid_state().dump(), "x", 8, 100);
  EXPECT_EQ(s.step, 3);
  EXPECT_EQ(s.cursor, 6u);
  EXPECT_EQ(s.data_order, (std::vector<size_t>{3, 1, 7, 0, 5, 2, 6, 4}));
  std::mt19937_64 expected(42), restored;
  expected();
  std::istringstream(s.rng) >> restored;
  EXPECT_EQ(restored(), expected());
  EXPECT_EQ(dpo::trainer_state_json(s), valid_state());
}

TEST(TrainerState, EveryFieldIsCheckedWithFileAndKey) {
  const std::string f = "ck/trainer_state.json: ";
  auto with = [](const char* key, nlohmann::json value) {
    auto j = valid_state();
    j[key] = std::move(value);
    return j;
  };
  auto order = valid_state();
  order["data_order"][3] = 1234;
  EXPECT_EQ(error_of(order), f + "data_order: expected a permutation of 0..7, got 1234 at index 3");
  order["data_order"][3] = 3;  // 3 twice
  EXPECT_EQ(error_of(order), f + "data_order: expected a permutation of 0..7, got 3 at index 3");
  EXPECT_EQ(error_of(with("data_order", {1, 0})),
            f + "data_order: expected a permutation of 0..7, got 2 entries");
  EXPECT_EQ(error_of(with("step", -2)), f + "step: expected 0..100, got -2");
  EXPECT_EQ(error_of(with("step", 101)), f + "step: expected 0..100, got 101");
  EXPECT_EQ(error_of(with("cursor", "sixteen")), f + "cursor: expected an integer, got a string");
  EXPECT_EQ(error_of(with("cursor", 9)), f + "cursor: expected 0..8, got 9");
  EXPECT_EQ(error_of(with("beta", 0)), f + "beta: expected a finite number > 0.0, got 0");
  EXPECT_EQ(error_of(with("bco_mean", "x")), f + "bco_mean: expected a number, got a string");
  EXPECT_EQ(error_of(with("epoch_padded", 25)), f + "epoch_padded: expected 0..24, got 25");
  EXPECT_EQ(error_of(with("format", 1)), f + "format: expected 2 (this version's), got 1");
  EXPECT_EQ(error_of(with("rng", "1 2 3")), f + "rng: expected 313 integers, got 3");
  EXPECT_EQ(error_of(with("rng", "1 -2 3")),
            f + "rng: expected 313 unsigned 64-bit integers separated by spaces");
  auto position = rng_text();
  position = position.substr(0, position.rfind(' ')) + " 313";
  EXPECT_EQ(error_of(with("rng", position)), f + "rng: the position (last number) must be 0..312, got 313");
  EXPECT_EQ(error_of(valid_state(), 9), f + "saved for 8 training pairs, this run has 9");
  auto missing = valid_state();
  missing.erase("tokens");
  EXPECT_EQ(error_of(missing), f + "missing field 'tokens'");
  EXPECT_EQ(error_of(nlohmann::json::array()), f + "expected a JSON object, got a list");
  // Before the first epoch the order is not drawn yet.
  auto fresh = valid_state();
  fresh["data_order"] = nlohmann::json::array();
  fresh["cursor"] = 0;
  EXPECT_EQ(error_of(fresh), f + "data_order: expected a permutation of 0..7, got an empty list in epoch 0");
  fresh["epoch"] = -1;
  EXPECT_EQ(error_of(fresh), "no error");
}

TEST(TrainerState, NotJsonOrTooDeepIsOneLine) {
  for (const std::string& text : {std::string("{\"step\": "), std::string(10000, '[')}) {
    try {
      parse_trainer_state(text, "ck/trainer_state.json", 8);
      ADD_FAILURE() << "accepted";
    } catch (const dpo::TrainingError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("ck/trainer_state.json", 0), 0u) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
}

}  // namespace
