// The preference readers over text in memory: JSONL, JSON, CSV and TSV rows (core/data/readers), the
// layout detection and conversion into pairs (core/data/layout, with the ChatML template for message
// lists) and the plain {prompt, chosen, rejected} JSONL reader (core/data/jsonl_reader).
// The first byte picks the format and the options; the rest is the file.
#include "core/data/jsonl_reader.h"
#include "core/data/layout.h"
#include "core/data/readers.h"
#include "core/tokenizer/chat_template.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const dpo::ChatTemplate chatml = dpo::ChatTemplate::parse(dpo::chatml_template_source(), "chatml");
  static const dpo::ChatRenderer renderer{.chat_template = &chatml,
                                          .bos_token = "<s>",
                                          .eos_token = "</s>",
                                          .description = "ChatML",
                                          .template_source = "chatml"};
  const uint8_t mode = data[0];
  const std::string_view text = dpo::fuzz::as_text(data + 1, size - 1);
  const auto format = static_cast<dpo::FileFormat>(mode & 3);
  dpo::fuzz::expect_clean_errors([&] {
    switch ((mode >> 2) & 3) {
      case 0: {
        size_t rows = 0;
        dpo::parse_rows(text, "fuzz", format, [&](dpo::RawRow&&) { return ++rows < 1000; });
        break;
      }
      case 1: {
        size_t errors = 0;
        dpo::parse_rows(
            text, "fuzz", format, [](dpo::RawRow&&) { return true; },
            [&](size_t, const std::string&) { ++errors; });
        break;
      }
      case 2:
        dpo::parse_preference_jsonl(text, "fuzz");
        break;
      default: {
        dpo::LayoutOptions options;
        options.renderer = (mode & 0x10) ? &renderer : nullptr;
        options.on_bad_row = (mode & 0x20) ? dpo::BadRowPolicy::kSkip : dpo::BadRowPolicy::kError;
        if (mode & 0x40) options.columns = {{"prompt", "question"}, {"chosen", "good"}, {"rejected", "bad"}};
        dpo::parse_preference_dataset(text, "fuzz", format, options);
        break;
      }
    }
  });
  return 0;
}
