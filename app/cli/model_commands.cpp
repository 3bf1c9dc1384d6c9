// dpo generate / tokenize / inspect-model / export: working with Hugging Face model folders.
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <iterator>
#include <sstream>

#include "app/cli/commands.h"
#include "app/cli/flag_checks.h"
#include "core/generate/generate.h"
#include "core/io/hf_folder.h"
#include "core/io/safetensors.h"
#include "core/runtime/error.h"
#include "core/tokenizer/load_tokenizer.h"

namespace dpo::cli {

namespace fs = std::filesystem;

void add_generate_options(CLI::App& cmd, GenerateArgs& a) {
  cmd.add_option("--model", a.model_dir, "Hugging Face model folder")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd.add_option("--prompt", a.prompts, "prompt text (repeat for a batch)")->required();
  at_least(cmd.add_option("--max-new-tokens", a.max_new_tokens, "longest answer in tokens"), 1)
      ->capture_default_str();
  non_negative(cmd.add_option("--temperature", a.temperature, "sampling temperature (0: greedy)"))
      ->capture_default_str();
  at_least(cmd.add_option("--top-k", a.top_k, "top-k sampling (0: off)"), 0)->capture_default_str();
  above_zero_up_to(cmd.add_option("--top-p", a.top_p, "nucleus sampling (1: off)"), 1.0)
      ->capture_default_str();
  positive(cmd.add_option("--repetition-penalty", a.repetition_penalty,
                          "make tokens already in the text less likely (1: off)"))
      ->capture_default_str();
  cmd.add_option("--seed", a.seed, "sampling seed")->capture_default_str();
  cmd.add_option("--stop", a.stop, "stop string (repeatable)");
  cmd.add_option("--device", a.device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd.add_flag("--json", a.json, "print one JSON object per prompt with text, token ids and finish reason");
}

int run_generate(const GenerateArgs& a) {
  auto tokenizer = load_tokenizer(a.model_dir);
  auto loaded = load_hf_model(a.model_dir, {.dtype = torch::kFloat32, .device = torch::Device(a.device)});
  GenerationConfig config;
  config.max_new_tokens = a.max_new_tokens;
  config.temperature = a.temperature;
  config.top_k = a.top_k;
  config.top_p = a.top_p;
  config.repetition_penalty = a.repetition_penalty;
  config.seed = a.seed;
  config.stop_strings = a.stop;
  if (auto eos = tokenizer.tokenizer->eos_id()) config.stop_token_ids.push_back(*eos);
  if (loaded.config.eos_token_id >= 0) config.stop_token_ids.push_back(loaded.config.eos_token_id);
  for (auto id : loaded.config.extra_eos_token_ids) config.stop_token_ids.push_back(id);

  std::vector<std::vector<int64_t>> prompts;
  for (const auto& p : a.prompts) {
    auto ids = encode_with_special(tokenizer, p);
    prompts.emplace_back(ids.begin(), ids.end());
  }
  const int64_t pad = tokenizer.tokenizer->pad_id().value_or(tokenizer.tokenizer->eos_id().value_or(0));
  // Stream a single prompt's text as it is decoded; batches print at the end.
  const bool stream = !a.json && prompts.size() == 1;
  std::vector<int> streamed;
  std::string printed;
  auto on_token = [&](size_t, int64_t token) {
    if (!stream) return true;
    streamed.push_back(static_cast<int>(token));
    const auto text = tokenizer.tokenizer->decode(streamed);
    if (text.size() > printed.size() && text.compare(0, printed.size(), printed) == 0) {
      std::cout << text.substr(printed.size()) << std::flush;
      printed = text;
    }
    return true;
  };
  if (stream) std::cout << a.prompts[0] << std::flush;
  auto results = generate(loaded.model, prompts, pad, config, on_token, tokenizer.tokenizer.get());
  for (size_t i = 0; i < results.size(); ++i) {
    std::vector<int> ids(results[i].tokens.begin(), results[i].tokens.end());
    const auto text = tokenizer.tokenizer->decode(ids);
    if (a.json) {
      nlohmann::json j = {{"prompt", a.prompts[i]},
                          {"prompt_ids", prompts[i]},
                          {"text", text},
                          {"ids", results[i].tokens},
                          {"finish_reason", finish_reason_name(results[i].finish)}};
      std::cout << j.dump() << "\n";
    } else if (stream) {
      if (text.size() > printed.size()) std::cout << text.substr(printed.size());
      std::cout << "\n";
    } else {
      std::cout << a.prompts[i] << text << "\n";
    }
  }
  return 0;
}

void add_tokenize_options(CLI::App& cmd, TokenizeArgs& a) {
  auto* file = cmd.add_option("--tokenizer", a.source, "tokenizer.json or sentencepiece .model")
                   ->check(CLI::ExistingFile);
  cmd.add_option("--model", a.source, "model folder holding the tokenizer")
      ->check(CLI::ExistingDirectory)
      ->excludes(file);
  cmd.add_flag("--no-special", a.no_special, "do not add BOS / template tokens");
  cmd.add_flag("--json", a.json, "print {\"ids\": [...], \"tokens\": [...]}");
  cmd.add_flag("--decode", a.decode, "read ids (spaces, commas or a JSON array) and print the text");
}

int run_tokenize(const TokenizeArgs& a) {
  if (a.source.empty()) throw ConfigError("tokenize: give --tokenizer FILE or --model DIR");
  auto tokenizer = load_tokenizer(a.source);
  const std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  if (a.decode) {
    std::string cleaned = input;
    for (char& c : cleaned)
      if (c == ',' || c == '[' || c == ']') c = ' ';
    std::istringstream in(cleaned);
    std::vector<int> ids;
    for (std::string word; in >> word;) {
      try {
        ids.push_back(std::stoi(word));
      } catch (const std::exception&) {
        throw ConfigError("tokenize --decode: \"" + word + "\" is not a token id");
      }
    }
    std::cout << tokenizer.tokenizer->decode(ids) << "\n";
    return 0;
  }
  auto ids = a.no_special ? tokenizer.tokenizer->encode(input) : encode_with_special(tokenizer, input);
  if (a.json) {
    nlohmann::json tokens = nlohmann::json::array();
    for (int id : ids) tokens.push_back(tokenizer.tokenizer->piece(id));
    std::cout << nlohmann::json{{"ids", ids}, {"tokens", tokens}}.dump() << "\n";
  } else {
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n";
  }
  return 0;
}

void add_inspect_options(CLI::App& cmd, InspectArgs& a) {
  cmd.add_option("model", a.model_dir, "Hugging Face model folder")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd.add_flag("--json", a.json);
}

int run_inspect(const InspectArgs& a) {
  const fs::path dir = a.model_dir;
  const auto config = read_hf_config(dir);
  uint64_t bytes = 0, tensors = 0;
  std::map<std::string, uint64_t> dtypes;
  const auto files = checkpoint_files(dir);
  std::vector<std::shared_ptr<SafetensorsFile>> opened;
  for (const auto& f : files) {
    auto st = SafetensorsFile::open(f);
    for (const auto& e : st->entries()) {
      bytes += e.end - e.begin;
      ++tensors;
      ++dtypes[e.dtype];
    }
    opened.push_back(std::move(st));
  }
  check_checkpoint_shapes(config, opened, dir);
  nlohmann::json info = {{"architecture", config.architecture},
                         {"parameters", config.parameter_count()},
                         {"hidden_size", config.hidden_size},
                         {"layers", config.num_hidden_layers},
                         {"attention_heads", config.num_attention_heads},
                         {"kv_heads", config.num_key_value_heads},
                         {"head_dim", config.head_dim},
                         {"vocab_size", config.vocab_size},
                         {"rope_theta", config.rope_theta},
                         {"rope_scaling", config.rope_scaling_type},
                         {"tie_word_embeddings", config.tie_word_embeddings},
                         {"torch_dtype", config.torch_dtype},
                         {"stored_dtypes", dtypes},
                         {"checkpoint_files", files.size()},
                         {"tensors", tensors},
                         {"checkpoint_bytes", bytes}};
  try {
    auto tok = load_tokenizer(dir);
    info["tokenizer"] = tok.kind;
    info["tokenizer_vocab"] = tok.tokenizer->vocab_size();
    info["chat_template"] = tok.config.chat_template.has_value();
  } catch (const Error& e) {
    info["tokenizer"] = std::string("none (") + e.what() + ")";
    info["chat_template"] = false;
  }
  if (a.json) {
    std::cout << info.dump(2) << "\n";
    return 0;
  }
  for (const auto& [k, v] : info.items())
    std::cout << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
  return 0;
}

void add_export_options(CLI::App& cmd, ExportArgs& a) {
  cmd.add_option("--from", a.from, "run folder (its final/ model) or a model folder")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd.add_option("--to", a.to, "new Hugging Face folder")->required();
  cmd.add_option("--dtype", a.dtype, "float32, bfloat16 or float16 (default: the model's torch_dtype)");
  cmd.add_option("--max-shard-size", a.max_shard_size, "e.g. 5GB, 500MB")->capture_default_str();
  cmd.add_flag("--overwrite", a.overwrite, "replace --to if it exists");
}

namespace {
uint64_t parse_size(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw ConfigError("--max-shard-size \"" + text + "\": expected a number with GB, MB or KB");
  }
  const std::string unit = text.substr(used);
  const double scale = unit == "GB" ? 1e9 : unit == "MB" ? 1e6 : unit == "KB" ? 1e3 : unit.empty() ? 1 : -1;
  if (scale < 0 || !(value > 0) || !(value * scale < 9.2e18))
    throw ConfigError("--max-shard-size \"" + text + "\": expected a number with GB, MB or KB");
  return static_cast<uint64_t>(value * scale);
}
}  // namespace

int run_export(const ExportArgs& a) {
  fs::path from = a.from;
  if (fs::exists(from / "final" / "config.json")) from /= "final";  // a run folder
  auto loaded = load_hf_model(from);
  ExportOptions options;
  options.raw_config = loaded.raw_config;
  options.tokenizer_from = from;
  options.overwrite = a.overwrite;
  options.max_shard_bytes = parse_size(a.max_shard_size);
  if (!a.dtype.empty()) options.dtype = parse_torch_dtype(a.dtype, "--dtype");
  export_hf_model(loaded.model, a.to, options);
  std::cout << "exported " << from.string() << " -> " << a.to << "\n";
  return 0;
}

}  // namespace dpo::cli
