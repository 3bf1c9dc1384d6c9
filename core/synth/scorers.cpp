#include "core/synth/scorers.h"

#include "core/io/weighted_list.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <cmath>
#include <set>
#include <unordered_set>

#include "core/demo/true_reward.h"
#include "core/runtime/error.h"

namespace dpo {

namespace {

constexpr const char* kTextScorers[] = {"length", "regex", "keyword", "true", "cmd"};
constexpr const char* kModelScorers[] = {"logprob", "implicit"};

std::string known_scorers() {
  std::string known;
  for (const char* name : kTextScorers) known += (known.empty() ? "" : ", ") + std::string(name);
  for (const char* name : kModelScorers) known += ", " + std::string(name);
  return known;
}

bool is_text_scorer(std::string_view name) {
  for (const char* n : kTextScorers)
    if (name == n) return true;
  return false;
}

class LengthScorer : public Scorer {
 public:
  std::vector<double> score(std::span<const ScoreInput> inputs) override {
    std::vector<double> out;
    for (const auto& in : inputs) {
      size_t chars = 0;
      for (char c : in.answer) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
      out.push_back(static_cast<double>(chars));
    }
    return out;
  }
};

class TrueRewardScorer : public Scorer {
 public:
  std::vector<double> score(std::span<const ScoreInput> inputs) override {
    std::vector<double> out;
    for (const auto& in : inputs) out.push_back(true_reward(in.prompt, in.answer).reward);
    return out;
  }
};

class RegexScorer : public Scorer {
 public:
  explicit RegexScorer(const std::string& pattern) : context_("scorer regex \"" + pattern + "\"") {
    if (pattern.empty()) throw ConfigError("scorer regex needs a pattern (--scorer-regex)");
    if (pattern.size() > kMaxScorerPatternBytes)
      throw ConfigError("scorer regex: the pattern is " + std::to_string(pattern.size()) + " bytes, over " +
                        std::to_string(kMaxScorerPatternBytes));
    int error = 0;
    PCRE2_SIZE offset = 0;
    // MATCH_INVALID_UTF: a sampled answer cut inside a character is searched, not refused.
    pcre2_code* code =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                      PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof message);
      throw ConfigError(context_ + ": does not compile at offset " + std::to_string(offset) + ": " +
                        reinterpret_cast<const char*>(message));
    }
    code_.reset(code, pcre2_code_free);
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    context_ptr_.reset(pcre2_match_context_create(nullptr), pcre2_match_context_free);
    pcre2_set_match_limit(context_ptr_.get(), 1'000'000);
    pcre2_set_depth_limit(context_ptr_.get(), 10'000);
  }

  std::vector<double> score(std::span<const ScoreInput> inputs) override {
    std::vector<double> out;
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
        pcre2_match_data_create_from_pattern(code_.get(), nullptr), pcre2_match_data_free);
    for (const auto& in : inputs) {
      const auto s = in.answer;
      size_t offset = 0, matches = 0;
      while (offset <= s.size()) {
        const int rc = pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), offset, 0,
                                   md.get(), context_ptr_.get());
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
          PCRE2_UCHAR message[256];
          pcre2_get_error_message(rc, message, sizeof message);
          throw Error(context_ + ": " + row_name(in) + ": PCRE2 " + reinterpret_cast<const char*>(message));
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
        if (ov[1] > ov[0]) ++matches;
        // An empty match steps over one byte and any continuation bytes after it.
        offset = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
        while (ov[1] == ov[0] && offset < s.size() && (static_cast<unsigned char>(s[offset]) & 0xC0) == 0x80)
          ++offset;
      }
      out.push_back(static_cast<double>(matches));
    }
    return out;
  }

 private:
  std::string context_;
  std::shared_ptr<pcre2_code> code_;
  std::shared_ptr<pcre2_match_context> context_ptr_;
};

bool word_byte(unsigned char c) { return std::isalnum(c) != 0 || c == '\'' || c >= 0x80; }

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

class KeywordScorer : public Scorer {
 public:
  explicit KeywordScorer(const std::vector<std::string>& words) {
    if (words.empty()) throw ConfigError("scorer keyword needs words (--scorer-keywords a,b,c)");
    if (words.size() > kMaxScorerKeywords)
      throw ConfigError("scorer keyword: " + std::to_string(words.size()) + " words, over " +
                        std::to_string(kMaxScorerKeywords));
    for (const auto& w : words) {
      bool ok = !w.empty() && w.size() <= 256;
      for (char c : w) ok = ok && word_byte(static_cast<unsigned char>(c));
      if (!ok)
        throw ConfigError("scorer keyword: \"" + w.substr(0, 60) +
                          "\" is not one word (letters, digits, apostrophes; at most 256 bytes)");
      lexicon_.insert(ascii_lower(w));
    }
  }

  std::vector<double> score(std::span<const ScoreInput> inputs) override {
    std::vector<double> out;
    for (const auto& in : inputs) {
      const auto s = in.answer;
      size_t count = 0;
      for (size_t i = 0; i < s.size();) {
        if (!word_byte(static_cast<unsigned char>(s[i]))) {
          ++i;
          continue;
        }
        size_t j = i;
        while (j < s.size() && word_byte(static_cast<unsigned char>(s[j]))) ++j;
        count += lexicon_.count(ascii_lower(s.substr(i, j - i)));
        i = j;
      }
      out.push_back(static_cast<double>(count));
    }
    return out;
  }

 private:
  std::unordered_set<std::string> lexicon_;
};

class CommandScorer : public Scorer {
 public:
  explicit CommandScorer(ExternalCommand command) : command_(std::move(command)) {
    if (command_.argv.empty()) throw ConfigError("scorer cmd needs a program (--scorer-cmd \"prog args\")");
  }

  std::vector<double> score(std::span<const ScoreInput> inputs) override {
    std::vector<double> out;
    for (const auto& in : inputs) {
      const nlohmann::json request = {
          {"prompt", in.prompt}, {"answer", in.answer}, {"index", in.answer_index}};
      // Sampled text may hold invalid UTF-8: such bytes become U+FFFD rather than an exception.
      const auto line = request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
      try {
        out.push_back(parse_score_output(run_command(command_, line)));
      } catch (const Error& e) {
        throw Error("scorer cmd '" + command_.argv.front() + "': " + row_name(in) + ": " + e.what());
      }
    }
    return out;
  }

 private:
  ExternalCommand command_;
};

}  // namespace

std::vector<ScorerTerm> parse_scorer_spec(std::string_view spec) {
  std::vector<ScorerTerm> terms;
  std::set<std::string> seen;
  for (const auto& item : split_weighted_list(spec, "scorer weight ")) {
    if (item.name.empty())
      throw ConfigError("scorer \"" + std::string(spec) + "\": an empty part (expected name[:weight],...)");
    if (!is_text_scorer(item.name) && !is_model_scorer(item.name))
      throw ConfigError("unknown scorer '" + item.name + "' in \"" + std::string(spec) +
                        "\" (known: " + known_scorers() + ")");
    if (!seen.insert(item.name).second)
      throw ConfigError("scorer '" + item.name + "' given twice in \"" + std::string(spec) + "\"");
    terms.push_back({item.name, item.weight});
  }
  return terms;
}

std::string scorer_spec_string(const std::vector<ScorerTerm>& terms) {
  std::string out;
  for (const auto& t : terms) {
    char weight[32];
    std::snprintf(weight, sizeof weight, "%g", t.weight);
    out += (out.empty() ? "" : ",") + t.name + ":" + weight;
  }
  return out;
}

bool is_model_scorer(std::string_view name) {
  for (const char* n : kModelScorers)
    if (name == n) return true;
  return false;
}

std::string row_name(const ScoreInput& input) {
  return "prompt " + std::to_string(input.prompt_index + 1) + ", answer " +
         std::to_string(input.answer_index + 1);
}

std::unique_ptr<Scorer> make_text_scorer(const std::string& name, const TextScorerOptions& options) {
  if (name == "length") return std::make_unique<LengthScorer>();
  if (name == "true") return std::make_unique<TrueRewardScorer>();
  if (name == "regex") return std::make_unique<RegexScorer>(options.regex);
  if (name == "keyword") return std::make_unique<KeywordScorer>(options.keywords);
  if (name == "cmd") return std::make_unique<CommandScorer>(options.command);
  if (is_model_scorer(name))
    throw ConfigError("scorer '" + name + "' needs a model (core/synth/model_scorers.h)");
  throw ConfigError("unknown scorer '" + name + "' (known: " + known_scorers() + ")");
}

void CompositeScorer::add(ScorerTerm term, std::unique_ptr<Scorer> scorer) {
  terms_.push_back(std::move(term));
  scorers_.push_back(std::move(scorer));
}

CompositeScorer::Scores CompositeScorer::score(std::span<const ScoreInput> inputs) const {
  Scores out;
  out.total.assign(inputs.size(), 0.0);
  for (size_t t = 0; t < terms_.size(); ++t) {
    auto values = scorers_[t]->score(inputs);
    if (values.size() != inputs.size())
      throw Error("scorer " + terms_[t].name + ": " + std::to_string(values.size()) + " scores for " +
                  std::to_string(inputs.size()) + " answers");
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!std::isfinite(values[i]))
        throw Error("scorer " + terms_[t].name + ": " + row_name(inputs[i]) + ": the score is " +
                    std::to_string(values[i]) + ", not a finite number");
      out.total[i] += terms_[t].weight * values[i];
    }
    out.terms.push_back(std::move(values));
  }
  return out;
}

}  // namespace dpo
