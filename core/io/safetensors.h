#pragma once
#include <torch/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/io/safetensors_header.h"

namespace dpo {

// A memory-mapped .safetensors file with a fully validated header. Tensors are views of the
// mapping (zero-copy, copy-on-write) and keep it alive.
class SafetensorsFile : public std::enable_shared_from_this<SafetensorsFile> {
 public:
  // Throws ModelError "file: ..." (and the tensor name) for anything malformed.
  static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return index_.contains(name); }
  const SafetensorsEntry& entry(const std::string& name) const;

  // The tensor in its stored dtype, sharing the mapping (no copy).
  torch::Tensor tensor(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  size_t data_offset_ = 0;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

torch::ScalarType safetensors_dtype(const std::string& dtype, const std::string& context);
std::string safetensors_dtype_name(torch::ScalarType type);

// Writes tensors (contiguous CPU copies are made as needed) in name order with
// __metadata__ {"format": "pt"} plus `metadata`, atomically.
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace dpo
