#include "core/tokenizer/bpe_tokenizer.h"
#include "core/tokenizer/utf8.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <sstream>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/io/text_file.h"
#include "core/runtime/error.h"

namespace dpo {
namespace {

using nlohmann::json;
using Range = std::pair<size_t, size_t>;

// The largest released tokenizer.json files are tens of MB.
constexpr uintmax_t kMaxTokenizerJsonBytes = uintmax_t{512} << 20;

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringIdMap = std::unordered_map<std::string, int, StringHash, std::equal_to<>>;

// ---- UTF-8 ------------------------------------------------------------------------------------------

size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  return 4;
}

// At s[i]: the length of the valid UTF-8 sequence there, or 0 with `prefix` set to the bytes that begin one
// (what Rust's from_utf8_lossy replaces by a single U+FFFD).
size_t valid_sequence_at(std::string_view s, size_t i, size_t* prefix = nullptr) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (prefix) *prefix = 1;
  if (b0 < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (size_t k = 1; k < len; ++k) {
    if (i + k >= s.size()) return 0;
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return 0;
    if (prefix) *prefix = k + 1;
  }
  return len;
}

char32_t code_point_at(std::string_view s, size_t i, size_t len) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (len == 1) return b0;
  char32_t cp = b0 & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return cp;
}

void require_utf8(std::string_view s, const std::string& label) {
  for (size_t i = 0; i < s.size();) {
    const size_t len = valid_sequence_at(s, i);
    if (len == 0)
      throw TokenizerError(label + ": input text is not valid UTF-8 (byte " + std::to_string(i) + ")");
    i += len;
  }
}

// Like Rust's String::from_utf8_lossy.
std::string utf8_lossy(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t prefix = 1;
    if (size_t len = valid_sequence_at(s, i, &prefix); len > 0) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      i += prefix;
    }
  }
  return out;
}

// Rust's char::is_whitespace (the Unicode White_Space property).
bool is_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// ---- PCRE2 ------------------------------------------------------------------------------------------

class Regex {
 public:
  // `where`: "pre_tokenizer", "normalizer" or "decoder", for messages naming the file and pattern.
  Regex(const std::string& pattern, const std::string& where, const std::string& label)
      : context_(label + ": " + where + " pattern \"" + utf8_prefix(pattern, 60) + "\"") {
    int error = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof message);
      throw TokenizerError(context_ + ": does not compile at offset " + std::to_string(offset) + ": " +
                           reinterpret_cast<const char*>(message));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter when JIT is unavailable
    code_.reset(code, pcre2_code_free);
  }

  // Non-overlapping matches, left to right; the subject must be valid UTF-8.
  std::vector<Range> find_all(std::string_view s) const {
    std::vector<Range> out;
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
        pcre2_match_data_create_from_pattern(code_.get(), nullptr), pcre2_match_data_free);
    size_t offset = 0;
    while (offset <= s.size()) {
      const int rc = pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), offset,
                                 PCRE2_NO_UTF_CHECK, md.get(), nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(rc, message, sizeof message);
        // PCRE2's match and depth limits end catastrophic backtracking here.
        throw TokenizerError(context_ + ": PCRE2 " + reinterpret_cast<const char*>(message));
      }
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
      if (ov[1] == ov[0]) {  // empty match: step over one character
        if (ov[0] >= s.size()) break;
        offset = ov[0] + utf8_sequence_length(static_cast<unsigned char>(s[ov[0]]));
        continue;
      }
      out.emplace_back(ov[0], ov[1]);
      offset = ov[1];
    }
    return out;
  }

 private:
  // At most `max` bytes, cut at a character boundary.
  static std::string utf8_prefix(const std::string& s, size_t max) {
    if (s.size() <= max) return s;
    size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return s.substr(0, n) + "...";
  }

  std::string context_;
  std::shared_ptr<pcre2_code> code_;
};

std::string replace_literal(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  size_t last = 0;
  for (size_t at = s.find(from); !from.empty() && at != std::string_view::npos; at = s.find(from, last)) {
    out.append(s.substr(last, at - last));
    out.append(to);
    last = at + from.size();
  }
  out.append(s.substr(last));
  return out;
}

// A `{"String": ...}` or `{"Regex": ...}` pattern of normalizers, pre-tokenizers and decoders.
class Pattern {
 public:
  Pattern(const json& j, const std::string& where, const std::string& label) {
    if (j.is_string()) {
      literal_ = j.get<std::string>();
    } else if (j.is_object() && j.contains("String") && j["String"].is_string()) {
      literal_ = j["String"].get<std::string>();
    } else if (j.is_object() && j.contains("Regex") && j["Regex"].is_string()) {
      regex_.emplace(j["Regex"].get<std::string>(), role(where), label);
    } else {
      throw TokenizerError(label + ": " + where + " pattern must be {\"String\": ...} or {\"Regex\": ...}");
    }
  }

  std::vector<Range> find_all(std::string_view s) const {
    if (regex_) return regex_->find_all(s);
    std::vector<Range> out;
    if (literal_.empty()) return out;
    for (size_t at = s.find(literal_); at != std::string_view::npos;
         at = s.find(literal_, at + literal_.size()))
      out.emplace_back(at, at + literal_.size());
    return out;
  }

  std::string replace_all(std::string_view s, std::string_view content) const {
    if (!regex_) return replace_literal(s, literal_, content);
    std::string out;
    size_t last = 0;
    for (auto [a, b] : find_all(s)) {
      out.append(s.substr(last, a - last));
      out.append(content);
      last = b;
    }
    out.append(s.substr(last));
    return out;
  }

 private:
  static std::string role(const std::string& where) {
    if (where.find("normalizer") != std::string::npos) return "normalizer";
    if (where.find("decoder") != std::string::npos) return "decoder";
    return "pre_tokenizer";
  }

  std::string literal_;
  std::optional<Regex> regex_;
};

// ---- Splitting (HF SplitDelimiterBehavior) -----------------------------------------------------------

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

SplitBehavior parse_behavior(const json& j, const std::string& label) {
  const std::string name = j.is_string() ? j.get<std::string>() : "";
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  throw TokenizerError(label + ": Split behavior \"" + name + "\" is not supported");
}

// Cuts [0, n) at the matches, then joins pieces as the behavior says; empty pieces are dropped.
std::vector<Range> split_ranges(size_t n, const std::vector<Range>& matches, SplitBehavior behavior,
                                bool invert) {
  struct Seg {
    Range r;
    bool match;
  };
  std::vector<Seg> segs;
  size_t last = 0;
  for (auto [a, b] : matches) {
    if (a > last) segs.push_back({{last, a}, invert});
    segs.push_back({{a, b}, !invert});
    last = b;
  }
  if (last < n || segs.empty()) segs.push_back({{last, n}, invert});

  std::vector<Seg> out;
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      out = segs;
      break;
    case SplitBehavior::kRemoved:
      for (const Seg& s : segs)
        if (!s.match) out.push_back(s);
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Seg& s : segs) {
        if (s.match && !previous_match && !out.empty()) {
          out.back().r.second = s.r.second;
        } else {
          out.push_back(s);
        }
        previous_match = s.match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
        if (it->match && !previous_match && !out.empty()) {
          out.back().r.first = it->r.first;
        } else {
          out.push_back(*it);
        }
        previous_match = it->match;
      }
      std::reverse(out.begin(), out.end());
      break;
    case SplitBehavior::kContiguous:
      for (const Seg& s : segs) {
        if (s.match == previous_match && !out.empty()) {
          out.back().r.second = s.r.second;
        } else {
          out.push_back(s);
        }
        previous_match = s.match;
      }
      break;
  }
  std::vector<Range> ranges;
  for (const Seg& s : out)
    if (s.r.first < s.r.second) ranges.push_back(s.r);
  return ranges;
}

// ---- GPT-2 byte <-> unicode table --------------------------------------------------------------------

struct ByteTable {
  std::array<std::string, 256> char_of_byte;
  std::array<int, 324> byte_of_char;  // indexed by code point; -1 where none

  ByteTable() {
    byte_of_char.fill(-1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
      append_utf8(char_of_byte[b], cp);
      byte_of_char[cp] = b;
    }
  }
};

const ByteTable& byte_table() {
  static const ByteTable table;
  return table;
}

std::string bytes_to_unicode(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char b : s) out += byte_table().char_of_byte[b];
  return out;
}

// A token's characters back to bytes; a token with any character outside the table is taken as is (HF).
void unicode_to_bytes(std::string_view token, std::string& out) {
  std::string bytes;
  for (size_t i = 0; i < token.size();) {
    const size_t len = utf8_sequence_length(static_cast<unsigned char>(token[i]));
    const char32_t c = code_point_at(token, i, len);
    i += len;
    if (c >= byte_table().byte_of_char.size() || byte_table().byte_of_char[c] < 0) {
      out.append(token);
      return;
    }
    bytes += static_cast<char>(byte_table().byte_of_char[c]);
  }
  out += bytes;
}

constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

bool flag(const json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? fallback : it->get<bool>();
}

std::string text_field(const json& j, const char* key, const std::string& fallback) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? fallback : it->get<std::string>();
}

std::string type_of(const json& j, const std::string& what, const std::string& label) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    throw TokenizerError(label + ": " + what + " has no \"type\"");
  return j["type"].get<std::string>();
}

// ---- Normalizers -------------------------------------------------------------------------------------

struct NormStep {
  enum class Kind { kPrepend, kReplace, kUnicode, kLowercase, kStrip } kind;
  std::string content;
  std::optional<Pattern> pattern;
  bool left = false;
  bool right = false;
  int utf8proc_options = 0;  // kUnicode: the utf8proc_map options of NFC, NFD, NFKC or NFKD
  std::string form = {};     // kUnicode: the form's name, for messages
};

NormStep unicode_step(const std::string& form) {
  int options = UTF8PROC_STABLE;
  if (form == "NFC") options |= UTF8PROC_COMPOSE;
  if (form == "NFD") options |= UTF8PROC_DECOMPOSE;
  if (form == "NFKC") options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
  if (form == "NFKD") options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
  NormStep step{NormStep::Kind::kUnicode, "", std::nullopt};
  step.utf8proc_options = options;
  step.form = form;
  return step;
}

void parse_normalizer(const json& j, const std::string& label, std::vector<NormStep>& out) {
  if (j.is_null()) return;
  const std::string type = type_of(j, "normalizer", label);
  if (type == "Sequence") {
    for (const json& n : j.at("normalizers")) parse_normalizer(n, label, out);
  } else if (type == "Prepend") {
    out.push_back({NormStep::Kind::kPrepend, j.at("prepend").get<std::string>(), std::nullopt});
  } else if (type == "Replace") {
    out.push_back({NormStep::Kind::kReplace, j.at("content").get<std::string>(),
                   Pattern(j.at("pattern"), "Replace normalizer", label)});
  } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    out.push_back(unicode_step(type));
  } else if (type == "Lowercase") {
    out.push_back({NormStep::Kind::kLowercase, "", std::nullopt});
  } else if (type == "Strip") {
    out.push_back({NormStep::Kind::kStrip, "", std::nullopt, flag(j, "strip_left", false),
                   flag(j, "strip_right", false)});
  } else {
    throw TokenizerError(label + ": normalizer type \"" + type +
                         "\" is not supported (supported: Sequence, Prepend, Replace, Strip, NFC, NFD, NFKC, "
                         "NFKD, Lowercase)");
  }
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Unicode normalization form `step.form` of valid UTF-8 text (utf8proc, which follows UAX #15 as HF's
// unicode-normalization crate does). ASCII text is in every form already.
std::string unicode_normalize(const NormStep& step, const std::string& s, const std::string& label) {
  if (is_ascii(s)) return s;
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                          static_cast<utf8proc_ssize_t>(s.size()), &out,
                                          static_cast<utf8proc_option_t>(step.utf8proc_options));
  if (n < 0) {
    std::free(out);
    throw TokenizerError(label + ": the " + step.form + " normalizer failed: " + utf8proc_errmsg(n));
  }
  std::string result(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
  return result;
}

// HF's Lowercase: Rust's char::to_lowercase on each code point, the simple lowercase mapping except for the
// one unconditional special casing, U+0130 -> "i\u0307". Per code point, so no Final_Sigma: Σ -> σ always.
std::string lowercase(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  if (is_ascii(s)) {
    for (char c : s) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    return out;
  }
  for (size_t i = 0; i < s.size();) {
    const size_t len = utf8_sequence_length(static_cast<unsigned char>(s[i]));
    const char32_t c = code_point_at(s, i, len);
    i += len;
    if (c == 0x130) {
      out += "i\xCC\x87";
    } else {
      append_utf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
    }
  }
  return out;
}

std::string strip_whitespace(std::string_view s, bool left, bool right) {
  size_t a = 0, b = s.size();
  while (left && a < b) {
    const size_t len = utf8_sequence_length(static_cast<unsigned char>(s[a]));
    if (!is_whitespace(code_point_at(s, a, len))) break;
    a += len;
  }
  while (right && b > a) {
    size_t start = b - 1;
    while (start > a && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    if (!is_whitespace(code_point_at(s, start, b - start))) break;
    b = start;
  }
  return std::string(s.substr(a, b - a));
}

std::string normalize(const std::vector<NormStep>& steps, std::string_view text, const std::string& label) {
  std::string s(text);
  for (const NormStep& step : steps) {
    switch (step.kind) {
      case NormStep::Kind::kPrepend:
        if (!s.empty()) s.insert(0, step.content);
        break;
      case NormStep::Kind::kReplace:
        s = step.pattern->replace_all(s, step.content);
        break;
      case NormStep::Kind::kStrip:
        s = strip_whitespace(s, step.left, step.right);
        break;
      case NormStep::Kind::kUnicode:
        s = unicode_normalize(step, s, label);
        break;
      case NormStep::Kind::kLowercase:
        s = lowercase(s);
        break;
    }
  }
  return s;
}

// ---- Pre-tokenizers ----------------------------------------------------------------------------------

struct Piece {
  std::string text;
  bool at_start;  // begins at offset 0 of the original text (Metaspace prepend_scheme "first")
};

struct PreStep {
  enum class Kind { kByteLevel, kSplit, kMetaspace } kind;
  bool add_prefix_space = false;   // ByteLevel
  std::optional<Pattern> pattern;  // ByteLevel (use_regex) and Split
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  std::string replacement;  // Metaspace
  enum class Prepend { kAlways, kFirst, kNever } prepend = Prepend::kAlways;
  bool split = true;
};

void parse_pre_tokenizer(const json& j, const std::string& label, std::vector<PreStep>& out) {
  if (j.is_null()) return;
  const std::string type = type_of(j, "pre_tokenizer", label);
  PreStep step{};
  if (type == "Sequence") {
    for (const json& p : j.at("pretokenizers")) parse_pre_tokenizer(p, label, out);
    return;
  } else if (type == "ByteLevel") {
    step.kind = PreStep::Kind::kByteLevel;
    step.add_prefix_space = flag(j, "add_prefix_space", true);
    if (flag(j, "use_regex", true)) step.pattern.emplace(json{{"Regex", kGpt2Pattern}}, "ByteLevel", label);
  } else if (type == "Split") {
    step.kind = PreStep::Kind::kSplit;
    step.pattern.emplace(j.at("pattern"), "Split pre-tokenizer", label);
    step.behavior = parse_behavior(j.at("behavior"), label);
    step.invert = flag(j, "invert", false);
  } else if (type == "Digits") {
    step.kind = PreStep::Kind::kSplit;
    step.pattern.emplace(json{{"Regex", R"(\p{N})"}}, "Digits", label);
    step.behavior =
        flag(j, "individual_digits", false) ? SplitBehavior::kIsolated : SplitBehavior::kContiguous;
  } else if (type == "Whitespace") {
    step.kind = PreStep::Kind::kSplit;
    step.pattern.emplace(json{{"Regex", R"(\w+|[^\w\s]+)"}}, "Whitespace", label);
    step.behavior = SplitBehavior::kRemoved;
    step.invert = true;
  } else if (type == "WhitespaceSplit") {
    step.kind = PreStep::Kind::kSplit;
    step.pattern.emplace(json{{"Regex", R"(\s)"}}, "WhitespaceSplit", label);
    step.behavior = SplitBehavior::kRemoved;
  } else if (type == "Metaspace") {
    step.kind = PreStep::Kind::kMetaspace;
    step.replacement = text_field(j, "replacement", "\xE2\x96\x81");
    step.split = flag(j, "split", true);
    step.prepend = flag(j, "add_prefix_space", true) ? PreStep::Prepend::kAlways : PreStep::Prepend::kNever;
    if (j.contains("prepend_scheme") && !j["prepend_scheme"].is_null()) {
      const std::string scheme = j["prepend_scheme"].get<std::string>();
      if (scheme == "always") {
        step.prepend = PreStep::Prepend::kAlways;
      } else if (scheme == "first") {
        step.prepend = PreStep::Prepend::kFirst;
      } else if (scheme == "never") {
        step.prepend = PreStep::Prepend::kNever;
      } else {
        throw TokenizerError(label + ": Metaspace prepend_scheme \"" + scheme + "\" is not supported");
      }
    }
    step.pattern.emplace(json{{"String", step.replacement}}, "Metaspace", label);
  } else {
    throw TokenizerError(label + ": pre_tokenizer type \"" + type +
                         "\" is not supported (supported: Sequence, ByteLevel, Split, Metaspace, Digits, "
                         "Whitespace, WhitespaceSplit)");
  }
  out.push_back(std::move(step));
}

std::vector<Piece> pre_tokenize(const PreStep& step, std::vector<Piece> pieces) {
  std::vector<Piece> out;
  auto emit = [&out](std::string_view s, const std::vector<Range>& ranges, bool at_start) {
    for (size_t k = 0; k < ranges.size(); ++k)
      out.push_back({std::string(s.substr(ranges[k].first, ranges[k].second - ranges[k].first)),
                     at_start && k == 0 && ranges[k].first == 0});
  };
  for (Piece& piece : pieces) {
    std::string s = std::move(piece.text);
    switch (step.kind) {
      case PreStep::Kind::kByteLevel: {
        if (step.add_prefix_space && !s.empty() && s.front() != ' ') s.insert(0, " ");
        if (!step.pattern) {
          out.push_back({bytes_to_unicode(s), piece.at_start});
          break;
        }
        const auto ranges =
            split_ranges(s.size(), step.pattern->find_all(s), SplitBehavior::kIsolated, false);
        for (size_t k = 0; k < ranges.size(); ++k)
          out.push_back({bytes_to_unicode(
                             std::string_view(s).substr(ranges[k].first, ranges[k].second - ranges[k].first)),
                         piece.at_start && k == 0});
        break;
      }
      case PreStep::Kind::kSplit:
        emit(s, split_ranges(s.size(), step.pattern->find_all(s), step.behavior, step.invert),
             piece.at_start);
        break;
      case PreStep::Kind::kMetaspace: {
        s = replace_literal(s, " ", step.replacement);
        const bool starts = s.compare(0, step.replacement.size(), step.replacement) == 0;
        if (!starts && (step.prepend == PreStep::Prepend::kAlways ||
                        (step.prepend == PreStep::Prepend::kFirst && piece.at_start)))
          s.insert(0, step.replacement);
        if (!step.split) {
          out.push_back({s, piece.at_start});
          break;
        }
        auto ranges =
            split_ranges(s.size(), step.pattern->find_all(s), SplitBehavior::kMergedWithNext, false);
        for (size_t k = 0; k < ranges.size(); ++k)
          out.push_back(
              {s.substr(ranges[k].first, ranges[k].second - ranges[k].first), piece.at_start && k == 0});
        break;
      }
    }
  }
  return out;
}

// ---- Decoders ----------------------------------------------------------------------------------------

struct DecodeStep {
  enum class Kind { kByteLevel, kReplace, kByteFallback, kFuse, kStrip, kMetaspace } kind;
  std::optional<Pattern> pattern = std::nullopt;
  // Replace: the replacement; Strip: the stripped character; Metaspace: the replacement character.
  std::string content = "";
  size_t start = 0;
  size_t stop = 0;
  bool prepend = true;  // Metaspace: a prefix was prepended on encode, so the first one is dropped
};

void parse_decoder(const json& j, const std::string& label, std::vector<DecodeStep>& out) {
  if (j.is_null()) return;
  const std::string type = type_of(j, "decoder", label);
  if (type == "Sequence") {
    for (const json& d : j.at("decoders")) parse_decoder(d, label, out);
  } else if (type == "ByteLevel") {
    out.push_back({DecodeStep::Kind::kByteLevel});
  } else if (type == "Replace") {
    out.push_back({DecodeStep::Kind::kReplace, Pattern(j.at("pattern"), "Replace decoder", label),
                   j.at("content").get<std::string>()});
  } else if (type == "ByteFallback") {
    out.push_back({DecodeStep::Kind::kByteFallback});
  } else if (type == "Fuse") {
    out.push_back({DecodeStep::Kind::kFuse});
  } else if (type == "Strip") {
    out.push_back({DecodeStep::Kind::kStrip, std::nullopt, j.at("content").get<std::string>(),
                   j.value("start", size_t{0}), j.value("stop", size_t{0})});
  } else if (type == "Metaspace") {
    DecodeStep step{DecodeStep::Kind::kMetaspace, std::nullopt, text_field(j, "replacement", "\xE2\x96\x81")};
    step.prepend = flag(j, "add_prefix_space", true);
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string())
      step.prepend = j["prepend_scheme"].get<std::string>() != "never";
    out.push_back(std::move(step));
  } else {
    throw TokenizerError(label + ": decoder type \"" + type +
                         "\" is not supported (supported: Sequence, ByteLevel, Replace, ByteFallback, Fuse, "
                         "Strip, Metaspace)");
  }
}

std::optional<unsigned char> byte_token_value(std::string_view token) {
  if (token.size() != 6 || token.substr(0, 3) != "<0x" || token[5] != '>') return std::nullopt;
  unsigned value = 0;
  for (char c : token.substr(3, 2)) {
    value <<= 4;
    if (c >= '0' && c <= '9') {
      value |= static_cast<unsigned>(c - '0');
    } else if (c >= 'A' && c <= 'F') {
      value |= static_cast<unsigned>(c - 'A' + 10);
    } else if (c >= 'a' && c <= 'f') {
      value |= static_cast<unsigned>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
  }
  return static_cast<unsigned char>(value);
}

std::vector<std::string> decode_step(const DecodeStep& step, std::vector<std::string> tokens) {
  std::vector<std::string> out;
  switch (step.kind) {
    case DecodeStep::Kind::kByteLevel: {
      std::string bytes;
      for (const std::string& t : tokens) unicode_to_bytes(t, bytes);
      out.push_back(utf8_lossy(bytes));
      break;
    }
    case DecodeStep::Kind::kReplace:
      for (const std::string& t : tokens) out.push_back(step.pattern->replace_all(t, step.content));
      break;
    case DecodeStep::Kind::kByteFallback: {
      std::string pending;
      auto flush = [&] {
        if (pending.empty()) return;
        if (utf8_lossy(pending) == pending) {
          out.push_back(pending);
        } else {
          for (size_t k = 0; k < pending.size(); ++k) out.push_back("\xEF\xBF\xBD");
        }
        pending.clear();
      };
      for (std::string& t : tokens) {
        if (auto b = byte_token_value(t)) {
          pending += static_cast<char>(*b);
        } else {
          flush();
          out.push_back(std::move(t));
        }
      }
      flush();
      break;
    }
    case DecodeStep::Kind::kFuse: {
      std::string all;
      for (const std::string& t : tokens) all += t;
      out.push_back(std::move(all));
      break;
    }
    case DecodeStep::Kind::kStrip:
      for (std::string& t : tokens) {
        std::string_view v = t;
        for (size_t k = 0; k < step.start && v.starts_with(step.content); ++k)
          v.remove_prefix(step.content.size());
        for (size_t k = 0; k < step.stop && v.ends_with(step.content); ++k)
          v.remove_suffix(step.content.size());
        out.emplace_back(v);
      }
      break;
    case DecodeStep::Kind::kMetaspace:
      // As HF: in the first token every replacement is dropped when a prefix was prepended.
      for (size_t i = 0; i < tokens.size(); ++i)
        out.push_back(replace_literal(tokens[i], step.content, i == 0 && step.prepend ? "" : " "));
      break;
  }
  return out;
}

// ---- Post-processors ---------------------------------------------------------------------------------

struct PostStep {
  std::vector<int> prefix;
  std::vector<int> suffix;
};

std::vector<int> special_ids(const json& j, const std::string& name, const std::string& label) {
  if (!j.contains(name))
    throw TokenizerError(label + ": TemplateProcessing uses special token \"" + name +
                         "\" missing from its special_tokens");
  return j[name].at("ids").get<std::vector<int>>();
}

void parse_post_processor(const json& j, const std::string& label, std::vector<PostStep>& out) {
  if (j.is_null()) return;
  const std::string type = type_of(j, "post_processor", label);
  if (type == "Sequence") {
    for (const json& p : j.at("processors")) parse_post_processor(p, label, out);
  } else if (type == "ByteLevel") {
    // Only adjusts offsets.
  } else if (type == "TemplateProcessing") {
    PostStep step;
    bool seen_sequence = false;
    const json specials = j.value("special_tokens", json::object());
    for (const json& item : j.at("single")) {
      if (item.contains("Sequence")) {
        seen_sequence = true;
      } else if (item.contains("SpecialToken")) {
        auto ids = special_ids(specials, item["SpecialToken"].at("id").get<std::string>(), label);
        auto& dst = seen_sequence ? step.suffix : step.prefix;
        dst.insert(dst.end(), ids.begin(), ids.end());
      } else {
        throw TokenizerError(label + ": TemplateProcessing item is neither Sequence nor SpecialToken");
      }
    }
    out.push_back(std::move(step));
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    out.push_back({{j.at("cls").at(1).get<int>()}, {j.at("sep").at(1).get<int>()}});
  } else {
    throw TokenizerError(label + ": post_processor type \"" + type +
                         "\" is not supported (supported: Sequence, ByteLevel, TemplateProcessing, "
                         "RobertaProcessing, BertProcessing)");
  }
}

// ---- Added tokens ------------------------------------------------------------------------------------

struct AddedToken {
  std::string content;
  int id = 0;
  bool special = false;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
};

bool is_word_char(char32_t c) {
  if (c < 0x80) return std::isalnum(static_cast<int>(c)) || c == '_';
  static const Regex word(R"(^[\p{L}\p{N}])", "built-in", "word characters");
  std::string s;
  append_utf8(s, c);
  return !word.find_all(s).empty();
}

// One text piece between added tokens, or an added token (id >= 0).
struct Segment {
  std::string_view text;
  int id;
  size_t offset;
};

// Leftmost-longest matching of added-token contents, as HF's aho-corasick trie does.
class AddedMatcher {
 public:
  void add(std::string pattern, const AddedToken* token) {
    if (pattern.empty()) return;
    auto& bucket = by_first_byte_[static_cast<unsigned char>(pattern[0])];
    bucket.push_back({std::move(pattern), token});
    std::stable_sort(bucket.begin(), bucket.end(),
                     [](const Entry& a, const Entry& b) { return a.pattern.size() > b.pattern.size(); });
    empty_ = false;
  }

  std::vector<Segment> split(std::string_view s, size_t base_offset) const {
    std::vector<Segment> out;
    size_t last = 0;
    for (size_t pos = 0; !empty_ && pos < s.size();) {
      const Entry* hit = nullptr;
      for (const Entry& e : by_first_byte_[static_cast<unsigned char>(s[pos])]) {
        if (s.substr(pos).starts_with(e.pattern)) {
          hit = &e;
          break;
        }
      }
      if (hit == nullptr) {
        ++pos;
        continue;
      }
      size_t start = pos, stop = pos + hit->pattern.size();
      pos = stop;
      const AddedToken& t = *hit->token;
      if (t.single_word && ((start > 0 && is_word_char(last_char(s.substr(0, start)))) ||
                            (stop < s.size() && is_word_char(first_char(s.substr(stop))))))
        continue;
      while (t.lstrip && start > last) {
        size_t prev = start - 1;
        while (prev > last && (static_cast<unsigned char>(s[prev]) & 0xC0) == 0x80) --prev;
        if (!is_whitespace(code_point_at(s, prev, start - prev))) break;
        start = prev;
      }
      while (t.rstrip && stop < s.size()) {
        const size_t len = utf8_sequence_length(static_cast<unsigned char>(s[stop]));
        if (!is_whitespace(code_point_at(s, stop, len))) break;
        stop += len;
      }
      if (start > last) out.push_back({s.substr(last, start - last), -1, base_offset + last});
      out.push_back({s.substr(start, stop - start), t.id, base_offset + start});
      last = pos = stop;
    }
    if (last < s.size()) out.push_back({s.substr(last), -1, base_offset + last});
    return out;
  }

 private:
  struct Entry {
    std::string pattern;
    const AddedToken* token;
  };

  static char32_t first_char(std::string_view s) {
    return code_point_at(s, 0, utf8_sequence_length(static_cast<unsigned char>(s[0])));
  }
  static char32_t last_char(std::string_view s) {
    size_t i = s.size() - 1;
    while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
    return code_point_at(s, i, s.size() - i);
  }

  std::array<std::vector<Entry>, 256> by_first_byte_;
  bool empty_ = true;
};

// ---- The BPE model -----------------------------------------------------------------------------------

uint64_t pair_key(int a, int b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

class BpeModel {
 public:
  BpeModel(const json& model, const std::string& label) : label_(label) {
    if (!model.is_object()) throw TokenizerError(label + ": \"model\" is missing or not an object");
    const std::string type = model.contains("type") ? type_of(model, "model", label) : "BPE";
    if (type != "BPE")
      throw TokenizerError(label + ": model type \"" + type + "\" is not supported (only BPE)");
    if (!model.contains("vocab") || !model["vocab"].is_object())
      throw TokenizerError(label + ": model.vocab is missing or not an object");
    for (const auto& [token, id] : model["vocab"].items()) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
        throw TokenizerError(label + ": model.vocab entry \"" + token + "\" has no valid id");
      vocab_.emplace(token, id.get<int>());
    }
    unk_token_ = model.contains("unk_token") && model["unk_token"].is_string()
                     ? std::optional<std::string>(model["unk_token"].get<std::string>())
                     : std::nullopt;
    prefix_ = text_field(model, "continuing_subword_prefix", "");
    suffix_ = text_field(model, "end_of_word_suffix", "");
    fuse_unk_ = flag(model, "fuse_unk", false);
    byte_fallback_ = flag(model, "byte_fallback", false);
    ignore_merges_ = flag(model, "ignore_merges", false);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      auto it = vocab_.find(std::string_view(name));
      byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
    }
    parse_merges(model.contains("merges") ? model["merges"] : json::array());
  }

  const StringIdMap& vocab() const { return vocab_; }

  void encode_word(std::string_view word, std::vector<int>& out) const {
    if (ignore_merges_) {
      if (auto it = vocab_.find(word); it != vocab_.end()) {
        out.push_back(it->second);
        return;
      }
    }
    const bool cacheable = word.size() <= 64;
    if (cacheable) {
      std::lock_guard lock(cache_mutex_);
      if (auto it = cache_.find(word); it != cache_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<int> ids = merge_word(word);
    out.insert(out.end(), ids.begin(), ids.end());
    if (cacheable) {
      std::lock_guard lock(cache_mutex_);
      if (cache_.size() >= kCacheLimit) cache_.clear();
      cache_.emplace(std::string(word), std::move(ids));
    }
  }

 private:
  static constexpr size_t kCacheLimit = 1 << 16;

  void parse_merges(const json& merges) {
    if (!merges.is_array()) throw TokenizerError(label_ + ": model.merges is not a list");
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const json& m = merges[rank];
      std::string left, right;
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const size_t space = s.find(' ');
        if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
          throw TokenizerError(label_ + ": merge " + std::to_string(rank + 1) + " \"" + s +
                               "\" is not two tokens separated by one space");
        left = s.substr(0, space);
        right = s.substr(space + 1);
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        left = m[0].get<std::string>();
        right = m[1].get<std::string>();
      } else {
        throw TokenizerError(label_ + ": merge " + std::to_string(rank + 1) +
                             " is neither \"a b\" nor [\"a\", \"b\"]");
      }
      auto id_of = [&](const std::string& token) {
        auto it = vocab_.find(token);
        if (it == vocab_.end())
          throw TokenizerError(label_ + ": merge " + std::to_string(rank + 1) + " (\"" + left + "\" + \"" +
                               right + "\") uses \"" + token + "\", which is not in the vocabulary");
        return it->second;
      };
      std::string merged = left + (right.starts_with(prefix_) ? right.substr(prefix_.size()) : right);
      const int left_id = id_of(left);
      const int right_id = id_of(right);
      merges_.try_emplace(pair_key(left_id, right_id), static_cast<int>(rank), id_of(merged));
    }
  }

  int unk_id() const {
    if (!unk_token_) return -1;
    auto it = vocab_.find(*unk_token_);
    if (it == vocab_.end())
      throw TokenizerError(label_ + ": unk_token \"" + *unk_token_ + "\" is not in the vocabulary");
    return it->second;
  }

  struct Symbol {
    int id;
    int prev;
    int next;
    bool alive;
  };

  std::vector<int> merge_word(std::string_view word) const {
    std::vector<Symbol> symbols;
    auto add = [&symbols](int id) {
      const int n = static_cast<int>(symbols.size());
      symbols.push_back({id, n - 1, -1, true});
      if (n > 0) symbols[n - 1].next = n;
    };
    int pending_unk = -1;  // HF fuses consecutive unknowns into one when fuse_unk
    std::string unit;
    for (size_t i = 0; i < word.size();) {
      const size_t len = utf8_sequence_length(static_cast<unsigned char>(word[i]));
      const std::string_view c = word.substr(i, len);
      unit.clear();
      if (i > 0) unit += prefix_;
      unit += c;
      i += len;
      if (i >= word.size()) unit += suffix_;
      if (auto it = vocab_.find(unit); it != vocab_.end()) {
        if (pending_unk >= 0) add(pending_unk);
        pending_unk = -1;
        add(it->second);
        continue;
      }
      if (byte_fallback_ && std::all_of(c.begin(), c.end(), [&](char b) {
            return byte_ids_[static_cast<unsigned char>(b)] >= 0;
          })) {
        for (char b : c) add(byte_ids_[static_cast<unsigned char>(b)]);
        continue;
      }
      if (!unk_token_) continue;  // HF drops characters it cannot represent when there is no unk token
      const int unk = unk_id();
      if (pending_unk >= 0 && !fuse_unk_) add(pending_unk);
      pending_unk = unk;
    }
    if (pending_unk >= 0) add(pending_unk);

    struct Candidate {
      int rank;
      int pos;
      int new_id;
      bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
    auto consider = [&](int pos) {
      const int next = symbols[pos].next;
      if (next < 0) return;
      if (auto it = merges_.find(pair_key(symbols[pos].id, symbols[next].id)); it != merges_.end())
        queue.push({it->second.first, pos, it->second.second});
    };
    for (int pos = 0; pos + 1 < static_cast<int>(symbols.size()); ++pos) consider(pos);
    while (!queue.empty()) {
      const Candidate top = queue.top();
      queue.pop();
      Symbol& left = symbols[top.pos];
      if (!left.alive || left.next < 0) continue;
      Symbol& right = symbols[left.next];
      auto it = merges_.find(pair_key(left.id, right.id));
      if (it == merges_.end() || it->second.second != top.new_id) continue;
      left.id = top.new_id;
      right.alive = false;
      left.next = right.next;
      if (left.next >= 0) symbols[left.next].prev = top.pos;
      if (left.prev >= 0) consider(left.prev);
      consider(top.pos);
    }
    std::vector<int> ids;
    for (const Symbol& s : symbols)
      if (s.alive) ids.push_back(s.id);
    return ids;
  }

  std::string label_;
  StringIdMap vocab_;
  std::unordered_map<uint64_t, std::pair<int, int>> merges_;  // (left, right) -> (rank, merged id)
  std::optional<std::string> unk_token_;
  std::string prefix_;
  std::string suffix_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  std::array<int, 256> byte_ids_{};
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int>, StringHash, std::equal_to<>> cache_;
};

}  // namespace

struct BpeTokenizer::Impl {
  std::string label;
  std::vector<NormStep> normalizer;
  std::vector<PreStep> pre_tokenizer;
  std::optional<BpeModel> model;
  bool has_decoder = false;
  std::vector<DecodeStep> decoder;
  std::vector<PostStep> post_processor;
  std::vector<AddedToken> added;  // never resized after the matchers point into it
  StringIdMap added_ids;
  AddedMatcher raw_added;         // normalized: false, matched on the input text
  AddedMatcher normalized_added;  // normalized: true, matched on the normalized text
  std::vector<std::string> id_to_token;
  std::vector<char> has_token;
  std::vector<char> is_special;
  std::optional<int> bos, eos, pad;

  void encode_into(std::string_view text, std::vector<int>& out) const {
    require_utf8(text, label);
    for (const Segment& seg : raw_added.split(text, 0)) {
      if (seg.id >= 0) {
        out.push_back(seg.id);
        continue;
      }
      const std::string normalized = normalize(normalizer, seg.text, label);
      for (const Segment& sub : normalized_added.split(normalized, 0)) {
        if (sub.id >= 0) {
          out.push_back(sub.id);
          continue;
        }
        std::vector<Piece> pieces{{std::string(sub.text), seg.offset == 0 && sub.offset == 0}};
        for (const PreStep& step : pre_tokenizer) pieces = pre_tokenize(step, std::move(pieces));
        for (const Piece& p : pieces) model->encode_word(p.text, out);
      }
    }
  }

  std::optional<int> token_to_id(std::string_view token) const {
    if (auto it = added_ids.find(token); it != added_ids.end()) return it->second;
    if (auto it = model->vocab().find(token); it != model->vocab().end()) return it->second;
    return std::nullopt;
  }

  const std::string& token_of(int id) const {
    if (id < 0 || id >= static_cast<int>(id_to_token.size()) || !has_token[id])
      throw TokenizerError(label + ": id " + std::to_string(id) + " outside vocabulary of " +
                           std::to_string(id_to_token.size()));
    return id_to_token[id];
  }

  std::optional<int> first_known(std::initializer_list<std::string_view> names) const {
    for (std::string_view name : names)
      if (auto id = token_to_id(name)) return id;
    return std::nullopt;
  }
};

BpeTokenizer::BpeTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BpeTokenizer::~BpeTokenizer() = default;

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_json_text(std::string_view json_text,
                                                           const std::string& label) {
  json j = parse_json_object(json_text, label);
  if (!j.contains("model"))
    throw TokenizerError(label + ": no \"model\" section (is this a tokenizer.json?)");

  auto impl = std::make_unique<Impl>();
  impl->label = label;
  try {
    impl->model.emplace(j["model"], label);
    parse_normalizer(j.value("normalizer", json()), label, impl->normalizer);
    parse_pre_tokenizer(j.value("pre_tokenizer", json()), label, impl->pre_tokenizer);
    parse_post_processor(j.value("post_processor", json()), label, impl->post_processor);
    impl->has_decoder = !j.value("decoder", json()).is_null();
    parse_decoder(j.value("decoder", json()), label, impl->decoder);
    for (const json& t : j.value("added_tokens", json::array())) {
      AddedToken token;
      token.content = t.at("content").get<std::string>();
      token.id = t.at("id").get<int>();
      if (token.id < 0)
        throw TokenizerError(label + ": added token \"" + token.content + "\" has a negative id");
      token.special = flag(t, "special", false);
      token.single_word = flag(t, "single_word", false);
      token.lstrip = flag(t, "lstrip", false);
      token.rstrip = flag(t, "rstrip", false);
      token.normalized = flag(t, "normalized", !token.special);
      impl->added.push_back(std::move(token));
    }
  } catch (const json::exception& e) {
    throw TokenizerError(label + ": unexpected tokenizer.json layout: " + e.what());
  }

  int size = 0;
  for (const auto& [token, id] : impl->model->vocab()) size = std::max(size, id + 1);
  for (const AddedToken& t : impl->added) size = std::max(size, t.id + 1);
  impl->id_to_token.resize(size);
  impl->has_token.assign(size, 0);
  impl->is_special.assign(size, 0);
  for (const auto& [token, id] : impl->model->vocab()) {
    impl->id_to_token[id] = token;
    impl->has_token[id] = 1;
  }
  for (const AddedToken& t : impl->added) {
    impl->id_to_token[t.id] = t.content;
    impl->has_token[t.id] = 1;
    impl->is_special[t.id] = t.special;
    impl->added_ids[t.content] = t.id;
    if (t.normalized) {
      impl->normalized_added.add(normalize(impl->normalizer, t.content, label), &t);
    } else {
      impl->raw_added.add(t.content, &t);
    }
  }

  // Without a tokenizer_config.json: what the post-processor adds, else well-known names.
  for (const PostStep& step : impl->post_processor) {
    if (!impl->bos && !step.prefix.empty()) impl->bos = step.prefix.front();
    if (!impl->eos && !step.suffix.empty()) impl->eos = step.suffix.back();
  }
  if (!impl->bos) impl->bos = impl->first_known({"<s>", "<|begin_of_text|>", "<bos>"});
  if (!impl->eos) impl->eos = impl->first_known({"</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>"});
  impl->pad = impl->first_known({"<pad>", "<|pad|>", "[PAD]"});
  return std::unique_ptr<BpeTokenizer>(new BpeTokenizer(std::move(impl)));
}

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_file(const std::string& tokenizer_json_path) {
  const auto text = read_text_as<TokenizerError>(tokenizer_json_path, kMaxTokenizerJsonBytes);
  auto tokenizer = from_json_text(text, tokenizer_json_path);
  const auto config = std::filesystem::path(tokenizer_json_path).parent_path() / "tokenizer_config.json";
  if (std::filesystem::exists(config)) tokenizer->apply_config(read_tokenizer_config(config.string()));
  return tokenizer;
}

void BpeTokenizer::apply_config(const TokenizerConfig& config) {
  auto resolve = [this](const std::optional<std::string>& token, const char* field) -> std::optional<int> {
    if (!token) return std::nullopt;
    auto id = impl_->token_to_id(*token);
    if (!id)
      throw TokenizerError(impl_->label + ": " + field + " \"" + *token +
                           "\" from tokenizer_config.json is neither an added token nor in the vocabulary");
    return id;
  };
  impl_->bos = resolve(config.bos_token, "bos_token");
  impl_->eos = resolve(config.eos_token, "eos_token");
  impl_->pad = resolve(config.pad_token, "pad_token");
}

std::vector<int> BpeTokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  impl_->encode_into(text, ids);
  return ids;
}

std::vector<int> BpeTokenizer::encode_with_special(std::string_view text) const {
  std::vector<int> ids = encode(text);
  for (const PostStep& step : impl_->post_processor) {
    ids.insert(ids.begin(), step.prefix.begin(), step.prefix.end());
    ids.insert(ids.end(), step.suffix.begin(), step.suffix.end());
  }
  return ids;
}

std::string BpeTokenizer::decode(std::span<const int> ids) const { return decode(ids, false); }

std::string BpeTokenizer::decode(std::span<const int> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int id : ids) {
    const std::string& token = impl_->token_of(id);
    if (!skip_special_tokens || !impl_->is_special[id]) tokens.push_back(token);
  }
  std::string text;
  if (!impl_->has_decoder) {
    for (size_t i = 0; i < tokens.size(); ++i) text += (i ? " " : "") + tokens[i];
    return text;
  }
  for (const DecodeStep& step : impl_->decoder) tokens = decode_step(step, std::move(tokens));
  for (const std::string& t : tokens) text += t;
  return text;
}

std::string BpeTokenizer::piece(int id) const { return impl_->token_of(id); }
int BpeTokenizer::vocab_size() const { return static_cast<int>(impl_->id_to_token.size()); }
std::optional<int> BpeTokenizer::bos_id() const { return impl_->bos; }
std::optional<int> BpeTokenizer::eos_id() const { return impl_->eos; }
std::optional<int> BpeTokenizer::pad_id() const { return impl_->pad; }
std::optional<int> BpeTokenizer::token_to_id(std::string_view token) const {
  return impl_->token_to_id(token);
}

}  // namespace dpo
