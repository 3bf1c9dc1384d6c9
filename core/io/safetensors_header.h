#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

// One tensor's header entry. Offsets are relative to the data area after the header.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

struct SafetensorsHeader {
  uint64_t data_offset = 0;               // 8 + the header's length
  std::vector<SafetensorsEntry> entries;  // in header order
  std::map<std::string, std::string> metadata;
};

// A header longer than this is refused before it is read (real ones are a few hundred KB).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = uint64_t{100} << 20;

// Bytes per element of a safetensors dtype name; throws ModelError "context: unknown dtype ...".
size_t safetensors_dtype_size(const std::string& dtype, const std::string& context);

// Validates the header length (the first 8 bytes, little-endian) against the file size and
// kMaxSafetensorsHeaderBytes; returns it. Throws ModelError "label: ...".
uint64_t safetensors_header_length(const unsigned char* first8, uint64_t file_size, const std::string& label);

// Parses and fully checks the header of a whole safetensors file held in `file` (only the header
// bytes are read): known dtypes, non-negative shapes whose byte size (checked for overflow) is the
// span of data_offsets, offsets inside the file that tile the data area exactly. Torch-free.
SafetensorsHeader parse_safetensors_header(std::string_view file, const std::string& label);

// The same from a file on disk, reading only its header.
SafetensorsHeader read_safetensors_header(const std::filesystem::path& path);

std::string shape_text(const std::vector<int64_t>& shape);

}  // namespace dpo
