// Hostile chat templates and dataset files (issue 19): each fails with one clear error, fast, instead
// of a crash, an allocation failure or minutes of work.
#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/data/layout.h"
#include "core/data/readers.h"
#include "core/runtime/error.h"
#include "core/tokenizer/chat_template.h"

namespace fs = std::filesystem;

namespace {

// The message of the dpo::Error `f` throws, and that it threw within `seconds`: a generous bound
// that only catches runaway work (minutes), not a timing target (loaded CI, sanitizers).
std::string error_of(const std::function<void()>& f, double seconds = 30.0) {
  const auto start = std::chrono::steady_clock::now();
  std::string message = "(no error)";
  try {
    f();
  } catch (const dpo::Error& e) {
    message = e.what();
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(took, seconds) << message;
  return message;
}

std::string render(const std::string& source) {
  return dpo::ChatTemplate::parse(source, "tokenizer_config.json").render(nlohmann::json::object());
}

std::string render_error(const std::string& source) {
  return error_of([&] { render(source); });
}

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---------------------------------------------------------------------------------------------
// Chat templates

TEST(HostileTemplate, DeepParenthesesAreANestingError) {
  const std::string source = "{{ " + repeat("(", 100000) + "1" + repeat(")", 100000) + " }}";
  const std::string e = render_error(source);
  EXPECT_EQ(e.rfind("tokenizer_config.json:1:", 0), 0u) << e;
  EXPECT_TRUE(has(e, ": nesting deeper than 200 levels")) << e;
}

TEST(HostileTemplate, DeepBracketsAndChainsAreNestingErrors) {
  EXPECT_TRUE(has(render_error("{{ " + repeat("[", 100000) + repeat("]", 100000) + " }}"),
                  "nesting deeper than 200 levels"));
  EXPECT_TRUE(has(render_error("{{ {'a': " + repeat("{'a': ", 100000) + "1" + repeat("}", 100001) + " }}"),
                  "nesting deeper than 200 levels"));
  EXPECT_TRUE(has(render_error("{{ 1" + repeat(" + 1", 100000) + " }}"), "nesting deeper than 200 levels"));
  EXPECT_TRUE(has(render_error("{{ x" + repeat("|trim", 100000) + " }}"), "nesting deeper than 200 levels"));
  EXPECT_TRUE(has(render_error("{{ " + repeat("-", 100000) + "1 }}"), "nesting deeper than 200 levels"));
  EXPECT_TRUE(has(render_error("{{ " + repeat("not ", 100000) + "1 }}"), "nesting deeper than 200 levels"));
  EXPECT_TRUE(has(render_error(repeat("{% if 1 %}", 100000) + repeat("{% endif %}", 100000)),
                  "nesting deeper than 200 levels"));
  // What real templates nest stays well inside.
  EXPECT_EQ(render("{{ " + repeat("(", 30) + "1 + 2" + repeat(")", 30) + " }}"), "3");
  EXPECT_EQ(render("{{ 1" + repeat(" + 1", 60) + " }}"), "61");
}

TEST(HostileTemplate, MacroRecursionIsAnError) {
  const std::string e = render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  EXPECT_TRUE(has(e, "macro recursion deeper than 200 levels")) << e;
  // Bounded recursion (as tool-schema templates do) still works.
  EXPECT_EQ(render("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(5) }}"),
            "54321");
}

TEST(HostileTemplate, LoopIterationsAreCountedPerRender) {
  const std::string e = render_error(
      "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
      "{% endfor %}{% endfor %}{% endfor %}");
  EXPECT_TRUE(has(e, "more than 200000 loop iterations in one render")) << e;
  EXPECT_EQ(render("{% for i in range(3) %}{% for j in range(2) %}{{ i }}{{ j }} {% endfor %}{% endfor %}"),
            "00 01 10 11 20 21 ");
}

TEST(HostileTemplate, RangeLengthIsCheckedBeforeMaterialising) {
  EXPECT_TRUE(has(render_error("{{ range(10**7)|length }}"),
                  "range() of 10000000 items is over the 1000000-item limit"));
  EXPECT_TRUE(has(render_error("{% for i in range(10**9) %}{% endfor %}"),
                  "range() of 1000000000 items is over the 1000000-item limit"));
  EXPECT_TRUE(has(render_error("{{ range(-9223372036854775807, 9223372036854775807)|length }}"),
                  "range() of 18446744073709551614 items"));
  // Bounds next to the int64 limits neither overflow nor loop.
  EXPECT_EQ(render("{{ range(9223372036854775800, 9223372036854775807, 5)|list }}"),
            "[9223372036854775800, 9223372036854775805]");
  EXPECT_EQ(render("{{ range(9223372036854775807, -9223372036854775807, -9223372036854775807)|list }}"),
            "[9223372036854775807, 0]");
  EXPECT_EQ(render("{{ range(5, 0, -2)|list }}"), "[5, 3, 1]");
  EXPECT_EQ(render("{{ range(0)|list }}{{ range(3, 1)|list }}"), "[][]");
  EXPECT_EQ(render("{{ 'abcdef'[1::9223372036854775807] }}"), "b");
}

TEST(HostileTemplate, StringLengthIsCheckedBeforeAllocating) {
  EXPECT_TRUE(has(render_error("{{ 'a' * 10**10 }}"), "string longer than 16 MB (1 bytes * 10000000000)"));
  EXPECT_TRUE(has(render_error("{{ 10**10 * 'ab' }}"), "string longer than 16 MB"));
  EXPECT_TRUE(has(render_error("{% set s = 'a' * 10000000 %}{{ s ~ s }}"), "string longer than 16 MB"));
  EXPECT_TRUE(has(render_error("{% set s = 'a' * 10000000 %}{{ s + s }}"), "string longer than 16 MB"));
  EXPECT_TRUE(has(render_error("{% set s = 'a' * 10000000 %}{{ [s, s]|join }}"), "string longer than 16 MB"));
  EXPECT_TRUE(has(render_error("{% set s = 'a' * 10000000 %}{{ s.replace('a', 'bb') }}"),
                  "string longer than 16 MB"));
  EXPECT_TRUE(has(render_error("{{ 'x'|indent(10**12) }}"), "string longer than 16 MB"));
  EXPECT_TRUE(has(render_error("{{ [1]|tojson(indent=10**12) }}"), "string longer than 16 MB"));
  EXPECT_TRUE(
      has(render_error("{{ [1] * 10**7 }}"), "list of 1 items * 10000000 is over the 1000000-item limit"));
  EXPECT_EQ(render("{{ ('ab' * 3)|length }} {{ 'ab' * -1 }}|"), "6 |");
}

TEST(HostileTemplate, IntegerOverflowIsAnError) {
  EXPECT_TRUE(has(render_error("{{ 10**10 * 10**10 }}"),
                  "integer overflow: 10000000000 * 10000000000 does not fit in 64 bits"));
  EXPECT_TRUE(has(render_error("{{ 2 ** 64 }}"), "integer overflow"));
  EXPECT_TRUE(has(render_error("{{ 9223372036854775807 + 1 }}"), "integer overflow"));
  EXPECT_TRUE(has(render_error("{{ -9223372036854775807 - 2 }}"), "integer overflow"));
  // 2 ** 10**18 is done by squaring: an error at once, not 10**18 multiplications.
  EXPECT_TRUE(has(render_error("{{ 2 ** 10**18 }}"), "integer overflow"));
  EXPECT_EQ(render("{{ 2 ** 62 }} {{ 1 ** 10**18 }} {{ (-3) ** 3 }} {{ 7 // -2 }} {{ -7 % 3 }}"),
            "4611686018427387904 1 -27 -4 2");
  EXPECT_TRUE(has(render_error("{{ 1e300|int }}"), "does not fit in 64 bits"));
}

TEST(HostileTemplate, OutputSizeIsLimited) {
  const std::string e = render_error("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}");
  EXPECT_TRUE(has(e, "output longer than 16 MB")) << e;
}

TEST(HostileTemplate, ValueNestingIsLimited) {
  const std::string e = render_error(
      "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l "
      "}}");
  EXPECT_TRUE(has(e, "value nested deeper than 200 levels")) << e;
  EXPECT_TRUE(has(render_error("{% for i in range(100000) %}{% set n = namespace() %}{% endfor %}"),
                  "more than 1000 namespace() objects in one render"));
}

TEST(HostileTemplate, CopyingLargeValuesIsBudgeted) {
  // Strings are values: each lookup copies the string, so without a budget these loops would copy
  // 20 GB and 10 TB.
  std::string e =
      render_error("{% set s = 'a' * 100000 %}{% for i in range(200000) %}{% if s %}{% endif %}{% endfor %}");
  EXPECT_TRUE(has(e, "rendering created or copied more than 256 MB of values")) << e;
  e = error_of(
      [] {
        render("{% set s = 'a' * 10000000 %}{% for i in range(1000000) %}{% if s %}{% endif %}{% endfor %}");
      },
      10.0);
  EXPECT_TRUE(has(e, "rendering created or copied more than 256 MB of values")) << e;
}

TEST(HostileTemplate, ContextNestingIsLimited) {
  nlohmann::json context = nlohmann::json::array();
  for (int i = 0; i < 300; ++i) context = nlohmann::json::array({context});
  const auto tmpl = dpo::ChatTemplate::parse("{{ x }}", "chat template");
  const std::string e = error_of([&] { tmpl.render(nlohmann::json{{"x", context}}); });
  EXPECT_EQ(e.rfind("chat template:", 0), 0u) << e;
  EXPECT_TRUE(has(e, "context nested deeper than 200 levels")) << e;
}

TEST(HostileTemplate, AttributeIndexOutOfRangeIsAnError) {
  EXPECT_TRUE(has(render_error("{{ x.99999999999999999999 }}"), "integer literal out of range"));
}

// ---------------------------------------------------------------------------------------------
// Dataset files

class HostileFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dpo_hostile_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& bytes) const {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  static std::string load_error(const std::string& path) {
    return error_of([&] { dpo::load_preference_dataset(path, dpo::LayoutOptions{}); }, 30.0);
  }

  fs::path dir_;
};

const std::string kRow = R"({"prompt": "p", "chosen": "a", "rejected": "b"})";

TEST_F(HostileFile, DeepJsonlRowIsALineError) {
  const std::string deep =
      R"({"prompt": "p", "chosen": )" + repeat("[", 100000) + repeat("]", 100000) + R"(, "rejected": "b"})";
  const std::string path = write("deep.jsonl", kRow + "\n" + deep + "\n");
  EXPECT_EQ(load_error(path), path + ":2: JSON nested deeper than 64 levels");
}

TEST_F(HostileFile, DepthLimitIsExactly64) {
  auto rows_read = [&](size_t depth) {
    size_t rows = 0;
    const std::string text = repeat("[", depth) + R"("x")" + repeat("]", depth) + "\n";
    dpo::parse_rows(text, "rows.jsonl", dpo::FileFormat::kJsonl, [&](dpo::RawRow&&) { return ++rows, true; });
    return rows;
  };
  EXPECT_EQ(rows_read(64), 1u);
  EXPECT_EQ(error_of([&] { rows_read(65); }), "rows.jsonl:1: JSON nested deeper than 64 levels");
  // Brackets inside strings are text, not nesting.
  size_t rows = 0;
  dpo::parse_rows("[\"" + repeat("[{", 1000) + "\\\"\"]\n", "s.jsonl", dpo::FileFormat::kJsonl,
                  [&](dpo::RawRow&& row) {
                    EXPECT_EQ(row.value[0].get<std::string>().size(), 2001u);
                    return ++rows, true;
                  });
  EXPECT_EQ(rows, 1u);
}

TEST_F(HostileFile, DeepJsonArrayElementIsALineError) {
  const std::string path = write(
      "deep.json", "[\n" + kRow + ",\n" + repeat("{\"a\":", 100000) + "1" + repeat("}", 100000) + "\n]\n");
  EXPECT_EQ(load_error(path), path + ":3: JSON nested deeper than 64 levels");
}

TEST_F(HostileFile, LongRowIsRefusedWithoutBufferingIt) {
  const std::string long_row =
      R"({"prompt": ")" + std::string(size_t{65} << 20, 'x') + R"(", "chosen": "a"})";
  const std::string jsonl = write("long.jsonl", kRow + "\n" + long_row + "\n");
  EXPECT_EQ(load_error(jsonl), jsonl + ":2: row longer than 64 MB");
  const std::string json = write("long.json", "[" + kRow + ",\n\n" + long_row + "]");
  EXPECT_EQ(load_error(json), json + ":3: row longer than 64 MB");
  const std::string csv = write(
      "long.csv", "prompt,chosen,rejected\np,a,b\n\"" + std::string(size_t{65} << 20, 'x') + "\",a,b\n");
  EXPECT_EQ(load_error(csv), csv + ":3: row longer than 64 MB");
  // Under --on-bad-row skip the long row is dropped and the rest is read.
  dpo::LayoutOptions skip;
  skip.on_bad_row = dpo::BadRowPolicy::kSkip;
  const auto dataset = dpo::load_preference_dataset(write("skip.jsonl", long_row + "\n" + kRow + "\n"), skip);
  EXPECT_EQ(dataset.pairs.size(), 1u);
  ASSERT_EQ(dataset.skipped.size(), 1u);
}

// gzip bytes of `members`, each a separate gzip member; `flushed` gets the compressed size after
// the last member's data was sync-flushed (a cut there ends on a whole line).
std::string gzip(const std::vector<std::string>& members, size_t* flushed = nullptr) {
  std::string out;
  for (const auto& text : members) {
    z_stream z{};
    EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    std::vector<unsigned char> buffer(deflateBound(&z, text.size()) + 64);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    z.avail_in = static_cast<uInt>(text.size());
    z.next_out = buffer.data();
    z.avail_out = static_cast<uInt>(buffer.size());
    EXPECT_EQ(deflate(&z, Z_SYNC_FLUSH), Z_OK);
    if (flushed) *flushed = out.size() + z.total_out;
    EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.append(reinterpret_cast<const char*>(buffer.data()), z.total_out);
    deflateEnd(&z);
  }
  return out;
}

const std::string kRows = kRow + "\n" + kRow + "\n" + kRow + "\n";

TEST_F(HostileFile, GzipWholeAndConcatenatedMembersRead) {
  EXPECT_EQ(dpo::load_preference_dataset(write("ok.jsonl.gz", gzip({kRows})), {}).pairs.size(), 3u);
  EXPECT_EQ(dpo::load_preference_dataset(write("two.jsonl.gz", gzip({kRows, kRow + "\n"})), {}).pairs.size(),
            4u);
}

TEST_F(HostileFile, TruncatedGzipIsAnError) {
  size_t flushed = 0;
  const std::string whole = gzip({kRows}, &flushed);
  ASSERT_GT(flushed, 10u);
  ASSERT_LT(flushed, whole.size());
  const std::vector<std::pair<std::string, size_t>> cuts = {
      {"after_last_line", flushed}, {"no_trailer", whole.size() - 8}, {"half", whole.size() / 2}};
  for (const auto& [name, size] : cuts) {
    const std::string path = write(name + ".jsonl.gz", whole.substr(0, size));
    EXPECT_EQ(load_error(path), path + ": truncated gzip stream (missing or bad trailer)") << name;
  }
}

TEST_F(HostileFile, GzipCrcOrLengthMismatchIsAnError) {
  const std::string whole = gzip({kRows});
  std::string bad_crc = whole;
  bad_crc[bad_crc.size() - 8] = static_cast<char>(bad_crc[bad_crc.size() - 8] ^ 0x01);
  const std::string crc_path = write("crc.jsonl.gz", bad_crc);
  EXPECT_EQ(load_error(crc_path), crc_path + ": gzip CRC/length check failed");
  std::string bad_length = whole;
  bad_length[bad_length.size() - 4] = static_cast<char>(bad_length[bad_length.size() - 4] ^ 0x01);
  const std::string length_path = write("length.jsonl.gz", bad_length);
  EXPECT_EQ(load_error(length_path), length_path + ": gzip CRC/length check failed");
}

}  // namespace
