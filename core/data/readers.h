#pragma once
#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

// Limits on one row, checked while reading so a hostile file fails with "file:line: what" instead of
// exhausting memory or the stack: bytes of one row (a JSONL line, a JSON array element, a CSV record)
// and nesting of arrays and objects inside it.
inline constexpr size_t kMaxRowBytes = size_t{64} << 20;
inline constexpr size_t kMaxRowDepth = 64;

// File formats a preference dataset may come in; any of them may also be gzip-compressed.
enum class FileFormat { kJsonl, kJson, kCsv, kTsv };

std::string to_string(FileFormat format);
// "jsonl", "json", "csv" or "tsv"; throws ConfigError otherwise.
FileFormat parse_file_format(std::string_view name);
// By extension, looking through a trailing ".gz" (data.jsonl.gz is JSONL); unknown extensions are JSONL.
FileFormat format_from_path(const std::string& path);

// One record of the file before any layout is applied. CSV/TSV rows are objects of strings keyed by
// the header, so `from_text_table` tells the layout code that "true"/"3.5" may stand for bool/number.
struct RawRow {
  nlohmann::ordered_json value;
  size_t line = 0;  // 1-based physical line where the row starts
  bool from_text_table = false;
};

// Called once per row in file order; return false to stop early.
using RowCallback = std::function<bool(RawRow&& row)>;

// Streams the rows of a file (gzip detected from its magic bytes, not its name): JSONL line by line,
// a JSON array (or an object holding a "data" array) element by element, CSV/TSV record by record
// (RFC 4180 quoting). Memory stays bounded by one row. Structural errors (invalid JSON, bad quoting,
// a row with the wrong number of fields, non-UTF-8 bytes) throw DataError "file:line: what"; when
// `on_error` is set they are handed to it instead (with the line) and reading goes on where it can.
using RowErrorCallback = std::function<void(size_t line, const std::string& message)>;
void read_rows(const std::string& path, std::optional<FileFormat> format, const RowCallback& on_row,
               const RowErrorCallback& on_error = nullptr);

// The same over text already in memory (uncompressed); `label` stands in for the file name.
void parse_rows(std::string_view text, const std::string& label, FileFormat format, const RowCallback& on_row,
                const RowErrorCallback& on_error = nullptr);

// Offset of the first byte that breaks UTF-8 in `text`, or npos when it is all valid.
size_t find_invalid_utf8(std::string_view text);

}  // namespace dpo
