#include "core/io/state_dict.h"

#include <torch/torch.h>

#include "core/runtime/error.h"

namespace dpo {

StateDict StateDict::from_files(const std::vector<std::shared_ptr<SafetensorsFile>>& files) {
  StateDict sd;
  for (const auto& file : files) {
    for (const auto& e : file->entries()) {
      auto [it, inserted] = sd.owner_.emplace(e.name, file);
      if (!inserted)
        throw ModelError(file->path() + ": tensor \"" + e.name + "\" is also stored in " +
                         it->second->path());
    }
  }
  return sd;
}

StateDict StateDict::select(const std::string& prefix) const {
  StateDict view = *this;
  view.prefix_ += prefix;
  return view;
}

std::vector<std::string> StateDict::names() const {
  std::vector<std::string> out;
  for (auto it = owner_.lower_bound(prefix_); it != owner_.end() && it->first.starts_with(prefix_); ++it)
    out.push_back(it->first.substr(prefix_.size()));
  return out;
}

bool StateDict::contains(const std::string& name) const { return owner_.contains(prefix_ + name); }

const SafetensorsEntry& StateDict::entry(const std::string& name) const {
  auto it = owner_.find(prefix_ + name);
  if (it == owner_.end()) throw ModelError("checkpoint has no tensor \"" + prefix_ + name + "\"");
  return it->second->entry(it->first);
}

torch::Tensor StateDict::get(const std::string& name) const {
  auto it = owner_.find(prefix_ + name);
  if (it == owner_.end()) throw ModelError("checkpoint has no tensor \"" + prefix_ + name + "\"");
  return it->second->tensor(it->first);
}

LoadReport load_parameters(torch::nn::Module& module, const StateDict& state, torch::ScalarType dtype,
                           torch::Device device) {
  LoadReport report;
  torch::NoGradGuard no_grad;
  auto params = module.named_parameters(/*recurse=*/true);
  for (auto& p : params) {
    const auto& name = p.key();
    if (!state.contains(name)) {
      report.missing.push_back(name);
      continue;
    }
    auto stored = state.get(name);
    if (stored.sizes() != p.value().sizes()) {
      std::ostringstream msg;
      msg << "tensor \"" << name << "\": checkpoint shape " << stored.sizes()
          << " but the model (from config.json) expects " << p.value().sizes();
      throw ModelError(msg.str());
    }
    // Same dtype on CPU: the parameter becomes a copy-on-write view of the mapped file.
    auto value = (stored.scalar_type() == dtype && device.is_cpu()) ? stored : stored.to(device, dtype);
    p.value().set_data(value);
  }
  for (const auto& name : state.names()) {
    if (params.contains(name)) continue;
    const bool known_extra = name.ends_with("rotary_emb.inv_freq") || name == "lm_head.weight";
    (known_extra ? report.ignored : report.unexpected).push_back(name);
  }
  return report;
}

}  // namespace dpo
