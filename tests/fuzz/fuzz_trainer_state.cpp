// A checkpoint's trainer_state.json (core/train/trainer_state): every field checked against the run
// (8 training pairs, at most 100 steps) before a resume takes it. A state that passes is written
// back and read again, which must give the same state.
#include <nlohmann/json.hpp>

#include <cstdlib>

#include "core/train/trainer_state.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(dpo::fuzz::as_text(data, size));
  dpo::fuzz::expect_clean_errors([&] {
    const auto state = dpo::parse_trainer_state(text, "run/checkpoint-1/trainer_state.json", 8, 100);
    const auto again =
        dpo::parse_trainer_state(dpo::trainer_state_json(state).dump(), "round-trip.json", 8, 100);
    if (again.step != state.step || again.data_order != state.data_order || again.cursor != state.cursor ||
        again.rng != state.rng)
      std::abort();
  });
  return 0;
}
