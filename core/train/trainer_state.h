#pragma once
// A checkpoint's trainer_state.json: the data order, the data RNG and the counters a resume needs
// to continue bit for bit. Torch-free (the fuzzer links it). Everything is checked against the run
// before a trainer takes it: a state from someone else's run folder is hostile input.
#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

inline constexpr int kTrainerStateFormat = 2;
// Steps a state may claim; far above any real run, low enough that counters cannot overflow.
inline constexpr int64_t kMaxStateSteps = int64_t{1} << 40;

struct TrainerState {
  int64_t step = 0;
  int64_t epoch = -1;              // -1: the first epoch's order is not drawn yet
  size_t cursor = 0;               // next position in data_order
  std::vector<size_t> data_order;  // a permutation of 0..train_pairs-1 (empty before epoch 0)
  std::string rng;                 // std::mt19937_64's text state: 312 words and an index
  int64_t tokens = 0;
  int64_t consecutive_nonfinite = 0;
  int64_t epoch_slots = 0, epoch_padded = 0;
  double bco_mean = 0;
  int64_t bco_count = 0;
  double beta = 0.1;
  double learning_rate = 1e-4;
  double elapsed_seconds = 0;
  size_t train_pairs = 0;
  int64_t world_size = 1;  // processes of a data-parallel run (absent in older checkpoints: 1)
};

// Parses and checks `text` (`label` names it in errors: "label: key: expected ..., got ...") for
// a run of `train_pairs` training pairs whose checkpoints hold at most `max_step` steps. Throws
// TrainingError, one line.
TrainerState parse_trainer_state(std::string_view text, const std::string& label, size_t train_pairs,
                                 int64_t max_step = kMaxStateSteps);
nlohmann::json trainer_state_json(const TrainerState& state);

// Checks a std::mt19937_64 text state (as operator<< writes it); throws TrainingError "label: rng: ...".
void check_mt19937_64_state(const std::string& text, const std::string& label);

}  // namespace dpo
