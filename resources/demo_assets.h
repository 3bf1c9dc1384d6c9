#pragma once
#include <string_view>

// The embedded demo (resources/demo), compiled into the binaries.
namespace dpo::resources {

std::string_view demo_tokenizer_model();   // sentencepiece ModelProto bytes
std::string_view demo_preferences_jsonl(); // {"prompt","chosen","rejected"} rows

// Demo settings shared by the CLI, the studio and the tests.
inline constexpr unsigned long long kDemoSeed = 20261123;
inline constexpr unsigned long kDemoPairs = 240;

}  // namespace dpo::resources
