#include "core/data/tokenize.h"

#include <algorithm>
#include <cctype>
#include <exception>
#include <functional>
#include <limits>
#include <optional>
#include <thread>

#include "core/runtime/error.h"

namespace dpo {

namespace {

std::vector<int64_t> widen(const std::vector<int>& ids) { return {ids.begin(), ids.end()}; }

// Thrown for a row that cannot be tokenized; the caller adds the file name.
struct RowFailure {
  size_t line;
  std::string message;
};

struct Specials {
  std::optional<int> bos, eos;
  std::string bos_text, eos_text;
  explicit Specials(const Tokenizer& t) : bos(t.bos_id()), eos(t.eos_id()) {
    if (bos) bos_text = t.piece(*bos);
    if (eos) eos_text = t.piece(*eos);
  }
};

std::vector<int64_t> encode_prompt(const Tokenizer& tokenizer, const Specials& s, std::string_view prompt,
                                   const TokenizeOptions& options, size_t line, bool& truncated) {
  bool bos = options.add_bos && s.bos;
  if (s.bos && !s.bos_text.empty() && prompt.starts_with(s.bos_text)) {
    prompt.remove_prefix(s.bos_text.size());  // the template's BOS text becomes the one BOS id
    bos = true;
  }
  auto ids = widen(tokenizer.encode(prompt));
  const auto budget = options.max_prompt_length > 0 ? options.max_prompt_length - (bos ? 1 : 0)
                                                    : std::numeric_limits<int64_t>::max();
  if (static_cast<int64_t>(ids.size()) > budget) {
    const auto keep = std::max<int64_t>(0, budget);
    if (options.prompt_truncation == PromptTruncation::kKeepEnd) {
      ids.erase(ids.begin(), ids.end() - keep);
    } else {
      ids.resize(static_cast<size_t>(keep));
    }
    truncated = true;
  }
  if (bos) ids.insert(ids.begin(), *s.bos);
  if (static_cast<int64_t>(ids.size()) >= options.max_length)
    throw RowFailure{line, "field \"prompt\": the prompt alone is " + std::to_string(ids.size()) +
                               " tokens, leaving no room for the completion under max_length " +
                               std::to_string(options.max_length) +
                               " (raise max_length or set max_prompt_length)"};
  return ids;
}

std::vector<int64_t> encode_completion(const Tokenizer& tokenizer, const Specials& s, std::string_view text,
                                       const TokenizeOptions& options) {
  bool eos = options.add_eos && s.eos;
  if (s.eos && !s.eos_text.empty()) {
    auto trimmed = text;
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back())))
      trimmed.remove_suffix(1);
    if (trimmed.ends_with(s.eos_text) && trimmed.size() > s.eos_text.size()) {
      text = trimmed.substr(0, trimmed.size() - s.eos_text.size());  // the template already closed the turn
      eos = true;
    }
  }
  auto ids = widen(tokenizer.encode(text));
  if (eos) ids.push_back(*s.eos);
  return ids;
}

int64_t completion_budget(const TokenizeOptions& options, size_t prompt_size) {
  int64_t budget = options.max_length - static_cast<int64_t>(prompt_size);
  if (options.max_completion_length > 0) budget = std::min(budget, options.max_completion_length);
  return std::max<int64_t>(1, budget);
}

bool cut(std::vector<int64_t>& ids, int64_t budget) {
  if (static_cast<int64_t>(ids.size()) <= budget) return false;
  ids.resize(static_cast<size_t>(budget));
  return true;
}

TokenizedPair pair_or_fail(const Tokenizer& tokenizer, const Specials& s, const PreferencePair& pair,
                           const TokenizeOptions& options) {
  TokenizedPair out;
  out.line = pair.line;
  out.prompt_ids = encode_prompt(tokenizer, s, pair.prompt, options, pair.line, out.prompt_truncated);
  out.chosen_ids = encode_completion(tokenizer, s, pair.chosen, options);
  out.rejected_ids = encode_completion(tokenizer, s, pair.rejected, options);
  const auto budget = completion_budget(options, out.prompt_ids.size());
  const bool a = cut(out.chosen_ids, budget);
  const bool b = cut(out.rejected_ids, budget);
  out.completion_truncated = a || b;
  return out;
}

TokenizedUnpaired unpaired_or_fail(const Tokenizer& tokenizer, const Specials& s,
                                   const UnpairedExample& example, const TokenizeOptions& options) {
  TokenizedUnpaired out;
  out.line = example.line;
  out.label = example.label;
  out.prompt_ids = encode_prompt(tokenizer, s, example.prompt, options, example.line, out.prompt_truncated);
  out.completion_ids = encode_completion(tokenizer, s, example.completion, options);
  out.completion_truncated = cut(out.completion_ids, completion_budget(options, out.prompt_ids.size()));
  return out;
}

// Runs fn(i) for i in [0, n) on up to `threads` threads over contiguous chunks.
template <typename Fn>
void parallel_for(size_t n, unsigned threads, const Fn& fn) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<size_t>(threads, std::max<size_t>(1, n / 16)));
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(threads);
  const size_t chunk = (n + threads - 1) / threads;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      try {
        for (size_t i = t * chunk; i < std::min(n, (t + 1) * chunk); ++i) fn(i);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  }
  for (auto& th : pool) th.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

// Tokenizes items in parallel, then keeps order: results, or the first failure in file order.
template <typename Out, typename In, typename Fn>
std::vector<Out> tokenize_all(const std::vector<In>& items, unsigned threads, const Fn& one,
                              const std::function<void(const RowFailure&)>& on_failure) {
  std::vector<std::optional<Out>> results(items.size());
  std::vector<std::optional<RowFailure>> failures(items.size());
  parallel_for(items.size(), threads, [&](size_t i) {
    try {
      results[i] = one(items[i]);
    } catch (const RowFailure& f) {
      failures[i] = f;
    }
  });
  std::vector<Out> out;
  out.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    if (failures[i]) {
      on_failure(*failures[i]);
    } else {
      out.push_back(std::move(*results[i]));
    }
  }
  return out;
}

}  // namespace

PromptTruncation parse_prompt_truncation(std::string_view name) {
  if (name == "keep_end") return PromptTruncation::kKeepEnd;
  if (name == "keep_start") return PromptTruncation::kKeepStart;
  throw ConfigError("prompt truncation must be keep_end or keep_start, got \"" + std::string(name) + "\"");
}

TokenizedPair tokenize_pair(const Tokenizer& tokenizer, const PreferencePair& pair,
                            const TokenizeOptions& options) {
  try {
    return pair_or_fail(tokenizer, Specials(tokenizer), pair, options);
  } catch (const RowFailure& f) {
    throw DataError("line " + std::to_string(f.line) + ": " + f.message);
  }
}

TokenizedUnpaired tokenize_unpaired(const Tokenizer& tokenizer, const UnpairedExample& example,
                                    const TokenizeOptions& options) {
  try {
    return unpaired_or_fail(tokenizer, Specials(tokenizer), example, options);
  } catch (const RowFailure& f) {
    throw DataError("line " + std::to_string(f.line) + ": " + f.message);
  }
}

std::vector<TokenizedPair> tokenize_pairs(const Tokenizer& tokenizer,
                                          const std::vector<PreferencePair>& pairs,
                                          const TokenizeOptions& options) {
  const Specials s(tokenizer);
  return tokenize_all<TokenizedPair>(
      pairs, 0, [&](const PreferencePair& p) { return pair_or_fail(tokenizer, s, p, options); },
      [](const RowFailure& f) { throw DataError("line " + std::to_string(f.line) + ": " + f.message); });
}

TokenizedDataset tokenize_dataset(const Tokenizer& tokenizer, const PreferenceDataset& dataset,
                                  const TokenizeOptions& options, BadRowPolicy on_bad_row, unsigned threads) {
  const Specials s(tokenizer);
  TokenizedDataset out;
  auto on_failure = [&](const RowFailure& f) {
    const auto message = located(dataset.source, f.line, f.message);
    if (on_bad_row == BadRowPolicy::kError) throw DataError(message);
    out.report.skipped.push_back({f.line, message});
  };
  out.pairs = tokenize_all<TokenizedPair>(
      dataset.pairs, threads, [&](const PreferencePair& p) { return pair_or_fail(tokenizer, s, p, options); },
      on_failure);
  out.unpaired = tokenize_all<TokenizedUnpaired>(
      dataset.unpaired, threads,
      [&](const UnpairedExample& e) { return unpaired_or_fail(tokenizer, s, e, options); }, on_failure);
  for (const auto& p : out.pairs) {
    out.report.prompt_truncated += p.prompt_truncated;
    out.report.completion_truncated += p.completion_truncated;
  }
  for (const auto& u : out.unpaired) {
    out.report.prompt_truncated += u.prompt_truncated;
    out.report.completion_truncated += u.completion_truncated;
  }
  return out;
}

}  // namespace dpo
