#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "core/runtime/error.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "core/tokenizer/tokenizer_config.h"

namespace dpo {
namespace {

const std::string kPhi2Dir = std::string(DPO_SHARED_DATA) + "/tokenizers/phi2_gpt2_bpe";

const BpeTokenizer& phi2() {
  static const std::unique_ptr<BpeTokenizer> tokenizer =
      BpeTokenizer::from_file(kPhi2Dir + "/tokenizer.json");
  return *tokenizer;
}

using Ids = std::vector<int>;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const TokenizerError& e) {
    return e.what();
  }
  return "(no TokenizerError)";
}

// ---- GPT-2 vocabulary (Phi-2 tokenizer.json) ----

TEST(BpeTokenizerGpt2, UpstreamVectors) {
  // onnxruntime-extensions test/pp_api_test/test_tokenizer_impl.cc, checked there against HF tokenizers.
  EXPECT_EQ(phi2().encode("return n"), (Ids{7783, 299}));
  EXPECT_EQ(phi2().encode(" n"), (Ids{299}));
  EXPECT_EQ(phi2().encode("abc x"), (Ids{39305, 2124}));
}

TEST(BpeTokenizerGpt2, ReferenceVectors) {
  // From tests/reference/bpe_reference.py (an independent Python GPT-2 BPE using the `regex` module) on this
  // tokenizer.json. The same script agrees with this implementation on all 7,372 strings of
  // shared/data/preference.
  EXPECT_EQ(phi2().encode("Hello world"), (Ids{15496, 995}));
  EXPECT_EQ(phi2().encode("Hello, world! It's 2024."), (Ids{15496, 11, 995, 0, 632, 338, 48609, 13}));
  EXPECT_EQ(phi2().encode("I'll we've they're"), (Ids{40, 1183, 356, 1053, 484, 821}));
  EXPECT_EQ(phi2().encode("line1\nline2\n\n"), (Ids{1370, 16, 198, 1370, 17, 628}));
  EXPECT_EQ(phi2().encode("naïve café"), (Ids{2616, 38776, 40304}));
  EXPECT_EQ(phi2().encode("你好世界"), (Ids{19526, 254, 25001, 121, 10310, 244, 45911, 234}));
  EXPECT_EQ(phi2().encode("مرحبا"), (Ids{25405, 26897, 148, 255, 39848, 12919}));
  EXPECT_EQ(phi2().encode("😀 ok"), (Ids{47249, 222, 12876}));
}

TEST(BpeTokenizerGpt2, AddedTokensAreMatchedInText) {
  EXPECT_EQ(phi2().encode("a<|endoftext|>b"), (Ids{64, 50256, 65}));
  // Whitespace runs are (non-special) added tokens: 5 spaces = 50283, 4 spaces = 50284, 2 tabs = 50294.
  EXPECT_EQ(phi2().encode("x     y"), (Ids{87, 50283, 88}));
  EXPECT_EQ(phi2().encode("def f():\n    return 1"), (Ids{4299, 277, 33529, 198, 50284, 7783, 352}));
  EXPECT_EQ(phi2().encode("tabs\t\tend"), (Ids{8658, 82, 50294, 437}));
  EXPECT_EQ(phi2().encode("  lead"), (Ids{50286, 28230}));
  // The ByteLevel post-processor adds nothing.
  EXPECT_EQ(phi2().encode_with_special("a<|endoftext|>b"), (Ids{64, 50256, 65}));
}

TEST(BpeTokenizerGpt2, VocabularyAndSpecialIds) {
  EXPECT_EQ(phi2().vocab_size(), 50295);
  EXPECT_EQ(phi2().token_to_id("<|endoftext|>"), 50256);
  EXPECT_EQ(phi2().token_to_id("Ġthe"), 262);
  EXPECT_EQ(phi2().token_to_id("no such token"), std::nullopt);
  EXPECT_EQ(phi2().piece(262), "Ġthe");
  EXPECT_EQ(phi2().piece(50257), std::string(31, ' '));
  // From tokenizer_config.json next to it: bos = eos = <|endoftext|>, no pad.
  EXPECT_EQ(phi2().bos_id(), 50256);
  EXPECT_EQ(phi2().eos_id(), 50256);
  EXPECT_EQ(phi2().pad_id(), std::nullopt);
  EXPECT_THROW(phi2().piece(50295), TokenizerError);
  EXPECT_THROW(phi2().decode(Ids{-1}), TokenizerError);
}

TEST(BpeTokenizerGpt2, RoundTrip) {
  const std::vector<std::string> texts = {
      "Hello, world!",
      "你好，世界！这是一个测试。",
      "مرحبا بالعالم، كيف حالك؟",
      "Ça va? Žluťoučký kůň úpěl ďábelské ódy. Straße ñandú",
      "😀👍🏽 family: 👨‍👩‍👧 flags 🇯🇵",
      "a  b   c    d\t\te\t\t\t\tf",
      "\n\nline\r\nnext\n\n\n",
      "   leading and trailing   ",
      "x<|endoftext|>y <|endoftext|> z",
      "ｆｕｌｌｗｉｄｔｈ １２３ and Ⅻ",
      "",
  };
  for (const std::string& text : texts) EXPECT_EQ(phi2().decode(phi2().encode(text)), text) << text;
}

TEST(BpeTokenizerGpt2, DecodeCanSkipSpecialTokens) {
  const Ids ids = phi2().encode("a<|endoftext|>b");
  EXPECT_EQ(phi2().decode(ids), "a<|endoftext|>b");
  EXPECT_EQ(phi2().decode(ids, /*skip_special_tokens=*/true), "ab");
  // A lone byte of a multi-byte character decodes to U+FFFD, as HF does.
  EXPECT_EQ(phi2().decode(Ids{19526}), "\xEF\xBF\xBD");
}

TEST(BpeTokenizerGpt2, RejectsInvalidUtf8) {
  const std::string message = error_of([] { phi2().encode("ok \xC3("); });
  EXPECT_NE(message.find("not valid UTF-8"), std::string::npos) << message;
}

TEST(BpeTokenizerGpt2, EncodesFromSeveralThreads) {
  const std::vector<std::string> texts = {"Hello, world! It's 2024.", "def f():\n    return 1", "你好世界",
                                          "naïve café", "x     y"};
  std::vector<Ids> expected;
  for (const auto& t : texts) expected.push_back(phi2().encode(t));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int round = 0; round < 200; ++round)
        for (size_t i = 0; i < texts.size(); ++i)
          if (phi2().encode(texts[i] + std::to_string(round)) !=
              phi2().encode(texts[i] + std::to_string(round)))
            ++mismatches[k];
      for (size_t i = 0; i < texts.size(); ++i)
        if (phi2().encode(texts[i]) != expected[i]) ++mismatches[k];
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches, (std::vector<int>{0, 0, 0, 0}));
}

// ---- A Llama-2-style tokenizer.json (normalizer Prepend + Replace, byte fallback) ----

// Ids derived by hand from the merges: "▁hello" = ((▁h e)(ll o)) = 14, "▁world" = ((▁w or) ld) = 22.
constexpr const char* kLlama2Json = R"json({
  "version": "1.0",
  "added_tokens": [
    {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false,
     "normalized": false, "special": true},
    {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false,
     "normalized": false, "special": true},
    {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false,
     "normalized": false, "special": true}
  ],
  "normalizer": {"type": "Sequence", "normalizers": [
    {"type": "Prepend", "prepend": "▁"},
    {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}
  ]},
  "pre_tokenizer": null,
  "post_processor": {
    "type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
    "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
             {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
    "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}
  },
  "decoder": {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
    {"type": "ByteFallback"},
    {"type": "Fuse"},
    {"type": "Strip", "content": " ", "start": 1, "stop": 0}
  ]},
  "model": {
    "type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
    "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true,
    "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0xC3>": 3, "<0xA9>": 4, "▁": 5, "h": 6, "e": 7, "l": 8,
              "o": 9, "▁h": 10, "ll": 11, "▁he": 12, "llo": 13, "▁hello": 14, "w": 15, "r": 16, "d": 17,
              "▁w": 18, "or": 19, "▁wor": 20, "ld": 21, "▁world": 22},
    "merges": ["▁ h", "l l", "▁h e", "ll o", "▁he llo", "▁ w", "o r", "▁w or", "l d", "▁wor ld"]
  }
})json";

TEST(BpeTokenizerLlama2, EncodesWithMergesAndNormalizer) {
  auto tok = BpeTokenizer::from_json_text(kLlama2Json, "llama2/tokenizer.json");
  EXPECT_EQ(tok->encode("hello world"), (Ids{14, 22}));
  EXPECT_EQ(tok->encode("hello"), (Ids{14}));
  // "▁hell": ▁h+e, l+l, then no merge of (▁he, ll).
  EXPECT_EQ(tok->encode("hell"), (Ids{12, 11}));
  EXPECT_EQ(tok->encode_with_special("hello world"), (Ids{1, 14, 22}));
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->pad_id(), std::nullopt);
  EXPECT_EQ(tok->vocab_size(), 23);
}

TEST(BpeTokenizerLlama2, ByteFallbackAndUnknown) {
  auto tok = BpeTokenizer::from_json_text(kLlama2Json, "llama2/tokenizer.json");
  // "é" is not in the vocabulary: its UTF-8 bytes C3 A9 become <0xC3> <0xA9>.
  EXPECT_EQ(tok->encode("hé"), (Ids{10, 3, 4}));
  EXPECT_EQ(tok->decode(Ids{10, 3, 4}), "hé");
  // "z" has no byte token: unknown, and fuse_unk folds the run "zz" into one <unk>.
  EXPECT_EQ(tok->encode("hzz"), (Ids{10, 0}));
  // A lone continuation byte cannot be decoded: one U+FFFD per byte token.
  EXPECT_EQ(tok->decode(Ids{14, 4}), "hello\xEF\xBF\xBD");
}

TEST(BpeTokenizerLlama2, SpecialTokensInTextAndDecode) {
  auto tok = BpeTokenizer::from_json_text(kLlama2Json, "llama2/tokenizer.json");
  // As HF does: the text on each side of a special token is normalized on its own (so gets its own ▁).
  EXPECT_EQ(tok->encode("hello</s>world"), (Ids{14, 2, 22}));
  EXPECT_EQ(tok->encode("<s>hello"), (Ids{1, 14}));
  EXPECT_EQ(tok->decode(Ids{14, 22}), "hello world");
  EXPECT_EQ(tok->decode(Ids{1, 14, 22}), "<s> hello world");
  EXPECT_EQ(tok->decode(Ids{1, 14, 22}, /*skip_special_tokens=*/true), "hello world");
  for (const std::string text : {"hello world", "hé hello", "world hello world"})
    EXPECT_EQ(tok->decode(tok->encode(text)), text);
}

TEST(BpeTokenizerLlama2, MetaspacePreTokenizerFirstScheme) {
  // The same model behind a Metaspace pre-tokenizer and decoder instead of the normalizer.
  std::string json = kLlama2Json;
  const std::string normalizer_start = R"("normalizer": {)";
  const size_t a = json.find(normalizer_start);
  const size_t b = json.find(R"("post_processor")");
  json.replace(a, b - a,
               R"("normalizer": null,
  "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true},
  )");
  const size_t d = json.find(R"("decoder")");
  const size_t m = json.find(R"("model")");
  json.replace(d, m - d, R"("decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first"},
  )");
  auto tok = BpeTokenizer::from_json_text(json, "metaspace/tokenizer.json");
  EXPECT_EQ(tok->encode("hello world"), (Ids{14, 22}));
  // "first": no ▁ is prepended to text that does not start the input; "hello" is then h, e, llo.
  EXPECT_EQ(tok->encode("<s>hello"), (Ids{1, 6, 7, 13}));
  EXPECT_EQ(tok->decode(Ids{14, 22}), "hello world");
}

// ---- A Llama-3-style tokenizer.json (Split regex + ByteLevel, ignore_merges, pair merges) ----

constexpr const char* kLlama3Json =
    R"json({
  "version": "1.0",
  "added_tokens": [
    {"id": 31, "content": "<|begin_of_text|>", "single_word": false, "lstrip": false, "rstrip": false,
     "normalized": false, "special": true},
    {"id": 32, "content": "<|end_of_text|>", "single_word": false, "lstrip": false, "rstrip": false,
     "normalized": false, "special": true}
  ],
  "normalizer": null,
  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": ")json"
    R"json((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|)json"
    R"json( ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|)json"
    R"json(\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     "behavior": "Isolated", "invert": false},
    {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}
  ]},
  "post_processor": {"type": "Sequence", "processors": [
    {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
    {"type": "TemplateProcessing",
     "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}}],
     "pair": [],
     "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [31],
                                              "tokens": ["<|begin_of_text|>"]}}}
  ]},
  "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
  "model": {
    "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
    "end_of_word_suffix": null,
    "fuse_unk": false, "byte_fallback": false, "ignore_merges": true,
    "vocab": {"H": 0, "e": 1, "l": 2, "o": 3, "Ġ": 4, "w": 5, "r": 6, "d": 7, "ll": 8, "He": 9, "llo": 10,
              "Hello": 11, "Ġw": 12, "or": 13, "Ġwor": 14, "ld": 15, "Ġworld": 16, "!": 17, "1": 18, "2": 19,
              "3": 20, "4": 21, "5": 22, "12": 23, "i": 24, "t": 25, "'": 26, "s": 27, "'s": 28, "Ċ": 29,
              "ĊĊ": 30},
    "merges": [["H", "e"], ["l", "l"], ["ll", "o"], ["He", "llo"], ["Ġ", "w"], ["o", "r"], ["Ġw", "or"],
               ["l", "d"], ["1", "2"]]
  }
})json";

TEST(BpeTokenizerLlama3, SplitRegexByteLevelAndIgnoreMerges) {
  auto tok = BpeTokenizer::from_json_text(kLlama3Json, "llama3/tokenizer.json");
  // "Ġworld" is in the vocabulary but no merge builds it (there is no "Ġwor ld"): ignore_merges takes it
  // whole.
  EXPECT_EQ(tok->encode("Hello world!"), (Ids{11, 16, 17}));
  // "Hell" is not in the vocabulary: merges give He + ll.
  EXPECT_EQ(tok->encode("Hell world"), (Ids{9, 8, 16}));
  // \p{N}{1,3} cuts "12345" into "123" (12 + 3) and "45".
  EXPECT_EQ(tok->encode("12345"), (Ids{23, 20, 21, 22}));
  // The contraction alternative splits "it's" into "it" and "'s"; "'s" is in the vocabulary.
  EXPECT_EQ(tok->encode("it's"), (Ids{24, 25, 28}));
  // "\n\n" is its own pre-token (Ċ Ċ, in the vocabulary as ĊĊ); "world" alone is w + or + ld.
  EXPECT_EQ(tok->encode("Hello\n\nworld"), (Ids{11, 30, 5, 13, 15}));
  EXPECT_EQ(tok->encode("<|begin_of_text|>Hello"), (Ids{31, 11}));
}

TEST(BpeTokenizerLlama3, PostProcessorAndDecode) {
  auto tok = BpeTokenizer::from_json_text(kLlama3Json, "llama3/tokenizer.json");
  EXPECT_EQ(tok->encode_with_special("Hello world!"), (Ids{31, 11, 16, 17}));
  EXPECT_EQ(tok->bos_id(), 31);  // from the TemplateProcessing post-processor
  EXPECT_EQ(tok->eos_id(), 32);  // by its well-known name
  EXPECT_EQ(tok->decode(Ids{11, 16, 17}), "Hello world!");
  EXPECT_EQ(tok->decode(Ids{11, 30, 5, 13, 15}), "Hello\n\nworld");
  EXPECT_EQ(tok->decode(Ids{31, 11}), "<|begin_of_text|>Hello");
  EXPECT_EQ(tok->decode(Ids{31, 11}, /*skip_special_tokens=*/true), "Hello");
}

// ---- Malformed tokenizer.json ----

TEST(BpeTokenizerErrors, NameTheFileAndTheProblem) {
  const std::string label = "bad/tokenizer.json";
  auto load = [&](const std::string& text) {
    return error_of([&] { BpeTokenizer::from_json_text(text, label); });
  };
  auto expect_contains = [&](const std::string& message, const std::string& what) {
    EXPECT_NE(message.find(label), std::string::npos) << message;
    EXPECT_NE(message.find(what), std::string::npos) << message;
  };
  expect_contains(load(R"({"version": "1.0", "added_tokens": []})"), "\"model\"");
  expect_contains(load(R"({"model": {"type": "WordPiece", "vocab": {}}})"), "model type \"WordPiece\"");
  expect_contains(
      load(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a c"]}})"),
      "merge 1 (\"a\" + \"c\") uses \"c\", which is not in the vocabulary");
  expect_contains(load(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a", "b"]]}})"),
                  "uses \"ab\", which is not in the vocabulary");
  expect_contains(load(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a"]}})"),
                  "merge 1 \"a\" is not two tokens");
  expect_contains(
      load(
          R"({"normalizer": {"type": "BertNormalizer"}, "model": {"type": "BPE", "vocab": {}, "merges": []}})"),
      "normalizer type \"BertNormalizer\" is not supported");
  expect_contains(
      load(R"({"pre_tokenizer": {"type": "Punctuation"}, "model": {"type": "BPE", "vocab": {}}})"),
      "pre_tokenizer type \"Punctuation\"");
  expect_contains(load(R"({"decoder": {"type": "WordPiece"}, "model": {"type": "BPE", "vocab": {}}})"),
                  "decoder type \"WordPiece\"");
  expect_contains(load(R"({"model": {"type": "BPE", "vocab": {"a": "zero"}}})"), "\"a\" has no valid id");
  expect_contains(load("{\"model\": "), "not valid JSON");

  const std::string missing = "/nonexistent/dir/tokenizer.json";
  const std::string message = error_of([&] { BpeTokenizer::from_file(missing); });
  EXPECT_NE(message.find(missing), std::string::npos) << message;
}

// ---- Unicode normalizers (utf8proc) ----
// Expected strings checked with Python's unicodedata.normalize and str.lower.

// A character-level BPE without pre-tokenizer, "café" merged into one token, with the given normalizer.
std::unique_ptr<BpeTokenizer> unicode_tokenizer(const std::string& normalizer) {
  return BpeTokenizer::from_json_text(R"({"normalizer": )" + normalizer + R"(,
          "model": {"type": "BPE",
                    "vocab": {"c": 0, "a": 1, "f": 2, "é": 3, "e": 4, "\u0301": 5, "i": 6, "fi": 7, "ﬁ": 8,
                              "ca": 9, "caf": 10, "café": 11, "C": 12, "A": 13, "F": 14, "E": 15, "x": 16,
                              "ο": 17, "δ": 18, "σ": 19, "ς": 20, " ": 21, "Ο": 22, "Δ": 23, "Σ": 24,
                              "\u0307": 25, "t": 26, "İ": 27, "1": 28, "2": 29, "①": 30, "²": 31},
                    "merges": ["c a", "ca f", "caf é", "f i"]},
          "added_tokens": [{"id": 32, "content": "xe\u0301", "special": false, "normalized": true}]})",
                                      "unicode/tokenizer.json");
}

TEST(BpeTokenizerNormalizers, NfcComposesBeforeBpe) {
  // e + U+0301 COMBINING ACUTE ACCENT -> U+00E9 (NFC b'\xc3\xa9').
  const auto none = unicode_tokenizer("null");
  EXPECT_EQ(none->encode("cafe\xCC\x81"), (Ids{10, 4, 5}));
  EXPECT_EQ(none->encode("caf\xC3\xA9"), (Ids{11}));
  const auto nfc = unicode_tokenizer(R"({"type": "NFC"})");
  EXPECT_EQ(nfc->encode("cafe\xCC\x81"), (Ids{11}));
  EXPECT_EQ(nfc->encode("cafe\xCC\x81"), nfc->encode("caf\xC3\xA9"));
  EXPECT_EQ(nfc->encode("e\xCC\x81"), (Ids{3}));
  EXPECT_EQ(nfc->encode("cafe"), (Ids{10, 4}));
  // A normalized added token is matched in normalized text: "xe\u0301" became "xé" and matches both forms.
  EXPECT_EQ(nfc->encode("xe\xCC\x81"
                        "a"),
            (Ids{32, 1}));
  EXPECT_EQ(nfc->encode("x\xC3\xA9"
                        "a"),
            (Ids{32, 1}));
  // The Qwen2 form: a Sequence holding NFC.
  const auto seq = unicode_tokenizer(R"({"type": "Sequence", "normalizers": [{"type": "NFC"}]})");
  EXPECT_EQ(seq->encode("cafe\xCC\x81"), (Ids{11}));
}

TEST(BpeTokenizerNormalizers, NfdDecomposes) {
  // U+00E9 -> e + U+0301 (NFD b'e\xcc\x81').
  const auto nfd = unicode_tokenizer(R"({"type": "NFD"})");
  EXPECT_EQ(nfd->encode("caf\xC3\xA9"), (Ids{10, 4, 5}));
  EXPECT_EQ(nfd->encode("cafe\xCC\x81"), (Ids{10, 4, 5}));
}

TEST(BpeTokenizerNormalizers, NfkcAndNfkdApplyCompatibilityMappings) {
  // U+FB01 LATIN SMALL LIGATURE FI -> "fi"; U+2460 CIRCLED DIGIT ONE -> "1"; U+00B2 SUPERSCRIPT TWO -> "2".
  const auto none = unicode_tokenizer("null");
  EXPECT_EQ(none->encode("\xEF\xAC\x81"), (Ids{8}));
  const auto nfkc = unicode_tokenizer(R"({"type": "NFKC"})");
  EXPECT_EQ(nfkc->encode("\xEF\xAC\x81"), (Ids{7}));
  EXPECT_EQ(nfkc->encode("\xE2\x91\xA0x\xC2\xB2"), (Ids{28, 16, 29}));
  EXPECT_EQ(nfkc->encode("cafe\xCC\x81"), (Ids{11}));
  // NFKD: "ﬁé" -> b'fie\xcc\x81'.
  const auto nfkd = unicode_tokenizer(R"({"type": "NFKD"})");
  EXPECT_EQ(nfkd->encode("\xEF\xAC\x81\xC3\xA9"), (Ids{7, 4, 5}));
}

TEST(BpeTokenizerNormalizers, LowercasePerCodePoint) {
  const auto lower =
      unicode_tokenizer(R"({"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]})");
  EXPECT_EQ(lower->encode("CAFE\xCC\x81"), (Ids{11}));
  // Per code point like HF (Rust's char::to_lowercase), so Σ -> σ even at the end of a word:
  // "".join(c.lower() for c in "ΟΔΟΣ ΣΟ") == "οδοσ σο".
  EXPECT_EQ(lower->encode("ΟΔΟΣ ΣΟ"), (Ids{17, 18, 17, 19, 21, 19, 17}));
  // U+0130 "İ".lower() == "i\u0307".
  EXPECT_EQ(lower->encode("İt"), (Ids{6, 25, 26}));
}

// ---- tokenizer_config.json ----

TEST(TokenizerConfig, ReadsPhi2Config) {
  const TokenizerConfig config = read_tokenizer_config(kPhi2Dir + "/tokenizer_config.json");
  EXPECT_EQ(config.bos_token, "<|endoftext|>");
  EXPECT_EQ(config.eos_token, "<|endoftext|>");
  EXPECT_EQ(config.unk_token, "<|endoftext|>");
  EXPECT_EQ(config.pad_token, std::nullopt);
  EXPECT_EQ(config.chat_template, std::nullopt);
  EXPECT_EQ(config.tokenizer_class, "CodeGenTokenizer");
  EXPECT_EQ(config.model_max_length, 2048);
  EXPECT_FALSE(config.add_bos_token);
  EXPECT_FALSE(config.add_eos_token);
}

class TokenizerConfigFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dpo_bpe_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }
  std::filesystem::path dir_;
};

TEST_F(TokenizerConfigFiles, AddedTokenObjectsAndTemplateList) {
  const std::string path = write("tokenizer_config.json", R"({
    "add_bos_token": true, "add_eos_token": false,
    "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false, "normalized": false,
                  "rstrip": false, "single_word": false},
    "eos_token": {"content": "</s>", "lstrip": false},
    "pad_token": null,
    "unk_token": "<unk>",
    "chat_template": [{"name": "tool_use", "template": "{{ tools }}"},
                      {"name": "default",
                       "template": "{% for m in messages %}{{ m['content'] }}{% endfor %}"}],
    "tokenizer_class": "LlamaTokenizer",
    "model_max_length": 1000000000000000019884624838656
  })");
  const TokenizerConfig config = read_tokenizer_config(path);
  EXPECT_EQ(config.bos_token, "<s>");
  EXPECT_EQ(config.eos_token, "</s>");
  EXPECT_EQ(config.pad_token, std::nullopt);
  EXPECT_EQ(config.unk_token, "<unk>");
  EXPECT_TRUE(config.add_bos_token);
  EXPECT_FALSE(config.add_eos_token);
  EXPECT_EQ(config.chat_template, "{% for m in messages %}{{ m['content'] }}{% endfor %}");
  EXPECT_EQ(config.tokenizer_class, "LlamaTokenizer");
  EXPECT_EQ(config.model_max_length, std::numeric_limits<int64_t>::max());
}

TEST_F(TokenizerConfigFiles, StringTemplateJinjaFileAndErrors) {
  EXPECT_EQ(read_tokenizer_config(write("a.json", R"({"chat_template": "{{ x }}"})")).chat_template,
            "{{ x }}");
  write("chat_template.jinja", "{{ from_file }}");
  EXPECT_EQ(read_tokenizer_config(write("b.json", R"({"eos_token": "</s>"})")).chat_template,
            "{{ from_file }}");

  const std::string bad = write("c.json", R"({"bos_token": 5})");
  const std::string message = error_of([&] { read_tokenizer_config(bad); });
  EXPECT_NE(message.find(bad), std::string::npos) << message;
  EXPECT_NE(message.find("bos_token"), std::string::npos) << message;
  EXPECT_THROW(read_tokenizer_config((dir_ / "missing.json").string()), TokenizerError);
}

TEST_F(TokenizerConfigFiles, ConfigNextToTokenizerJsonSetsSpecialIds) {
  write("tokenizer.json", kLlama2Json);
  write("tokenizer_config.json",
        R"({"bos_token": "<s>", "eos_token": {"content": "</s>"}, "pad_token": "<unk>"})");
  auto tok = BpeTokenizer::from_file((dir_ / "tokenizer.json").string());
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->pad_id(), 0);

  TokenizerConfig config;
  config.eos_token = "<|im_end|>";
  const std::string message = error_of([&] { tok->apply_config(config); });
  EXPECT_NE(message.find("eos_token \"<|im_end|>\""), std::string::npos) << message;
}

}  // namespace
}  // namespace dpo
