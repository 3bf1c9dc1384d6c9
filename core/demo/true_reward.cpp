#include "core/demo/true_reward.h"

#include <array>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

namespace dpo {

namespace {

constexpr std::array<std::string_view, 14> kPoliteWords = {
    "course",   "glad",  "gladly", "sure",     "happy", "certainly", "please",
    "pleasure", "thank", "thanks", "together", "help",  "kindly",    "welcome"};
constexpr std::array<std::string_view, 12> kRudeWords = {
    "no", "not", "away", "busy", "care", "stop", "bothering", "else", "problem", "yourself", "why", "shut"};
constexpr std::array<std::string_view, 12> kHappyWords = {
    "happy", "smiled", "laughed", "joy", "warm", "safe", "glad", "danced", "sun", "proud", "hope", "love"};
constexpr std::array<std::string_view, 11> kSadWords = {
    "sad", "cried", "lonely", "cold", "angry", "sulked", "gave", "despair", "scared", "hid", "alone"};

std::vector<std::string> lower_words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

template <size_t P, size_t N>
double lexicon_reward(std::string_view text, const std::array<std::string_view, P>& positive,
                      const std::array<std::string_view, N>& negative) {
  int pos = 0, neg = 0;
  for (const auto& w : lower_words(text)) {
    for (auto p : positive) pos += w == p;
    for (auto n : negative) neg += w == n;
  }
  if (pos + neg == 0) return 0.5;
  return 0.5 * (1.0 + static_cast<double>(pos - neg) / (pos + neg));
}

// Reads a (possibly negative) integer at text[i...]; advances i past it.
std::optional<long> read_int(std::string_view text, size_t& i) {
  while (i < text.size() && text[i] == ' ') ++i;
  bool negative = false;
  if (i < text.size() && text[i] == '-') {
    negative = true;
    ++i;
  }
  if (i >= text.size() || !std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
  long value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) && value < 1000000)
    value = value * 10 + (text[i++] - '0');
  return negative ? -value : value;
}

}  // namespace

DemoTask demo_task(std::string_view prompt) {
  if (prompt.starts_with("Question:")) return DemoTask::Arithmetic;
  if (prompt.starts_with("User:")) return DemoTask::Manners;
  if (prompt.starts_with("Story:")) return DemoTask::Story;
  return DemoTask::Unknown;
}

const char* demo_task_name(DemoTask task) {
  switch (task) {
    case DemoTask::Arithmetic:
      return "arithmetic";
    case DemoTask::Manners:
      return "manners";
    case DemoTask::Story:
      return "story";
    case DemoTask::Unknown:
      break;
  }
  return "unknown";
}

double arithmetic_reward(std::string_view prompt, std::string_view answer) {
  const auto at = prompt.find("what is ");
  if (at == std::string_view::npos) return 0;
  size_t i = at + 8;
  const auto a = read_int(prompt, i);
  while (i < prompt.size() && prompt[i] == ' ') ++i;
  if (!a || i >= prompt.size() || prompt[i] != '+') return 0;
  ++i;
  const auto b = read_int(prompt, i);
  if (!b) return 0;
  const auto eq = answer.find('=');
  if (eq == std::string_view::npos) return 0;
  size_t j = eq + 1;
  const auto given = read_int(answer, j);
  return given && *given == *a + *b ? 1.0 : 0.0;
}

double politeness_reward(std::string_view answer) { return lexicon_reward(answer, kPoliteWords, kRudeWords); }

double sentiment_reward(std::string_view answer) { return lexicon_reward(answer, kHappyWords, kSadWords); }

TrueReward true_reward(std::string_view prompt, std::string_view answer) {
  const auto task = demo_task(prompt);
  switch (task) {
    case DemoTask::Arithmetic:
      return {task, arithmetic_reward(prompt, answer)};
    case DemoTask::Manners:
      return {task, politeness_reward(answer)};
    case DemoTask::Story:
      return {task, sentiment_reward(answer)};
    case DemoTask::Unknown:
      break;
  }
  return {task, 0.0};
}

}  // namespace dpo
