#include "core/data/jsonl_reader.h"

#include "core/data/layout.h"

namespace dpo {

// Both keep their original contract (standard layout only); the layout-aware entry point is
// load_preference_dataset.
std::vector<PreferencePair> parse_preference_jsonl(std::string_view text, const std::string& label) {
  LayoutOptions options;
  options.layout = Layout::kStandard;
  return parse_preference_dataset(text, label, FileFormat::kJsonl, options).pairs;
}

std::vector<PreferencePair> read_preference_jsonl(const std::string& path) {
  LayoutOptions options;
  options.format = FileFormat::kJsonl;
  options.layout = Layout::kStandard;
  return load_preference_dataset(path, options).pairs;
}

}  // namespace dpo
