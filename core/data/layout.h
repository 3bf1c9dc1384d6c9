#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/data/preference_pair.h"
#include "core/data/readers.h"

namespace dpo {

class ChatTemplate;

// How the rows of a preference file are laid out (TRL and LLaMA-Factory names in the comments).
enum class Layout {
  kStandard,        // prompt, chosen, rejected strings
  kConversational,  // prompt, chosen, rejected as [{role, content}] lists
  kImplicitPrompt,  // chosen, rejected full transcripts (strings or message lists); the prompt is shared
  kUnpaired,        // prompt, completion, label (KTO); strings or message lists
  kShareGpt,        // LLaMA-Factory ranking: conversations [{from, value}] + chosen/rejected {from, value}
  kAlpaca,          // LLaMA-Factory ranking: instruction (+ input, system) + chosen/rejected strings
  kKtoMessages,     // LLaMA-Factory KTO: messages [{role, content}] ending on the assistant + label
};

std::string to_string(Layout layout);
// standard, conversational, implicit_prompt, unpaired, sharegpt, alpaca, kto_messages; ConfigError otherwise.
Layout parse_layout(std::string_view name);
bool is_unpaired(Layout layout);

enum class BadRowPolicy { kError, kSkip };
BadRowPolicy parse_bad_row_policy(std::string_view name);  // "error" or "skip"

// "prompt=question,chosen=good,rejected=bad" -> {prompt: question, ...}: canonical field <- file column.
// Canonical names: prompt chosen rejected completion label score_chosen score_rejected conversations
// messages instruction input system. ConfigError on malformed text or an unknown canonical name.
std::map<std::string, std::string> parse_column_mapping(std::string_view text);

// Turns message lists into text with the model's chat template (the Hugging Face way: the prompt with
// add_generation_prompt, a completion as the suffix that prompt + completion adds to it).
struct ChatRenderer {
  const ChatTemplate* chat_template = nullptr;
  std::string bos_token;  // the texts the template sees as bos_token / eos_token
  std::string eos_token;
  std::string description;      // for the layout explanation, e.g. "the model's chat template"
  std::string template_source;  // part of tokenize-cache keys
};

struct LayoutOptions {
  std::optional<FileFormat> format;            // default: from the file name
  std::optional<Layout> layout;                // default: detected from the first row
  std::map<std::string, std::string> columns;  // canonical <- column renames, applied first
  const ChatRenderer* renderer = nullptr;      // needed by rows that hold message lists
  BadRowPolicy on_bad_row = BadRowPolicy::kError;
};

struct SkippedRow {
  size_t line = 0;
  std::string message;  // "file:line: what"
};

// A preference file read into pairs (paired layouts) or unpaired examples (KTO layouts).
struct PreferenceDataset {
  std::string source;  // file name or label
  FileFormat format = FileFormat::kJsonl;
  Layout layout = Layout::kStandard;
  std::string explanation;  // one line: what was detected and why
  bool has_scores = false;  // score_chosen / score_rejected were present (pair.margin())
  bool templated = false;   // texts are chat-template output (may start with the BOS text)
  std::vector<PreferencePair> pairs;
  std::vector<UnpairedExample> unpaired;
  std::vector<SkippedRow> skipped;  // rows dropped under BadRowPolicy::kSkip
  size_t rows() const { return pairs.size() + unpaired.size(); }
};

// Detects the layout of one row (after column renames); nullopt when nothing fits.
std::optional<Layout> detect_layout(const nlohmann::ordered_json& row);

// Reads and converts a whole file. Every bad row (invalid JSON, missing field, wrong type, empty
// completion, chosen == rejected, non-UTF-8 text, template mismatch) throws DataError naming file,
// line and field, or is counted in `skipped` under kSkip. A file without any usable row is an error.
PreferenceDataset load_preference_dataset(const std::string& path, const LayoutOptions& options = {});
PreferenceDataset parse_preference_dataset(std::string_view text, const std::string& label, FileFormat format,
                                           const LayoutOptions& options = {});

// The ChatML template (<|im_start|>role\ncontent<|im_end|>\n), used when a model brings no template.
std::string_view chatml_template_source();

}  // namespace dpo
