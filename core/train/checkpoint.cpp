#include "core/train/checkpoint.h"

#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/io/state_dict.h"
#include "core/runtime/error.h"
#include "core/runtime/fault.h"

namespace dpo {

namespace fs = std::filesystem;

namespace {
// "…/optimizer.safetensors: cannot write: No space left on device" → "No space left on device".
std::string write_failure(const std::exception& e) {
  if (const auto* fe = dynamic_cast<const fs::filesystem_error*>(&e)) return fe->code().message();
  std::string what = e.what();
  what = what.substr(0, what.find('\n'));
  const auto at = what.rfind(": cannot write: ");
  return at == std::string::npos ? what : what.substr(at + 16);
}
}  // namespace

fs::path write_checkpoint(const fs::path& run_dir, Trainer& trainer, const CheckpointOptions& options) {
  const int64_t step = trainer.steps_done();
  const auto final_dir = checkpoint_dir(run_dir, step);
  const auto parent = final_dir.parent_path();
  fs::path staging;
  try {
    fs::create_directories(parent);
    // Leftovers of writes that were killed: hidden folders never count as checkpoints.
    for (const auto& e : fs::directory_iterator(parent))
      if (e.path().filename().string().rfind(".partial-", 0) == 0) fs::remove_all(e.path());
    staging = parent / (".partial-" + final_dir.filename().string() + "-" + std::to_string(::getpid()));
    fs::create_directories(staging);

    auto model = options.model;
    model.dtype = torch::kFloat32;
    model.overwrite = true;
    export_hf_model(trainer.policy(), staging / "model", model);
    if (options.lora.r > 0) save_lora_adapter(trainer.policy(), options.lora, staging / "adapter");
    for (const auto& [name, text] : options.extra_files) write_file_atomically(staging / name, text);
    trainer.save_state(staging);
    fault_point("checkpoint", step);
    fsync_directory(staging);
    if (fs::exists(final_dir)) fs::remove_all(final_dir);
    fs::rename(staging, final_dir);
    fsync_directory(parent);
  } catch (const std::exception& e) {
    // The previous checkpoints stay; the half-written one goes.
    std::error_code ec;
    if (!staging.empty()) fs::remove_all(staging, ec);
    throw TrainingError(final_dir.string() + ": cannot write checkpoint: " + write_failure(e));
  }

  if (options.keep > 0) {
    auto all = list_checkpoints(run_dir);
    for (size_t i = 0; i + static_cast<size_t>(options.keep) < all.size(); ++i) fs::remove_all(all[i]);
  }
  return final_dir;
}

void restore_checkpoint(const fs::path& checkpoint, Trainer& trainer) {
  if (!fs::exists(checkpoint / "trainer_state.json"))
    throw TrainingError(checkpoint.string() + ": not a complete checkpoint (trainer_state.json missing)");
  if (fs::exists(checkpoint / "adapter" / "adapter_config.json")) {
    load_lora_adapter(trainer.policy(), checkpoint / "adapter");
    trainer.load_state(checkpoint);
    return;
  }
  std::vector<std::shared_ptr<SafetensorsFile>> files;
  for (const auto& f : checkpoint_files(checkpoint / "model")) files.push_back(SafetensorsFile::open(f));
  {
    torch::NoGradGuard no_grad;
    auto& policy = trainer.policy();
    auto report = load_parameters(*policy, StateDict::from_files(files), torch::kFloat32,
                                  policy->parameters().front().device());
    if (!report.missing.empty())
      throw TrainingError(checkpoint.string() + ": model lacks parameter " + report.missing.front());
  }
  trainer.load_state(checkpoint);
}

}  // namespace dpo
