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

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

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
  // Private writable mapping: tensors may be trained in place without touching the file.
  void* map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) throw ModelError(label + ": mmap failed (" + std::strerror(errno) + ")");
  file->map_ = map;
  file->map_size_ = size;

  uint64_t header_size = 0;
  std::memcpy(&header_size, map, 8);  // little-endian u64, as on every platform we build for
  if (header_size > size - 8)
    throw ModelError(label + ": header length " + std::to_string(header_size) + " exceeds the file size " +
                     std::to_string(size));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(static_cast<const char*>(map) + 8,
                                   static_cast<const char*>(map) + 8 + header_size);
  } catch (const nlohmann::json::parse_error& e) {
    throw ModelError(label + ": header is not valid JSON (" + e.what() + ")");
  }
  if (!header.is_object()) throw ModelError(label + ": header must be a JSON object");
  file->data_offset_ = 8 + header_size;
  const uint64_t data_size = size - file->data_offset_;

  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) throw ModelError(label + ": __metadata__ must be an object of strings");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) throw ModelError(label + ": __metadata__ \"" + k + "\" must be a string");
        file->metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = label + ": tensor \"" + name + "\"";
    if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") ||
        !value.contains("data_offsets"))
      throw ModelError(where + ": needs dtype, shape and data_offsets");
    SafetensorsEntry e;
    e.name = name;
    if (!value["dtype"].is_string()) throw ModelError(where + ": dtype must be a string");
    e.dtype = value["dtype"].get<std::string>();
    const auto type = safetensors_dtype(e.dtype, where);
    const auto& shape = value["shape"];
    if (!shape.is_array()) throw ModelError(where + ": shape must be an array");
    uint64_t numel = 1;
    for (const auto& d : shape) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0)
        throw ModelError(where + ": shape entries must be non-negative integers");
      e.shape.push_back(d.get<int64_t>());
      numel *= static_cast<uint64_t>(e.shape.back());
    }
    const auto& offsets = value["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      throw ModelError(where + ": data_offsets must be [begin, end]");
    e.begin = offsets[0].get<uint64_t>();
    e.end = offsets[1].get<uint64_t>();
    if (e.begin > e.end || e.end > data_size)
      throw ModelError(where + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                       "] lie outside the data area of " + std::to_string(data_size) + " bytes");
    const uint64_t expected = numel * c10::elementSize(type);
    if (e.end - e.begin != expected)
      throw ModelError(where + ": shape " + shape_text(e.shape) + " of " + e.dtype + " needs " +
                       std::to_string(expected) + " bytes but data_offsets span " +
                       std::to_string(e.end - e.begin));
    file->entries_.push_back(std::move(e));
  }
  // The data area must be tiled exactly: no overlaps, no unindexed bytes.
  auto sorted = file->entries_;
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.begin < b.begin; });
  uint64_t cursor = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i].begin < cursor)
      throw ModelError(label + ": tensors \"" + sorted[i - 1].name + "\" and \"" + sorted[i].name +
                       "\" overlap");
    if (sorted[i].begin > cursor)
      throw ModelError(label + ": bytes " + std::to_string(cursor) + ".." + std::to_string(sorted[i].begin) +
                       " of the data area belong to no tensor");
    cursor = sorted[i].end;
  }
  if (cursor != data_size)
    throw ModelError(label + ": " + std::to_string(data_size - cursor) +
                     " trailing bytes belong to no tensor");
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
