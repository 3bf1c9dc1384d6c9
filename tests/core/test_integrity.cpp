// Caches are keyed by the full content of what shapes their output, and unpacked resources are
// verified before they are used.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/data/tokenize_cache.h"
#include "core/model/llama.h"
#include "core/runtime/error.h"
#include "core/tokenizer/load_tokenizer.h"
#include "core/train/reference_logps.h"
#include "resources/demo_assets.h"
#include "tests/test_files.h"

namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) { return dpo::testing_files::fresh_dir("integrity", name); }
using dpo::testing_files::slurp;
void write(const fs::path& path, const std::string& bytes) { dpo::testing_files::write_file(path, bytes); }

// Same vocabulary in both; only the merges (or the normalizer) differ, which the pieces do not show.
std::string bpe_json(const std::string& merges, const std::string& normalizer) {
  return R"({"version": "1.0", "added_tokens": [
      {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false,
       "normalized": false, "special": true}],
    "normalizer": )" +
         normalizer + R"(, "pre_tokenizer": null, "post_processor": null, "decoder": null,
    "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
      "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": false,
      "vocab": {"<unk>": 0, "a": 1, "b": 2, "ab": 3, "A": 4},
      "merges": [)" +
         merges + "]}}";
}

}  // namespace

TEST(Integrity, TokenizerFingerprintSeesMergesAndNormalizer) {
  const auto dir = fresh_dir("tok");
  write(dir / "tokenizer.json", bpe_json(R"("a b")", "null"));
  const auto merged = dpo::load_tokenizer(dir);
  EXPECT_EQ(merged.tokenizer->encode("ab"), (std::vector<int>{3}));
  write(dir / "tokenizer.json", bpe_json("", "null"));
  const auto unmerged = dpo::load_tokenizer(dir);
  EXPECT_EQ(unmerged.tokenizer->encode("ab"), (std::vector<int>{1, 2}));
  write(dir / "tokenizer.json", bpe_json("", R"({"type": "Lowercase"})"));
  const auto lowered = dpo::load_tokenizer(dir);
  EXPECT_EQ(lowered.tokenizer->encode("A"), (std::vector<int>{1}));
  const auto a = dpo::tokenizer_fingerprint(*merged.tokenizer);
  const auto b = dpo::tokenizer_fingerprint(*unmerged.tokenizer);
  const auto c = dpo::tokenizer_fingerprint(*lowered.tokenizer);
  EXPECT_NE(a, b);
  EXPECT_NE(b, c);
  EXPECT_NE(a, c);
  // Loading the same bytes again gives the same identity (a cache hit is still possible).
  EXPECT_EQ(dpo::tokenizer_fingerprint(*dpo::load_tokenizer(dir).tokenizer), c);
}

TEST(Integrity, TokenizedCacheMissesWhenOnlyTheMergesChange) {
  const auto dir = fresh_dir("cache");
  write(dir / "tokenizer.json", bpe_json(R"("a b")", "null"));
  write(dir / "data.jsonl", R"({"prompt": "ab", "chosen": "ab", "rejected": "ba"})"
                            "\n");
  const auto cache = dir / "cache";
  const dpo::TokenizeOptions options{.max_length = 32, .add_bos = false, .add_eos = false};
  {
    const auto tok = dpo::load_tokenizer(dir);
    auto first =
        dpo::load_tokenized_dataset((dir / "data.jsonl").string(), {}, *tok.tokenizer, options, cache);
    EXPECT_FALSE(first.from_cache);
    ASSERT_EQ(first.pairs.size(), 1u);
    EXPECT_EQ(first.pairs[0].prompt_ids, (std::vector<int64_t>{3}));
    EXPECT_TRUE(dpo::load_tokenized_dataset((dir / "data.jsonl").string(), {}, *tok.tokenizer, options, cache)
                    .from_cache);
  }
  write(dir / "tokenizer.json", bpe_json("", "null"));
  const auto tok = dpo::load_tokenizer(dir);
  auto second =
      dpo::load_tokenized_dataset((dir / "data.jsonl").string(), {}, *tok.tokenizer, options, cache);
  EXPECT_FALSE(second.from_cache);  // the old key would have served {3} here
  ASSERT_EQ(second.pairs.size(), 1u);
  EXPECT_EQ(second.pairs[0].prompt_ids, (std::vector<int64_t>{1, 2}));
}

TEST(Integrity, ReferenceFingerprintSeesTheConfigNotOnlyTheWeights) {
  auto config = dpo::LlamaConfig::tiny(32);
  torch::manual_seed(3);
  dpo::LlamaForCausalLM model(config);
  const auto base = dpo::parameters_fingerprint(model);
  EXPECT_EQ(dpo::parameters_fingerprint(model), base);
  auto other = config;
  other.rope_theta = 500000.0;  // same parameter bytes, different scores
  dpo::LlamaForCausalLM twin(other);
  torch::NoGradGuard no_grad;
  auto from = model->named_parameters();
  for (auto& p : twin->named_parameters()) p.value().copy_(from[p.key()]);
  EXPECT_NE(dpo::parameters_fingerprint(twin), base);
}

TEST(Integrity, DemoModelIsVerifiedAndPlantedFilesAreReplaced) {
  const auto& files = dpo::resources::demo_model_files();
  if (files.empty()) GTEST_SKIP() << "no embedded demo model";
  const auto parent = fresh_dir("demo");
  const fs::path dir = dpo::resources::unpack_demo_model(parent.string());
  ASSERT_TRUE(fs::exists(dir / "model.safetensors"));
  std::string embedded;
  for (const auto& f : files)
    if (f.name == "model.safetensors") embedded = std::string(f.bytes);
  EXPECT_EQ(slurp(dir / "model.safetensors"), embedded);

  // Planted weights of the same size: detected and replaced, never loaded.
  std::string planted = embedded;
  planted[planted.size() / 2] ^= 0x5a;
  write(dir / "model.safetensors", planted);
  EXPECT_EQ(dpo::resources::unpack_demo_model(parent.string()), dir.string());
  EXPECT_EQ(slurp(dir / "model.safetensors"), embedded);

  // An extra file that would redirect the loader (a shard index) is not tolerated either.
  write(dir / "model.safetensors.index.json", R"({"weight_map": {}})");
  EXPECT_EQ(dpo::resources::unpack_demo_model(parent.string()), dir.string());
  EXPECT_FALSE(fs::exists(dir / "model.safetensors.index.json"));
  EXPECT_EQ(slurp(dir / "model.safetensors"), embedded);
}

// The package's copy in /usr/share/dpo-studio/demo/model is used in place when it matches, so an
// installed studio writes no model into the user's cache; a copy that differs is passed over.
TEST(Integrity, InstalledDemoModelIsUsedInPlaceOnlyWhenItMatches) {
  const auto& files = dpo::resources::demo_model_files();
  if (files.empty()) GTEST_SKIP() << "no embedded demo model";
  const auto installed = fresh_dir("share") / "demo" / "model";
  fs::create_directories(installed);
  std::string config;
  for (const auto& f : files) {
    write(installed / std::string(f.name), std::string(f.bytes));
    if (f.name == "config.json") config = std::string(f.bytes);
  }
  ASSERT_FALSE(config.empty());
  const auto cache = fresh_dir("installed-cache");
  EXPECT_EQ(dpo::resources::unpack_demo_model(cache.string(), installed.string()), installed.string());
  EXPECT_TRUE(fs::is_empty(cache));

  write(installed / "config.json", config + " ");  // one byte more: no longer the embedded model
  const fs::path used = dpo::resources::unpack_demo_model(cache.string(), installed.string());
  EXPECT_EQ(used.parent_path(), cache);
  EXPECT_EQ(slurp(used / "config.json"), config);

  // No share folder at all (a build tree): the cache, as before.
  EXPECT_EQ(fs::path(dpo::resources::unpack_demo_model(cache.string(), (installed / "absent").string())),
            used);
}

TEST(Integrity, DemoModelUnpackFailureIsAnErrorNotARandomModel) {
  if (dpo::resources::demo_model_files().empty()) GTEST_SKIP() << "no embedded demo model";
  const auto parent = fresh_dir("blocked");
  write(parent / "not-a-folder", "x");  // a file where the cache folder should be
  try {
    dpo::resources::unpack_demo_model((parent / "not-a-folder").string());
    FAIL() << "expected dpo::ModelError";
  } catch (const dpo::ModelError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("not-a-folder"), std::string::npos) << message;
    EXPECT_NE(message.find("cannot unpack the demo model"), std::string::npos) << message;
  }
}
