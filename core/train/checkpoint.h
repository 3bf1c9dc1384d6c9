#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/io/hf_folder.h"
#include "core/model/lora.h"
#include "core/train/trainer.h"
#include "core/types/checkpoint_paths.h"

namespace dpo {

// RUN/checkpoints/step-000040/: model/ (Hugging Face folder, fp32 so resuming is exact),
// optimizer.safetensors + optimizer.json (AdamW moments), rng.safetensors (torch's CPU generator),
// trainer_state.json (data order, data RNG, counters; written last) and, with reference sync,
// reference.safetensors. No pickle archive: loading a checkpoint never runs code.
// Built in a hidden sibling folder, fsync-ed and renamed into place: a crash mid-write leaves the
// previous checkpoints intact and no folder that looks complete.
// With LoRA the folder also holds adapter/ (PEFT files); resuming loads the adapter onto the base
// model the run starts from, and model/ is the merged export for users.
struct CheckpointOptions {
  ExportOptions model;  // raw config and tokenizer files for the model folder (dtype is forced to fp32)
  int64_t keep = 3;     // newest complete checkpoints kept; 0 keeps all
  LoraConfig lora{};    // r > 0: the policy carries these adapters
  std::map<std::string, std::string> extra_files;  // name → content, e.g. the run's settings
};

// A failed write (disk full) throws TrainingError "CHECKPOINT: cannot write checkpoint: REASON" and
// leaves the earlier checkpoints as they were.
std::filesystem::path write_checkpoint(const std::filesystem::path& run_dir, Trainer& trainer,
                                       const CheckpointOptions& options);
// Policy weights and trainer state from `checkpoint` into a trainer built with the run's settings.
void restore_checkpoint(const std::filesystem::path& checkpoint, Trainer& trainer);

}  // namespace dpo
