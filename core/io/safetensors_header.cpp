#include "core/io/safetensors_header.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <system_error>

#include "core/io/json_file.h"
#include "core/runtime/error.h"

namespace dpo {

namespace {

struct DtypeSize {
  const char* name;
  size_t bytes;
};
constexpr DtypeSize kDtypeSizes[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
                                     {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1}};

// A header is an object of objects of lists: anything deeper is hostile.
constexpr size_t kMaxHeaderDepth = 8;

SafetensorsEntry parse_entry(const std::string& name, const nlohmann::json& value, uint64_t data_size,
                             const std::string& label) {
  const std::string where = label + ": tensor \"" + name + "\"";
  if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") ||
      !value.contains("data_offsets"))
    throw ModelError(where + ": needs dtype, shape and data_offsets");
  SafetensorsEntry e;
  e.name = name;
  if (!value["dtype"].is_string()) throw ModelError(where + ": dtype must be a string");
  e.dtype = value["dtype"].get<std::string>();
  const size_t element = safetensors_dtype_size(e.dtype, where);
  const auto& shape = value["shape"];
  if (!shape.is_array()) throw ModelError(where + ": shape must be an array");
  uint64_t bytes = element;
  bool overflow = false;
  for (const auto& d : shape) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()})
      throw ModelError(where + ": shape entries must be non-negative integers");
    e.shape.push_back(d.get<int64_t>());
    overflow = overflow || __builtin_mul_overflow(bytes, d.get<uint64_t>(), &bytes);
  }
  if (overflow)
    throw ModelError(where + ": shape " + shape_text(e.shape) + " of " + e.dtype + " overflows 64 bits");
  const auto& offsets = value["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    throw ModelError(where + ": data_offsets must be [begin, end]");
  e.begin = offsets[0].get<uint64_t>();
  e.end = offsets[1].get<uint64_t>();
  if (e.begin > e.end || e.end > data_size)
    throw ModelError(where + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                     "] lie outside the data area of " + std::to_string(data_size) + " bytes");
  if (e.end - e.begin != bytes)
    throw ModelError(where + ": shape " + shape_text(e.shape) + " of " + e.dtype + " needs " +
                     std::to_string(bytes) + " bytes but data_offsets span " +
                     std::to_string(e.end - e.begin));
  return e;
}

}  // namespace

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

size_t safetensors_dtype_size(const std::string& dtype, const std::string& context) {
  for (const auto& d : kDtypeSizes)
    if (dtype == d.name) return d.bytes;
  throw ModelError(context + ": unknown dtype \"" + dtype +
                   "\" (expected F32, F16, BF16, F64, I64, I32, I16, I8, U8 or BOOL)");
}

uint64_t safetensors_header_length(const unsigned char* first8, uint64_t file_size,
                                   const std::string& label) {
  if (file_size < 8)
    throw ModelError(label + ": " + std::to_string(file_size) +
                     " bytes is too small for a safetensors header");
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | first8[i];
  if (length > file_size - 8)
    throw ModelError(label + ": header length " + std::to_string(length) + " exceeds the file size " +
                     std::to_string(file_size));
  if (length > kMaxSafetensorsHeaderBytes)
    throw ModelError(label + ": header length " + std::to_string(length) + " is more than the " +
                     std::to_string(kMaxSafetensorsHeaderBytes) + " bytes a safetensors header may have");
  return length;
}

namespace {

// `head`: at least the first 8 + header-length bytes of a file of file_size bytes.
SafetensorsHeader parse_head(std::string_view head, uint64_t file_size, const std::string& label) {
  const uint64_t length =
      safetensors_header_length(reinterpret_cast<const unsigned char*>(head.data()), file_size, label);
  const std::string_view text = head.substr(8, length);
  if (json_nesting_depth(text, kMaxHeaderDepth) > kMaxHeaderDepth)
    throw ModelError(label + ": header is not valid JSON (nested deeper than " +
                     std::to_string(kMaxHeaderDepth) + " levels)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e400
    std::string what = e.what();
    if (auto at = what.find("] "); at != std::string::npos) what.erase(0, at + 2);
    throw ModelError(label + ": header is not valid JSON (" + what + ")");
  }
  if (!header.is_object()) throw ModelError(label + ": header must be a JSON object");
  SafetensorsHeader out;
  out.data_offset = 8 + length;
  const uint64_t data_size = file_size - out.data_offset;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) throw ModelError(label + ": __metadata__ must be an object of strings");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) throw ModelError(label + ": __metadata__ \"" + k + "\" must be a string");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    out.entries.push_back(parse_entry(name, value, data_size, label));
  }
  // The data area must be tiled exactly: no overlaps, no unindexed bytes.
  std::vector<const SafetensorsEntry*> sorted;
  for (const auto& e : out.entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->begin < b->begin; });
  uint64_t cursor = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i]->begin < cursor)
      throw ModelError(label + ": tensors \"" + sorted[i - 1]->name + "\" and \"" + sorted[i]->name +
                       "\" overlap");
    if (sorted[i]->begin > cursor)
      throw ModelError(label + ": bytes " + std::to_string(cursor) + ".." + std::to_string(sorted[i]->begin) +
                       " of the data area belong to no tensor");
    cursor = sorted[i]->end;
  }
  if (cursor != data_size)
    throw ModelError(label + ": " + std::to_string(data_size - cursor) +
                     " trailing bytes belong to no tensor");
  return out;
}

}  // namespace

SafetensorsHeader parse_safetensors_header(std::string_view file, const std::string& label) {
  return parse_head(file, file.size(), label);
}

SafetensorsHeader read_safetensors_header(const std::filesystem::path& path) {
  const std::string label = path.string();
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  std::ifstream in(path, std::ios::binary);
  if (ec || !in)
    throw ModelError(label + ": cannot open (" + (ec ? ec.message() : std::strerror(errno)) + ")");
  unsigned char first8[8] = {};
  in.read(reinterpret_cast<char*>(first8), size < 8 ? static_cast<std::streamsize>(size) : 8);
  const uint64_t length = safetensors_header_length(first8, size, label);
  // Only the header is read; the data area is represented by its size alone.
  std::string head(8 + length, '\0');
  std::memcpy(head.data(), first8, 8);
  in.read(head.data() + 8, static_cast<std::streamsize>(length));
  if (!in) throw ModelError(label + ": read error in the header");
  return parse_head(head, size, label);
}

}  // namespace dpo
