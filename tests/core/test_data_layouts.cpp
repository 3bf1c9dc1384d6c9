// Preference data: file formats, layouts, validation, tokenization rules, split, stats and cache,
// on the third-party files in shared/data/preference and on small files written here.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <zlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>

#include <unistd.h>

#include "core/data/collator.h"
#include "core/data/dataset_stats.h"
#include "core/data/jsonl_reader.h"
#include "core/data/layout.h"
#include "core/data/readers.h"
#include "core/data/split.h"
#include "core/data/tokenize.h"
#include "core/data/tokenize_cache.h"
#include "core/runtime/error.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "resources/demo_assets.h"
#include "shared_data.h"

namespace fs = std::filesystem;
using dpo::FileFormat;
using dpo::Layout;
using Ids = std::vector<int64_t>;

namespace {

const std::string kZen = "preference/trl_zen/";
const std::string kFactory = "preference/llamafactory/";
const std::string kBpeJson = shared_data("tokenizers/phi2_gpt2_bpe/tokenizer.json");

fs::path temp_dir() {
  auto dir = fs::temp_directory_path() / ("dpo_data_layouts_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

fs::path write_file(const std::string& name, const std::string& bytes) {
  auto path = temp_dir() / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

fs::path write_gzip(const std::string& name, const std::string& bytes) {
  auto path = temp_dir() / name;
  gzFile f = gzopen(path.c_str(), "wb");
  EXPECT_NE(f, nullptr);
  EXPECT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
  return path;
}

// ChatML, as Qwen2 and SmolLM2 use it (the BPE tokenizer here has no template of its own).
const char* kChatMl =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% "
    "endif %}";

// Llama-2-like: BOS text in front, EOS text after each assistant turn.
const char* kBosEosTemplate =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + "
    "message['content'] + ' [/INST]' }}{% else %}{{ ' ' + message['content'] + eos_token }}{% endif %}"
    "{% endfor %}";

struct Chat {
  dpo::ChatTemplate tmpl;
  dpo::ChatRenderer renderer;
  explicit Chat(const std::string& source, std::string bos = "<|endoftext|>",
                std::string eos = "<|endoftext|>")
      : tmpl(dpo::ChatTemplate::parse(source, "template")) {
    renderer.chat_template = &tmpl;
    renderer.bos_token = std::move(bos);
    renderer.eos_token = std::move(eos);
    renderer.description = "test template";
    renderer.template_source = source;
  }
  dpo::LayoutOptions options() const {
    dpo::LayoutOptions o;
    o.renderer = &renderer;
    return o;
  }
};

dpo::PreferenceDataset parse(const std::string& text, FileFormat format = FileFormat::kJsonl,
                             dpo::LayoutOptions options = {}) {
  return dpo::parse_preference_dataset(text, "x.jsonl", format, options);
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const dpo::Error& e) {
    return e.what();
  }
  return "no error";
}

std::string parse_error(const std::string& text, FileFormat format = FileFormat::kJsonl,
                        dpo::LayoutOptions options = {}) {
  return error_of([&] { parse(text, format, options); });
}

std::unique_ptr<dpo::Tokenizer> demo_tokenizer() {
  return dpo::SentencePieceTokenizer::from_bytes(dpo::resources::demo_tokenizer_model(), "demo");
}

// Counts encode() calls: the cache test proves a hit never tokenizes.
class CountingTokenizer final : public dpo::Tokenizer {
 public:
  explicit CountingTokenizer(const dpo::Tokenizer& inner) : inner_(inner) {}
  std::vector<int> encode(std::string_view text) const override {
    ++calls;
    return inner_.encode(text);
  }
  std::string decode(std::span<const int> ids) const override { return inner_.decode(ids); }
  std::string piece(int id) const override { return inner_.piece(id); }
  int vocab_size() const override { return inner_.vocab_size(); }
  std::optional<int> bos_id() const override { return inner_.bos_id(); }
  std::optional<int> eos_id() const override { return inner_.eos_id(); }
  std::optional<int> pad_id() const override { return inner_.pad_id(); }
  mutable std::atomic<int> calls{0};

 private:
  const dpo::Tokenizer& inner_;
};

const std::string kOk = R"({"prompt": "p", "chosen": " a", "rejected": " b"})";

}  // namespace

// ---------------------------------------------------------------- the shared third-party files

TEST(SharedFiles, TrlZenStandard) {
  const auto path = shared_data(kZen + "standard_preference.jsonl");
  DPO_REQUIRE_SHARED_FILE(path);
  auto d = dpo::load_preference_dataset(path);
  EXPECT_EQ(d.layout, Layout::kStandard);
  ASSERT_EQ(d.pairs.size(), 19u);
  EXPECT_EQ(d.pairs[0].prompt, "Beautiful is better than");
  EXPECT_EQ(d.pairs[0].chosen, " ugly.");
  EXPECT_EQ(d.pairs[0].rejected, " the moon.");
  EXPECT_EQ(d.pairs[0].line, 1u);
  EXPECT_EQ(d.pairs[18].line, 19u);
  EXPECT_TRUE(d.explanation.starts_with("jsonl, layout standard: prompt, chosen, rejected are strings"))
      << d.explanation;
  // The legacy entry point reads the same rows.
  EXPECT_EQ(dpo::read_preference_jsonl(path).size(), 19u);
}

TEST(SharedFiles, TrlZenConversationalWithChatMl) {
  const auto path = shared_data(kZen + "conversational_preference.jsonl");
  DPO_REQUIRE_SHARED_FILE(path);
  Chat chat(kChatMl);
  auto d = dpo::load_preference_dataset(path, chat.options());
  EXPECT_EQ(d.layout, Layout::kConversational);
  ASSERT_EQ(d.pairs.size(), 19u);
  EXPECT_EQ(d.pairs[0].prompt,
            "<|im_start|>user\nWhat is better than ugly?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(d.pairs[0].chosen, "Beautiful.<|im_end|>\n");
  EXPECT_EQ(d.pairs[0].rejected, "Acceptable.<|im_end|>\n");
  EXPECT_NE(d.explanation.find("rendered with test template"), std::string::npos) << d.explanation;
  // Without a template, message rows are refused with a message saying what is missing.
  EXPECT_NE(error_of([&] { dpo::load_preference_dataset(path); }).find("no chat template"),
            std::string::npos);
}

TEST(SharedFiles, TrlZenImplicitPrompt) {
  const auto path = shared_data(kZen + "standard_implicit_prompt_preference.jsonl");
  DPO_REQUIRE_SHARED_FILE(path);
  auto d = dpo::load_preference_dataset(path);
  EXPECT_EQ(d.layout, Layout::kImplicitPrompt);
  ASSERT_EQ(d.pairs.size(), 19u);
  EXPECT_EQ(d.pairs[0].prompt, "Beautiful is better than");
  EXPECT_EQ(d.pairs[0].chosen, " ugly.");
  EXPECT_EQ(d.pairs[0].rejected, " the moon.");
  // The shared start is cut at a word boundary, never inside "break"/"become".
  EXPECT_EQ(d.pairs[7].prompt, "Special cases aren't special enough to");
  EXPECT_EQ(d.pairs[7].chosen, " break the rules.");
  for (const auto& p : d.pairs) EXPECT_EQ(p.chosen.front(), ' ');
}

TEST(SharedFiles, TrlZenConversationalImplicitPrompt) {
  const auto path = shared_data(kZen + "conversational_implicit_prompt_preference.jsonl");
  DPO_REQUIRE_SHARED_FILE(path);
  Chat chat(kChatMl);
  auto d = dpo::load_preference_dataset(path, chat.options());
  EXPECT_EQ(d.layout, Layout::kImplicitPrompt);
  ASSERT_EQ(d.pairs.size(), 19u);
  EXPECT_EQ(d.pairs[0].prompt,
            "<|im_start|>user\nWhat is better than ugly?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(d.pairs[0].chosen, "Beautiful.<|im_end|>\n");
  EXPECT_EQ(d.pairs[0].rejected, "Acceptable.<|im_end|>\n");
}

TEST(SharedFiles, TrlZenUnpaired) {
  const auto path = shared_data(kZen + "standard_unpaired_preference.jsonl");
  DPO_REQUIRE_SHARED_FILE(path);
  auto d = dpo::load_preference_dataset(path);
  EXPECT_EQ(d.layout, Layout::kUnpaired);
  EXPECT_TRUE(d.pairs.empty());
  ASSERT_EQ(d.unpaired.size(), 19u);
  EXPECT_EQ(std::count_if(d.unpaired.begin(), d.unpaired.end(), [](auto& u) { return u.label; }), 10);
  EXPECT_EQ(d.unpaired[0].prompt, "Beautiful is better than");
  EXPECT_EQ(d.unpaired[0].completion, " ugly.");
  EXPECT_TRUE(d.unpaired[0].label);
  EXPECT_EQ(d.unpaired[1].completion, " worse than nothing.");
  EXPECT_FALSE(d.unpaired[1].label);
}

TEST(SharedFiles, TrlZenConversationalUnpaired) {
  const auto path = shared_data(kZen + "conversational_unpaired_preference.jsonl");
  DPO_REQUIRE_SHARED_FILE(path);
  Chat chat(kChatMl);
  auto d = dpo::load_preference_dataset(path, chat.options());
  EXPECT_EQ(d.layout, Layout::kUnpaired);
  ASSERT_EQ(d.unpaired.size(), 19u);
  EXPECT_EQ(std::count_if(d.unpaired.begin(), d.unpaired.end(), [](auto& u) { return u.label; }), 13);
  EXPECT_EQ(d.unpaired[0].prompt,
            "<|im_start|>user\nWhat is better than ugly?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(d.unpaired[0].completion, "Beautiful.<|im_end|>\n");
}

TEST(SharedFiles, LlamaFactoryDpoEn) {
  const auto path = shared_data(kFactory + "dpo_en_demo.json");
  DPO_REQUIRE_SHARED_FILE(path);
  Chat chat(kChatMl);
  auto d = dpo::load_preference_dataset(path, chat.options());
  EXPECT_EQ(d.layout, Layout::kShareGpt);
  EXPECT_EQ(d.format, FileFormat::kJson);
  ASSERT_EQ(d.pairs.size(), 300u);
  const auto& p = d.pairs[0];
  EXPECT_EQ(p.line, 2u);  // the array's first object opens on line 2
  EXPECT_EQ(
      p.prompt,
      "<|im_start|>user\nHi! I'd like to create a new language game simulating the first person perspective "
      "of a character named Angela.<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_TRUE(p.chosen.starts_with("That sounds like a fun and engaging idea! Here are some tips"));
  EXPECT_TRUE(p.chosen.ends_with("person perspective of Angela. Good luck!<|im_end|>\n"));
  EXPECT_EQ(p.chosen.size(), 1688u + 11u);  // the value's 1688 bytes + "<|im_end|>\n"
  EXPECT_TRUE(p.rejected.starts_with("Hello! I'd be happy to help you create a language game"));
  EXPECT_EQ(p.rejected.size(), 550u + 11u);
  // 80 rows open with a system turn: it renders first.
  const auto with_system = std::count_if(
      d.pairs.begin(), d.pairs.end(), [](auto& q) { return q.prompt.starts_with("<|im_start|>system\n"); });
  EXPECT_EQ(with_system, 80);
  EXPECT_EQ(d.pairs[1].line, 18u);
}

TEST(SharedFiles, LlamaFactoryDpoZh) {
  const auto path = shared_data(kFactory + "dpo_zh_demo.json");
  DPO_REQUIRE_SHARED_FILE(path);
  Chat chat(kChatMl);
  auto d = dpo::load_preference_dataset(path, chat.options());
  EXPECT_EQ(d.layout, Layout::kShareGpt);
  ASSERT_EQ(d.pairs.size(), 300u);
  EXPECT_TRUE(d.pairs[0].prompt.starts_with("<|im_start|>user\n国会的转发\n美国国会由众议院和参议院组成"));
  EXPECT_TRUE(d.pairs[0].prompt.ends_with("<|im_end|>\n<|im_start|>assistant\n"));
  EXPECT_TRUE(d.pairs[0].chosen.starts_with("计算推文的政党边际概率，我们可以使用以下代码：\n```python\n"));
  EXPECT_TRUE(d.pairs[0].rejected.starts_with("回答问题的第（a）部分"));
  EXPECT_EQ(std::count_if(d.pairs.begin(), d.pairs.end(),
                          [](auto& q) { return q.prompt.starts_with("<|im_start|>system\n"); }),
            64);
}

TEST(SharedFiles, LlamaFactoryKto) {
  const auto path = shared_data(kFactory + "kto_en_demo.json");
  DPO_REQUIRE_SHARED_FILE(path);
  Chat chat(kChatMl);
  auto d = dpo::load_preference_dataset(path, chat.options());
  EXPECT_EQ(d.layout, Layout::kKtoMessages);
  ASSERT_EQ(d.unpaired.size(), 300u);
  EXPECT_EQ(std::count_if(d.unpaired.begin(), d.unpaired.end(), [](auto& u) { return u.label; }), 150);
  const auto& u = d.unpaired[0];
  EXPECT_TRUE(u.label);
  EXPECT_TRUE(u.prompt.starts_with("<|im_start|>user\nThe Federal Trade Commission is going after spyware"));
  EXPECT_TRUE(u.prompt.ends_with("I think the answer is<|im_end|>\n<|im_start|>assistant\n"));
  EXPECT_TRUE(u.completion.starts_with("Ooh ooh ah ah! *giggle*"));
  EXPECT_TRUE(u.completion.ends_with("they're going after it! *cheer* Woohoo!<|im_end|>\n"));
}

// ---------------------------------------------------------------- file formats

TEST(Readers, CsvQuotingAndLines) {
  const std::string csv =
      "prompt,chosen,rejected\r\n"
      "\"Say \"\"hi\"\", please\",\" hi, there\",\" no\"\r\n"
      "\"two\nline prompt\",\" yes\",\" nope\"\n"
      "\n"
      "plain,\" a\",\" b\"\n";
  auto d = parse(csv, FileFormat::kCsv);
  EXPECT_EQ(d.format, FileFormat::kCsv);
  ASSERT_EQ(d.pairs.size(), 3u);
  EXPECT_EQ(d.pairs[0].prompt, "Say \"hi\", please");
  EXPECT_EQ(d.pairs[0].chosen, " hi, there");
  EXPECT_EQ(d.pairs[0].line, 2u);
  EXPECT_EQ(d.pairs[1].prompt, "two\nline prompt");
  EXPECT_EQ(d.pairs[1].line, 3u);
  EXPECT_EQ(d.pairs[2].line, 6u);  // physical line: the quoted newline and the blank line count
  EXPECT_EQ(parse_error("prompt,chosen,rejected\na,b,c\na,b\n", FileFormat::kCsv),
            "x.jsonl:3: row has 2 fields, the header has 3 (unquoted delimiter or newline in a field?)");
  EXPECT_EQ(parse_error("prompt,chosen,rejected\na,b,c\n\"a,b,c\n", FileFormat::kCsv),
            "x.jsonl:3: unterminated quoted field (a '\"' opened here never closes)");
  EXPECT_TRUE(parse_error("prompt,chosen,rejected\n\"a\"x,b,c\n", FileFormat::kCsv)
                  .starts_with("x.jsonl:2: field 1: text after a closing quote"));
}

TEST(Readers, TsvAndColumnMapping) {
  const std::string tsv =
      "question\tgood\tbad\tscore_chosen\tscore_rejected\nWhy?\t Because.\t No.\t8.5\t3\n";
  dpo::LayoutOptions o;
  o.columns = dpo::parse_column_mapping("prompt=question,chosen=good,rejected=bad");
  auto d = parse(tsv, FileFormat::kTsv, o);
  ASSERT_EQ(d.pairs.size(), 1u);
  EXPECT_EQ(d.pairs[0].prompt, "Why?");
  EXPECT_EQ(d.pairs[0].chosen, " Because.");
  EXPECT_TRUE(d.has_scores);
  EXPECT_DOUBLE_EQ(*d.pairs[0].margin(), 5.5);
  // Errors name the file's own column.
  EXPECT_EQ(parse_error("question\tgood\tbad\nWhy?\t\t No.\n", FileFormat::kTsv, o),
            "x.jsonl:2: field \"good\" is empty");
  EXPECT_THROW(dpo::parse_column_mapping("prompt"), dpo::ConfigError);
  EXPECT_THROW(dpo::parse_column_mapping("answer=x"), dpo::ConfigError);
}

TEST(Readers, JsonArrayAndDataObject) {
  const std::string array =
      "[\n  {\"prompt\": \"a\", \"chosen\": \" b\",\n   \"rejected\": \" c\"},\n  {\"prompt\": \"[x]\", "
      "\"chosen\": \"}\", \"rejected\": \"\\\"{\"}\n]\n";
  auto d = parse(array, FileFormat::kJson);
  ASSERT_EQ(d.pairs.size(), 2u);
  EXPECT_EQ(d.pairs[0].line, 2u);
  EXPECT_EQ(d.pairs[1].line, 4u);
  EXPECT_EQ(d.pairs[1].rejected, "\"{");
  auto wrapped =
      parse("{\"version\": [1, {\"x\": 2}], \"data\": [" + kOk + ", " + kOk + "]}", FileFormat::kJson);
  EXPECT_EQ(wrapped.pairs.size(), 2u);
  EXPECT_EQ(parse_error("[\n" + kOk + ",\n{\"prompt\": \"a\",\n \"chosen\": tru}\n]", FileFormat::kJson)
                .substr(0, 28),
            "x.jsonl:4: invalid JSON: syn");
  EXPECT_EQ(
      parse_error("{\"rows\": []}", FileFormat::kJson),
      "x.jsonl:1: no \"data\" array in the top-level object: expected a JSON array of rows or an object with "
      "a \"data\" array");
  EXPECT_EQ(parse_error("[\n" + kOk + ",\n" + kOk, FileFormat::kJson),
            "x.jsonl:3: invalid JSON: expected ',' or ']' after an array element");
}

TEST(Readers, GzipFilesReadLikePlainOnes) {
  std::string jsonl;
  for (int i = 0; i < 500; ++i)
    jsonl += R"({"prompt": "q)" + std::to_string(i) + R"(", "chosen": " yes", "rejected": " no"})" + "\n";
  auto gz = write_gzip("pairs.jsonl.gz", jsonl);
  auto d = dpo::load_preference_dataset(gz.string());
  EXPECT_EQ(d.format, FileFormat::kJsonl);
  ASSERT_EQ(d.pairs.size(), 500u);
  EXPECT_EQ(d.pairs[499].prompt, "q499");
  EXPECT_EQ(d.pairs[499].line, 500u);
  auto csv = dpo::load_preference_dataset(
      write_gzip("pairs.csv.gz", "prompt,chosen,rejected\n\"a,\",b,c\n").string());
  EXPECT_EQ(csv.format, FileFormat::kCsv);
  ASSERT_EQ(csv.pairs.size(), 1u);
  EXPECT_EQ(csv.pairs[0].prompt, "a,");
  auto json = dpo::load_preference_dataset(write_gzip("pairs.json.gz", "[" + kOk + "]").string());
  EXPECT_EQ(json.pairs.size(), 1u);
  // A bad row inside a compressed file still names its line.
  auto bad = write_gzip("bad.jsonl.gz", kOk + "\n" + kOk + "\n{\"prompt\": 1}\n");
  EXPECT_EQ(error_of([&] { dpo::load_preference_dataset(bad.string()); }),
            bad.string() + ":3: field \"prompt\" must be a string, got number");
}

// ---------------------------------------------------------------- layouts

TEST(Layouts, DetectionAndOverride) {
  EXPECT_EQ(parse(kOk).layout, Layout::kStandard);
  EXPECT_EQ(parse(R"({"chosen": "Hi there", "rejected": "Hi you"})").layout, Layout::kImplicitPrompt);
  EXPECT_EQ(parse(R"({"prompt": "p", "completion": " c", "label": false})").layout, Layout::kUnpaired);
  EXPECT_EQ(parse(R"({"instruction": "Add", "input": "1+1", "chosen": "2", "rejected": "3"})").layout,
            Layout::kAlpaca);
  EXPECT_EQ(
      parse_error(R"({"question": "q", "answer": "a"})"),
      "x.jsonl:1: cannot tell the layout from the keys {question, answer}: expected prompt/chosen/rejected, "
      "chosen/rejected, prompt/completion/label, conversations/chosen/rejected, instruction/chosen/rejected "
      "or "
      "messages/label; map columns with --columns prompt=...,chosen=...,rejected=...");
  dpo::LayoutOptions o;
  o.layout = Layout::kStandard;
  EXPECT_EQ(parse_error(R"({"chosen": "a", "rejected": "b"})", FileFormat::kJsonl, o),
            "x.jsonl:1: missing field \"prompt\"");
  EXPECT_EQ(dpo::parse_layout("sharegpt"), Layout::kShareGpt);
  EXPECT_THROW(dpo::parse_layout("nope"), dpo::ConfigError);
}

TEST(Layouts, AnthropicHhTranscripts) {
  auto d = parse(
      R"({"chosen": "\n\nHuman: Hi?\n\nAssistant: I can help.", "rejected": "\n\nHuman: Hi?\n\nAssistant: I cannot."})");
  EXPECT_EQ(d.layout, Layout::kImplicitPrompt);
  ASSERT_EQ(d.pairs.size(), 1u);
  EXPECT_EQ(d.pairs[0].prompt, "\n\nHuman: Hi?\n\nAssistant:");
  EXPECT_EQ(d.pairs[0].chosen, " I can help.");
  EXPECT_EQ(d.pairs[0].rejected, " I cannot.");
}

TEST(Layouts, AlpacaAndUltraFeedbackScored) {
  Chat chat(kChatMl);
  auto a = parse(
      R"({"instruction": "Add", "input": "1+1", "system": "Be brief.", "chosen": "2", "rejected": "3"})",
      FileFormat::kJsonl, chat.options());
  ASSERT_EQ(a.pairs.size(), 1u);
  EXPECT_EQ(a.pairs[0].prompt,
            "<|im_start|>system\nBe "
            "brief.<|im_end|>\n<|im_start|>user\nAdd\n1+1<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(a.pairs[0].chosen, "2<|im_end|>\n");
  // UltraFeedback-binarized: chosen/rejected repeat the user turn; scores become the margin.
  auto u =
      parse(R"({"prompt": "Hi", "prompt_id": "x", "chosen": [{"role": "user", "content": "Hi"}, )"
            R"({"role": "assistant", "content": "Hello!"}], "rejected": [{"role": "user", "content": "Hi"}, )"
            R"({"role": "assistant", "content": "Go."}], "score_chosen": 8.0, "score_rejected": 2.5})",
            FileFormat::kJsonl, chat.options());
  EXPECT_EQ(u.layout, Layout::kConversational);
  ASSERT_EQ(u.pairs.size(), 1u);
  EXPECT_EQ(u.pairs[0].prompt, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(u.pairs[0].chosen, "Hello!<|im_end|>\n");
  EXPECT_DOUBLE_EQ(*u.pairs[0].margin(), 5.5);
  EXPECT_NE(u.explanation.find("margins"), std::string::npos);
}

// ---------------------------------------------------------------- validation

TEST(Validation, EveryErrorNamesFileLineAndField) {
  EXPECT_TRUE(parse_error(kOk + "\n{\"prompt\": \"a\",}").starts_with("x.jsonl:2: invalid JSON: "));
  EXPECT_EQ(parse_error(kOk + "\n\n{\"prompt\": \"a\", \"chosen\": \"b\"}"),
            "x.jsonl:3: missing field \"rejected\"");
  EXPECT_EQ(parse_error(kOk + "\n{\"prompt\": \"a\", \"chosen\": [1], \"rejected\": \"c\"}"),
            "x.jsonl:2: field \"chosen\" must be a string, got array");
  EXPECT_EQ(parse_error(kOk + "\n{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"\"}"),
            "x.jsonl:2: field \"rejected\" is empty");
  EXPECT_EQ(parse_error(kOk + "\n{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \" \\n\"}"),
            "x.jsonl:2: field \"rejected\" is only whitespace");
  EXPECT_EQ(parse_error(kOk + "\n{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"b\"}"),
            "x.jsonl:2: \"chosen\" and \"rejected\" are identical");
  EXPECT_EQ(
      parse_error(kOk + "\n" + kOk + "\n{\"prompt\": \"caf\xE9\", \"chosen\": \"b\", \"rejected\": \"c\"}"),
      "x.jsonl:3: non-UTF-8 byte 0xE9 at byte 16 of the row (re-encode the file as UTF-8)");
  EXPECT_EQ(
      parse_error("prompt,chosen,rejected\nok,\"caf\xE9\",c\n", FileFormat::kCsv),
      "x.jsonl:2: field \"chosen\": non-UTF-8 byte 0xE9 at byte 4 of the row (re-encode the file as UTF-8)");
  EXPECT_EQ(parse_error(kOk + "\n[1]"), "x.jsonl:2: expected a JSON object, got array");
  EXPECT_EQ(parse_error(R"({"prompt": "p", "completion": " c", "label": "yes"})"),
            "x.jsonl:1: field \"label\" must be a boolean, got string");
  Chat chat(kChatMl);
  EXPECT_EQ(
      parse_error(R"({"prompt": [{"role": "user"}], "chosen": [{"role": "assistant", "content": "a"}], )"
                  R"("rejected": [{"role": "assistant", "content": "b"}]})",
                  FileFormat::kJsonl, chat.options()),
      "x.jsonl:1: field \"prompt\"[0]: missing \"content\"");
  EXPECT_EQ(
      parse_error(
          "[{\"conversations\": [{\"from\": \"gpt\", \"value\": \"x\"}], \"chosen\": {\"from\": \"gpt\", "
          "\"value\": \"a\"}, \"rejected\": {\"from\": \"gpt\", \"value\": \"b\"}}]",
          FileFormat::kJson, chat.options()),
      "x.jsonl:1: field \"conversations\" must end with a human turn (chosen/rejected answer it)");
  EXPECT_EQ(parse_error(""), "x.jsonl: no preference rows found");
}

TEST(Validation, TemplateThatRewritesThePromptIsRefused) {
  // This template only adds the generation prompt's marker when asked, but writes a different marker in front
  // of a finished assistant turn: prompt + completion does not extend the prompt.
  Chat chat(
      "{% for m in messages %}{% if m['role'] == 'user' %}U:{{ m['content'] }}\n{% else %}A:{{ m['content'] "
      "}}"
      "{% endif %}{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}");
  EXPECT_EQ(parse_error(R"({"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", )"
                        R"("content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]})",
                        FileFormat::kJsonl, chat.options()),
            "x.jsonl:1: field \"chosen\": the chat template's text for prompt + chosen does not start with "
            "its text "
            "for the prompt alone, so the completion cannot be cut out");
}

TEST(Validation, SkipPolicyCountsAndListsBadRows) {
  dpo::LayoutOptions o;
  o.on_bad_row = dpo::BadRowPolicy::kSkip;
  auto d = parse(
      kOk + "\n{bad json\n" + kOk + "\n{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"b\"}\n" + kOk,
      FileFormat::kJsonl, o);
  EXPECT_EQ(d.pairs.size(), 3u);
  ASSERT_EQ(d.skipped.size(), 2u);
  EXPECT_EQ(d.skipped[0].line, 2u);
  EXPECT_TRUE(d.skipped[0].message.starts_with("x.jsonl:2: invalid JSON"));
  EXPECT_EQ(d.skipped[1].message, "x.jsonl:4: \"chosen\" and \"rejected\" are identical");
  EXPECT_EQ(d.pairs[2].line, 5u);
  auto csv = parse("prompt,chosen,rejected\na,b\nc,d,e\n", FileFormat::kCsv, o);
  EXPECT_EQ(csv.pairs.size(), 1u);
  EXPECT_EQ(csv.skipped.size(), 1u);
  o.on_bad_row = dpo::BadRowPolicy::kSkip;
  EXPECT_EQ(parse_error("{bad\n", FileFormat::kJsonl, o), "x.jsonl: no preference rows found");
}

TEST(Validation, PromptLongerThanMaxLength) {
  auto tok = demo_tokenizer();
  auto d = parse(kOk + "\n" +
                 R"({"prompt": "Question: what is 1 + 2?\nAnswer:", "chosen": " 3.", "rejected": " 4."})");
  dpo::TokenizeOptions t{.max_length = 6, .max_prompt_length = 0};
  const auto message = error_of([&] { dpo::tokenize_dataset(*tok, d, t); });
  EXPECT_TRUE(message.starts_with("x.jsonl:2: field \"prompt\": the prompt alone is ")) << message;
  EXPECT_NE(message.find("max_length 6"), std::string::npos);
  auto skipped = dpo::tokenize_dataset(*tok, d, t, dpo::BadRowPolicy::kSkip);
  EXPECT_EQ(skipped.pairs.size(), 1u);
  ASSERT_EQ(skipped.report.skipped.size(), 1u);
  EXPECT_EQ(skipped.report.skipped[0].line, 2u);
}

// ---------------------------------------------------------------- tokenization

TEST(Tokenization, DemoSentencepieceGolden) {
  auto tok = demo_tokenizer();
  auto d = parse(
      R"({"prompt": "Question: what is 2 + 3?\nAnswer:", "chosen": " 2 + 3 = 5.", "rejected": " 2 + 3 = 6."})");
  auto t = dpo::tokenize_pair(*tok, d.pairs[0], {});
  // Ids from the embedded demo model through libsentencepiece (BOS 1, EOS 2; digits split).
  EXPECT_EQ(t.prompt_ids, (Ids{1, 284, 354, 274, 272, 346, 371, 260, 346, 372, 363, 14, 364, 281, 354}));
  EXPECT_EQ(t.chosen_ids, (Ids{346, 371, 260, 346, 372, 277, 346, 374, 359, 2}));
  EXPECT_EQ(t.rejected_ids, (Ids{346, 371, 260, 346, 372, 277, 346, 375, 359, 2}));
}

TEST(Tokenization, BpeGoldenStandardAndConversational) {
  DPO_REQUIRE_SHARED_FILE(kBpeJson);
  auto tok = dpo::BpeTokenizer::from_file(kBpeJson);
  auto d = dpo::load_preference_dataset(shared_data(kZen + "standard_preference.jsonl"));
  dpo::TokenizeOptions options;
  options.add_bos = false;  // phi-2's config: add_bos_token false
  auto t = dpo::tokenize_pair(*tok, d.pairs[0], options);
  // GPT-2 vocabulary: " is" 318, " better" 1365, " than" 621, " the" 262, "." 13; EOS <|endoftext|> 50256.
  EXPECT_EQ(t.prompt_ids, (Ids{38413, 4135, 318, 1365, 621}));
  EXPECT_EQ(t.chosen_ids, (Ids{13400, 13, 50256}));
  EXPECT_EQ(t.rejected_ids, (Ids{262, 8824, 13, 50256}));

  Chat chat(kChatMl);
  auto c =
      dpo::load_preference_dataset(shared_data(kZen + "conversational_preference.jsonl"), chat.options());
  auto ct = dpo::tokenize_pair(*tok, c.pairs[0], options);
  // phi-2 has no <|im_start|> token: the markers are plain text ("<" 27, "|" 91, ">" 29, "\n" 198).
  const Ids head{27, 91, 320, 62, 9688, 91, 29, 7220, 198, 2061, 318, 1365, 621, 13400, 30};
  ASSERT_GT(ct.prompt_ids.size(), head.size());
  EXPECT_EQ(Ids(ct.prompt_ids.begin(), ct.prompt_ids.begin() + 15), head);
  auto whole = tok->encode(c.pairs[0].prompt);
  EXPECT_EQ(ct.prompt_ids, Ids(whole.begin(), whole.end()));
  // "<|im_end|>\n" is not the EOS text, so the EOS id follows it.
  EXPECT_EQ(ct.chosen_ids, (Ids{38413, 4135, 29847, 91, 320, 62, 437, 91, 29, 198, 50256}));
}

TEST(Tokenization, BpeBoundaryIsNeverMerged) {
  DPO_REQUIRE_SHARED_FILE(kBpeJson);
  auto tok = dpo::BpeTokenizer::from_file(kBpeJson);
  // Encoded together, "Hello world" is [15496, 995]; the prompt "Hello " must keep its own space token.
  EXPECT_EQ(tok->encode("Hello world"), (std::vector<int>{15496, 995}));
  dpo::PreferencePair pair{"Hello ", "world", "there", 1};
  auto t = dpo::tokenize_pair(*tok, pair, {.add_bos = false});
  EXPECT_EQ(t.prompt_ids, (Ids{15496, 220}));
  EXPECT_EQ(t.chosen_ids, (Ids{6894, 50256}));
  // A prompt ending inside a word: "Hel" + "lo world" is not "Hello world"'s tokens, and the prompt stays a
  // prefix.
  dpo::PreferencePair partial{"Hel", "lo world", "p me", 2};
  auto p = dpo::tokenize_pair(*tok, partial, {.add_bos = false});
  auto prompt = tok->encode("Hel");
  EXPECT_EQ(p.prompt_ids, Ids(prompt.begin(), prompt.end()));
  Ids full = p.prompt_ids;
  full.insert(full.end(), p.chosen_ids.begin(), p.chosen_ids.end() - 1);
  EXPECT_NE(full, (Ids{15496, 995}));
  EXPECT_EQ(tok->decode(std::vector<int>(full.begin(), full.end())), "Hello world");
}

TEST(Tokenization, BosOnceAndEosNotDoubledWithTemplateTokens) {
  auto tok = demo_tokenizer();
  Chat chat(kBosEosTemplate, "<s>", "</s>");
  auto d =
      parse(R"({"prompt": [{"role": "user", "content": "may I sit here"}], "chosen": [{"role": "assistant", )"
            R"("content": "Of course."}], "rejected": [{"role": "assistant", "content": "No."}]})",
            FileFormat::kJsonl, chat.options());
  ASSERT_EQ(d.pairs.size(), 1u);
  EXPECT_EQ(d.pairs[0].prompt, "<s>[INST] may I sit here [/INST]");
  EXPECT_EQ(d.pairs[0].chosen, " Of course.</s>");
  for (bool add_bos : {true, false}) {
    auto t = dpo::tokenize_pair(*tok, d.pairs[0], {.add_bos = add_bos});
    EXPECT_EQ(t.prompt_ids.front(), 1);
    EXPECT_EQ(std::count(t.prompt_ids.begin(), t.prompt_ids.end(), 1), 1);
    auto rest = tok->encode("[INST] may I sit here [/INST]");
    EXPECT_EQ(Ids(t.prompt_ids.begin() + 1, t.prompt_ids.end()), Ids(rest.begin(), rest.end()));
    EXPECT_EQ(t.chosen_ids.back(), 2);
    EXPECT_EQ(std::count(t.chosen_ids.begin(), t.chosen_ids.end(), 2), 1);
    auto body = tok->encode(" Of course.");
    EXPECT_EQ(Ids(t.chosen_ids.begin(), t.chosen_ids.end() - 1), Ids(body.begin(), body.end()));
  }
}

TEST(Tokenization, TruncationModesAndCounts) {
  auto tok = demo_tokenizer();
  auto d = parse(R"({"prompt": "Story: the old cat found a red ball. In the end, the old cat", )"
                 R"("chosen": " was happy and smiled all day.", "rejected": " was sad."})"
                 "\n" +
                 kOk);
  const auto full = tok->encode(d.pairs[0].prompt);
  auto end = dpo::tokenize_dataset(*tok, d, {.max_length = 12, .max_prompt_length = 6});
  const auto& e = end.pairs[0];
  EXPECT_EQ(e.prompt_ids, (Ids{1, full[full.size() - 5], full[full.size() - 4], full[full.size() - 3],
                               full[full.size() - 2], full.back()}));
  EXPECT_TRUE(e.prompt_truncated);
  EXPECT_TRUE(e.completion_truncated);
  EXPECT_EQ(e.chosen_ids.size(), 6u);
  EXPECT_EQ(end.report.prompt_truncated, 1u);
  EXPECT_EQ(end.report.completion_truncated, 1u);
  auto start = dpo::tokenize_dataset(*tok, d,
                                     {.max_length = 40,
                                      .max_prompt_length = 6,
                                      .max_completion_length = 3,
                                      .prompt_truncation = dpo::PromptTruncation::kKeepStart});
  EXPECT_EQ(start.pairs[0].prompt_ids, (Ids{1, full[0], full[1], full[2], full[3], full[4]}));
  EXPECT_EQ(start.pairs[0].chosen_ids.size(), 3u);
  EXPECT_EQ(start.pairs[0].rejected_ids.size(), 3u);
  EXPECT_FALSE(start.pairs[1].prompt_truncated);
}

TEST(Tokenization, ParallelMatchesSerial) {
  DPO_REQUIRE_SHARED_FILE(kBpeJson);
  const auto path = shared_data(kFactory + "dpo_en_demo.json");
  DPO_REQUIRE_SHARED_FILE(path);
  auto tok = dpo::BpeTokenizer::from_file(kBpeJson);
  Chat chat(kChatMl);
  auto d = dpo::load_preference_dataset(path, chat.options());
  dpo::TokenizeOptions o{.max_length = 512, .max_prompt_length = 256, .add_bos = false};
  auto serial = dpo::tokenize_dataset(*tok, d, o, dpo::BadRowPolicy::kError, 1);
  auto parallel = dpo::tokenize_dataset(*tok, d, o, dpo::BadRowPolicy::kError, 4);
  ASSERT_EQ(serial.pairs.size(), 300u);
  ASSERT_EQ(parallel.pairs.size(), 300u);
  for (size_t i = 0; i < 300; ++i) {
    EXPECT_EQ(serial.pairs[i].prompt_ids, parallel.pairs[i].prompt_ids);
    EXPECT_EQ(serial.pairs[i].chosen_ids, parallel.pairs[i].chosen_ids);
    EXPECT_EQ(serial.pairs[i].line, parallel.pairs[i].line);
  }
  EXPECT_EQ(serial.report.prompt_truncated, parallel.report.prompt_truncated);
  EXPECT_GT(serial.report.completion_truncated, 0u);
}

// ---------------------------------------------------------------- split, stats, cache, collator

TEST(Split, NeverSharesPromptsAndIsDeterministic) {
  std::vector<dpo::PreferencePair> pairs;
  for (int i = 0; i < 200; ++i)
    pairs.push_back(
        {"prompt " + std::to_string(i % 37), " a" + std::to_string(i), " b", static_cast<size_t>(i + 1)});
  auto s = dpo::split_pairs(pairs, 0.2, 7);
  EXPECT_EQ(s.train.size() + s.eval.size(), 200u);
  EXPECT_GE(s.eval.size(), 40u);
  EXPECT_LE(s.eval.size(), 50u);
  std::set<std::string> train_prompts;
  for (const auto& p : s.train) train_prompts.insert(p.prompt);
  for (const auto& p : s.eval) EXPECT_FALSE(train_prompts.count(p.prompt)) << p.prompt;
  auto again = dpo::split_pairs(pairs, 0.2, 7);
  ASSERT_EQ(again.eval.size(), s.eval.size());
  for (size_t i = 0; i < s.eval.size(); ++i) EXPECT_EQ(again.eval[i].line, s.eval[i].line);
  // Row order does not matter, the seed does.
  auto reversed = pairs;
  std::reverse(reversed.begin(), reversed.end());
  std::set<size_t> a, b;
  for (const auto& p : s.eval) a.insert(p.line);
  for (const auto& p : dpo::split_pairs(reversed, 0.2, 7).eval) b.insert(p.line);
  EXPECT_EQ(a, b);
  std::set<size_t> other;
  for (const auto& p : dpo::split_pairs(pairs, 0.2, 8).eval) other.insert(p.line);
  EXPECT_NE(a, other);
  EXPECT_TRUE(dpo::split_pairs(pairs, 0.0, 7).eval.empty());
  EXPECT_THROW(dpo::split_pairs(pairs, 1.0, 7), dpo::ConfigError);
}

TEST(Stats, NumbersOnAHandMadeFile) {
  auto tok = demo_tokenizer();
  // 4 rows: one exact duplicate, prompt "A" three times, chosen longer in 3 of 4 pairs.
  const std::string rows =
      R"({"prompt": "User: may I sit here?\nAssistant:", "chosen": " Of course, I would be glad to help.", "rejected": " No.", "score_chosen": 9, "score_rejected": 1})"
      "\n"
      R"({"prompt": "User: may I sit here?\nAssistant:", "chosen": " Of course, I would be glad to help.", "rejected": " No.", "score_chosen": 9, "score_rejected": 1})"
      "\n"
      R"({"prompt": "User: may I sit here?\nAssistant:", "chosen": " Certainly, let me show you.", "rejected": " Go away.", "score_chosen": 7, "score_rejected": 4})"
      "\n"
      R"({"prompt": "Story: the boy", "chosen": " laughed.", "rejected": " was sad and cried.", "score_chosen": 5, "score_rejected": 5})"
      "\n";
  auto d = parse(rows);
  auto t = dpo::tokenize_dataset(*tok, d, {});
  auto s = dpo::compute_dataset_stats(d, t);
  EXPECT_EQ(s.pairs, 4u);
  EXPECT_EQ(s.layout, "standard");
  EXPECT_EQ(s.chosen_longer, 3u);
  EXPECT_EQ(s.rejected_longer, 1u);
  EXPECT_DOUBLE_EQ(s.chosen_longer_share, 0.75);
  EXPECT_FALSE(s.length_bias_warning);  // under 10 pairs: no verdict
  EXPECT_EQ(s.distinct_prompts, 2u);
  EXPECT_EQ(s.duplicate_prompt_rows, 2u);
  EXPECT_EQ(s.duplicate_pairs, 1u);
  EXPECT_DOUBLE_EQ(*s.mean_margin, (8.0 + 8.0 + 3.0 + 0.0) / 4.0);
  EXPECT_EQ(s.prompt.count, 4u);
  EXPECT_EQ(s.prompt.max, t.pairs[0].prompt_ids.size());
  EXPECT_EQ(s.prompt.min, t.pairs[3].prompt_ids.size());
  size_t binned = 0;
  for (auto c : s.chosen.bin_counts) binned += c;
  EXPECT_EQ(binned, 4u);
  EXPECT_EQ(s.to_json()["duplicate_pairs"], 1);
  EXPECT_NE(s.to_text().find("exact duplicate rows: 1"), std::string::npos);
  auto lengths = dpo::summarize_lengths({1, 9, 20, 3});
  EXPECT_EQ(lengths.bin_starts, (std::vector<size_t>{0, 8, 16}));
  EXPECT_EQ(lengths.bin_counts, (std::vector<size_t>{2, 1, 1}));
  EXPECT_EQ(lengths.p50, 3u);
  EXPECT_DOUBLE_EQ(lengths.mean, 8.25);
}

TEST(Cache, SecondLoadIsEqualAndNeverTokenizes) {
  auto inner = demo_tokenizer();
  CountingTokenizer tok(*inner);
  std::string rows;
  for (int i = 0; i < 50; ++i)
    rows += R"({"prompt": "Question: what is )" + std::to_string(i % 10) +
            R"( + 1?\nAnswer:", "chosen": " yes )" + std::to_string(i) + R"(.", "rejected": " no."})" + "\n";
  const auto path = write_file("cached.jsonl", rows);
  const auto cache = temp_dir() / "cache";
  fs::remove_all(cache);
  dpo::TokenizeOptions o{.max_length = 64, .max_prompt_length = 8};
  auto first = dpo::load_tokenized_dataset(path.string(), {}, tok, o, cache);
  EXPECT_FALSE(first.from_cache);
  EXPECT_EQ(tok.calls.load(), 150);
  auto second = dpo::load_tokenized_dataset(path.string(), {}, tok, o, cache);
  EXPECT_TRUE(second.from_cache);
  EXPECT_EQ(tok.calls.load(), 150);  // no encode call on a hit
  ASSERT_EQ(second.pairs.size(), 50u);
  for (size_t i = 0; i < 50; ++i) {
    EXPECT_EQ(second.pairs[i].prompt_ids, first.pairs[i].prompt_ids);
    EXPECT_EQ(second.pairs[i].chosen_ids, first.pairs[i].chosen_ids);
    EXPECT_EQ(second.pairs[i].rejected_ids, first.pairs[i].rejected_ids);
    EXPECT_EQ(second.pairs[i].line, first.pairs[i].line);
    EXPECT_EQ(second.pairs[i].prompt_truncated, first.pairs[i].prompt_truncated);
  }
  EXPECT_EQ(second.report.prompt_truncated, first.report.prompt_truncated);
  // Other options or other file bytes miss.
  o.max_length = 65;
  EXPECT_FALSE(dpo::load_tokenized_dataset(path.string(), {}, tok, o, cache).from_cache);
  std::ofstream(path, std::ios::app) << kOk << "\n";
  o.max_length = 64;
  auto changed = dpo::load_tokenized_dataset(path.string(), {}, tok, o, cache);
  EXPECT_FALSE(changed.from_cache);
  EXPECT_EQ(changed.pairs.size(), 51u);
  // A damaged cache file is a miss, not an error.
  for (auto& entry : fs::directory_iterator(cache)) std::ofstream(entry.path(), std::ios::binary) << "junk";
  EXPECT_FALSE(dpo::load_tokenized_dataset(path.string(), {}, tok, o, cache).from_cache);
}

TEST(Collator, PadsToMultipleOfEightAndReportsPadding) {
  std::vector<dpo::TokenizedPair> pairs(2);
  pairs[0] = {{1, 5}, {7, 2}, {8, 9, 2}, 1};
  pairs[1] = {{1}, {6, 2}, {4, 2}, 2};
  auto batch = dpo::collate_pairs(pairs, 0, 8);
  EXPECT_EQ(batch.input_ids.size(1), 8);
  EXPECT_EQ(batch.lengths, (std::vector<int64_t>{4, 3, 5, 3}));
  EXPECT_DOUBLE_EQ(batch.padding_ratio, 1.0 - 15.0 / 32.0);
  EXPECT_EQ(batch.attention_mask.sum().item<int64_t>(), 15);
  auto tight = dpo::collate_pairs(pairs, 0);
  EXPECT_EQ(tight.input_ids.size(1), 5);
  EXPECT_DOUBLE_EQ(tight.padding_ratio, 1.0 - 15.0 / 20.0);
}
