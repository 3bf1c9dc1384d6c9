// A small Jinja2 interpreter for chat templates: lexer -> parser (AST) -> tree-walking evaluator.
// Semantics follow Jinja 3.1 as configured by transformers (ImmutableSandboxedEnvironment with
// trim_blocks, lstrip_blocks and the loopcontrols extension); values behave like their Python
// counterparts (str(), repr(), truthiness, ==, slicing) because templates are written against those.
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/utf8.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/runtime/error.h"

namespace dpo {
namespace jinja {
namespace {

struct Pos {
  size_t line = 1;
  size_t col = 1;
};

// Thrown inside the interpreter; the innermost AST node that sees it fills in the position.
struct Error {
  std::string message;
  std::optional<Pos> pos;
};

[[noreturn]] void fail(std::string message) { throw Error{std::move(message), std::nullopt}; }
[[noreturn]] void fail_at(Pos pos, std::string message) { throw Error{std::move(message), pos}; }

// ---------------------------------------------------------------------------------------------
// Limits: a hostile template fails with one of these errors instead of exhausting the stack, the
// memory or minutes of CPU. Real chat templates stay orders of magnitude below each.

constexpr int kMaxNesting = 200;             // parser nesting, macro recursion, nested values
constexpr int kMaxRenderDepth = 600;         // evaluator recursion (macro bodies nest expressions)
constexpr int64_t kMaxIterations = 200'000;  // for-loop iterations per render
constexpr int64_t kMaxItems = 1'000'000;     // items of one list (range(), *, +, split)
constexpr size_t kMaxStringBytes = size_t{16} << 20;
constexpr size_t kMaxOutputBytes = size_t{16} << 20;
constexpr size_t kMaxWorkBytes = size_t{256} << 20;  // bytes of values created or copied per render
constexpr int kMaxNamespaces = 1000;
// A backstop behind the limits above, which name the cause. Sanitizer builds run the interpreter
// ~10x slower, where 200,000 iterations alone took longer than 10 s on a loaded machine.
#if defined(__SANITIZE_ADDRESS__)
constexpr auto kMaxRenderTime = std::chrono::seconds(100);
#else
constexpr auto kMaxRenderTime = std::chrono::seconds(10);
#endif

std::string mb(size_t bytes) { return std::to_string(bytes >> 20) + " MB"; }

// The render in progress on this thread; null while parsing.
struct Budget {
  size_t work_bytes = 0;
  int64_t iterations = 0;
  int namespaces = 0;
  uint32_t ticks = 0;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::now() + kMaxRenderTime;
};
thread_local Budget* t_budget = nullptr;

void charge(size_t bytes) {
  Budget* b = t_budget;
  if (b == nullptr) return;
  b->work_bytes += bytes;
  if (b->work_bytes > kMaxWorkBytes)
    fail("rendering created or copied more than " + mb(kMaxWorkBytes) + " of values");
  if ((++b->ticks & 1023) == 0 && std::chrono::steady_clock::now() > b->deadline) {
    fail("rendering took longer than " + std::to_string(kMaxRenderTime.count()) + " s");
  }
}

void check_string_size(size_t bytes) {
  if (bytes > kMaxStringBytes)
    fail("string longer than " + mb(kMaxStringBytes) + " (" + std::to_string(bytes) + " bytes)");
}

void check_items(uint64_t items, const std::string& what) {
  if (items > static_cast<uint64_t>(kMaxItems)) {
    fail(what + " of " + std::to_string(items) + " items is over the " + std::to_string(kMaxItems) +
         "-item limit");
  }
}

// Nesting counter for recursive descent; each step fails past kMaxNesting.
class NestingScope {
 public:
  explicit NestingScope(int& depth, int limit = kMaxNesting, const char* what = "nesting deeper than ")
      : depth_(depth), saved_(depth), limit_(limit), what_(what) {}
  NestingScope(const NestingScope&) = delete;
  NestingScope& operator=(const NestingScope&) = delete;
  ~NestingScope() { depth_ = saved_; }
  void deeper(std::optional<Pos> pos = std::nullopt) {
    if (++depth_ > limit_) throw Error{what_ + std::to_string(limit_) + " levels", pos};
  }

 private:
  int& depth_;
  int saved_;
  int limit_;
  std::string what_;
};

// ---------------------------------------------------------------------------------------------
// Values

struct Value;
using List = std::vector<Value>;
using Dict = std::vector<std::pair<std::string, Value>>;  // insertion-ordered, like a Python dict
class Renderer;
struct Args {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};
using Function = std::function<Value(Renderer&, Args&)>;

struct ValueData {
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kFunction };
  Kind kind = Kind::kUndefined;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0;
  // kString: the text. kUndefined: the error message for using it ("'x' is undefined").
  std::string str;
  std::shared_ptr<List> list;
  std::shared_ptr<Dict> dict;
  std::shared_ptr<Function> fn;
  bool is_namespace = false;  // namespace() objects: dicts whose attributes `set` may assign
  bool is_tuple = false;      // a kList that prints as (a, b): tuple literals and dict items
  int depth = 0;              // containers: 1 + the deepest item, at most kMaxNesting
};

// Copies are charged to the render's budget: strings are copied by value, so a loop that copies a
// large string could otherwise take minutes or all of memory.
struct Value : ValueData {
  Value() = default;
  Value(const Value& other) : ValueData(charged(other)) {}
  Value(Value&&) noexcept = default;
  Value& operator=(const Value& other) {
    if (this != &other) ValueData::operator=(charged(other));
    return *this;
  }
  Value& operator=(Value&&) noexcept = default;
  ~Value() = default;

  // A copy costs its text plus a token amount; a list's items are charged where the list is made.
  static constexpr size_t kCopyCost = 16;
  static const ValueData& charged(const Value& v) {
    charge(kCopyCost + v.str.size());
    return v;
  }

  bool is(Kind k) const { return kind == k; }
  bool is_number() const { return kind == Kind::kBool || kind == Kind::kInt || kind == Kind::kFloat; }
  bool is_integral() const { return kind == Kind::kBool || kind == Kind::kInt; }
  int64_t as_int() const { return kind == Kind::kBool ? (boolean ? 1 : 0) : integer; }
  double as_double() const { return kind == Kind::kFloat ? number : static_cast<double>(as_int()); }
};

Value make_undefined(std::string why) {
  Value v;
  v.str = std::move(why);
  return v;
}
Value make_none() {
  Value v;
  v.kind = Value::Kind::kNone;
  return v;
}
Value make_bool(bool b) {
  Value v;
  v.kind = Value::Kind::kBool;
  v.boolean = b;
  return v;
}
Value make_int(int64_t i) {
  Value v;
  v.kind = Value::Kind::kInt;
  v.integer = i;
  return v;
}
Value make_float(double d) {
  Value v;
  v.kind = Value::Kind::kFloat;
  v.number = d;
  return v;
}
Value make_string(std::string s) {
  charge(Value::kCopyCost + s.size());
  Value v;
  v.kind = Value::Kind::kString;
  v.str = std::move(s);
  return v;
}
int container_depth(const Value& v) {
  return v.is(Value::Kind::kList) || v.is(Value::Kind::kDict) ? v.depth : 0;
}

void set_depth(Value& v, int deepest_item) {
  v.depth = deepest_item + 1;
  if (v.depth > kMaxNesting) fail("value nested deeper than " + std::to_string(kMaxNesting) + " levels");
}

Value make_list(List items = {}) {
  check_items(items.size(), "list");
  charge(items.size() * sizeof(Value));
  int deepest = 0;
  for (const Value& item : items) deepest = std::max(deepest, container_depth(item));
  Value v;
  set_depth(v, deepest);
  v.kind = Value::Kind::kList;
  v.list = std::make_shared<List>(std::move(items));
  return v;
}
Value make_dict(Dict items = {}) {
  charge(items.size() * sizeof(Dict::value_type));
  int deepest = 0;
  for (const auto& item : items) deepest = std::max(deepest, container_depth(item.second));
  Value v;
  set_depth(v, deepest);
  v.kind = Value::Kind::kDict;
  v.dict = std::make_shared<Dict>(std::move(items));
  return v;
}
Value make_function(Function f) {
  Value v;
  v.kind = Value::Kind::kFunction;
  v.fn = std::make_shared<Function>(std::move(f));
  return v;
}

const Value* dict_find(const Dict& d, std::string_view key) {
  for (const auto& [k, v] : d) {
    if (k == key) return &v;
  }
  return nullptr;
}

void dict_set(Dict& d, const std::string& key, Value value) {
  for (auto& [k, v] : d) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  d.emplace_back(key, std::move(value));
}

std::string type_name(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined:
      return "Undefined";
    case Value::Kind::kNone:
      return "NoneType";
    case Value::Kind::kBool:
      return "bool";
    case Value::Kind::kInt:
      return "int";
    case Value::Kind::kFloat:
      return "float";
    case Value::Kind::kString:
      return "str";
    case Value::Kind::kList:
      return "list";
    case Value::Kind::kDict:
      return v.is_namespace ? "Namespace" : "dict";
    case Value::Kind::kFunction:
      return "function";
  }
  return "?";
}

// Using an undefined value for anything but printing, testing or iterating is an error in Jinja.
void require_defined(const Value& v) {
  if (v.is(Value::Kind::kUndefined)) fail(v.str.empty() ? "value is undefined" : v.str);
}

bool truthy(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return false;
    case Value::Kind::kBool:
      return v.boolean;
    case Value::Kind::kInt:
      return v.integer != 0;
    case Value::Kind::kFloat:
      return v.number != 0;
    case Value::Kind::kString:
      return !v.str.empty();
    case Value::Kind::kList:
      return !v.list->empty();
    case Value::Kind::kDict:
      return v.is_namespace || !v.dict->empty();
    case Value::Kind::kFunction:
      return true;
  }
  return false;
}

bool equals(const Value& a, const Value& b) {
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.kind != b.kind || a.is_tuple != b.is_tuple) return false;
  switch (a.kind) {
    case K::kUndefined:
    case K::kNone:
      return true;
    case K::kString:
      return a.str == b.str;
    case K::kList:
      if (a.list->size() != b.list->size()) return false;
      for (size_t i = 0; i < a.list->size(); ++i) {
        if (!equals((*a.list)[i], (*b.list)[i])) return false;
      }
      return true;
    case K::kDict:
      if (a.is_namespace || b.is_namespace) return a.dict == b.dict;
      if (a.dict->size() != b.dict->size()) return false;
      for (const auto& [k, v] : *a.dict) {
        const Value* other = dict_find(*b.dict, k);
        if (other == nullptr || !equals(v, *other)) return false;
      }
      return true;
    case K::kFunction:
      return a.fn == b.fn;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Text helpers (UTF-8 aware where Python counts code points)

constexpr std::string_view kWhitespace = " \t\n\r\f\v";

std::vector<std::string> code_points(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    n = std::min(n, s.size() - i);
    out.emplace_back(s.substr(i, n));
    i += n;
  }
  return out;
}

std::string strip(std::string_view s, std::string_view chars, bool left, bool right) {
  size_t b = 0, e = s.size();
  if (left) {
    while (b < e && chars.find(s[b]) != std::string_view::npos) ++b;
  }
  if (right) {
    while (e > b && chars.find(s[e - 1]) != std::string_view::npos) --e;
  }
  return std::string(s.substr(b, e - b));
}

char ascii_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ascii_upper);
  return s;
}
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ascii_lower);
  return s;
}
std::string capitalize(std::string s) {
  s = lower(std::move(s));
  if (!s.empty()) s[0] = ascii_upper(s[0]);
  return s;
}
// Python str.title(): a letter is upper-cased when the previous character is not a letter.
std::string py_title(std::string s) {
  bool prev_alpha = false;
  for (char& c : s) {
    c = prev_alpha ? ascii_lower(c) : ascii_upper(c);
    prev_alpha = ascii_alpha(c);
  }
  return s;
}
// Jinja's title filter: words start after whitespace or one of "-({[<".
std::string jinja_title(std::string s) {
  bool word_start = true;
  for (char& c : s) {
    bool sep = kWhitespace.find(c) != std::string_view::npos ||
               std::string_view("-({[<").find(c) != std::string_view::npos;
    c = sep ? c : (word_start ? ascii_upper(c) : ascii_lower(c));
    word_start = sep;
  }
  return s;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to, int64_t count) {
  std::string out;
  if (from.empty()) {
    auto cps = code_points(s);
    int64_t done = 0;
    for (const auto& cp : cps) {
      if (count < 0 || done < count) {
        check_string_size(out.size() + to.size());
        out += to;
        ++done;
      }
      out += cp;
    }
    if (count < 0 || done < count) out += to;
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) break;
    check_string_size(out.size() + (hit - pos) + to.size());
    out += s.substr(pos, hit - pos);
    out += to;
    pos = hit + from.size();
    ++done;
  }
  out += s.substr(pos);
  return out;
}

// Python float.__repr__: shortest round-trip digits, scientific outside 1e-4 <= |x| < 1e16.
std::string py_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  size_t e_pos = sci.find('e');
  std::string digits = sci.substr(0, e_pos);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  int exp = std::stoi(sci.substr(e_pos + 1));
  if (exp >= 16 || exp < -4) {
    std::string out = sign + digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    std::string e = std::to_string(std::abs(exp));
    if (e.size() < 2) e = "0" + e;
    return out + "e" + (exp < 0 ? "-" : "+") + e;
  }
  if (exp < 0) return sign + "0." + std::string(static_cast<size_t>(-exp) - 1, '0') + digits;
  auto int_len = static_cast<size_t>(exp) + 1;
  if (digits.size() <= int_len) return sign + digits + std::string(int_len - digits.size(), '0') + ".0";
  return sign + digits.substr(0, int_len) + "." + digits.substr(int_len);
}

std::string py_string_repr(const std::string& s) {
  char quote = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, quote);
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + quote;
}

std::string to_repr(const Value& v);

// Python str(), which is what {{ }} and the string filter print.
std::string to_str(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined:
      return "";
    case Value::Kind::kString:
      return v.str;
    default:
      return to_repr(v);
  }
}

std::string to_repr(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined:
      return "";
    case Value::Kind::kNone:
      return "None";
    case Value::Kind::kBool:
      return v.boolean ? "True" : "False";
    case Value::Kind::kInt:
      return std::to_string(v.integer);
    case Value::Kind::kFloat:
      return py_float(v.number);
    case Value::Kind::kString:
      return py_string_repr(v.str);
    case Value::Kind::kList: {
      std::string out = v.is_tuple ? "(" : "[";
      for (size_t i = 0; i < v.list->size(); ++i) {
        out += (i ? ", " : "") + to_repr((*v.list)[i]);
        check_string_size(out.size());
      }
      if (v.is_tuple && v.list->size() == 1) out += ",";
      return out + (v.is_tuple ? ")" : "]");
    }
    case Value::Kind::kDict: {
      if (v.is_namespace) return "<Namespace>";
      std::string out = "{";
      bool first = true;
      for (const auto& [k, item] : *v.dict) {
        out += (first ? "" : ", ") + py_string_repr(k) + ": " + to_repr(item);
        check_string_size(out.size());
        first = false;
      }
      return out + "}";
    }
    case Value::Kind::kFunction:
      return "<function>";
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// tojson: transformers overrides Jinja's filter with json.dumps(x, ensure_ascii=False, indent=...)

struct JsonStyle {
  std::optional<std::string> indent;  // nullopt: single line
  std::string item_sep = ", ";
  std::string key_sep = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};

void append_json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  auto cps = code_points(s);
  for (const auto& cp : cps) {
    auto c = static_cast<unsigned char>(cp[0]);
    if (cp.size() == 1) {
      switch (c) {
        case '"':
          out += "\\\"";
          continue;
        case '\\':
          out += "\\\\";
          continue;
        case '\n':
          out += "\\n";
          continue;
        case '\r':
          out += "\\r";
          continue;
        case '\t':
          out += "\\t";
          continue;
        case '\b':
          out += "\\b";
          continue;
        case '\f':
          out += "\\f";
          continue;
        default:
          break;
      }
      if (c < 0x20) {
        char buf[16];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out += buf;
      } else {
        out += cp;
      }
      continue;
    }
    if (!ensure_ascii) {
      out += cp;
      continue;
    }
    uint32_t code = cp.size() == 2 ? (c & 0x1F) : cp.size() == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t i = 1; i < cp.size(); ++i) code = (code << 6) | (static_cast<unsigned char>(cp[i]) & 0x3F);
    auto emit = [&out](uint32_t unit) {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "\\u%04x", unit);
      out += buf;
    };
    if (code >= 0x10000) {
      code -= 0x10000;
      emit(0xD800 + (code >> 10));
      emit(0xDC00 + (code & 0x3FF));
    } else {
      emit(code);
    }
  }
  out += '"';
}

void append_json(std::string& out, const Value& v, const JsonStyle& style, int level) {
  check_string_size(out.size());
  auto newline = [&](int lvl) {
    check_string_size(out.size() + static_cast<size_t>(lvl) * style.indent->size());
    out += '\n';
    for (int i = 0; i < lvl; ++i) out += *style.indent;
  };
  switch (v.kind) {
    case Value::Kind::kNone:
      out += "null";
      return;
    case Value::Kind::kBool:
      out += v.boolean ? "true" : "false";
      return;
    case Value::Kind::kInt:
      out += std::to_string(v.integer);
      return;
    case Value::Kind::kFloat:
      if (std::isnan(v.number))
        out += "NaN";
      else if (std::isinf(v.number))
        out += v.number < 0 ? "-Infinity" : "Infinity";
      else
        out += py_float(v.number);
      return;
    case Value::Kind::kString:
      append_json_string(out, v.str, style.ensure_ascii);
      return;
    case Value::Kind::kList: {
      if (v.list->empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < v.list->size(); ++i) {
        if (i) out += style.item_sep;
        if (style.indent) newline(level + 1);
        append_json(out, (*v.list)[i], style, level + 1);
      }
      if (style.indent) newline(level);
      out += ']';
      return;
    }
    case Value::Kind::kDict: {
      if (v.is_namespace) break;
      if (v.dict->empty()) {
        out += "{}";
        return;
      }
      Dict items = *v.dict;
      if (style.sort_keys) {
        std::stable_sort(items.begin(), items.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
      }
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += style.item_sep;
        if (style.indent) newline(level + 1);
        append_json_string(out, items[i].first, style.ensure_ascii);
        out += style.key_sep;
        append_json(out, items[i].second, style, level + 1);
      }
      if (style.indent) newline(level);
      out += '}';
      return;
    }
    default:
      break;
  }
  fail("Object of type " + type_name(v) + " is not JSON serializable");
}

// ---------------------------------------------------------------------------------------------
// Lexer

enum class Tok { kText, kVarBegin, kVarEnd, kBlockBegin, kBlockEnd, kName, kString, kInt, kFloat, kOp, kEof };

struct Token {
  Tok type;
  std::string text;  // kText: the text; kString: the decoded literal; kName/kOp/numbers: as written
  Pos pos;
};

std::string describe(const Token& t) {
  switch (t.type) {
    case Tok::kText:
      return "template text";
    case Tok::kVarBegin:
      return "'{{'";
    case Tok::kVarEnd:
      return "'}}'";
    case Tok::kBlockBegin:
      return "'{%'";
    case Tok::kBlockEnd:
      return "'%}'";
    case Tok::kString:
      return "string literal";
    case Tok::kEof:
      return "end of template";
    default:
      return "'" + t.text + "'";
  }
}

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      size_t tag = find_tag(pos_);
      std::string text = src_.substr(pos_, tag - pos_);
      bool text_at_line_start = pos_ == 0 || src_[pos_ - 1] == '\n';
      size_t text_start = pos_;
      if (tag == src_.size()) {
        emit_text(std::move(text), text_start);
        pos_ = tag;
        break;
      }
      char kind = src_[tag + 1];  // '{', '%' or '#'
      char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      if (sign == '-') {
        text = strip(text, kWhitespace, false, true);
      } else if (sign != '+' && kind != '{') {
        // lstrip_blocks: drop the indentation before a block or comment that starts its line.
        size_t line_begin = text.rfind('\n');
        line_begin = line_begin == std::string::npos ? 0 : line_begin + 1;
        bool only_space =
            line_begin < text.size() && text.find_first_not_of(" \t\r\f\v", line_begin) == std::string::npos;
        if ((line_begin > 0 || text_at_line_start) && only_space) text.resize(line_begin);
      }
      emit_text(std::move(text), text_start);
      pos_ = tag + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
      if (kind == '#') {
        lex_comment(tag);
      } else if (kind == '%' && lex_raw(tag)) {
        continue;
      } else {
        lex_tag(kind == '{' ? Tok::kVarBegin : Tok::kBlockBegin, tag);
      }
    }
    tokens_.push_back({Tok::kEof, "", pos_of(src_.size())});
    return std::move(tokens_);
  }

 private:
  Pos pos_of(size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line = static_cast<size_t>(it - line_starts_.begin());
    return {line, offset - line_starts_[line - 1] + 1};
  }

  size_t find_tag(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i) {
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return src_.size();
  }

  void emit_text(std::string text, size_t offset) {
    if (!text.empty()) tokens_.push_back({Tok::kText, std::move(text), pos_of(offset)});
  }

  // After a closing '%}' / '#}' / '}}': '-' eats all following whitespace; trim_blocks eats one
  // newline after blocks and comments unless the tag ended with '+'.
  void after_tag_end(char sign, bool is_block) {
    if (sign == '-') {
      while (pos_ < src_.size() && kWhitespace.find(src_[pos_]) != std::string_view::npos) ++pos_;
    } else if (sign != '+' && is_block && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
    }
  }

  void lex_comment(size_t tag) {
    size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) fail_at(pos_of(tag), "unclosed comment (missing '#}')");
    char sign = end > pos_ ? src_[end - 1] : '\0';
    pos_ = end + 2;
    after_tag_end(sign, true);
  }

  // Returns true after consuming "{% raw %}...{% endraw %}" as text.
  bool lex_raw(size_t tag) {
    auto word_tag = [&](size_t p, std::string_view word, size_t* end, char* close_sign) {
      while (p < src_.size() && kWhitespace.find(src_[p]) != std::string_view::npos) ++p;
      if (src_.compare(p, word.size(), word) != 0) return false;
      p += word.size();
      while (p < src_.size() && kWhitespace.find(src_[p]) != std::string_view::npos) ++p;
      *close_sign = '\0';
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) *close_sign = src_[p++];
      if (src_.compare(p, 2, "%}") != 0) return false;
      *end = p + 2;
      return true;
    };
    size_t end = 0;
    char sign = '\0';
    if (!word_tag(pos_, "raw", &end, &sign)) return false;
    pos_ = end;
    if (sign == '-') after_tag_end('-', true);
    size_t body_start = pos_;
    for (size_t p = src_.find("{%", pos_); p != std::string::npos; p = src_.find("{%", p + 2)) {
      size_t inner = p + 2;
      char open_sign = inner < src_.size() ? src_[inner] : '\0';
      if (open_sign == '-' || open_sign == '+') ++inner;
      if (!word_tag(inner, "endraw", &end, &sign)) continue;
      std::string body = src_.substr(body_start, p - body_start);
      if (open_sign == '-') body = strip(body, kWhitespace, false, true);
      emit_text(std::move(body), body_start);
      pos_ = end;
      after_tag_end(sign, true);
      return true;
    }
    fail_at(pos_of(tag), "unclosed 'raw' block (missing '{% endraw %}')");
  }

  void lex_tag(Tok begin, size_t tag) {
    tokens_.push_back({begin, begin == Tok::kVarBegin ? "{{" : "{%", pos_of(tag)});
    const std::string_view close = begin == Tok::kVarBegin ? "}}" : "%}";
    std::string open_brackets;  // end markers only count outside brackets, as in Jinja's lexer
    while (true) {
      while (pos_ < src_.size() && kWhitespace.find(src_[pos_]) != std::string_view::npos) ++pos_;
      if (pos_ >= src_.size()) {
        fail_at(pos_of(tag), std::string("unclosed tag (missing '") + std::string(close) + "')");
      }
      if (open_brackets.empty()) {
        char sign =
            (src_[pos_] == '-' || (src_[pos_] == '+' && begin == Tok::kBlockBegin)) ? src_[pos_] : '\0';
        size_t at = pos_ + (sign ? 1 : 0);
        if (src_.compare(at, 2, close) == 0) {
          tokens_.push_back(
              {begin == Tok::kVarBegin ? Tok::kVarEnd : Tok::kBlockEnd, std::string(close), pos_of(pos_)});
          pos_ = at + 2;
          after_tag_end(sign, begin == Tok::kBlockBegin);
          return;
        }
      }
      lex_expression_token(&open_brackets);
    }
  }

  void lex_expression_token(std::string* open_brackets) {
    size_t start = pos_;
    char c = src_[pos_];
    Pos pos = pos_of(start);
    if (ascii_alpha(c) || c == '_') {
      while (pos_ < src_.size() &&
             (ascii_alpha(src_[pos_]) || std::isdigit(static_cast<unsigned char>(src_[pos_])) ||
              src_[pos_] == '_')) {
        ++pos_;
      }
      tokens_.push_back({Tok::kName, src_.substr(start, pos_ - start), pos});
      return;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      lex_number(pos);
      return;
    }
    if (c == '\'' || c == '"') {
      lex_string(pos);
      return;
    }
    static const std::vector<std::string_view> kOps = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*",
                                                       "/",  "%",  "~",  "<",  ">",  "=",  "(", ")", "[",
                                                       "]",  "{",  "}",  ",",  ".",  ":",  "|"};
    for (std::string_view op : kOps) {
      if (src_.compare(pos_, op.size(), op) != 0) continue;
      if (op == "(" || op == "[" || op == "{") *open_brackets += op == "(" ? ')' : op == "[" ? ']' : '}';
      if (op == ")" || op == "]" || op == "}") {
        if (open_brackets->empty()) fail_at(pos, "unexpected '" + std::string(op) + "'");
        if (open_brackets->back() != op[0]) {
          fail_at(pos, "unexpected '" + std::string(op) + "', expected '" + open_brackets->back() + "'");
        }
        open_brackets->pop_back();
      }
      pos_ += op.size();
      tokens_.push_back({Tok::kOp, std::string(op), pos});
      return;
    }
    fail_at(pos, std::string("unexpected character '") + c + "'");
  }

  void lex_number(Pos pos) {
    auto digits = [&] {
      while (pos_ < src_.size() &&
             (std::isdigit(static_cast<unsigned char>(src_[pos_])) || src_[pos_] == '_'))
        ++pos_;
    };
    size_t start = pos_;
    digits();
    bool is_float = false;
    if (pos_ + 1 < src_.size() && src_[pos_] == '.' &&
        std::isdigit(static_cast<unsigned char>(src_[pos_ + 1]))) {
      is_float = true;
      ++pos_;
      digits();
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      if (p < src_.size() && std::isdigit(static_cast<unsigned char>(src_[p]))) {
        is_float = true;
        pos_ = p;
        digits();
      }
    }
    std::string text = src_.substr(start, pos_ - start);
    text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
    tokens_.push_back({is_float ? Tok::kFloat : Tok::kInt, text, pos});
  }

  // Jinja decodes string literals with Python's unicode-escape rules.
  void lex_string(Pos pos) {
    char quote = src_[pos_++];
    std::string value;
    while (true) {
      if (pos_ >= src_.size()) fail_at(pos, "unterminated string literal");
      char c = src_[pos_++];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        continue;
      }
      if (pos_ >= src_.size()) fail_at(pos, "unterminated string literal");
      char e = src_[pos_++];
      auto hex = [&](size_t n) {
        if (pos_ + n > src_.size()) fail_at(pos, "truncated escape in string literal");
        uint32_t cp = 0;
        for (size_t i = 0; i < n; ++i) {
          char h = src_[pos_++];
          if (!std::isxdigit(static_cast<unsigned char>(h))) fail_at(pos, "invalid escape in string literal");
          cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                   ? h - '0'
                                                   : ascii_lower(h) - 'a' + 10);
        }
        append_utf8(value, cp);
      };
      switch (e) {
        case 'n':
          value += '\n';
          break;
        case 't':
          value += '\t';
          break;
        case 'r':
          value += '\r';
          break;
        case 'a':
          value += '\a';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'v':
          value += '\v';
          break;
        case '\\':
          value += '\\';
          break;
        case '\'':
          value += '\'';
          break;
        case '"':
          value += '"';
          break;
        case '\n':
          break;  // line continuation
        case 'x':
          hex(2);
          break;
        case 'u':
          hex(4);
          break;
        case 'U':
          hex(8);
          break;
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int i = 0; i < 2 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7'; ++i) {
              cp = cp * 8 + static_cast<uint32_t>(src_[pos_++] - '0');
            }
            append_utf8(value, cp);
          } else {
            value += '\\';
            value += e;
          }
      }
    }
    tokens_.push_back({Tok::kString, std::move(value), pos});
  }

  std::string src_;
  size_t pos_ = 0;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
};

// ---------------------------------------------------------------------------------------------
// AST

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,
    kName,
    kList,
    kTuple,
    kDict,
    kGetAttr,
    kGetItem,
    kSlice,
    kCall,
    kFilter,
    kTest,
    kUnary,
    kBinary,
    kAnd,
    kOr,
    kCompare,
    kCondExpr
  };
  Kind kind;
  Pos pos;
  Value literal;               // kLiteral
  std::string name;            // kName, attribute, filter, test, or operator
  ExprPtr a, b, c;             // operands: object/callee/left, right/index, else-branch
  std::vector<ExprPtr> items;  // elements, call arguments, slice bounds, compare operands
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;  // kCompare: one operator per item
  bool negated = false;          // kTest: "is not"
};

ExprPtr make_expr(Expr::Kind kind, Pos pos) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->pos = pos;
  return e;
}

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct Stmt {
  enum class Kind { kText, kOutput, kIf, kFor, kSet, kSetBlock, kMacro, kBreak, kContinue, kGeneration };
  Kind kind;
  Pos pos;
  std::string text;                                     // kText
  ExprPtr expr;                                         // output, set value, for iterable
  std::vector<std::pair<ExprPtr, Body>> branches;       // kIf: (condition, body) per if/elif
  Body body;                                            // for/macro/set-block/generation body
  Body else_body;                                       // if/for else
  std::vector<std::string> targets;                     // for/set names
  std::string attribute;                                // set ns.attribute
  ExprPtr filter;                                       // for ... if filter
  std::string name;                                     // macro name
  std::vector<std::pair<std::string, ExprPtr>> params;  // macro parameters with defaults
};

}  // namespace

struct Template {
  Body body;
};

namespace {

// ---------------------------------------------------------------------------------------------
// Parser

const std::set<std::string, std::less<>> kFilters = {
    "abs",     "capitalize", "count",  "d",      "default",    "dictsort", "e",          "escape",
    "first",   "float",      "indent", "int",    "items",      "join",     "last",       "length",
    "list",    "lower",      "map",    "max",    "min",        "reject",   "rejectattr", "replace",
    "reverse", "round",      "safe",   "select", "selectattr", "sort",     "string",     "sum",
    "title",   "tojson",     "trim",   "unique", "upper",      "wordcount"};

const std::set<std::string, std::less<>> kTests = {
    "boolean", "callable", "defined",  "divisibleby", "eq",   "equalto",   "even",
    "false",   "float",    "ge",       "gt",          "in",   "integer",   "iterable",
    "le",      "lower",    "lt",       "mapping",     "ne",   "none",      "number",
    "odd",     "sameas",   "sequence", "string",      "true", "undefined", "upper"};

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Body parse_template() {
    Body body;
    parse_body(&body, {}, "", {});
    return body;
  }

 private:
  const Token& peek(size_t k = 0) const { return tokens_[std::min(pos_ + k, tokens_.size() - 1)]; }
  Token next() {
    Token t = peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  bool at_op(std::string_view op, size_t k = 0) const {
    return peek(k).type == Tok::kOp && peek(k).text == op;
  }
  bool at_name(std::string_view name, size_t k = 0) const {
    return peek(k).type == Tok::kName && peek(k).text == name;
  }
  bool accept_op(std::string_view op) {
    if (!at_op(op)) return false;
    next();
    return true;
  }
  bool accept_name(std::string_view name) {
    if (!at_name(name)) return false;
    next();
    return true;
  }
  [[noreturn]] void unexpected(const std::string& wanted) const {
    fail_at(peek().pos, "expected " + wanted + ", got " + describe(peek()));
  }
  void expect_op(std::string_view op) {
    if (!accept_op(op)) unexpected("'" + std::string(op) + "'");
  }
  std::string expect_name() {
    if (peek().type != Tok::kName) unexpected("a name");
    return next().text;
  }
  void expect_block_end(const std::string& after) {
    if (peek().type != Tok::kBlockEnd)
      fail_at(peek().pos, "expected '%}' after " + after + ", got " + describe(peek()));
    next();
  }

  // Parses statements until one of end_tags opens a block; returns that tag (its name is consumed,
  // the rest of the tag is the caller's). At top level (no end_tags) it stops at the end of input.
  std::string parse_body(Body* body, const std::vector<std::string>& end_tags, const std::string& opener,
                         Pos opener_pos) {
    while (true) {
      const Token& t = peek();
      switch (t.type) {
        case Tok::kEof:
          if (end_tags.empty()) return "";
          fail_at(opener_pos, "'" + opener + "' block is never closed (expected '" + end_tags.back() + "')");
        case Tok::kText: {
          auto s = std::make_unique<Stmt>();
          s->kind = Stmt::Kind::kText;
          s->pos = t.pos;
          s->text = next().text;
          body->push_back(std::move(s));
          break;
        }
        case Tok::kVarBegin: {
          auto s = std::make_unique<Stmt>();
          s->kind = Stmt::Kind::kOutput;
          s->pos = next().pos;
          s->expr = parse_tuple_or_expression();
          if (peek().type != Tok::kVarEnd) unexpected("'}}'");
          next();
          body->push_back(std::move(s));
          break;
        }
        case Tok::kBlockBegin: {
          next();
          if (peek().type != Tok::kName) unexpected("a tag name");
          const Token& tag = peek();
          if (std::find(end_tags.begin(), end_tags.end(), tag.text) != end_tags.end()) return next().text;
          body->push_back(parse_statement());
          break;
        }
        default:
          unexpected("template text or a tag");
      }
    }
  }

  std::unique_ptr<Stmt> parse_statement() {
    NestingScope nest(depth_);
    nest.deeper(peek().pos);
    Token tag = next();
    auto s = std::make_unique<Stmt>();
    s->pos = tag.pos;
    if (tag.text == "if") {
      parse_if(s.get());
    } else if (tag.text == "for") {
      parse_for(s.get());
    } else if (tag.text == "set") {
      parse_set(s.get());
    } else if (tag.text == "macro") {
      parse_macro(s.get());
    } else if (tag.text == "break" || tag.text == "continue") {
      if (loop_depth_ == 0) fail_at(tag.pos, "'" + tag.text + "' outside of a loop");
      s->kind = tag.text == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue;
      expect_block_end("'" + tag.text + "'");
    } else if (tag.text == "generation") {
      // transformers' AssistantTracker marks assistant spans; for rendering it is a plain block.
      s->kind = Stmt::Kind::kGeneration;
      expect_block_end("'generation'");
      parse_body(&s->body, {"endgeneration"}, "generation", tag.pos);
      expect_block_end("'endgeneration'");
    } else if (tag.text.rfind("end", 0) == 0 || tag.text == "elif" || tag.text == "else") {
      fail_at(tag.pos, "unexpected '" + tag.text + "' (no open block it could close)");
    } else {
      fail_at(tag.pos, "unknown or unsupported tag '" + tag.text + "'");
    }
    return s;
  }

  void parse_if(Stmt* s) {
    s->kind = Stmt::Kind::kIf;
    ExprPtr cond = parse_expression();
    expect_block_end("the 'if' condition");
    while (true) {
      Body body;
      std::string end = parse_body(&body, {"elif", "else", "endif"}, "if", s->pos);
      s->branches.emplace_back(std::move(cond), std::move(body));
      if (end == "elif") {
        cond = parse_expression();
        expect_block_end("the 'elif' condition");
        continue;
      }
      expect_block_end("'" + end + "'");
      if (end == "else") {
        parse_body(&s->else_body, {"endif"}, "if", s->pos);
        expect_block_end("'endif'");
      }
      return;
    }
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    bool paren = accept_op("(");
    do {
      names.push_back(expect_name());
    } while (accept_op(","));
    if (paren) expect_op(")");
    return names;
  }

  void parse_for(Stmt* s) {
    s->kind = Stmt::Kind::kFor;
    s->targets = parse_targets();
    if (!accept_name("in")) unexpected("'in'");
    s->expr = parse_or();  // no ternary here: a trailing 'if' filters the loop
    if (accept_name("if")) s->filter = parse_expression();
    if (at_name("recursive")) fail_at(peek().pos, "recursive loops are not supported");
    expect_block_end("the 'for' header");
    ++loop_depth_;
    std::string end = parse_body(&s->body, {"else", "endfor"}, "for", s->pos);
    --loop_depth_;
    expect_block_end("'" + end + "'");
    if (end == "else") {
      parse_body(&s->else_body, {"endfor"}, "for", s->pos);
      expect_block_end("'endfor'");
    }
  }

  void parse_set(Stmt* s) {
    s->kind = Stmt::Kind::kSet;
    s->targets.push_back(expect_name());
    if (accept_op(".")) {
      s->attribute = expect_name();
    } else {
      while (accept_op(",")) s->targets.push_back(expect_name());
    }
    if (accept_op("=")) {
      s->expr = parse_tuple_or_expression();
      expect_block_end("the 'set' value");
      return;
    }
    if (peek().type != Tok::kBlockEnd || s->targets.size() != 1 || !s->attribute.empty()) unexpected("'='");
    next();
    s->kind = Stmt::Kind::kSetBlock;
    parse_body(&s->body, {"endset"}, "set", s->pos);
    expect_block_end("'endset'");
  }

  void parse_macro(Stmt* s) {
    s->kind = Stmt::Kind::kMacro;
    s->name = expect_name();
    expect_op("(");
    while (!accept_op(")")) {
      std::string param = expect_name();
      ExprPtr def;
      if (accept_op("=")) def = parse_expression();
      s->params.emplace_back(std::move(param), std::move(def));
      if (!at_op(")")) expect_op(",");
    }
    expect_block_end("the macro signature");
    int saved_depth = loop_depth_;
    loop_depth_ = 0;
    parse_body(&s->body, {"endmacro"}, "macro", s->pos);
    loop_depth_ = saved_depth;
    if (peek().type == Tok::kName) next();  // {% endmacro name %}
    expect_block_end("'endmacro'");
  }

  // Expressions, loosest binding first (same precedence as Jinja's parser).

  ExprPtr parse_tuple_or_expression() {
    Pos pos = peek().pos;
    ExprPtr first = parse_expression();
    if (!at_op(",")) return first;
    auto tuple = make_expr(Expr::Kind::kTuple, pos);
    tuple->items.push_back(std::move(first));
    while (accept_op(",")) {
      if (peek().type == Tok::kVarEnd || peek().type == Tok::kBlockEnd) break;
      tuple->items.push_back(parse_expression());
    }
    return tuple;
  }

  // Every recursion and every link of a left-nested chain (a + b + c, x.y.z, x|f|g) is one level:
  // that bounds both the parser's recursion and the height of the tree the evaluator walks.
  ExprPtr parse_expression() {
    NestingScope nest(depth_);
    nest.deeper(peek().pos);
    ExprPtr expr = parse_or();
    while (at_name("if")) {
      nest.deeper(peek().pos);
      auto cond = make_expr(Expr::Kind::kCondExpr, next().pos);
      cond->a = parse_or();
      cond->b = std::move(expr);
      if (accept_name("else")) cond->c = parse_expression();
      expr = std::move(cond);
    }
    return expr;
  }

  ExprPtr parse_or() {
    NestingScope nest(depth_);
    ExprPtr left = parse_and();
    while (at_name("or")) {
      nest.deeper(peek().pos);
      auto e = make_expr(Expr::Kind::kOr, next().pos);
      e->a = std::move(left);
      e->b = parse_and();
      left = std::move(e);
    }
    return left;
  }

  ExprPtr parse_and() {
    NestingScope nest(depth_);
    ExprPtr left = parse_not();
    while (at_name("and")) {
      nest.deeper(peek().pos);
      auto e = make_expr(Expr::Kind::kAnd, next().pos);
      e->a = std::move(left);
      e->b = parse_not();
      left = std::move(e);
    }
    return left;
  }

  ExprPtr parse_not() {
    NestingScope nest(depth_);
    if (at_name("not")) {
      nest.deeper(peek().pos);
      auto e = make_expr(Expr::Kind::kUnary, next().pos);
      e->name = "not";
      e->a = parse_not();
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    Pos pos = peek().pos;
    ExprPtr first = parse_math1();
    std::unique_ptr<Expr> cmp;
    while (true) {
      std::string op;
      if (peek().type == Tok::kOp && (peek().text == "==" || peek().text == "!=" || peek().text == "<" ||
                                      peek().text == "<=" || peek().text == ">" || peek().text == ">=")) {
        op = next().text;
      } else if (at_name("in")) {
        next();
        op = "in";
      } else if (at_name("not") && at_name("in", 1)) {
        next();
        next();
        op = "not in";
      } else {
        break;
      }
      if (!cmp) {
        cmp = make_expr(Expr::Kind::kCompare, pos);
        cmp->a = std::move(first);
      }
      cmp->ops.push_back(op);
      cmp->items.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  ExprPtr binary(std::string op, Pos pos, ExprPtr left, ExprPtr right) {
    auto e = make_expr(Expr::Kind::kBinary, pos);
    e->name = std::move(op);
    e->a = std::move(left);
    e->b = std::move(right);
    return e;
  }

  ExprPtr parse_math1() {
    NestingScope nest(depth_);
    ExprPtr left = parse_concat();
    while (at_op("+") || at_op("-")) {
      nest.deeper(peek().pos);
      Token op = next();
      left = binary(op.text, op.pos, std::move(left), parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    NestingScope nest(depth_);
    ExprPtr left = parse_math2();
    while (at_op("~")) {
      nest.deeper(peek().pos);
      Token op = next();
      left = binary(op.text, op.pos, std::move(left), parse_math2());
    }
    return left;
  }

  ExprPtr parse_math2() {
    NestingScope nest(depth_);
    ExprPtr left = parse_pow();
    while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
      nest.deeper(peek().pos);
      Token op = next();
      left = binary(op.text, op.pos, std::move(left), parse_pow());
    }
    return left;
  }

  ExprPtr parse_pow() {
    NestingScope nest(depth_);
    ExprPtr left = parse_unary(true);
    while (at_op("**")) {
      nest.deeper(peek().pos);
      Token op = next();
      left = binary(op.text, op.pos, std::move(left), parse_unary(true));
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    NestingScope nest(depth_);
    ExprPtr node;
    if (at_op("-") || at_op("+")) {
      nest.deeper(peek().pos);
      Token op = next();
      node = make_expr(Expr::Kind::kUnary, op.pos);
      node->name = op.text;
      node->a = parse_unary(false);
    } else {
      node = parse_postfix(parse_primary());
    }
    return with_filter ? parse_filters_and_tests(std::move(node)) : std::move(node);
  }

  ExprPtr parse_primary() {
    const Token& t = peek();
    switch (t.type) {
      case Tok::kName: {
        Token name = next();
        if (name.text == "true" || name.text == "True") return literal(make_bool(true), name.pos);
        if (name.text == "false" || name.text == "False") return literal(make_bool(false), name.pos);
        if (name.text == "none" || name.text == "None") return literal(make_none(), name.pos);
        auto e = make_expr(Expr::Kind::kName, name.pos);
        e->name = name.text;
        return e;
      }
      case Tok::kString: {
        Token s = next();
        std::string text = s.text;
        while (peek().type == Tok::kString) text += next().text;  // adjacent literals concatenate
        return literal(make_string(std::move(text)), s.pos);
      }
      case Tok::kInt: {
        Token n = next();
        int64_t v = 0;
        auto res = std::from_chars(n.text.data(), n.text.data() + n.text.size(), v);
        if (res.ec != std::errc()) fail_at(n.pos, "integer literal out of range");
        return literal(make_int(v), n.pos);
      }
      case Tok::kFloat: {
        Token n = next();
        return literal(make_float(std::strtod(n.text.c_str(), nullptr)), n.pos);
      }
      case Tok::kOp:
        break;
      default:
        unexpected("an expression");
    }
    Pos pos = t.pos;
    if (accept_op("(")) {
      if (accept_op(")")) return make_expr(Expr::Kind::kTuple, pos);
      ExprPtr inner = parse_expression();
      if (!at_op(",")) {
        expect_op(")");
        return inner;
      }
      auto tuple = make_expr(Expr::Kind::kTuple, pos);
      tuple->items.push_back(std::move(inner));
      while (accept_op(",") && !at_op(")")) tuple->items.push_back(parse_expression());
      expect_op(")");
      return tuple;
    }
    if (accept_op("[")) {
      auto list = make_expr(Expr::Kind::kList, pos);
      while (!accept_op("]")) {
        list->items.push_back(parse_expression());
        if (!at_op("]")) expect_op(",");
      }
      return list;
    }
    if (accept_op("{")) {
      auto dict = make_expr(Expr::Kind::kDict, pos);
      while (!accept_op("}")) {
        dict->items.push_back(parse_expression());
        expect_op(":");
        dict->items.push_back(parse_expression());
        if (!at_op("}")) expect_op(",");
      }
      return dict;
    }
    unexpected("an expression");
  }

  ExprPtr literal(Value v, Pos pos) {
    auto e = make_expr(Expr::Kind::kLiteral, pos);
    e->literal = std::move(v);
    return e;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    NestingScope nest(depth_);
    while (true) {
      if (at_op(".") || at_op("[") || at_op("(")) nest.deeper(peek().pos);
      if (at_op(".")) {
        Pos pos = next().pos;
        auto e = make_expr(Expr::Kind::kGetAttr, pos);
        if (peek().type == Tok::kInt) {  // x.0 is x[0] in Jinja
          e->kind = Expr::Kind::kGetItem;
          Token n = next();
          int64_t index = 0;
          auto res = std::from_chars(n.text.data(), n.text.data() + n.text.size(), index);
          if (res.ec != std::errc()) fail_at(n.pos, "integer literal out of range");
          e->b = literal(make_int(index), pos);
        } else {
          e->name = expect_name();
        }
        e->a = std::move(node);
        node = std::move(e);
      } else if (at_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (at_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    Pos pos = next().pos;
    ExprPtr start, stop, step;
    if (!at_op(":")) start = parse_expression();
    if (!accept_op(":")) {
      expect_op("]");
      auto e = make_expr(Expr::Kind::kGetItem, pos);
      e->a = std::move(node);
      e->b = std::move(start);
      return e;
    }
    if (!at_op("]") && !at_op(":")) stop = parse_expression();
    if (accept_op(":") && !at_op("]")) step = parse_expression();
    expect_op("]");
    auto e = make_expr(Expr::Kind::kSlice, pos);
    e->a = std::move(node);
    e->items.push_back(std::move(start));
    e->items.push_back(std::move(stop));
    e->items.push_back(std::move(step));
    return e;
  }

  void parse_args(Expr* call) {
    expect_op("(");
    while (!accept_op(")")) {
      if (peek().type == Tok::kName && at_op("=", 1)) {
        std::string key = next().text;
        next();
        call->kwargs.emplace_back(std::move(key), parse_expression());
      } else {
        if (!call->kwargs.empty()) fail_at(peek().pos, "positional argument follows keyword argument");
        call->items.push_back(parse_expression());
      }
      if (!at_op(")")) expect_op(",");
    }
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto e = make_expr(Expr::Kind::kCall, callee->pos);
    e->a = std::move(callee);
    parse_args(e.get());
    return e;
  }

  ExprPtr parse_filters_and_tests(ExprPtr node) {
    NestingScope nest(depth_);
    while (true) {
      if (at_op("|") || at_name("is") || at_op("(")) nest.deeper(peek().pos);
      if (at_op("|")) {
        next();
        auto e = make_expr(Expr::Kind::kFilter, peek().pos);
        e->name = expect_name();
        if (!kFilters.count(e->name)) fail_at(e->pos, "unknown or unsupported filter '" + e->name + "'");
        e->a = std::move(node);
        if (at_op("(")) parse_args(e.get());
        node = std::move(e);
      } else if (at_name("is")) {
        next();
        bool negated = accept_name("not");
        auto e = make_expr(Expr::Kind::kTest, peek().pos);
        e->name = expect_name();
        e->negated = negated;
        if (!kTests.count(e->name)) fail_at(e->pos, "unknown or unsupported test '" + e->name + "'");
        e->a = std::move(node);
        const Token& t = peek();
        if (at_op("(")) {
          parse_args(e.get());
        } else if ((t.type == Tok::kName || t.type == Tok::kString || t.type == Tok::kInt ||
                    t.type == Tok::kFloat || at_op("[") || at_op("{")) &&
                   !at_name("else") && !at_name("or") && !at_name("and")) {
          e->items.push_back(parse_postfix(parse_primary()));  // "is equalto 'x'", "is divisibleby 3"
        }
        node = std::move(e);
      } else if (at_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int loop_depth_ = 0;
  int depth_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Evaluator

enum class Flow { kNormal, kBreak, kContinue };

// Argument access for builtins: by position or keyword, with Python-like errors.
class ArgReader {
 public:
  ArgReader(Args& args, std::string fn, std::vector<std::string> names)
      : args_(args), fn_(std::move(fn)), names_(std::move(names)) {
    if (args_.positional.size() > names_.size()) {
      fail(fn_ + "() takes at most " + std::to_string(names_.size()) + " arguments (" +
           std::to_string(args_.positional.size()) + " given)");
    }
    for (const auto& [key, v] : args_.keyword) {
      if (std::find(names_.begin(), names_.end(), key) == names_.end()) {
        fail(fn_ + "() got an unexpected keyword argument '" + key + "'");
      }
    }
  }
  std::optional<Value> get(size_t index) const {
    if (index < args_.positional.size()) return args_.positional[index];
    for (const auto& [key, v] : args_.keyword) {
      if (key == names_[index]) return v;
    }
    return std::nullopt;
  }
  Value get_or(size_t index, Value fallback) const { return get(index).value_or(std::move(fallback)); }
  Value require(size_t index) const {
    auto v = get(index);
    if (!v) fail(fn_ + "() missing required argument '" + names_[index] + "'");
    return *v;
  }
  std::string string(size_t index, std::string fallback) const {
    auto v = get(index);
    if (!v || v->is(Value::Kind::kNone)) return fallback;
    if (!v->is(Value::Kind::kString)) fail(fn_ + "() argument '" + names_[index] + "' must be a string");
    return v->str;
  }
  int64_t integer(size_t index, int64_t fallback) const {
    auto v = get(index);
    if (!v || v->is(Value::Kind::kNone)) return fallback;
    if (!v->is_integral()) fail(fn_ + "() argument '" + names_[index] + "' must be an integer");
    return v->as_int();
  }

 private:
  Args& args_;
  std::string fn_;
  std::vector<std::string> names_;
};

std::vector<Value> iterate(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined:
      return {};
    case Value::Kind::kList:
      return *v.list;
    case Value::Kind::kDict: {
      if (v.is_namespace) break;
      std::vector<Value> keys;
      for (const auto& [k, item] : *v.dict) keys.push_back(make_string(k));
      return keys;
    }
    case Value::Kind::kString: {
      std::vector<Value> chars;
      for (auto& cp : code_points(v.str)) chars.push_back(make_string(std::move(cp)));
      return chars;
    }
    default:
      break;
  }
  fail("'" + type_name(v) + "' object is not iterable");
}

Value make_tuple(List items) {
  Value v = make_list(std::move(items));
  v.is_tuple = true;
  return v;
}

Value dict_items(const Value& v) {
  List items;
  for (const auto& [k, item] : *v.dict) items.push_back(make_tuple({make_string(k), item}));
  return make_list(std::move(items));
}

int64_t python_len(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined:
      return 0;
    case Value::Kind::kString:
      return static_cast<int64_t>(code_points(v.str).size());
    case Value::Kind::kList:
      return static_cast<int64_t>(v.list->size());
    case Value::Kind::kDict:
      if (!v.is_namespace) return static_cast<int64_t>(v.dict->size());
      break;
    default:
      break;
  }
  fail("object of type '" + type_name(v) + "' has no len()");
}

// Python sequence[index] with negative indices; out of range is undefined, as in Jinja.
Value get_item(const Value& obj, const Value& key) {
  require_defined(obj);
  if (obj.is(Value::Kind::kDict)) {
    if (const Value* v = dict_find(*obj.dict, to_str(key))) return *v;
    return make_undefined("'dict object' has no attribute " + py_string_repr(to_str(key)));
  }
  if ((obj.is(Value::Kind::kList) || obj.is(Value::Kind::kString)) && key.is_integral()) {
    int64_t n = python_len(obj);
    int64_t i = key.as_int() < 0 ? key.as_int() + n : key.as_int();
    if (i < 0 || i >= n) return make_undefined(type_name(obj) + " object has no element " + to_str(key));
    if (obj.is(Value::Kind::kList)) return (*obj.list)[static_cast<size_t>(i)];
    return make_string(code_points(obj.str)[static_cast<size_t>(i)]);
  }
  return make_undefined("'" + type_name(obj) + " object' has no attribute " + py_string_repr(to_str(key)));
}

Value get_attr(const Value& obj, const std::string& name) {
  require_defined(obj);
  if (obj.is(Value::Kind::kDict)) {
    if (const Value* v = dict_find(*obj.dict, name)) return *v;
    return make_undefined("'" + std::string(obj.is_namespace ? "Namespace" : "dict") +
                          " object' has no attribute '" + name + "'");
  }
  return make_undefined("'" + type_name(obj) + " object' has no attribute '" + name + "'");
}

Value slice(const Value& obj, const std::optional<Value>& start_v, const std::optional<Value>& stop_v,
            const std::optional<Value>& step_v) {
  require_defined(obj);
  auto index = [](const std::optional<Value>& v) -> std::optional<int64_t> {
    if (!v || v->is(Value::Kind::kNone)) return std::nullopt;
    if (!v->is_integral()) fail("slice indices must be integers or None");
    return v->as_int();
  };
  int64_t step = index(step_v).value_or(1);
  if (step == 0) fail("slice step cannot be zero");
  std::vector<Value> items;
  std::vector<std::string> chars;
  int64_t n = 0;
  if (obj.is(Value::Kind::kList)) {
    n = static_cast<int64_t>(obj.list->size());
  } else if (obj.is(Value::Kind::kString)) {
    chars = code_points(obj.str);
    n = static_cast<int64_t>(chars.size());
  } else {
    fail("'" + type_name(obj) + "' object is not subscriptable");
  }
  // Python's slice.indices()
  auto clamp = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v) return fallback;
    int64_t i = *v < 0 ? *v + n : *v;
    if (step > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  int64_t start = clamp(index(start_v), step > 0 ? 0 : n - 1);
  int64_t stop = clamp(index(stop_v), step > 0 ? n : -1);
  List out_list;
  std::string out_str;
  // Counted rather than stepped: i += step could overflow for a huge step.
  const uint64_t count =
      step > 0
          ? (stop > start ? (static_cast<uint64_t>(stop - start) - 1) / static_cast<uint64_t>(step) + 1 : 0)
          : (start > stop ? (static_cast<uint64_t>(start - stop) - 1) / (0 - static_cast<uint64_t>(step)) + 1
                          : 0);
  for (uint64_t k = 0; k < count; ++k) {
    const auto i = static_cast<int64_t>(static_cast<uint64_t>(start) + k * static_cast<uint64_t>(step));
    if (obj.is(Value::Kind::kList))
      out_list.push_back((*obj.list)[static_cast<size_t>(i)]);
    else
      out_str += chars[static_cast<size_t>(i)];
  }
  return obj.is(Value::Kind::kList) ? make_list(std::move(out_list)) : make_string(std::move(out_str));
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind) {
    case Value::Kind::kUndefined:
      return false;
    case Value::Kind::kString:
      if (!item.is(Value::Kind::kString)) fail("'in <string>' requires string as left operand");
      return container.str.find(item.str) != std::string::npos;
    case Value::Kind::kList:
      return std::any_of(container.list->begin(), container.list->end(),
                         [&](const Value& v) { return equals(v, item); });
    case Value::Kind::kDict:
      if (container.is_namespace) break;
      return item.is(Value::Kind::kString) && dict_find(*container.dict, item.str) != nullptr;
    default:
      break;
  }
  fail("argument of type '" + type_name(container) + "' is not iterable");
}

bool less_than(const Value& a, const Value& b, const std::string& op) {
  require_defined(a);
  require_defined(b);
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.as_int() < b.as_int();
    return a.as_double() < b.as_double();
  }
  if (a.is(Value::Kind::kString) && b.is(Value::Kind::kString)) return a.str < b.str;
  fail("'" + op + "' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) + "'");
}

bool compare(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return equals(a, b);
  if (op == "!=") return !equals(a, b);
  if (op == "<") return less_than(a, b, op);
  if (op == ">") return less_than(b, a, op);
  if (op == "<=") return !less_than(b, a, op);
  if (op == ">=") return !less_than(a, b, op);
  if (op == "in") return contains(b, a);
  if (op == "not in") return !contains(b, a);
  fail("unknown comparison '" + op + "'");
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

Value repeat(const Value& seq, int64_t times) {
  if (times <= 0) return seq.is(Value::Kind::kString) ? make_string("") : make_list();
  const auto n = static_cast<uint64_t>(times);
  if (seq.is(Value::Kind::kString)) {
    const uint64_t size = seq.str.size();
    if (size != 0 && n > kMaxStringBytes / size) {
      fail("string longer than " + mb(kMaxStringBytes) + " (" + std::to_string(size) + " bytes * " +
           std::to_string(times) + ")");
    }
    std::string out;
    for (int64_t i = 0; i < times; ++i) out += seq.str;
    return make_string(std::move(out));
  }
  const uint64_t size = seq.list->size();
  if (size != 0 && n > static_cast<uint64_t>(kMaxItems) / size) {
    fail("list of " + std::to_string(size) + " items * " + std::to_string(times) + " is over the " +
         std::to_string(kMaxItems) + "-item limit");
  }
  List out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), seq.list->begin(), seq.list->end());
  return make_list(std::move(out));
}

[[noreturn]] void int_overflow(const std::string& op, int64_t a, int64_t b) {
  fail("integer overflow: " + std::to_string(a) + " " + op + " " + std::to_string(b) +
       " does not fit in 64 bits");
}

int64_t int_power(int64_t base, int64_t exp) {
  int64_t result = 1, b = base;
  for (int64_t e = exp; e > 0; e >>= 1) {
    if ((e & 1) && __builtin_mul_overflow(result, b, &result)) int_overflow("**", base, exp);
    if (e > 1 && __builtin_mul_overflow(b, b, &b)) int_overflow("**", base, exp);
  }
  return result;
}

Value integer_arithmetic(const std::string& op, int64_t x, int64_t y) {
  int64_t r = 0;
  if (op == "+" && __builtin_add_overflow(x, y, &r)) int_overflow(op, x, y);
  if (op == "-" && __builtin_sub_overflow(x, y, &r)) int_overflow(op, x, y);
  if (op == "*" && __builtin_mul_overflow(x, y, &r)) int_overflow(op, x, y);
  if ((op == "//" || op == "%") && x == INT64_MIN && y == -1) {
    if (op == "%") return make_int(0);
    int_overflow(op, x, y);
  }
  if (op == "//") r = floor_div(x, y);
  if (op == "%") r = x - floor_div(x, y) * y;
  return make_int(r);
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string left = to_str(a), right = to_str(b);
    check_string_size(left.size() + right.size());
    return make_string(left + right);
  }
  require_defined(a);
  require_defined(b);
  using K = Value::Kind;
  if (op == "+") {
    if (a.is(K::kString) && b.is(K::kString)) {
      check_string_size(a.str.size() + b.str.size());
      return make_string(a.str + b.str);
    }
    if (a.is(K::kList) && b.is(K::kList)) {
      check_items(a.list->size() + b.list->size(), "list");
      List out = *a.list;
      out.insert(out.end(), b.list->begin(), b.list->end());
      return make_list(std::move(out));
    }
  }
  if (op == "*") {
    if ((a.is(K::kString) || a.is(K::kList)) && b.is_integral()) return repeat(a, b.as_int());
    if (a.is_integral() && (b.is(K::kString) || b.is(K::kList))) return repeat(b, a.as_int());
  }
  if (!a.is_number() || !b.is_number()) {
    fail("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
  }
  bool ints = a.is_integral() && b.is_integral();
  double x = a.as_double(), y = b.as_double();
  if ((op == "/" || op == "//" || op == "%") && y == 0) fail("division by zero");
  if (ints && (op == "+" || op == "-" || op == "*" || op == "//" || op == "%")) {
    return integer_arithmetic(op, a.as_int(), b.as_int());
  }
  if (op == "+") return make_float(x + y);
  if (op == "-") return make_float(x - y);
  if (op == "*") return make_float(x * y);
  if (op == "/") return make_float(x / y);
  if (op == "//") return make_float(std::floor(x / y));
  if (op == "%") {
    double r = std::fmod(x, y);
    return make_float((r != 0 && ((r < 0) != (y < 0))) ? r + y : r);
  }
  if (op == "**") {
    if (ints && b.as_int() >= 0) return make_int(int_power(a.as_int(), b.as_int()));
    return make_float(std::pow(x, y));
  }
  fail("unknown operator '" + op + "'");
}

std::string html_escape(const std::string& s) {
  size_t size = s.size();
  for (char c : s) size += c == '&' ? 4 : (c == '<' || c == '>') ? 3 : (c == '"' || c == '\'') ? 4 : 0;
  check_string_size(size);
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<std::string> split_whitespace(const std::string& s, int64_t maxsplit) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (true) {
    i = s.find_first_not_of(kWhitespace, i);
    if (i == std::string::npos) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
      parts.push_back(strip(s.substr(i), kWhitespace, false, true));
      break;
    }
    size_t j = s.find_first_of(kWhitespace, i);
    check_items(parts.size() + 1, "split() list");
    parts.push_back(s.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) break;
    i = j;
  }
  return parts;
}

std::vector<std::string> split_on(const std::string& s, const std::string& sep, int64_t maxsplit) {
  if (sep.empty()) fail("empty separator");
  std::vector<std::string> parts;
  size_t pos = 0;
  while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
    size_t hit = s.find(sep, pos);
    if (hit == std::string::npos) break;
    check_items(parts.size() + 2, "split() list");
    parts.push_back(s.substr(pos, hit - pos));
    pos = hit + sep.size();
  }
  parts.push_back(s.substr(pos));
  return parts;
}

Value string_list(const std::vector<std::string>& parts) {
  List out;
  for (const auto& p : parts) out.push_back(make_string(p));
  return make_list(std::move(out));
}

bool affix_match(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& v) {
    if (!v.is(Value::Kind::kString))
      fail(std::string(prefix ? "startswith" : "endswith") + " first arg must be str");
    if (v.str.size() > s.size()) return false;
    return prefix ? s.compare(0, v.str.size(), v.str) == 0
                  : s.compare(s.size() - v.str.size(), v.str.size(), v.str) == 0;
  };
  if (affix.is(Value::Kind::kList)) return std::any_of(affix.list->begin(), affix.list->end(), one);
  return one(affix);
}

// Methods on str, dict and list values ("text.strip()", "message.get('x')"); nullopt if none matches.
std::optional<Value> call_method(const Value& obj, const std::string& name, Args& args) {
  using K = Value::Kind;
  if (obj.is(K::kString)) {
    const std::string& s = obj.str;
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
      ArgReader r(args, name, {"chars"});
      std::string chars = r.string(0, std::string(kWhitespace));
      return make_string(strip(s, chars, name != "rstrip", name != "lstrip"));
    }
    if (name == "upper") return make_string(upper(s));
    if (name == "lower") return make_string(lower(s));
    if (name == "title") return make_string(py_title(s));
    if (name == "capitalize") return make_string(capitalize(s));
    if (name == "startswith" || name == "endswith") {
      ArgReader r(args, name, {"prefix"});
      return make_bool(affix_match(s, r.require(0), name == "startswith"));
    }
    if (name == "split" || name == "rsplit") {
      ArgReader r(args, name, {"sep", "maxsplit"});
      int64_t maxsplit = r.integer(1, -1);
      auto sep = r.get(0);
      if (name == "rsplit" && maxsplit >= 0) fail("rsplit() with maxsplit is not supported");
      if (!sep || sep->is(K::kNone)) return string_list(split_whitespace(s, maxsplit));
      return string_list(split_on(s, r.string(0, ""), maxsplit));
    }
    if (name == "replace") {
      ArgReader r(args, name, {"old", "new", "count"});
      return make_string(replace_all(s, r.string(0, ""), r.string(1, ""), r.integer(2, -1)));
    }
    if (name == "find" || name == "count") {
      ArgReader r(args, name, {"sub"});
      std::string sub = r.string(0, "");
      if (name == "find") {
        size_t hit = s.find(sub);
        return make_int(
            hit == std::string::npos ? -1 : static_cast<int64_t>(code_points(s.substr(0, hit)).size()));
      }
      if (sub.empty()) return make_int(static_cast<int64_t>(code_points(s).size()) + 1);
      int64_t n = 0;
      for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
      return make_int(n);
    }
    if (name == "join") {
      ArgReader r(args, name, {"iterable"});
      std::string out;
      bool first = true;
      for (const Value& v : iterate(r.require(0))) {
        if (!v.is(K::kString)) fail("join() expects strings, got '" + type_name(v) + "'");
        check_string_size(out.size() + s.size() + v.str.size());
        out += (first ? "" : s) + v.str;
        first = false;
      }
      return make_string(std::move(out));
    }
    if (name == "splitlines") return string_list(split_on(strip(s, "\n", false, true), "\n", -1));
    if (name == "isdigit" || name == "isspace" || name == "isalpha") {
      auto pred = name == "isdigit"   ? [](char c) { return c >= '0' && c <= '9'; }
                  : name == "isspace" ? [](char c) { return kWhitespace.find(c) != std::string_view::npos; }
                                      : [](char c) { return ascii_alpha(c); };
      return make_bool(!s.empty() && std::all_of(s.begin(), s.end(), pred));
    }
    return std::nullopt;
  }
  if (obj.is(K::kDict) && !obj.is_namespace) {
    if (name == "get") {
      ArgReader r(args, name, {"key", "default"});
      Value key = r.require(0);
      const Value* v = key.is(K::kString) ? dict_find(*obj.dict, key.str) : nullptr;
      return v ? *v : r.get_or(1, make_none());
    }
    if (name == "items") return dict_items(obj);
    if (name == "keys") return make_list(iterate(obj));
    if (name == "values") {
      List out;
      for (const auto& [k, v] : *obj.dict) out.push_back(v);
      return make_list(std::move(out));
    }
    return std::nullopt;
  }
  if (obj.is(K::kList)) {
    if (name == "index") {
      ArgReader r(args, name, {"value"});
      Value needle = r.require(0);
      for (size_t i = 0; i < obj.list->size(); ++i) {
        if (equals((*obj.list)[i], needle)) return make_int(static_cast<int64_t>(i));
      }
      fail(to_repr(needle) + " is not in list");
    }
    if (name == "count") {
      ArgReader r(args, name, {"value"});
      Value needle = r.require(0);
      return make_int(std::count_if(obj.list->begin(), obj.list->end(),
                                    [&](const Value& v) { return equals(v, needle); }));
    }
  }
  return std::nullopt;
}

// Looks up "a.b.c" on each item, as Jinja's attribute= arguments do.
Value dotted_attr(const Value& item, const std::string& path) {
  Value v = item;
  for (const auto& part : split_on(path, ".", -1)) {
    bool numeric =
        !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    int64_t index = 0;
    numeric = numeric && std::from_chars(part.data(), part.data() + part.size(), index).ec == std::errc();
    v = numeric && v.is(Value::Kind::kList) ? get_item(v, make_int(index)) : get_item(v, make_string(part));
    if (v.is(Value::Kind::kUndefined)) break;
  }
  return v;
}

std::string strftime_now(const std::string& format) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[256];
  size_t n = std::strftime(buf, sizeof(buf), format.c_str(), &tm);
  return std::string(buf, n);
}

class Renderer {
 public:
  explicit Renderer(const Value& context) {
    frames_.emplace_back(globals());
    std::unordered_map<std::string, Value> ctx;
    for (const auto& [k, v] : *context.dict) ctx[k] = v;
    frames_.push_back(std::move(ctx));
    frames_.emplace_back();  // template-level `set` lands here
  }

  Flow exec_body(const Body& body, std::string& out) {
    for (const auto& stmt : body) {
      Flow flow = exec(*stmt, out);
      if (flow != Flow::kNormal) return flow;
    }
    return Flow::kNormal;
  }

 private:
  using Frame = std::unordered_map<std::string, Value>;

  // Pushes a scope for the lifetime of the guard (loop iterations and macro calls).
  struct ScopeGuard {
    explicit ScopeGuard(std::vector<Frame>& frames, Frame frame = {}) : frames_(frames) {
      frames_.push_back(std::move(frame));
    }
    ~ScopeGuard() { frames_.pop_back(); }
    std::vector<Frame>& frames_;
  };

  static Frame globals() {
    Frame g;
    g["range"] = make_function([](Renderer&, Args& args) {
      if (!args.keyword.empty() || args.positional.empty() || args.positional.size() > 3) {
        fail("range() expects 1 to 3 positional arguments");
      }
      std::vector<int64_t> n;
      for (const Value& v : args.positional) {
        if (!v.is_integral()) fail("range() arguments must be integers, got '" + type_name(v) + "'");
        n.push_back(v.as_int());
      }
      int64_t start = n.size() == 1 ? 0 : n[0], stop = n.size() == 1 ? n[0] : n[1],
              step = n.size() == 3 ? n[2] : 1;
      if (step == 0) fail("range() arg 3 must not be zero");
      // The length in unsigned arithmetic, which cannot overflow; items are start + k * step modulo
      // 2^64, which is exact because each lies between start and stop.
      const auto ustart = static_cast<uint64_t>(start), ustep = static_cast<uint64_t>(step);
      uint64_t count = 0;
      if (step > 0 && stop > start) count = (static_cast<uint64_t>(stop) - ustart - 1) / ustep + 1;
      if (step < 0 && start > stop) count = (ustart - static_cast<uint64_t>(stop) - 1) / (0 - ustep) + 1;
      check_items(count, "range()");
      List out;
      out.reserve(count);
      for (uint64_t k = 0; k < count; ++k) out.push_back(make_int(static_cast<int64_t>(ustart + k * ustep)));
      return make_list(std::move(out));
    });
    g["namespace"] = make_function([](Renderer&, Args& args) {
      // Namespaces are mutable, so chains of them escape the value depth limit: cap their number.
      if (t_budget != nullptr && ++t_budget->namespaces > kMaxNamespaces) {
        fail("more than " + std::to_string(kMaxNamespaces) + " namespace() objects in one render");
      }
      Value ns = make_dict();
      ns.is_namespace = true;
      for (const Value& v : args.positional) {
        if (!v.is(Value::Kind::kDict)) fail("namespace() positional argument must be a dict");
        for (const auto& [k, item] : *v.dict) dict_set(*ns.dict, k, item);
      }
      for (const auto& [k, item] : args.keyword) dict_set(*ns.dict, k, item);
      return ns;
    });
    g["dict"] = make_function([](Renderer&, Args& args) {
      if (!args.positional.empty()) fail("dict() accepts keyword arguments only");
      Dict d;
      for (const auto& [k, item] : args.keyword) dict_set(d, k, item);
      return make_dict(std::move(d));
    });
    g["raise_exception"] = make_function([](Renderer&, Args& args) -> Value {
      ArgReader r(args, "raise_exception", {"message"});
      fail(to_str(r.require(0)));
    });
    g["strftime_now"] = make_function([](Renderer&, Args& args) {
      ArgReader r(args, "strftime_now", {"format"});
      return make_string(strftime_now(r.string(0, "")));
    });
    return g;
  }

  Value lookup(const std::string& name) const {
    for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
      auto hit = it->find(name);
      if (hit != it->end()) return hit->second;
    }
    return make_undefined("'" + name + "' is undefined");
  }

  void assign(const std::string& name, Value v) { frames_.back()[name] = std::move(v); }

  Flow exec(const Stmt& s, std::string& out) {
    NestingScope nest(depth_, kMaxRenderDepth);
    nest.deeper(s.pos);
    try {
      return exec_unlocated(s, out);
    } catch (Error& e) {
      if (!e.pos) e.pos = s.pos;
      throw;
    }
  }

  Flow exec_unlocated(const Stmt& s, std::string& out) {
    switch (s.kind) {
      case Stmt::Kind::kText:
        write(out, s.text);
        return Flow::kNormal;
      case Stmt::Kind::kOutput:
        write(out, to_str(eval(*s.expr)));
        return Flow::kNormal;
      case Stmt::Kind::kIf:
        for (const auto& [cond, body] : s.branches) {
          if (truthy(eval(*cond))) return exec_body(body, out);
        }
        return exec_body(s.else_body, out);
      case Stmt::Kind::kFor:
        return exec_for(s, out);
      case Stmt::Kind::kSet: {
        Value v = eval(*s.expr);
        if (!s.attribute.empty()) {
          Value target = lookup(s.targets[0]);
          if (!target.is(Value::Kind::kDict) || !target.is_namespace) {
            fail("cannot assign attribute '" + s.attribute + "' on '" + s.targets[0] +
                 "': not a namespace object");
          }
          dict_set(*target.dict, s.attribute, std::move(v));
        } else {
          assign_targets(s.targets, v);
        }
        return Flow::kNormal;
      }
      case Stmt::Kind::kSetBlock: {
        std::string captured;
        exec_body(s.body, captured);
        assign(s.targets[0], make_string(std::move(captured)));
        return Flow::kNormal;
      }
      case Stmt::Kind::kMacro:
        assign(s.name, make_macro(s));
        return Flow::kNormal;
      case Stmt::Kind::kBreak:
        return Flow::kBreak;
      case Stmt::Kind::kContinue:
        return Flow::kContinue;
      case Stmt::Kind::kGeneration:
        return exec_body(s.body, out);
    }
    return Flow::kNormal;
  }

  // Every buffer text is written to (the output, a macro's, a set block's) is held to the output limit.
  static void write(std::string& out, const std::string& text) {
    if (out.size() + text.size() > kMaxOutputBytes) {
      fail("output longer than " + mb(kMaxOutputBytes) + " (" + std::to_string(out.size() + text.size()) +
           " bytes)");
    }
    charge(text.size());
    out += text;
  }

  static void count_iteration() {
    if (t_budget != nullptr && ++t_budget->iterations > kMaxIterations) {
      fail("more than " + std::to_string(kMaxIterations) + " loop iterations in one render");
    }
  }

  void assign_targets(const std::vector<std::string>& targets, const Value& v) {
    if (targets.size() == 1) {
      assign(targets[0], v);
      return;
    }
    if (!v.is(Value::Kind::kList) && !v.is(Value::Kind::kString)) {
      fail("cannot unpack non-iterable " + type_name(v) + " object");
    }
    std::vector<Value> items = iterate(v);
    if (items.size() != targets.size()) {
      fail("cannot unpack " + std::to_string(items.size()) + " values into " +
           std::to_string(targets.size()) + " names");
    }
    for (size_t i = 0; i < targets.size(); ++i) assign(targets[i], items[i]);
  }

  Flow exec_for(const Stmt& s, std::string& out) {
    std::vector<Value> items;
    for (Value& item : iterate(eval(*s.expr))) {
      if (s.filter) {
        count_iteration();
        ScopeGuard scope(frames_);
        assign_targets(s.targets, item);
        if (!truthy(eval(*s.filter))) continue;
      }
      items.push_back(std::move(item));
    }
    if (items.empty()) return exec_body(s.else_body, out);
    const auto n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
      // Each iteration gets a fresh scope: a `set` in the body is not seen by the next iteration.
      count_iteration();
      ScopeGuard scope(frames_);
      assign_targets(s.targets, items[static_cast<size_t>(i)]);
      assign("loop", make_loop(items, i));
      Flow flow = exec_body(s.body, out);
      if (flow == Flow::kBreak) break;
    }
    return Flow::kNormal;
  }

  // Not charged to the budget: one loop object per iteration, and iterations have their own limit.
  static Value make_loop(const std::vector<Value>& items, int64_t i) {
    struct Uncharged {
      Budget* saved = std::exchange(t_budget, nullptr);
      Uncharged() = default;
      Uncharged(const Uncharged&) = delete;
      Uncharged& operator=(const Uncharged&) = delete;
      ~Uncharged() { t_budget = saved; }
    } uncharged;
    const auto n = static_cast<int64_t>(items.size());
    Dict loop = {
        {"index", make_int(i + 1)},
        {"index0", make_int(i)},
        {"revindex", make_int(n - i)},
        {"revindex0", make_int(n - i - 1)},
        {"first", make_bool(i == 0)},
        {"last", make_bool(i == n - 1)},
        {"length", make_int(n)},
        {"depth", make_int(1)},
        {"depth0", make_int(0)},
        {"previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : make_undefined("there is no previous item")},
        {"nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : make_undefined("there is no next item")},
        {"cycle", make_function([i](Renderer&, Args& args) {
           if (args.positional.empty()) fail("no items for cycling given");
           return args.positional[static_cast<size_t>(i) % args.positional.size()];
         })},
    };
    return make_dict(std::move(loop));
  }

  Value make_macro(const Stmt& s) {
    const Stmt* macro = &s;  // the AST outlives the render
    return make_function([macro](Renderer& r, Args& args) {
      NestingScope recursion(r.macro_depth_, kMaxNesting, "macro recursion deeper than ");
      recursion.deeper();
      if (args.positional.size() > macro->params.size()) {
        fail("macro '" + macro->name + "' takes " + std::to_string(macro->params.size()) + " arguments");
      }
      Frame frame;
      for (size_t i = 0; i < macro->params.size(); ++i) {
        const auto& [param, def] = macro->params[i];
        if (i < args.positional.size())
          frame[param] = args.positional[i];
        else if (def)
          frame[param] = r.eval(*def);
        else
          frame[param] = make_undefined("parameter '" + param + "' was not provided");
      }
      for (const auto& keyword : args.keyword) {
        const auto& [key, v] = keyword;
        auto known = std::find_if(macro->params.begin(), macro->params.end(),
                                  [&](const auto& p) { return p.first == keyword.first; });
        if (known == macro->params.end()) fail("macro '" + macro->name + "' has no parameter '" + key + "'");
        frame[key] = v;
      }
      ScopeGuard scope(r.frames_, std::move(frame));
      std::string out;
      r.exec_body(macro->body, out);
      return make_string(std::move(out));
    });
  }

 public:
  Value eval(const Expr& e) {
    NestingScope nest(depth_, kMaxRenderDepth);
    nest.deeper(e.pos);
    try {
      return eval_unlocated(e);
    } catch (Error& err) {
      if (!err.pos) err.pos = e.pos;
      throw;
    }
  }

 private:
  Args eval_args(const Expr& e) {
    Args args;
    for (const auto& item : e.items) args.positional.push_back(eval(*item));
    for (const auto& [key, value] : e.kwargs) args.keyword.emplace_back(key, eval(*value));
    return args;
  }

  Value eval_unlocated(const Expr& e) {
    using K = Expr::Kind;
    switch (e.kind) {
      case K::kLiteral:
        return e.literal;
      case K::kName:
        return lookup(e.name);
      case K::kList:
      case K::kTuple: {
        List items;
        for (const auto& item : e.items) items.push_back(eval(*item));
        return e.kind == K::kTuple ? make_tuple(std::move(items)) : make_list(std::move(items));
      }
      case K::kDict: {
        Dict d;
        for (size_t i = 0; i + 1 < e.items.size(); i += 2)
          dict_set(d, to_str(eval(*e.items[i])), eval(*e.items[i + 1]));
        return make_dict(std::move(d));
      }
      case K::kGetAttr:
        return get_attr(eval(*e.a), e.name);
      case K::kGetItem:
        return get_item(eval(*e.a), eval(*e.b));
      case K::kSlice: {
        Value obj = eval(*e.a);
        std::optional<Value> bounds[3];
        for (size_t i = 0; i < 3; ++i) {
          if (e.items[i]) bounds[i] = eval(*e.items[i]);
        }
        return slice(obj, bounds[0], bounds[1], bounds[2]);
      }
      case K::kCall:
        return eval_call(e);
      case K::kFilter: {
        Value v = eval(*e.a);
        Args args = eval_args(e);
        return apply_filter(e.name, v, args);
      }
      case K::kTest: {
        Value v = eval(*e.a);
        Args args = eval_args(e);
        bool result = apply_test(e.name, v, args);
        return make_bool(e.negated ? !result : result);
      }
      case K::kUnary: {
        Value v = eval(*e.a);
        if (e.name == "not") return make_bool(!truthy(v));
        require_defined(v);
        if (!v.is_number()) fail("bad operand type for unary " + e.name + ": '" + type_name(v) + "'");
        if (e.name == "+") return v.is(Value::Kind::kFloat) ? v : make_int(v.as_int());
        if (v.is(Value::Kind::kFloat)) return make_float(-v.number);
        if (v.as_int() == INT64_MIN) int_overflow("-", 0, v.as_int());
        return make_int(-v.as_int());
      }
      case K::kBinary: {
        Value a = eval(*e.a);
        return arithmetic(e.name, a, eval(*e.b));
      }
      case K::kAnd: {
        Value a = eval(*e.a);
        return truthy(a) ? eval(*e.b) : a;
      }
      case K::kOr: {
        Value a = eval(*e.a);
        return truthy(a) ? a : eval(*e.b);
      }
      case K::kCompare: {
        Value left = eval(*e.a);
        for (size_t i = 0; i < e.ops.size(); ++i) {
          Value right = eval(*e.items[i]);
          if (!compare(e.ops[i], left, right)) return make_bool(false);
          left = std::move(right);
        }
        return make_bool(true);
      }
      case K::kCondExpr:
        if (truthy(eval(*e.a))) return eval(*e.b);
        return e.c ? eval(*e.c) : make_undefined("the conditional expression has no else branch");
    }
    return make_undefined("");
  }

  Value eval_call(const Expr& e) {
    if (e.a->kind == Expr::Kind::kGetAttr) {
      Value obj = eval(*e.a->a);
      require_defined(obj);
      Args args = eval_args(e);
      if (auto result = call_method(obj, e.a->name, args)) return *result;
      Value fn = get_attr(obj, e.a->name);
      return call_value(fn, args, e.a->name);
    }
    Value fn = eval(*e.a);
    Args args = eval_args(e);
    return call_value(fn, args, e.a->kind == Expr::Kind::kName ? e.a->name : "expression");
  }

  Value call_value(const Value& fn, Args& args, const std::string& what) {
    require_defined(fn);
    if (!fn.is(Value::Kind::kFunction))
      fail("'" + what + "' is not callable ('" + type_name(fn) + "' object)");
    return (*fn.fn)(*this, args);
  }

  bool apply_test(const std::string& name, const Value& v, Args& args) {
    using K = Value::Kind;
    if (name == "defined") return !v.is(K::kUndefined);
    if (name == "undefined") return v.is(K::kUndefined);
    if (name == "none") return v.is(K::kNone);
    if (name == "boolean") return v.is(K::kBool);
    if (name == "true") return v.is(K::kBool) && v.boolean;
    if (name == "false") return v.is(K::kBool) && !v.boolean;
    if (name == "integer") return v.is(K::kInt);
    if (name == "float") return v.is(K::kFloat);
    if (name == "number") return v.is_number();
    if (name == "string") return v.is(K::kString);
    if (name == "mapping") return v.is(K::kDict) && !v.is_namespace;
    if (name == "iterable") return v.is(K::kString) || v.is(K::kList) || (v.is(K::kDict) && !v.is_namespace);
    if (name == "sequence") return v.is(K::kString) || v.is(K::kList) || (v.is(K::kDict) && !v.is_namespace);
    if (name == "callable") return v.is(K::kFunction);
    if (name == "lower") return v.is(K::kString) && lower(v.str) == v.str;
    if (name == "upper") return v.is(K::kString) && upper(v.str) == v.str;
    if (name == "even" || name == "odd") {
      if (!v.is_integral()) fail("test '" + name + "' needs an integer");
      return (v.as_int() % 2 == 0) == (name == "even");
    }
    ArgReader r(args, name, {"other"});
    Value other = r.require(0);
    if (name == "divisibleby") {
      if (!v.is_integral() || !other.is_integral() || other.as_int() == 0)
        fail("divisibleby needs non-zero integers");
      return v.as_int() % other.as_int() == 0;
    }
    if (name == "eq" || name == "equalto") return equals(v, other);
    if (name == "ne") return !equals(v, other);
    if (name == "lt") return compare("<", v, other);
    if (name == "le") return compare("<=", v, other);
    if (name == "gt") return compare(">", v, other);
    if (name == "ge") return compare(">=", v, other);
    if (name == "in") return contains(other, v);
    if (name == "sameas") {
      if (v.kind != other.kind) return false;
      if (v.is(K::kList)) return v.list == other.list;
      if (v.is(K::kDict)) return v.dict == other.dict;
      return equals(v, other);
    }
    fail("unknown test '" + name + "'");
  }

  // select/reject and selectattr/rejectattr: the test name and its arguments follow `skip` leading args.
  Value filter_items(const Value& v, Args& args, bool by_attr, bool keep) {
    size_t skip = by_attr ? 1 : 0;
    if (args.positional.size() < skip) fail("selectattr() needs an attribute name");
    std::string attr = by_attr ? to_str(args.positional[0]) : "";
    std::optional<std::string> test;
    Args test_args;
    if (args.positional.size() > skip) {
      test = to_str(args.positional[skip]);
      if (!kTests.count(*test)) fail("unknown test '" + *test + "'");
      test_args.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(skip) + 1,
                                  args.positional.end());
    }
    List out;
    for (const Value& item : iterate(v)) {
      Value subject = by_attr ? dotted_attr(item, attr) : item;
      Args a = test_args;
      bool passed = test ? apply_test(*test, subject, a) : truthy(subject);
      if (passed == keep) out.push_back(item);
    }
    return make_list(std::move(out));
  }

  // One case per Jinja filter: a table written as code, read one case at a time.
  // NOLINTNEXTLINE(readability-function-size)
  Value apply_filter(const std::string& name, const Value& v, Args& args) {
    using K = Value::Kind;
    static const std::set<std::string, std::less<>> kNoArgs = {
        "length",  "count",  "string",     "safe",  "list", "items", "first", "last",
        "reverse", "unique", "dictsort",   "sum",   "min",  "max",   "abs",   "wordcount",
        "upper",   "lower",  "capitalize", "title", "e",    "escape"};
    if (kNoArgs.count(name) && (!args.positional.empty() || !args.keyword.empty())) {
      fail("filter '" + name + "' takes no arguments");
    }
    if (name == "default" || name == "d") {
      ArgReader r(args, name, {"default_value", "boolean"});
      bool boolean = truthy(r.get_or(1, make_bool(false)));
      if (v.is(K::kUndefined) || (boolean && !truthy(v))) return r.get_or(0, make_string(""));
      return v;
    }
    if (name == "length" || name == "count") return make_int(python_len(v));
    if (name == "string") return make_string(to_str(v));
    if (name == "safe") return v;
    if (name == "list") return make_list(iterate(v));
    if (name == "items") {
      if (v.is(K::kUndefined)) return make_list();
      if (!v.is(K::kDict) || v.is_namespace) fail("items filter needs a mapping, got '" + type_name(v) + "'");
      return dict_items(v);
    }
    if (name == "tojson") {
      ArgReader r(args, name, {"ensure_ascii", "indent", "separators", "sort_keys"});
      JsonStyle style;
      style.ensure_ascii = truthy(r.get_or(0, make_bool(false)));
      Value indent = r.get_or(1, make_none());
      if (indent.is_integral()) {
        check_string_size(static_cast<size_t>(std::clamp<int64_t>(indent.as_int(), 0, INT64_MAX)));
        style.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, indent.as_int())), ' ');
      } else if (indent.is(K::kString))
        style.indent = indent.str;
      if (style.indent) style.item_sep = ",";
      Value separators = r.get_or(2, make_none());
      if (separators.is(K::kList) && separators.list->size() == 2) {
        style.item_sep = to_str((*separators.list)[0]);
        style.key_sep = to_str((*separators.list)[1]);
      }
      style.sort_keys = truthy(r.get_or(3, make_bool(false)));
      std::string out;
      append_json(out, v, style, 0);
      return make_string(std::move(out));
    }
    if (name == "first" || name == "last") {
      std::vector<Value> items = iterate(v);
      if (items.empty()) return make_undefined("No " + name + " item, sequence was empty.");
      return name == "first" ? items.front() : items.back();
    }
    if (name == "join") {
      ArgReader r(args, name, {"d", "attribute"});
      std::string sep = to_str(r.get_or(0, make_string("")));
      auto attr = r.get(1);
      std::string out;
      bool first = true;
      for (const Value& item : iterate(v)) {
        std::string piece = to_str(attr ? dotted_attr(item, to_str(*attr)) : item);
        check_string_size(out.size() + sep.size() + piece.size());
        out += (first ? "" : sep) + piece;
        first = false;
      }
      return make_string(std::move(out));
    }
    if (name == "reverse") {
      if (v.is(K::kString)) {
        auto cps = code_points(v.str);
        std::string out;
        for (auto it = cps.rbegin(); it != cps.rend(); ++it) out += *it;
        return make_string(std::move(out));
      }
      std::vector<Value> items = iterate(v);
      std::reverse(items.begin(), items.end());
      return make_list(std::move(items));
    }
    if (name == "unique") {
      List out;
      for (const Value& item : iterate(v)) {
        if (std::none_of(out.begin(), out.end(), [&](const Value& o) { return equals(o, item); }))
          out.push_back(item);
      }
      return make_list(std::move(out));
    }
    if (name == "sort") {
      ArgReader r(args, name, {"reverse", "case_sensitive", "attribute"});
      bool reverse = truthy(r.get_or(0, make_bool(false)));
      bool case_sensitive = truthy(r.get_or(1, make_bool(false)));
      auto attr = r.get(2);
      std::vector<Value> items = iterate(v);
      auto key = [&](const Value& item) {
        Value k = attr ? dotted_attr(item, to_str(*attr)) : item;
        return (!case_sensitive && k.is(K::kString)) ? make_string(lower(k.str)) : k;
      };
      std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
        return reverse ? less_than(key(b), key(a), "<") : less_than(key(a), key(b), "<");
      });
      return make_list(std::move(items));
    }
    if (name == "dictsort") {
      if (!v.is(K::kDict)) fail("dictsort needs a mapping");
      Value items = dict_items(v);
      std::stable_sort(items.list->begin(), items.list->end(), [](const Value& a, const Value& b) {
        return lower((*a.list)[0].str) < lower((*b.list)[0].str);
      });
      return items;
    }
    if (name == "map") {
      List out;
      auto attr = std::find_if(args.keyword.begin(), args.keyword.end(),
                               [](const auto& kv) { return kv.first == "attribute"; });
      if (attr != args.keyword.end()) {
        auto def = std::find_if(args.keyword.begin(), args.keyword.end(),
                                [](const auto& kv) { return kv.first == "default"; });
        for (const Value& item : iterate(v)) {
          Value x = dotted_attr(item, to_str(attr->second));
          out.push_back(x.is(K::kUndefined) && def != args.keyword.end() ? def->second : x);
        }
        return make_list(std::move(out));
      }
      if (args.positional.empty()) fail("map() needs a filter name or attribute=");
      std::string filter = to_str(args.positional[0]);
      if (!kFilters.count(filter) || filter == "map") fail("unknown filter '" + filter + "'");
      for (const Value& item : iterate(v)) {
        Args rest;
        rest.positional.assign(args.positional.begin() + 1, args.positional.end());
        rest.keyword = args.keyword;
        out.push_back(apply_filter(filter, item, rest));
      }
      return make_list(std::move(out));
    }
    if (name == "select") return filter_items(v, args, false, true);
    if (name == "reject") return filter_items(v, args, false, false);
    if (name == "selectattr") return filter_items(v, args, true, true);
    if (name == "rejectattr") return filter_items(v, args, true, false);
    if (name == "sum" || name == "min" || name == "max") {
      std::vector<Value> items = iterate(v);
      if (name == "sum") {
        Value total = make_int(0);
        for (const Value& item : items) total = arithmetic("+", total, item);
        return total;
      }
      if (items.empty()) return make_undefined("No aggregated item, sequence was empty.");
      Value best = items[0];
      for (const Value& item : items) {
        if (name == "min" ? less_than(item, best, "<") : less_than(best, item, "<")) best = item;
      }
      return best;
    }
    if (name == "int" || name == "float") {
      ArgReader r(args, name, {"default"});
      Value fallback = r.get_or(0, name == "int" ? make_int(0) : make_float(0));
      double d = 0;
      if (v.is_number()) {
        d = v.as_double();
        if (name == "int" && v.is_integral()) return make_int(v.as_int());
      } else if (v.is(K::kString)) {
        std::string s = strip(v.str, kWhitespace, true, true);
        char* end = nullptr;
        if (s.empty()) return fallback;
        if (name == "int") {
          long long i = std::strtoll(s.c_str(), &end, 10);
          if (*end == '\0') return make_int(i);
        }
        d = std::strtod(s.c_str(), &end);
        if (*end != '\0') return fallback;
      } else {
        return fallback;
      }
      if (name == "int" && !(d >= -9.2e18 && d <= 9.2e18))
        fail("int filter: " + py_float(d) + " does not fit in 64 bits");
      return name == "int" ? make_int(static_cast<int64_t>(d)) : make_float(d);
    }
    if (name == "abs") {
      require_defined(v);
      if (v.is(K::kFloat)) return make_float(std::fabs(v.number));
      if (v.is_integral()) {
        if (v.as_int() == INT64_MIN) int_overflow("-", 0, v.as_int());
        return make_int(std::llabs(v.as_int()));
      }
      fail("bad operand type for abs(): '" + type_name(v) + "'");
    }
    if (name == "round") {
      ArgReader r(args, name, {"precision", "method"});
      if (!v.is_number()) fail("round filter needs a number");
      double scale = std::pow(10.0, static_cast<double>(r.integer(0, 0)));
      std::string method = r.string(1, "common");
      double x = v.as_double() * scale;
      // Python's round() rounds halves to even, which is the default FP rounding mode.
      x = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::nearbyint(x);
      return make_float(x / scale);
    }
    if (name == "wordcount") return make_int(static_cast<int64_t>(split_whitespace(to_str(v), -1).size()));
    // The remaining filters work on the string form of the value.
    std::string s = to_str(v);
    if (name == "trim") {
      ArgReader r(args, name, {"chars"});
      return make_string(strip(s, r.string(0, std::string(kWhitespace)), true, true));
    }
    if (name == "upper") return make_string(upper(s));
    if (name == "lower") return make_string(lower(s));
    if (name == "capitalize") return make_string(capitalize(s));
    if (name == "title") return make_string(jinja_title(s));
    if (name == "e" || name == "escape") return make_string(html_escape(s));
    if (name == "replace") {
      ArgReader r(args, name, {"old", "new", "count"});
      return make_string(replace_all(s, to_str(r.require(0)), to_str(r.require(1)), r.integer(2, -1)));
    }
    if (name == "indent") {
      ArgReader r(args, name, {"width", "first", "blank"});
      Value width = r.get_or(0, make_int(4));
      if (!width.is(K::kString) && !width.is_integral()) fail("indent width must be an integer or a string");
      if (width.is_integral())
        check_string_size(static_cast<size_t>(std::clamp<int64_t>(width.as_int(), 0, INT64_MAX)));
      std::string pad = width.is(K::kString)
                            ? width.str
                            : std::string(static_cast<size_t>(std::max<int64_t>(0, width.as_int())), ' ');
      bool first = truthy(r.get_or(1, make_bool(false)));
      bool blank = truthy(r.get_or(2, make_bool(false)));
      std::vector<std::string> lines = split_on(s, "\n", -1);
      std::string out;
      for (size_t i = 0; i < lines.size(); ++i) {
        bool indent_line = (i > 0 || first) && (blank || !strip(lines[i], kWhitespace, true, true).empty());
        check_string_size(out.size() + 1 + pad.size() + lines[i].size());
        out += (i ? "\n" : "") + (indent_line ? pad : "") + lines[i];
      }
      return make_string(std::move(out));
    }
    fail("unknown filter '" + name + "'");
  }

  std::vector<Frame> frames_;
  int depth_ = 0;
  int macro_depth_ = 0;
};

template <typename Json>
Value from_json(const Json& j, int level = 0) {
  if (level > kMaxNesting) fail("context nested deeper than " + std::to_string(kMaxNesting) + " levels");
  switch (j.type()) {
    case nlohmann::json::value_t::boolean:
      return make_bool(j.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return make_int(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return make_int(static_cast<int64_t>(j.template get<uint64_t>()));
    case nlohmann::json::value_t::number_float:
      return make_float(j.template get<double>());
    case nlohmann::json::value_t::string:
      return make_string(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      List items;
      for (const auto& item : j) items.push_back(from_json(item, level + 1));
      return make_list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Dict d;
      for (const auto& [k, item] : j.items()) d.emplace_back(k, from_json(item, level + 1));
      return make_dict(std::move(d));
    }
    default:
      return make_none();
  }
}

std::string located_message(const std::string& label, const Error& e) {
  Pos p = e.pos.value_or(Pos{});
  return label + ":" + std::to_string(p.line) + ":" + std::to_string(p.col) + ": " + e.message;
}

template <typename Json>
std::string render_json(const Template& tmpl, const std::string& label, const Json& context) {
  if (!context.is_object()) throw TokenizerError(label + ": chat template context must be a JSON object");
  Budget budget;
  struct Active {
    Budget* saved;
    explicit Active(Budget* b) : saved(std::exchange(t_budget, b)) {}
    Active(const Active&) = delete;
    Active& operator=(const Active&) = delete;
    ~Active() { t_budget = saved; }
  } active(&budget);
  try {
    Renderer renderer(from_json(context));
    std::string out;
    renderer.exec_body(tmpl.body, out);
    return out;
  } catch (const Error& e) {
    throw TokenizerError(located_message(label, e));
  }
}

}  // namespace
}  // namespace jinja

ChatTemplate::ChatTemplate(std::shared_ptr<const jinja::Template> tmpl, std::string label)
    : tmpl_(std::move(tmpl)), label_(std::move(label)) {}

ChatTemplate ChatTemplate::parse(std::string_view source, const std::string& label) {
  // Jinja normalizes newlines and, without keep_trailing_newline, drops one trailing newline.
  std::string normalized;
  normalized.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      normalized += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      normalized += source[i];
    }
  }
  if (!normalized.empty() && normalized.back() == '\n') normalized.pop_back();
  try {
    auto tmpl = std::make_shared<jinja::Template>();
    tmpl->body = jinja::Parser(jinja::Lexer(std::move(normalized)).run()).parse_template();
    return ChatTemplate(std::move(tmpl), label);
  } catch (const jinja::Error& e) {
    throw TokenizerError(jinja::located_message(label, e));
  }
}

std::string ChatTemplate::render(const nlohmann::json& context) const {
  return jinja::render_json(*tmpl_, label_, context);
}

std::string ChatTemplate::render(const nlohmann::ordered_json& context) const {
  return jinja::render_json(*tmpl_, label_, context);
}

}  // namespace dpo
