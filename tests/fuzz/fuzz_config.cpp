// A Hugging Face config.json (core/model/config): parse_hf_config on any JSON object, then validate()
// and, for a config that passes, parameter_count(). Invalid JSON is not this target's subject (the
// folder loader reports it before parse_hf_config runs).
#include <nlohmann/json.hpp>

#include "core/model/config.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  dpo::fuzz::expect_clean_errors([&] {
    const auto config = dpo::parse_hf_config(j, "config.json");
    config.validate();
    (void)config.parameter_count();
    nlohmann::json back;
    to_json(back, config);
  });
  return 0;
}
