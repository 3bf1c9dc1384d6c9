#include "core/data/readers.h"

#include <zlib.h>

#include <array>
#include <cstring>
#include <memory>

#include "core/runtime/error.h"

namespace dpo {

namespace {

// Bytes from a file (gzip or plain: zlib reads plain files transparently) or from memory.
class Source {
 public:
  virtual ~Source() = default;
  virtual size_t read(char* buffer, size_t size) = 0;
};

class FileSource final : public Source {
 public:
  explicit FileSource(const std::string& path) : path_(path) {
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) throw DataError(path + ": cannot open file");
    gzbuffer(file_, 1 << 17);
  }
  ~FileSource() override { gzclose(file_); }
  size_t read(char* buffer, size_t size) override {
    const int n = gzread(file_, buffer, static_cast<unsigned>(size));
    int code = Z_OK;
    const char* message = gzerror(file_, &code);
    if (n < 0) {
      // zlib checks the trailer's CRC-32 and length only at the end of each member.
      const std::string what = message ? message : "";
      if (code == Z_DATA_ERROR && (what.find("incorrect data check") != std::string::npos ||
                                   what.find("incorrect length check") != std::string::npos)) {
        throw DataError(path_ + ": gzip CRC/length check failed");
      }
      throw DataError(path_ + ": cannot read (corrupt gzip data?): " + what);
    }
    // At the end of input, Z_BUF_ERROR means the deflate stream or its trailer was cut off: the
    // rows read so far may end on a whole line, but the file is not whole.
    if (n == 0 && code == Z_BUF_ERROR)
      throw DataError(path_ + ": truncated gzip stream (missing or bad trailer)");
    return static_cast<size_t>(n);
  }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

class MemorySource final : public Source {
 public:
  explicit MemorySource(std::string_view text) : text_(text) {}
  size_t read(char* buffer, size_t size) override {
    const size_t n = std::min(size, text_.size() - pos_);
    std::memcpy(buffer, text_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

// Buffered characters with the current 1-based line.
class CharStream {
 public:
  explicit CharStream(Source& source) : source_(source), buffer_(1 << 16) {}
  int peek() {
    if (pos_ == end_ && !fill()) return EOF;
    return static_cast<unsigned char>(buffer_[pos_]);
  }
  int get() {
    const int c = peek();
    if (c == EOF) return EOF;
    ++pos_;
    if (c == '\n') ++line_;
    return c;
  }
  size_t line() const { return line_; }
  // Reads the rest of the current line (without "\n") into `out`; false at end of input. A line
  // longer than `max_size` is consumed but not kept: `*too_long` is set and `out` is left short.
  bool read_line(std::string& out, size_t max_size, bool* too_long) {
    out.clear();
    *too_long = false;
    if (peek() == EOF) return false;
    while (true) {
      if (pos_ == end_ && !fill()) return true;
      const char* start = buffer_.data() + pos_;
      const void* nl = std::memchr(start, '\n', end_ - pos_);
      const size_t n = nl ? static_cast<size_t>(static_cast<const char*>(nl) - start) : end_ - pos_;
      if (!*too_long && out.size() + n > max_size) {
        *too_long = true;
        out.clear();
        out.shrink_to_fit();
      }
      if (!*too_long) out.append(start, n);
      if (nl) {
        pos_ += n + 1;
        ++line_;
        return true;
      }
      pos_ = end_;
    }
  }

 private:
  bool fill() {
    end_ = source_.read(buffer_.data(), buffer_.size());
    pos_ = 0;
    return end_ > 0;
  }
  Source& source_;
  std::vector<char> buffer_;
  size_t pos_ = 0, end_ = 0;
  size_t line_ = 1;
};

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

std::string hex_byte(unsigned char c) {
  static const char* digits = "0123456789ABCDEF";
  return std::string("0x") + digits[c >> 4] + digits[c & 15];
}

std::string utf8_message(std::string_view text, size_t bad) {
  return "non-UTF-8 byte " + hex_byte(static_cast<unsigned char>(text[bad])) + " at byte " +
         std::to_string(bad + 1) + " of the row (re-encode the file as UTF-8)";
}

// Line (relative to `first_line`) of byte `offset` in `text`.
size_t line_at(std::string_view text, size_t offset, size_t first_line) {
  offset = std::min(offset, text.size());
  size_t line = first_line;
  for (size_t i = 0; i < offset; ++i) line += text[i] == '\n';
  return line;
}

// Reports a row error: to on_error when set, else thrown.
struct Errors {
  const std::string& label;
  const RowErrorCallback& on_error;
  void operator()(size_t line, const std::string& message) const {
    if (on_error) {
      on_error(line, message);
    } else {
      throw DataError(located(label, line, message));
    }
  }
};

std::string row_too_long_message() { return "row longer than " + std::to_string(kMaxRowBytes >> 20) + " MB"; }

// Offset of the bracket that opens level kMaxRowDepth + 1 (outside strings), or npos. Checked before
// parsing: the parsed value is copied and walked recursively later.
size_t find_too_deep(std::string_view text) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxRowDepth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::string_view::npos;
}

// Parses one JSON row; false when it was reported as bad.
bool parse_json_row(std::string_view text, size_t line, const Errors& errors, RawRow& row) {
  if (auto bad = find_invalid_utf8(text); bad != std::string_view::npos) {
    errors(line_at(text, bad, line), utf8_message(text, bad));
    return false;
  }
  if (auto deep = find_too_deep(text); deep != std::string_view::npos) {
    errors(line_at(text, deep, line), "JSON nested deeper than " + std::to_string(kMaxRowDepth) + " levels");
    return false;
  }
  try {
    row.value = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann's message restates its own line/column; the byte offset gives the file line.
    std::string what = e.what();
    if (auto colon = what.find(": syntax error"); colon != std::string::npos) what = what.substr(colon + 2);
    errors(line_at(text, e.byte == 0 ? 0 : e.byte - 1, line), "invalid JSON: " + what);
    return false;
  } catch (const nlohmann::json::exception& e) {  // out_of_range: a number beyond a double (1e400)
    std::string what = e.what();
    if (auto at = what.find("] "); at != std::string::npos) what.erase(0, at + 2);
    errors(line, "invalid JSON: " + what);
    return false;
  }
  row.line = line;
  return true;
}

void read_jsonl(Source& source, const std::string& label, const RowCallback& on_row, const Errors& errors) {
  CharStream in(source);
  std::string text;
  bool too_long = false;
  while (true) {
    const size_t line = in.line();
    if (!in.read_line(text, kMaxRowBytes, &too_long)) break;
    if (too_long) {
      errors(line, row_too_long_message());
      continue;
    }
    if (line == 1 && text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);  // UTF-8 BOM
    if (blank(text)) continue;
    RawRow row;
    if (parse_json_row(text, line, errors, row) && !on_row(std::move(row))) return;
  }
}

// JSON arrays are scanned value by value so a large file never becomes one DOM.
class JsonScanner {
 public:
  JsonScanner(CharStream& in, const std::string& label) : in_(in), label_(label) {}

  // Set when the last value read into a buffer went past kMaxRowBytes (the rest was skipped).
  bool too_long() const { return too_long_; }

  void skip_ws() {
    while (true) {
      const int c = in_.peek();
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        in_.get();
      } else {
        return;
      }
    }
  }

  // Copies one complete JSON value (string, number, literal, object or array) to `out` (when set).
  void read_value(std::string* out) {
    too_long_ = false;
    const size_t start_line = in_.line();
    const int first = in_.peek();
    if (first == EOF) fail(start_line, "unexpected end of file: expected a JSON value");
    if (first == '"') return read_string(out, start_line);
    if (first != '{' && first != '[') {
      while (true) {
        const int c = in_.peek();
        if (c == EOF || c == ',' || c == ']' || c == '}' || c == ' ' || c == '\t' || c == '\n' || c == '\r')
          return;
        put(out, static_cast<char>(in_.get()));
      }
    }
    int depth = 0;
    while (true) {
      const int c = in_.peek();
      if (c == EOF) fail(start_line, "unexpected end of file inside the JSON value that starts here");
      if (c == '"') {
        read_string(out, start_line);
        continue;
      }
      put(out, static_cast<char>(in_.get()));
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) return;
      }
    }
  }

  void read_string(std::string* out, size_t start_line) {
    put(out, static_cast<char>(in_.get()));  // opening quote
    while (true) {
      const int c = in_.get();
      if (c == EOF) fail(start_line, "unexpected end of file inside a JSON string that starts here");
      put(out, static_cast<char>(c));
      if (c == '\\') {
        const int next = in_.get();
        if (next == EOF) fail(start_line, "unexpected end of file inside a JSON string that starts here");
        put(out, static_cast<char>(next));
      } else if (c == '"') {
        return;
      }
    }
  }

  [[noreturn]] void fail(size_t line, const std::string& message) {
    throw DataError(located(label_, line, message));
  }

 private:
  void put(std::string* out, char c) {
    if (!out || too_long_) return;
    if (out->size() >= kMaxRowBytes) {
      too_long_ = true;
      out->clear();
      out->shrink_to_fit();
      return;
    }
    out->push_back(c);
  }
  CharStream& in_;
  const std::string& label_;
  bool too_long_ = false;
};

void read_json(Source& source, const std::string& label, const RowCallback& on_row, const Errors& errors) {
  CharStream in(source);
  JsonScanner scan(in, label);
  if (in.peek() == 0xEF) {
    for (int i = 0; i < 3; ++i) in.get();
  }
  scan.skip_ws();
  const int first = in.peek();
  if (first == EOF) throw DataError(label + ": empty file");
  const char* expected = "expected a JSON array of rows or an object with a \"data\" array";
  bool wrapped = false;
  if (first == '{') {
    // {"data": [...], ...}: find the "data" key at the top level; other keys are skipped.
    in.get();
    while (true) {
      scan.skip_ws();
      if (in.peek() == '}')
        scan.fail(in.line(), std::string("no \"data\" array in the top-level object: ") + expected);
      const size_t key_line = in.line();
      if (in.peek() != '"') scan.fail(key_line, "invalid JSON: expected an object key");
      std::string key_text;
      scan.read_value(&key_text);
      if (scan.too_long())
        scan.fail(key_line, "object key longer than " + std::to_string(kMaxRowBytes >> 20) + " MB");
      scan.skip_ws();
      if (in.get() != ':') scan.fail(in.line(), "invalid JSON: expected ':' after an object key");
      scan.skip_ws();
      if (nlohmann::json::parse(key_text, nullptr, false) == "data") {
        if (in.peek() != '[') scan.fail(in.line(), "field \"data\" must be an array of rows");
        wrapped = true;
        break;
      }
      scan.read_value(nullptr);
      scan.skip_ws();
      const int sep = in.get();
      if (sep == '}')
        scan.fail(in.line(), std::string("no \"data\" array in the top-level object: ") + expected);
      if (sep != ',') scan.fail(in.line(), "invalid JSON: expected ',' or '}' in the top-level object");
    }
  } else if (first != '[') {
    scan.fail(in.line(), expected);
  }
  in.get();  // '['
  std::string text;
  bool stopped = false;
  scan.skip_ws();
  if (in.peek() == ']') {
    in.get();
  } else {
    while (true) {
      scan.skip_ws();
      const size_t line = in.line();
      text.clear();
      scan.read_value(&text);
      RawRow row;
      if (scan.too_long()) {
        errors(line, row_too_long_message());
      } else if (!stopped && parse_json_row(text, line, errors, row) && !on_row(std::move(row))) {
        stopped = true;
      }
      if (stopped) return;
      scan.skip_ws();
      const int sep = in.get();
      if (sep == ']') break;
      if (sep != ',') scan.fail(in.line(), "invalid JSON: expected ',' or ']' after an array element");
    }
  }
  if (wrapped) {
    // The rest of the wrapper object (other keys after "data") is not needed.
    return;
  }
  scan.skip_ws();
  if (in.peek() != EOF) scan.fail(in.line(), "invalid JSON: unexpected text after the top-level array");
}

// RFC 4180 records: quoted fields may hold delimiters, doubled quotes and newlines. One state
// machine over the characters reads best in one piece.
// NOLINTNEXTLINE(readability-function-size)
void read_table(Source& source, const std::string& label, char delimiter, const RowCallback& on_row,
                const Errors& errors) {
  CharStream in(source);
  if (in.peek() == 0xEF) {
    for (int i = 0; i < 3; ++i) in.get();
  }
  std::vector<std::string> header;
  std::vector<std::string> fields;
  while (in.peek() != EOF) {
    const size_t line = in.line();
    fields.assign(1, std::string());
    bool any_quoted = false;
    bool bad = false;
    std::string bad_message;
    size_t bad_line = line;
    size_t record_bytes = 0;
    bool too_long = false;
    // Past kMaxRowBytes the record is still read to its end, but nothing more is kept.
    auto add = [&](char ch) {
      if (too_long) return;
      if (++record_bytes > kMaxRowBytes) {
        too_long = true;
        fields.assign(1, std::string());
        fields.shrink_to_fit();
        return;
      }
      fields.back().push_back(ch);
    };
    while (true) {
      int c = in.get();
      if (c == EOF || c == '\n') break;
      if (c == '\r' && (in.peek() == '\n' || in.peek() == EOF)) continue;
      if (c == delimiter) {
        if (!too_long && ++record_bytes <= kMaxRowBytes) {
          fields.emplace_back();
        } else if (!too_long) {
          too_long = true;
          fields.assign(1, std::string());
        }
        continue;
      }
      if (c == '"' && fields.back().empty()) {
        any_quoted = true;
        const size_t quote_line = in.line();
        while (true) {
          c = in.get();
          if (c == EOF)
            throw DataError(
                located(label, quote_line, "unterminated quoted field (a '\"' opened here never closes)"));
          if (c == '"') {
            if (in.peek() == '"') {
              in.get();
              add('"');
              continue;
            }
            break;
          }
          add(static_cast<char>(c));
        }
        const int next = in.peek();
        if (next != delimiter && next != '\n' && next != '\r' && next != EOF && !bad) {
          bad = true;
          bad_line = in.line();
          bad_message = "field " + std::to_string(fields.size()) +
                        ": text after a closing quote (quotes inside " +
                        "a quoted field must be doubled: \"\")";
        }
        continue;
      }
      add(static_cast<char>(c));
    }
    if (too_long) {
      errors(line, row_too_long_message());
      continue;
    }
    if (!any_quoted && fields.size() == 1 && blank(fields[0])) continue;
    if (bad) {
      errors(bad_line, bad_message);
      continue;
    }
    if (header.empty()) {
      header = fields;
      for (size_t i = 0; i < header.size(); ++i) {
        if (auto b = find_invalid_utf8(header[i]); b != std::string::npos)
          throw DataError(located(label, line, "header: " + utf8_message(header[i], b)));
      }
      continue;
    }
    if (fields.size() != header.size()) {
      errors(line, "row has " + std::to_string(fields.size()) + " fields, the header has " +
                       std::to_string(header.size()) + " (unquoted delimiter or newline in a field?)");
      continue;
    }
    RawRow row;
    row.line = line;
    row.from_text_table = true;
    row.value = nlohmann::ordered_json::object();
    bool ok = true;
    for (size_t i = 0; i < fields.size(); ++i) {
      if (auto b = find_invalid_utf8(fields[i]); b != std::string::npos) {
        errors(line, "field \"" + header[i] + "\": " + utf8_message(fields[i], b));
        ok = false;
        break;
      }
      row.value[header[i]] = std::move(fields[i]);
    }
    if (ok && !on_row(std::move(row))) return;
  }
  if (header.empty()) throw DataError(label + ": empty file (no header row)");
}

void read_any(Source& source, const std::string& label, FileFormat format, const RowCallback& on_row,
              const RowErrorCallback& on_error) {
  const Errors errors{label, on_error};
  switch (format) {
    case FileFormat::kJsonl:
      return read_jsonl(source, label, on_row, errors);
    case FileFormat::kJson:
      return read_json(source, label, on_row, errors);
    case FileFormat::kCsv:
      return read_table(source, label, ',', on_row, errors);
    case FileFormat::kTsv:
      return read_table(source, label, '\t', on_row, errors);
  }
}

}  // namespace

std::string to_string(FileFormat format) {
  switch (format) {
    case FileFormat::kJsonl:
      return "jsonl";
    case FileFormat::kJson:
      return "json";
    case FileFormat::kCsv:
      return "csv";
    case FileFormat::kTsv:
      return "tsv";
  }
  return "?";
}

FileFormat parse_file_format(std::string_view name) {
  if (name == "jsonl" || name == "ndjson") return FileFormat::kJsonl;
  if (name == "json") return FileFormat::kJson;
  if (name == "csv") return FileFormat::kCsv;
  if (name == "tsv") return FileFormat::kTsv;
  throw ConfigError("unknown file format \"" + std::string(name) + "\": expected jsonl, json, csv or tsv");
}

FileFormat format_from_path(const std::string& path) {
  std::string_view name = path;
  if (name.ends_with(".gz")) name.remove_suffix(3);
  if (name.ends_with(".json")) return FileFormat::kJson;
  if (name.ends_with(".csv")) return FileFormat::kCsv;
  if (name.ends_with(".tsv") || name.ends_with(".tab")) return FileFormat::kTsv;
  return FileFormat::kJsonl;
}

void read_rows(const std::string& path, std::optional<FileFormat> format, const RowCallback& on_row,
               const RowErrorCallback& on_error) {
  FileSource source(path);
  read_any(source, path, format.value_or(format_from_path(path)), on_row, on_error);
}

void parse_rows(std::string_view text, const std::string& label, FileFormat format, const RowCallback& on_row,
                const RowErrorCallback& on_error) {
  MemorySource source(text);
  read_any(source, label, format, on_row, on_error);
}

size_t find_invalid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF.
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += len;
  }
  return std::string_view::npos;
}

}  // namespace dpo
