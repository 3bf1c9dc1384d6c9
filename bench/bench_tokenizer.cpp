// Tokenizer speed: BpeTokenizer (Phi-2 / GPT-2 byte-level BPE tokenizer.json) against sentencepiece, the
// baseline measured in the same run, on every string of shared/data/preference. Requirement: >= 1 MB/s
// of text on one core. Run: build/release/bin/bench_tokenizer [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/tokenizer/bpe_tokenizer.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"

namespace {

namespace fs = std::filesystem;

const fs::path kData = fs::path(DPO_SHARED_DATA).lexically_normal();
const fs::path kPreference = kData / "preference";
const fs::path kPhi2 = kData / "tokenizers/phi2_gpt2_bpe/tokenizer.json";
const fs::path kSpmModel = kData / "tokenizers/sentencepiece/test_model.model";

constexpr double kTargetMBps = 1.0;  // MB = 10^6 bytes

void collect_strings(const nlohmann::json& j, std::vector<std::string>& out) {
  if (j.is_string()) {
    out.push_back(j.get<std::string>());
  } else if (j.is_array() || j.is_object()) {
    for (const auto& v : j) collect_strings(v, out);
  }
}

// Every string value of every .json / .jsonl file under preference/, in a fixed (sorted) file order.
std::vector<std::string> load_texts() {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(kPreference))
    if (e.is_regular_file() && (e.path().extension() == ".json" || e.path().extension() == ".jsonl"))
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<std::string> texts;
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (f.extension() == ".jsonl") {
      for (std::string line; std::getline(in, line);)
        if (line.find_first_not_of(" \t\r") != std::string::npos)
          collect_strings(nlohmann::json::parse(line), texts);
    } else {
      collect_strings(nlohmann::json::parse(in), texts);
    }
  }
  return texts;
}

std::vector<std::string> g_texts;
int64_t g_bytes = 0;

int64_t encode_all(const dpo::Tokenizer& tok) {
  int64_t n = 0;
  for (const std::string& t : g_texts) {
    auto ids = tok.encode(t);
    n += static_cast<int64_t>(ids.size());
    benchmark::DoNotOptimize(ids.data());
  }
  return n;
}

// Cold: a fresh tokenizer per iteration (its construction not timed), so the word cache starts empty.
void BM_BpeCold(benchmark::State& state) {
  int64_t tokens = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto tok = dpo::BpeTokenizer::from_file(kPhi2.string());
    state.ResumeTiming();
    tokens += encode_all(*tok);
    state.PauseTiming();
    tok.reset();
    state.ResumeTiming();
  }
  state.SetBytesProcessed(g_bytes * state.iterations());
  state.counters["tokens"] = static_cast<double>(tokens / std::max<int64_t>(1, state.iterations()));
}

// Warm: one tokenizer whose word cache already holds every word of the text.
void BM_BpeWarm(benchmark::State& state) {
  auto tok = dpo::BpeTokenizer::from_file(kPhi2.string());
  encode_all(*tok);
  int64_t tokens = 0;
  for (auto _ : state) tokens += encode_all(*tok);
  state.SetBytesProcessed(g_bytes * state.iterations());
  state.counters["tokens"] = static_cast<double>(tokens / std::max<int64_t>(1, state.iterations()));
}

void BM_SentencePiece(benchmark::State& state) {
  auto tok = dpo::SentencePieceTokenizer::from_file(kSpmModel.string());
  int64_t tokens = 0;
  for (auto _ : state) tokens += encode_all(*tok);
  state.SetBytesProcessed(g_bytes * state.iterations());
  state.counters["tokens"] = static_cast<double>(tokens / std::max<int64_t>(1, state.iterations()));
}

// The console reporter, also keeping bytes_per_second of each run for the summary.
class RecordingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& reports) override {
    ConsoleReporter::ReportRuns(reports);
    for (const Run& r : reports) {
      if (r.error_occurred || r.run_type != Run::RT_Iteration) continue;
      auto it = r.counters.find("bytes_per_second");
      if (it != r.counters.end()) rates[r.run_name.function_name].push_back(it->second.value);
    }
  }
  // Mean over the repetitions of each benchmark, in bytes per second.
  std::map<std::string, double> mean_rates() const {
    std::map<std::string, double> out;
    for (const auto& [name, v] : rates) {
      double sum = 0;
      for (double x : v) sum += x;
      out[name] = sum / static_cast<double>(v.size());
    }
    return out;
  }

 private:
  std::map<std::string, std::vector<double>> rates;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  for (const fs::path& p : {kPreference, kPhi2, kSpmModel}) {
    if (!fs::exists(p)) {
      std::printf("bench_tokenizer: skipped: %s is missing (shared data folder not available)\n", p.c_str());
      return 0;
    }
  }
  try {
    g_texts = load_texts();
    for (const std::string& t : g_texts) g_bytes += static_cast<int64_t>(t.size());
    dpo::SentencePieceTokenizer::from_file(kSpmModel.string());  // fail early if the shim is not found
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
    return 1;
  }
  std::printf("text: %zu strings, %lld bytes from %s\n", g_texts.size(), static_cast<long long>(g_bytes),
              kPreference.c_str());

  benchmark::RegisterBenchmark("BPE/phi2/cold", BM_BpeCold)->Unit(benchmark::kMillisecond)->MinTime(2.0);
  benchmark::RegisterBenchmark("BPE/phi2/warm", BM_BpeWarm)->Unit(benchmark::kMillisecond)->MinTime(2.0);
  benchmark::RegisterBenchmark("SentencePiece/test_model", BM_SentencePiece)
      ->Unit(benchmark::kMillisecond)
      ->MinTime(2.0);

  RecordingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  const auto rates = reporter.mean_rates();
  const auto spm = rates.find("SentencePiece/test_model");
  std::printf("\nsummary (MB = 10^6 bytes, one thread; target %.1f MB/s):\n", kTargetMBps);
  for (const auto& [name, bps] : rates) {
    const double mbps = bps / 1e6;
    std::printf("  %-26s %8.2f MB/s  %6.2fx target", name.c_str(), mbps, mbps / kTargetMBps);
    if (spm != rates.end() && spm->second > 0) std::printf("  %6.2fx sentencepiece", bps / spm->second);
    std::printf("  %s\n", mbps >= kTargetMBps ? "(meets target)" : "(BELOW TARGET)");
  }
  return 0;
}
