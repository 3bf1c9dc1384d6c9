// dpo data stats: what a preference file holds, read the way training reads it.
#include "app/cli/data_command.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include "app/cli/flag_checks.h"
#include "app/session/run_setup.h"
#include "core/data/dataset_stats.h"
#include "core/data/layout.h"
#include "core/data/tokenize.h"
#include "core/io/text_file.h"
#include "core/runtime/error.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/load_tokenizer.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "resources/demo_assets.h"

namespace dpo::cli {

namespace {

struct DataArgs {
  std::string file;
  std::string tokenizer_path;
  std::string model_dir;
  std::string chat_template_path;
  std::string format;
  std::string layout;
  std::string columns;
  std::string on_bad_row = "error";
  std::string truncation = "keep_end";
  // dpo train's limits, so the warnings say what a run with the same flags would cut.
  int64_t max_length = TokenizeOptions{}.max_length;
  int64_t max_prompt_length = TokenizeOptions{}.max_prompt_length;
  int64_t max_completion_length = TokenizeOptions{}.max_completion_length;
  bool json = false;
};

DataArgs args;
CLI::App* data_cmd = nullptr;
CLI::App* stats_cmd = nullptr;

}  // namespace

void add_data_command(CLI::App& cli) {
  data_cmd = cli.add_subcommand("data", "inspect preference datasets");
  data_cmd->require_subcommand(1);
  stats_cmd =
      data_cmd->add_subcommand("stats", "layout, counts, token lengths, length bias, duplicates, truncation");
  auto& c = *stats_cmd;
  c.add_option("file", args.file, "JSONL, JSON, CSV or TSV file (optionally .gz)")
      ->required()
      ->check(CLI::ExistingFile);
  auto* tok = c.add_option("--tokenizer", args.tokenizer_path, "tokenizer.json or sentencepiece .model")
                  ->check(CLI::ExistingFile);
  auto* model =
      c.add_option("--model", args.model_dir, "Hugging Face model folder (its tokenizer and chat template)")
          ->check(CLI::ExistingDirectory);
  tok->excludes(model);
  c.add_option("--chat-template", args.chat_template_path,
               "Jinja chat template file for message-list rows (default: the tokenizer's, else ChatML)")
      ->check(CLI::ExistingFile);
  c.add_option("--format", args.format, "jsonl, json, csv or tsv (default: from the file name)");
  c.add_option("--layout", args.layout,
               "standard, conversational, implicit_prompt, unpaired, sharegpt, alpaca or kto_messages "
               "(default: detected)");
  c.add_option("--columns", args.columns, "column mapping, e.g. prompt=question,chosen=good,rejected=bad");
  c.add_option("--on-bad-row", args.on_bad_row, "error or skip")->capture_default_str();
  at_least(c.add_option("--max-length", args.max_length, "tokens per prompt+completion (as dpo train)"), 1)
      ->capture_default_str();
  at_least(
      c.add_option("--max-prompt-length", args.max_prompt_length, "prompt tokens kept (0: no own limit)"), 0)
      ->capture_default_str();
  at_least(c.add_option("--max-completion-length", args.max_completion_length,
                        "completion tokens kept (0: no own limit)"),
           0)
      ->capture_default_str();
  c.add_option("--truncation", args.truncation, "keep_end or keep_start: which part of a long prompt is kept")
      ->capture_default_str();
  c.add_flag("--json", args.json, "print one JSON object");
}

bool data_command_chosen() { return data_cmd && data_cmd->parsed(); }

int run_data_command() {
  std::unique_ptr<Tokenizer> tokenizer;
  std::string tokenizer_label = "the embedded demo model's tokenizer";
  bool add_bos = true;
  TokenizerConfig config;
  if (!args.tokenizer_path.empty() || !args.model_dir.empty()) {
    const std::string source = args.tokenizer_path.empty() ? args.model_dir : args.tokenizer_path;
    auto loaded = load_tokenizer(source);
    tokenizer = std::move(loaded.tokenizer);
    add_bos = loaded.add_bos;
    config = loaded.config;
    tokenizer_label =
        (args.tokenizer_path.empty() ? "the tokenizer of " : "") + source + " (" + loaded.kind + ")";
  } else {
    tokenizer = SentencePieceTokenizer::from_bytes(resources::demo_tokenizer_model(), tokenizer_label);
  }

  const auto rows =
      app::make_row_renderer(*tokenizer, config, args.chat_template_path,
                             args.tokenizer_path.empty() ? args.model_dir : args.tokenizer_path);
  const ChatRenderer& renderer = rows->renderer;

  LayoutOptions layout;
  if (!args.format.empty()) layout.format = parse_file_format(args.format);
  if (!args.layout.empty()) layout.layout = parse_layout(args.layout);
  if (!args.columns.empty()) layout.columns = parse_column_mapping(args.columns);
  layout.on_bad_row = parse_bad_row_policy(args.on_bad_row);
  layout.renderer = &renderer;

  TokenizeOptions options;
  options.max_length = args.max_length;
  options.max_prompt_length = args.max_prompt_length;
  options.max_completion_length = args.max_completion_length;
  options.prompt_truncation = parse_prompt_truncation(args.truncation);
  options.add_bos = add_bos;

  const auto dataset = load_preference_dataset(args.file, layout);
  const auto tokenized = tokenize_dataset(*tokenizer, dataset, options, layout.on_bad_row);
  // Histograms of the data itself; truncation counted under the limits given.
  const auto full = tokenize_dataset(*tokenizer, dataset, untruncated(options), BadRowPolicy::kSkip);
  const auto stats = compute_dataset_stats(dataset, full, &tokenized, &options);
  if (args.json) {
    auto j = stats.to_json();
    j["tokenizer"] = tokenizer_label;
    auto skipped = nlohmann::ordered_json::array();
    for (const auto& s : dataset.skipped) skipped.push_back(s.message);
    for (const auto& s : tokenized.report.skipped) skipped.push_back(s.message);
    j["skipped"] = skipped;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << stats.to_text() << "tokens counted with: " << tokenizer_label << "\n";
    for (const auto& s : dataset.skipped) std::cout << "skipped: " << s.message << "\n";
    for (const auto& s : tokenized.report.skipped) std::cout << "skipped: " << s.message << "\n";
  }
  return 0;
}

}  // namespace dpo::cli
