#include "core/lessons/lesson.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <stdexcept>
#include <type_traits>

#include "core/demo/demo_datasets.h"
#include "core/runtime/error.h"
#include "core/types/loss_config.h"

namespace dpo {

namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& source, const std::string& field, const std::string& problem) {
  throw ConfigError(source + ": field " + field + ": " + problem);
}

std::string need_string(const json& j, const char* key, const std::string& source,
                        const std::string& prefix = "") {
  if (!j.contains(key)) fail(source, prefix + key, "missing");
  if (!j[key].is_string() || j[key].get<std::string>().empty())
    fail(source, prefix + key, "must be a non-empty string");
  return j[key].get<std::string>();
}

template <typename T>
T optional_number(const json& j, const char* key, T fallback, const std::string& source,
                  const std::string& prefix) {
  if (!j.contains(key)) return fallback;
  if (!j[key].is_number()) fail(source, prefix + key, "must be a number");
  if constexpr (std::is_integral_v<T>) {
    // A float is converted only when it is a whole number T can hold (the conversion is UB otherwise).
    if (j[key].is_number_float()) {
      const double v = j[key].get<double>();
      if (!(v >= static_cast<double>(std::numeric_limits<T>::min()) &&
            v < static_cast<double>(std::numeric_limits<T>::max()) + 1.0 && v == std::floor(v)))
        fail(source, prefix + key, "must be a whole number in range");
    }
  }
  return j[key].get<T>();
}

// Tokens of the check language.
struct Token {
  enum Kind { Number, Name, Op, LParen, RParen, And, End } kind;
  std::string text;
  double number = 0;
};

std::vector<Token> lex(const std::string& check, const std::string& source) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < check.size()) {
    const char c = check[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && i + 1 < check.size() && std::isdigit(static_cast<unsigned char>(check[i + 1])))) {
      size_t used = 0;
      double v = 0;
      try {
        v = std::stod(check.substr(i), &used);
      } catch (const std::out_of_range&) {
        fail(source, "check", "number out of range in \"" + check + "\"");
      }
      tokens.push_back({Token::Number, check.substr(i, used), v});
      i += used;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      // Names hold '/' and '.' ("dpo.final.rewards/margins"); division needs a space before it.
      size_t j = i;
      while (j < check.size() && (std::isalnum(static_cast<unsigned char>(check[j])) || check[j] == '_' ||
                                  check[j] == '.' || check[j] == '/'))
        ++j;
      std::string word = check.substr(i, j - i);
      tokens.push_back({word == "and" ? Token::And : Token::Name, word});
      i = j;
    } else if (c == '(' || c == ')') {
      tokens.push_back({c == '(' ? Token::LParen : Token::RParen, std::string(1, c)});
      ++i;
    } else if ((c == '<' || c == '>') && i + 1 < check.size() && check[i + 1] == '=') {
      tokens.push_back({Token::Op, check.substr(i, 2)});
      i += 2;
    } else if (c == '<' || c == '>' || c == '+' || c == '-' || c == '*' || c == '/') {
      tokens.push_back({Token::Op, std::string(1, c)});
      ++i;
    } else {
      fail(source, "check", std::string("unexpected character '") + c + "' in \"" + check + "\"");
    }
  }
  tokens.push_back({Token::End, ""});
  return tokens;
}

// Recursive descent; `values` null: syntax only (collects names).
class Parser {
 public:
  Parser(const std::string& check, const std::string& source, const std::map<std::string, double>* values)
      : check_(check), source_(source), values_(values), tokens_(lex(check, source)) {}

  CheckResult run() {
    CheckResult result;
    result.passed = true;
    do {
      CheckClause clause;
      const size_t start = pos_;
      clause.left = expr();
      if (peek().kind != Token::Op || (peek().text[0] != '<' && peek().text[0] != '>'))
        error("expected <, <=, > or >= after \"" + span(start, pos_) + "\"");
      const size_t op_at = pos_;
      const std::string op = tokens_[pos_++].text;
      clause.right = expr();
      clause.text = span(start, pos_);
      clause.passed = op == "<"    ? clause.left < clause.right
                      : op == "<=" ? clause.left <= clause.right
                      : op == ">"  ? clause.left > clause.right
                                   : clause.left >= clause.right;
      // "dpo.final.loss = 0.6931 > 0.65", naming the right side too when it is not a plain number.
      clause.measured =
          span(start, op_at) + " = " + format(clause.left) + " " + op + " " + format(clause.right);
      if (pos_ - op_at > 2 || tokens_[op_at + 1].kind != Token::Number)
        clause.measured += " (" + span(op_at + 1, pos_) + ")";
      result.passed = result.passed && clause.passed;
      result.clauses.push_back(std::move(clause));
    } while (accept(Token::And));
    if (peek().kind != Token::End) error("unexpected \"" + peek().text + "\"");
    return result;
  }
  std::vector<std::string> names;

 private:
  static std::string format(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
  }
  std::string span(size_t from, size_t to) const {
    std::string s;
    for (size_t i = from; i < to && i < tokens_.size(); ++i) {
      if (!s.empty() && tokens_[i].kind != Token::RParen && tokens_[i - 1].kind != Token::LParen) s += " ";
      s += tokens_[i].text;
    }
    return s;
  }
  const Token& peek() const { return tokens_[pos_]; }
  bool accept(Token::Kind kind) {
    if (peek().kind != kind) return false;
    ++pos_;
    return true;
  }
  bool accept_op(char op) {
    if (peek().kind != Token::Op || peek().text.size() != 1 || peek().text[0] != op) return false;
    ++pos_;
    return true;
  }
  [[noreturn]] void error(const std::string& problem) const {
    fail(source_, "check", problem + " in \"" + check_ + "\"");
  }

  double expr() {
    double v = term();
    for (;;) {
      if (accept_op('+'))
        v += term();
      else if (accept_op('-'))
        v -= term();
      else
        return v;
    }
  }
  double term() {
    double v = factor();
    for (;;) {
      if (accept_op('*'))
        v *= factor();
      else if (accept_op('/'))
        v /= factor();
      else
        return v;
    }
  }
  double factor() {
    // Each ( or unary - recurses: a bound keeps a hostile check from exhausting the stack.
    if (++depth_ > 200) error("nested too deeply");
    const struct Leave {
      int& depth;
      ~Leave() { --depth; }
    } leave{depth_};
    const Token t = peek();
    if (accept_op('-')) return -factor();
    if (accept(Token::Number)) return t.number;
    if (accept(Token::LParen)) {
      const double v = expr();
      if (!accept(Token::RParen)) error("missing )");
      return v;
    }
    if (t.kind == Token::Name && t.text == "abs" && tokens_[pos_ + 1].kind == Token::LParen) {
      pos_ += 2;
      const double v = expr();
      if (!accept(Token::RParen)) error("missing ) after abs(");
      return std::fabs(v);
    }
    if (accept(Token::Name)) {
      names.push_back(t.text);
      if (!values_) return 0;
      auto it = values_->find(t.text);
      if (it == values_->end()) error("no measured value named \"" + t.text + "\"");
      return it->second;
    }
    error(t.kind == Token::End ? "unexpected end" : "unexpected \"" + t.text + "\"");
  }

  const std::string& check_;
  const std::string& source_;
  const std::map<std::string, double>* values_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

const std::set<std::string> kValueKinds = {"first", "mid", "final", "min", "max", "heldout", "sampled"};

LessonRun parse_run(const json& j, const std::string& source, size_t index) {
  const std::string prefix = "runs[" + std::to_string(index) + "].";
  if (!j.is_object()) fail(source, "runs[" + std::to_string(index) + "]", "must be an object");
  static const std::set<std::string> known = {
      "label",           "dataset",      "objective", "loss",       "beta", "learning_rate",
      "label_smoothing", "length_alpha", "steps",     "batch_size", "seed"};
  for (const auto& [key, value] : j.items())
    if (!known.count(key))
      fail(source, prefix + key,
           "unknown (expected one of label, dataset, objective, loss, beta, learning_rate, label_smoothing, "
           "length_alpha, steps, batch_size, seed)");
  LessonRun run;
  run.label = need_string(j, "label", source, prefix);
  for (char c : run.label)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
      fail(source, prefix + "label", "only letters, digits and _");
  if (j.contains("dataset")) run.dataset = need_string(j, "dataset", source, prefix);
  const auto* dataset = find_demo_dataset(run.dataset);
  if (!dataset || run.dataset == "unpaired" || run.dataset == "eval")
    fail(source, prefix + "dataset",
         "\"" + run.dataset + "\" is not a pairwise demo dataset (clean, noisy, length-biased, scored)");
  if (j.contains("objective")) run.objective = need_string(j, "objective", source, prefix);
  if (run.objective != "dpo" && run.objective != "sft")
    fail(source, prefix + "objective", "expected \"dpo\" or \"sft\"");
  if (j.contains("loss")) run.loss = need_string(j, "loss", source, prefix);
  const auto type = parse_loss_type(run.loss);
  if (!type) fail(source, prefix + "loss", "unknown loss \"" + run.loss + "\" (see dpo loss --list)");
  if (!loss_info(*type).paired) fail(source, prefix + "loss", "\"" + run.loss + "\" needs unpaired data");
  run.beta = optional_number(j, "beta", run.beta, source, prefix);
  run.learning_rate = optional_number(j, "learning_rate", run.learning_rate, source, prefix);
  run.label_smoothing = optional_number(j, "label_smoothing", run.label_smoothing, source, prefix);
  run.length_alpha = optional_number(j, "length_alpha", run.length_alpha, source, prefix);
  run.steps = optional_number(j, "steps", run.steps, source, prefix);
  run.batch_size = optional_number(j, "batch_size", run.batch_size, source, prefix);
  run.seed = optional_number(j, "seed", run.seed, source, prefix);
  if (!(run.beta > 0)) fail(source, prefix + "beta", "must be > 0");
  if (!(run.learning_rate > 0)) fail(source, prefix + "learning_rate", "must be > 0");
  if (run.label_smoothing < 0 || run.label_smoothing >= 0.5)
    fail(source, prefix + "label_smoothing", "must be in [0, 0.5)");
  if (run.steps <= 0) fail(source, prefix + "steps", "must be > 0");
  if (run.batch_size <= 0) fail(source, prefix + "batch_size", "must be > 0");
  return run;
}

}  // namespace

Lesson parse_lesson(std::string_view json_text, const std::string& source, const std::string& name) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e400
    throw ConfigError(source + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw ConfigError(source + ": a lesson is a JSON object");
  static const std::set<std::string> known = {"number", "title",   "question", "runs",        "short_steps",
                                              "plots",  "symptom", "check",    "explanation", "seed_section"};
  for (const auto& [key, value] : j.items())
    if (!known.count(key)) fail(source, key, "unknown (see resources/lessons/README.md)");
  Lesson lesson;
  lesson.name = name;
  lesson.number = optional_number(j, "number", 0, source, "");
  lesson.title = need_string(j, "title", source);
  lesson.question = need_string(j, "question", source);
  lesson.symptom = need_string(j, "symptom", source);
  lesson.check = need_string(j, "check", source);
  lesson.explanation = need_string(j, "explanation", source);
  lesson.seed_section = need_string(j, "seed_section", source);
  if (!j.contains("runs") || !j["runs"].is_array() || j["runs"].empty())
    fail(source, "runs", "must be a non-empty list of runs");
  std::set<std::string> labels;
  for (size_t i = 0; i < j["runs"].size(); ++i) {
    lesson.runs.push_back(parse_run(j["runs"][i], source, i));
    if (!labels.insert(lesson.runs.back().label).second)
      fail(source, "runs[" + std::to_string(i) + "].label",
           "\"" + lesson.runs.back().label + "\" is used twice");
  }
  if (j.contains("short_steps")) {
    if (!j["short_steps"].is_number_integer() || j["short_steps"].get<int64_t>() <= 0)
      fail(source, "short_steps", "must be a positive integer");
    lesson.short_steps = j["short_steps"].get<int64_t>();
  }
  if (j.contains("plots")) {
    if (!j["plots"].is_array()) fail(source, "plots", "must be a list of metric names");
    for (const auto& p : j["plots"]) {
      if (!p.is_string()) fail(source, "plots", "must be a list of metric names");
      lesson.plots.push_back(p.get<std::string>());
    }
  }
  for (const auto& value_name : check_value_names(lesson.check, source)) {
    const auto dot = value_name.find('.');
    const auto dot2 = dot == std::string::npos ? std::string::npos : value_name.find('.', dot + 1);
    if (dot2 == std::string::npos)
      fail(source, "check", "\"" + value_name + "\" is not <run>.<kind>.<metric>");
    if (!labels.count(value_name.substr(0, dot)))
      fail(source, "check", "\"" + value_name + "\" names no run of this lesson");
    if (!kValueKinds.count(value_name.substr(dot + 1, dot2 - dot - 1)))
      fail(source, "check",
           "\"" + value_name + "\": kind must be first, mid, final, min, max, heldout or sampled");
  }
  return lesson;
}

CheckResult evaluate_check(const std::string& check, const std::map<std::string, double>& values,
                           const std::string& source) {
  Parser parser(check, source, &values);
  return parser.run();
}

std::vector<std::string> check_value_names(const std::string& check, const std::string& source) {
  Parser parser(check, source, nullptr);
  parser.run();
  return parser.names;
}

}  // namespace dpo
