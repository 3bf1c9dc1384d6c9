// Tokenizing 100k preference pairs: parallel speed against one thread, and peak memory against the
// bytes the token ids themselves need (target: below 3×). Run by hand; prints the ratios.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "core/data/demo_world.h"
#include "core/data/layout.h"
#include "core/data/tokenize.h"
#include "core/runtime/memory.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "resources/demo_assets.h"

namespace {
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

int main(int argc, char** argv) {
  const size_t pairs = argc > 1 ? std::stoul(argv[1]) : 100000;
  const auto path = std::filesystem::temp_directory_path() / "dpo_bench_100k.jsonl";
  {
    const auto world = dpo::generate_demo_world(7, pairs);
    std::ofstream(path) << dpo::preference_jsonl(world.pairs);
  }
  auto tokenizer = dpo::SentencePieceTokenizer::from_bytes(dpo::resources::demo_tokenizer_model(), "demo");
  const auto dataset = dpo::load_preference_dataset(path.string());
  dpo::TokenizeOptions options;

  auto t1 = std::chrono::steady_clock::now();
  { auto one = dpo::tokenize_dataset(*tokenizer, dataset, options, dpo::BadRowPolicy::kError, 1); }
  const double single = seconds_since(t1);

  const long before_kb = static_cast<long>(dpo::resident_bytes() / 1024);
  dpo::reset_peak_resident();
  auto tn = std::chrono::steady_clock::now();
  auto tokenized = dpo::tokenize_dataset(*tokenizer, dataset, options, dpo::BadRowPolicy::kError, 0);
  const double parallel = seconds_since(tn);
  const long peak_kb = static_cast<long>(dpo::peak_resident_bytes() / 1024);

  size_t ids = 0;
  for (const auto& p : tokenized.pairs)
    ids += p.prompt_ids.size() + p.chosen_ids.size() + p.rejected_ids.size();
  const double token_bytes = static_cast<double>(ids * sizeof(int64_t));
  const double used = static_cast<double>(peak_kb - before_kb) * 1024.0;
  std::printf("pairs %zu, token ids %zu (%.1f MB as int64), threads %u\n", tokenized.pairs.size(), ids,
              token_bytes / 1e6, std::thread::hardware_concurrency());
  std::printf("tokenize: 1 thread %.2f s, all threads %.2f s: %.2fx faster\n", single, parallel,
              single / parallel);
  std::printf("peak memory added while tokenizing: %.1f MB = %.2fx the token storage (target < 3x): %s\n",
              used / 1e6, used / token_bytes, used < 3 * token_bytes ? "PASS" : "FAIL");
  std::filesystem::remove(path);
  return used < 3 * token_bytes ? 0 : 1;
}
