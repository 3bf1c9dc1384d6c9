#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/data/preference_pair.h"

namespace dpo {

// Reads {"prompt","chosen","rejected"} rows, one JSON object per line (blank lines skipped).
// Throws DataError "file:line: ..." naming the field on the first bad row.
std::vector<PreferencePair> read_preference_jsonl(const std::string& path);

// The same from text already in memory; `label` stands in for the file name in errors.
std::vector<PreferencePair> parse_preference_jsonl(std::string_view text, const std::string& label);

}  // namespace dpo
