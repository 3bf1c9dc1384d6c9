#pragma once
#include <string>
#include <string_view>
#include <vector>

// The embedded demo (resources/demo) and lessons (resources/lessons), compiled into the binaries.
namespace dpo::resources {

std::string_view demo_tokenizer_model();    // sentencepiece ModelProto bytes
std::string_view demo_preferences_jsonl();  // {"prompt","chosen","rejected"} rows: the `clean` variant

struct EmbeddedFile {
  std::string_view name;  // file name inside its folder
  std::string_view bytes;
};
const std::vector<EmbeddedFile>& lesson_files();  // resources/lessons/*.json, sorted by name
const std::vector<EmbeddedFile>&
demo_model_files();  // resources/demo/model/*; empty before make-demo made it

// Writes the embedded demo model as a Hugging Face folder under `parent` (once per content: the
// folder's name carries a hash of the bytes) and returns it; "" when no model is embedded. A folder
// already there is used only if it holds exactly the embedded files, byte for byte; otherwise it is
// replaced. Throws dpo::ModelError when the folder cannot be written.
// The package's copy (share/dpo-studio/demo/model beside the binaries: /usr/share/dpo-studio/...) is
// used in place, nothing unpacked, when it too holds exactly the embedded files; the second form
// names that folder ("" for none).
std::string unpack_demo_model(const std::string& parent);
std::string unpack_demo_model(const std::string& parent, const std::string& installed);

// Demo settings shared by the CLI, the studio and the tests.
inline constexpr unsigned long long kDemoSeed = 20261123;
inline constexpr unsigned long kDemoPairs = 240;

}  // namespace dpo::resources
