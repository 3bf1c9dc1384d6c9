#include "core/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>

#include "core/io/atomic_file.h"
#include "core/runtime/error.h"

namespace dpo {

namespace {

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
};
constexpr DtypeInfo kDtypes[] = {
    {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
    {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},   {"I8", torch::kInt8},
    {"U8", torch::kUInt8},    {"BOOL", torch::kBool},
};

}  // namespace

torch::ScalarType safetensors_dtype(const std::string& dtype, const std::string& context) {
  for (const auto& d : kDtypes)
    if (dtype == d.name) return d.type;
  throw ModelError(context + ": unknown dtype \"" + dtype +
                   "\" (expected F32, F16, BF16, F64, I64, I32, I16, I8, U8 or BOOL)");
}

std::string safetensors_dtype_name(torch::ScalarType type) {
  for (const auto& d : kDtypes)
    if (type == d.type) return d.name;
  throw ModelError(std::string("safetensors cannot store dtype ") + c10::toString(type));
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string label = path.string();
  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile);
  file->path_ = label;
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw ModelError(label + ": cannot open (" + std::strerror(errno) + ")");
  struct stat st {};
  ::fstat(fd, &st);
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    throw ModelError(label + ": " + std::to_string(size) + " bytes is too small for a safetensors header");
  }
  // Private writable mapping: tensors may be trained in place without touching the file. Mapping
  // allocates nothing; only the header's pages are read until a tensor is used.
  void* map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) throw ModelError(label + ": mmap failed (" + std::strerror(errno) + ")");
  file->map_ = map;
  file->map_size_ = size;
  auto header = parse_safetensors_header(std::string_view(static_cast<const char*>(map), size), label);
  file->data_offset_ = header.data_offset;
  file->entries_ = std::move(header.entries);
  file->metadata_ = std::move(header.metadata);
  for (size_t i = 0; i < file->entries_.size(); ++i) file->index_[file->entries_[i].name] = i;
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) throw ModelError(path_ + ": no tensor \"" + name + "\"");
  return entries_[it->second];
}

torch::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const auto& e = entry(name);
  auto keep_alive = shared_from_this();
  void* data = static_cast<char*>(map_) + data_offset_ + e.begin;
  return torch::from_blob(
      data, e.shape, [keep_alive](void*) {}, torch::TensorOptions().dtype(safetensors_dtype(e.dtype, path_)));
}

void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, torch::Tensor>> sorted;
  for (const auto& [name, t] : tensors) sorted.emplace_back(name, t.detach().to(torch::kCPU).contiguous());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "pt"}};
  for (const auto& [k, v] : metadata) header["__metadata__"][k] = v;
  uint64_t offset = 0;
  for (const auto& [name, t] : sorted) {
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", safetensors_dtype_name(t.scalar_type())},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data area 8-byte aligned
  const uint64_t header_size = text.size();
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(&header_size), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& [name, t] : sorted)
      out.write(static_cast<const char*>(t.data_ptr()),
                static_cast<std::streamsize>(t.numel() * t.element_size()));
  });
}

}  // namespace dpo
