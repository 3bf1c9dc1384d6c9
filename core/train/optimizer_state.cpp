#include "core/train/optimizer_state.h"

#include <nlohmann/json.hpp>

#include <map>
#include <mutex>

#include "core/io/atomic_file.h"
#include "core/io/json_file.h"
#include "core/io/safetensors.h"
#include "core/runtime/error.h"
#include "core/runtime/torch_compat.h"

namespace dpo {

namespace fs = std::filesystem;

namespace {
constexpr int kOptimizerFormat = 1;
constexpr const char* kGeneratorTensor = "cpu_generator";

std::shared_ptr<SafetensorsFile> open_state_file(const fs::path& path) {
  if (!fs::exists(path)) throw TrainingError(path.string() + ": missing; the checkpoint is incomplete");
  try {
    return SafetensorsFile::open(path);
  } catch (const Error& e) {
    throw TrainingError(e.what());
  }
}

// The stored tensor `name` after checking it is F32 with `shape`.
torch::Tensor checked_tensor(const SafetensorsFile& file, const std::string& name, at::IntArrayRef shape,
                             torch::ScalarType dtype) {
  if (!file.contains(name)) throw TrainingError(file.path() + ": missing tensor " + name);
  auto t = file.tensor(name);
  if (t.scalar_type() != dtype || t.sizes() != shape) {
    std::ostringstream want, got;
    want << safetensors_dtype_name(dtype) << shape;
    got << safetensors_dtype_name(t.scalar_type()) << t.sizes();
    throw TrainingError(file.path() + ": " + name + ": expected " + want.str() + ", got " + got.str());
  }
  return t;
}
}  // namespace

void save_adamw_state(const torch::optim::AdamW& optimizer, const NamedParameters& parameters,
                      const fs::path& dir) {
  const auto& state = optimizer.state();
  NamedParameters tensors;
  nlohmann::json steps = nlohmann::json::object();
  for (const auto& [name, p] : parameters) {
    const auto it = state.find(compat::optimizer_state_key(state, p));
    if (it == state.end()) continue;  // no gradient yet
    const auto& s = static_cast<const torch::optim::AdamWParamState&>(*it->second);
    tensors.emplace_back(name + ".exp_avg", s.exp_avg());
    tensors.emplace_back(name + ".exp_avg_sq", s.exp_avg_sq());
    if (s.max_exp_avg_sq().defined()) tensors.emplace_back(name + ".max_exp_avg_sq", s.max_exp_avg_sq());
    steps[name] = s.step();
  }
  write_safetensors(dir / "optimizer.safetensors", tensors);
  write_file_atomically(
      dir / "optimizer.json",
      nlohmann::json{{"format", kOptimizerFormat}, {"optimizer", "adamw"}, {"steps", steps}}.dump(1) + "\n");
}

void load_adamw_state(torch::optim::AdamW& optimizer, const NamedParameters& parameters,
                      const fs::path& dir) {
  const auto json_path = dir / "optimizer.json";
  if (!fs::exists(json_path) && fs::exists(dir / "optimizer.pt"))
    throw TrainingError((dir / "optimizer.pt").string() +
                        ": written by an older version of DPO Studio as a pickle archive, which is not "
                        "loaded (it could run code); start the run again with --overwrite");
  if (!fs::exists(json_path))
    throw TrainingError(json_path.string() + ": missing; the checkpoint is incomplete");
  const auto j = parse_json_file<TrainingError>(json_path, uintmax_t{64} << 20, 4);
  const std::string label = json_path.string();
  if (!j.is_object() || !j.contains("format") || j["format"] != kOptimizerFormat ||
      j.value("optimizer", "") != "adamw")
    throw TrainingError(label + ": expected {\"format\": 1, \"optimizer\": \"adamw\", \"steps\": {...}}");
  const auto& steps = j["steps"];
  if (!steps.is_object()) throw TrainingError(label + ": steps: expected an object of parameter names");
  std::map<std::string, const torch::Tensor*> by_name;
  for (const auto& [name, p] : parameters) by_name[name] = &p;
  for (const auto& [name, value] : steps.items()) {
    if (!by_name.contains(name))
      throw TrainingError(label + ": steps: " + name + " is not a trained parameter of this run");
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > (int64_t{1} << 40))
      throw TrainingError(label + ": steps: " + name + ": expected a step count, got " + value.dump());
  }
  const auto file = open_state_file(dir / "optimizer.safetensors");
  // Everything is read and checked before the optimiser's state is replaced.
  std::vector<std::pair<const torch::Tensor*, std::unique_ptr<torch::optim::AdamWParamState>>> loaded;
  for (const auto& [name, value] : steps.items()) {
    const auto& p = *by_name[name];
    const auto copy = [&](const std::string& key) {
      return checked_tensor(*file, name + "." + key, p.sizes(), p.scalar_type())
          .to(p.device(), /*non_blocking=*/false, /*copy=*/true);
    };
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    s->step(value.get<int64_t>());
    s->exp_avg(copy("exp_avg"));
    s->exp_avg_sq(copy("exp_avg_sq"));
    if (file->contains(name + ".max_exp_avg_sq")) s->max_exp_avg_sq(copy("max_exp_avg_sq"));
    loaded.emplace_back(&p, std::move(s));
  }
  auto& state = optimizer.state();
  state.clear();
  for (auto& [p, s] : loaded) state[compat::optimizer_state_key(state, *p)] = std::move(s);
}

void save_cpu_generator(const fs::path& dir) {
  auto generator = at::detail::getDefaultCPUGenerator();
  torch::Tensor bytes;
  {
    std::lock_guard<std::mutex> lock(generator.mutex());
    bytes = generator.get_state();
  }
  write_safetensors(dir / "rng.safetensors", {{kGeneratorTensor, bytes}});
}

void load_cpu_generator(const fs::path& dir) {
  const auto file = open_state_file(dir / "rng.safetensors");
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  const auto current = generator.get_state();  // its size is this libtorch's
  const auto stored = checked_tensor(*file, kGeneratorTensor, current.sizes(), torch::kUInt8).clone();
  try {
    generator.set_state(stored);
  } catch (const c10::Error&) {
    throw TrainingError(file->path() + ": " + kGeneratorTensor +
                        ": not a CPU generator state of this libtorch");
  }
}

}  // namespace dpo
