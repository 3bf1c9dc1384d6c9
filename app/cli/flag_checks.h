#pragma once
// Checks of numeric flags whose failures read as one plain line ("--lr must be > 0", "--lr: 'abc' is
// not a number") instead of CLI11's ("Value 0 not in range 0.000000 to 1797693134862315708...").
#include <CLI/App.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace dpo::cli {

// Thrown by these checks while parsing; main prints "error: " + what() and exits kExitUsage. Not a
// CLI::ValidationError, which CLI11 would prefix with the flag's name a second time.
class FlagError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The exit codes of every dpo command (listed under `dpo --help`).
inline constexpr int kExitFailed = 1;       // the command could not do its work: bad data, model, run folder
inline constexpr int kExitUsage = 2;        // unknown flag, missing or bad value
inline constexpr int kExitCheckFailed = 3;  // dpo lesson run: the lesson's symptom did not show
inline constexpr int kExitInterrupted = 130;  // Ctrl+C

namespace flag_detail {

inline std::optional<double> parse_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

inline std::optional<int64_t> parse_integer(const std::string& text) {
  const char* begin = text.data() + (text.starts_with('+') ? 1 : 0);
  int64_t v = 0;
  const auto [end, error] = std::from_chars(begin, text.data() + text.size(), v);
  if (error != std::errc() || end != text.data() + text.size() || begin == end) return std::nullopt;
  return v;
}

inline std::string show(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

inline void require_number(const std::string& flag, const std::string& text) {
  if (!parse_number(text)) throw FlagError(flag + ": '" + text + "' is not a number");
}

// A rule on the value text, failing with "FLAG must be RULE"; a range is also stated in --help.
template <typename Ok>
CLI::Option* rule(CLI::Option* option, std::string must, bool integer, Ok ok) {
  const std::string flag = option->get_name();
  if (must.find(" in ") != std::string::npos || must.starts_with("in "))
    option->description(option->get_description() + "; " + must.substr(must.find("in ")));
  option->check(CLI::Validator(
      [flag, must = std::move(must), integer, ok](std::string& text) {
        require_number(flag, text);
        if (integer) {
          const auto v = parse_integer(text);
          if (!v || !ok(static_cast<double>(*v))) throw FlagError(flag + " must be " + must);
        } else if (!ok(*parse_number(text))) {
          throw FlagError(flag + " must be " + must);
        }
        return std::string();
      },
      "", "dpo-rule"));
  return option;
}

}  // namespace flag_detail

// --flag must be > 0
inline CLI::Option* positive(CLI::Option* option) {
  return flag_detail::rule(option, "> 0", false, [](double v) { return v > 0; });
}
// --flag must be >= 0
inline CLI::Option* non_negative(CLI::Option* option) {
  return flag_detail::rule(option, ">= 0", false, [](double v) { return v >= 0; });
}
// --flag must be in [lo, hi] (or [lo, hi) with hi_open)
inline CLI::Option* in_range(CLI::Option* option, double lo, double hi, bool hi_open = false) {
  return flag_detail::rule(
      option, "in [" + flag_detail::show(lo) + ", " + flag_detail::show(hi) + (hi_open ? ")" : "]"), false,
      [lo, hi, hi_open](double v) { return v >= lo && (hi_open ? v < hi : v <= hi); });
}
// --flag must be in (0, hi]
inline CLI::Option* above_zero_up_to(CLI::Option* option, double hi) {
  return flag_detail::rule(option, "in (0, " + flag_detail::show(hi) + "]", false,
                           [hi](double v) { return v > 0 && v <= hi; });
}
// --flag must be an integer >= min
inline CLI::Option* at_least(CLI::Option* option, int64_t min) {
  return flag_detail::rule(option, "an integer >= " + std::to_string(min), true,
                           [min](double v) { return v >= static_cast<double>(min); });
}
// --flag must be an integer in [lo, hi]
inline CLI::Option* int_in_range(CLI::Option* option, int64_t lo, int64_t hi) {
  return flag_detail::rule(
      option, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", true,
      [lo, hi](double v) { return v >= static_cast<double>(lo) && v <= static_cast<double>(hi); });
}

// Every numeric option of `app` and its subcommands that has no rule above gets the plain "is not a
// number" / "must be an integer" lines (and "must be an integer >= 0" for unsigned ones).
inline void check_numbers(CLI::App& app) {
  for (auto* option : app.get_options()) {
    bool ruled = false;
    try {
      ruled = option->get_validator("dpo-rule") != nullptr;
    } catch (const CLI::OptionNotFound&) {
    }
    const std::string type = option->get_type_name();
    if (ruled || option->get_expected_min() == 0) continue;
    if (type.starts_with("UINT"))
      at_least(option, 0);
    else if (type.starts_with("INT"))
      flag_detail::rule(option, "an integer", true, [](double) { return true; });
    else if (type.starts_with("FLOAT"))
      flag_detail::rule(option, "a number", false, [](double) { return true; });
  }
  for (auto* sub : app.get_subcommands(std::function<bool(CLI::App*)>{})) check_numbers(*sub);
}

}  // namespace dpo::cli
