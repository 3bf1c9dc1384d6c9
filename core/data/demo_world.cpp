#include "core/data/demo_world.h"

#include <nlohmann/json.hpp>

#include <array>

namespace dpo {

namespace {

// splitmix64: fixed output for a seed on every compiler and standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
  template <typename T, size_t N>
  const T& pick(const std::array<T, N>& items) {
    return items[below(N)];
  }

 private:
  uint64_t state_;
};

constexpr std::array<const char*, 8> kRequests = {"can you help me with my homework",
                                                  "where is the train station",
                                                  "can you lend me a pen",
                                                  "what time does the shop open",
                                                  "could you explain this word",
                                                  "can you carry this box",
                                                  "will you check my letter",
                                                  "may I sit here"};
constexpr std::array<const char*, 6> kPolite = {
    "Of course, I would be glad to help.", "Sure, happy to help you with that.",
    "Certainly, let me show you.",         "Yes, please, it is my pleasure.",
    "Gladly, thank you for asking.",       "Of course, let us do it together."};
constexpr std::array<const char*, 6> kRude = {"No. Do it yourself.", "Go away, I am busy.",
                                              "Why should I care?",  "Stop bothering me.",
                                              "Ask someone else.",   "That is not my problem."};
constexpr std::array<const char*, 6> kCharacters = {"the little dog",   "the old cat",    "the young girl",
                                                    "the tired farmer", "the small bird", "the boy"};
constexpr std::array<const char*, 6> kEvents = {"found a red ball",   "lost the way home",
                                                "met a new friend",   "saw the sea for the first time",
                                                "waited in the rain", "climbed the big hill"};
constexpr std::array<const char*, 5> kHappy = {"was happy and smiled all day.", "laughed with joy.",
                                               "felt warm, safe and glad.", "danced in the sun.",
                                               "was proud and full of hope."};
constexpr std::array<const char*, 5> kSad = {"was sad and cried.", "felt lonely and cold.",
                                             "was angry and sulked.", "gave up in despair.",
                                             "was scared and hid."};

PreferencePair arithmetic(Rng& rng) {
  const int a = static_cast<int>(rng.below(10)), b = static_cast<int>(rng.below(10));
  int wrong = a + b + 1 + static_cast<int>(rng.below(3));
  if (rng.below(2) == 0 && a + b > 2) wrong = a + b - 1 - static_cast<int>(rng.below(2));
  const std::string sum = std::to_string(a) + " + " + std::to_string(b);
  return {"Question: what is " + sum + "?\nAnswer:", " " + sum + " = " + std::to_string(a + b) + ".",
          " " + sum + " = " + std::to_string(wrong) + ".", 0};
}

PreferencePair manners(Rng& rng) {
  return {std::string("User: ") + rng.pick(kRequests) + "?\nAssistant:", std::string(" ") + rng.pick(kPolite),
          std::string(" ") + rng.pick(kRude), 0};
}

PreferencePair story(Rng& rng) {
  const std::string who = rng.pick(kCharacters);
  const std::string prompt = "Story: " + who + " " + rng.pick(kEvents) + ". In the end, " + who;
  return {prompt, std::string(" ") + rng.pick(kHappy), std::string(" ") + rng.pick(kSad), 0};
}

}  // namespace

DemoWorld generate_demo_world(uint64_t seed, size_t pair_count) {
  Rng rng(seed);
  DemoWorld world;
  for (size_t i = 0; i < pair_count; ++i) {
    PreferencePair pair;
    switch (i % 3) {
      case 0:
        pair = arithmetic(rng);
        break;
      case 1:
        pair = manners(rng);
        break;
      default:
        pair = story(rng);
        break;
    }
    pair.line = i + 1;
    world.pairs.push_back(pair);
  }
  // The tokenizer corpus covers every word the world can produce, not only the sampled pairs.
  for (int a = 0; a < 10; ++a)
    for (int b = 0; b < 10; ++b)
      world.corpus += "Question: what is " + std::to_string(a) + " + " + std::to_string(b) +
                      "?\nAnswer: " + std::to_string(a) + " + " + std::to_string(b) + " = " +
                      std::to_string(a + b) + ".\n";
  for (const char* r : kRequests) world.corpus += std::string("User: ") + r + "?\nAssistant:\n";
  for (const auto& list : {kPolite, kRude})
    for (const char* s : list) world.corpus += std::string(s) + "\n";
  for (const char* c : kCharacters)
    for (const char* e : kEvents)
      world.corpus += std::string("Story: ") + c + " " + e + ". In the end, " + c + "\n";
  for (const auto& list : {kHappy, kSad})
    for (const char* s : list) world.corpus += std::string(s) + "\n";
  return world;
}

std::string preference_jsonl(const std::vector<PreferencePair>& pairs) {
  std::string out;
  for (const auto& p : pairs) {
    nlohmann::ordered_json row;
    row["prompt"] = p.prompt;
    row["chosen"] = p.chosen;
    row["rejected"] = p.rejected;
    if (p.score_chosen) row["score_chosen"] = *p.score_chosen;
    if (p.score_rejected) row["score_rejected"] = *p.score_rejected;
    out += row.dump() + "\n";
  }
  return out;
}

std::string demo_tokenizer_train_args(const std::string& corpus_path, const std::string& model_prefix) {
  // Llama-style BPE with byte fallback (so "\n" and any other byte encode); single-threaded with fixed ids:
  // the same corpus gives the same model bytes every time.
  return "--input=" + corpus_path + " --model_prefix=" + model_prefix +
         " --model_type=bpe --vocab_size=400 --byte_fallback=true --character_coverage=1.0 --num_threads=1"
         " --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=3 --hard_vocab_limit=false"
         " --split_digits=true --normalization_rule_name=identity --add_dummy_prefix=true --minloglevel=2";
}

}  // namespace dpo
