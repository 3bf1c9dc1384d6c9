#include "app/session/run_setup.h"

#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/data/jsonl_reader.h"
#include "core/data/kto_rows.h"
#include "core/data/layout.h"
#include "core/data/split.h"
#include "core/data/tokenize_cache.h"
#include "core/demo/demo_datasets.h"
#include "core/io/atomic_file.h"
#include "core/io/text_file.h"
#include "core/model/llama.h"
#include "core/runtime/error.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/load_tokenizer.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "core/train/config_json.h"
#include "resources/demo_assets.h"

namespace dpo::app {

namespace fs = std::filesystem;

TrainerConfig RunOptions::default_trainer_config() {
  TrainerConfig c;
  c.loss.beta = 0.1;
  // On the SFT'd demo model 1e-3 lowers the true reward of sampled answers; 1e-4 raises it.
  c.learning_rate = 1e-4;
  c.batch_size = 8;
  c.max_steps = 200;
  c.seed = 0;
  c.eval_every = 25;
  return c;
}

std::string default_cache_dir() {
  if (const char* d = std::getenv("DPO_CACHE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return (fs::path(x) / "dpo-studio").string();
  if (const char* h = std::getenv("HOME"); h && *h) return (fs::path(h) / ".cache" / "dpo-studio").string();
  return {};
}

void to_json(nlohmann::json& j, const RunOptions& o) {
  j = nlohmann::json{
      {"data", o.data_path},
      {"tokenizer", o.tokenizer_path},
      {"model", o.model_dir},
      {"reference", o.reference_dir},
      {"device", o.device},
      {"format", o.format},
      {"layout", o.layout},
      {"columns", o.columns},
      {"on_bad_row", o.on_bad_row},
      {"chat_template", o.chat_template_path},
      {"eval_fraction", o.eval_fraction},
      {"split_seed", o.split_seed},
      {"max_length", o.tokenize.max_length},
      {"max_prompt_length", o.tokenize.max_prompt_length},
      {"max_completion_length", o.tokenize.max_completion_length},
      {"truncation_mode",
       o.tokenize.prompt_truncation == PromptTruncation::kKeepStart ? "keep_start" : "keep_end"},
      {"model_seed", o.model_seed},
      {"lora", o.lora},
      {"trainer", o.trainer}};
}

void from_json(const nlohmann::json& j, RunOptions& o) {
  try {
    o.data_path = j.value("data", "");
    o.tokenizer_path = j.value("tokenizer", "");
    o.model_dir = j.value("model", "");
    o.reference_dir = j.value("reference", "");
    o.device = j.value("device", "cpu");
    o.format = j.value("format", "");
    o.layout = j.value("layout", "");
    o.columns = j.value("columns", "");
    o.on_bad_row = j.value("on_bad_row", "error");
    o.chat_template_path = j.value("chat_template", "");
    o.eval_fraction = j.value("eval_fraction", 0.1);
    o.split_seed = j.value("split_seed", uint64_t{0});
    o.tokenize.max_length = j.value("max_length", o.tokenize.max_length);
    o.tokenize.max_prompt_length = j.value("max_prompt_length", o.tokenize.max_prompt_length);
    o.tokenize.max_completion_length = j.value("max_completion_length", o.tokenize.max_completion_length);
    o.tokenize.prompt_truncation = parse_prompt_truncation(j.value("truncation_mode", "keep_end"));
    o.model_seed = j.value("model_seed", uint64_t{0});
    if (j.contains("trainer")) from_json(j["trainer"], o.trainer);
    if (j.contains("lora")) from_json(j["lora"], o.lora);
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(std::string("run config: ") + e.what());
  }
}

torch::Device parse_device(const std::string& name) {
  if (name == "auto")
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  try {
    torch::Device device(name);
    if (device.is_cuda() && !torch::cuda::is_available())
      throw ConfigError("device \"" + name + "\": CUDA is not available in this build or on this machine");
    return device;
  } catch (const c10::Error&) {
    throw ConfigError("device \"" + name + "\": expected auto, cpu, cuda or cuda:N");
  }
}

namespace {

std::string prompt_key(const TokenizedPair& p) {
  return {reinterpret_cast<const char*>(p.prompt_ids.data()), p.prompt_ids.size() * sizeof(int64_t)};
}

}  // namespace

std::unique_ptr<RowRenderer> make_row_renderer(const Tokenizer& tokenizer, const TokenizerConfig& config,
                                               const std::string& template_path, const std::string& owner) {
  auto r = std::make_unique<RowRenderer>();
  if (!template_path.empty()) {
    r->renderer.template_source = read_text(template_path);
    r->renderer.description = "the chat template " + template_path;
  } else if (config.chat_template) {
    r->renderer.template_source = *config.chat_template;
    r->renderer.description =
        owner.empty() ? "the tokenizer's chat template" : "the chat template of " + owner;
  } else {
    r->renderer.template_source = std::string(chatml_template_source());
    r->renderer.description = "the built-in ChatML template (the tokenizer has none; pass --chat-template)";
  }
  r->chat_template = std::make_unique<ChatTemplate>(
      ChatTemplate::parse(r->renderer.template_source, r->renderer.description));
  r->renderer.chat_template = r->chat_template.get();
  const auto piece = [&](std::optional<int> id) { return id ? tokenizer.piece(*id) : std::string(); };
  r->renderer.bos_token = config.bos_token.value_or(piece(tokenizer.bos_id()));
  r->renderer.eos_token = config.eos_token.value_or(piece(tokenizer.eos_id()));
  return r;
}

std::string resolve_demo_data(const std::string& path, const std::string& cache_dir) {
  if (!path.starts_with(kDemoDataPrefix)) return path;
  const std::string name = path.substr(std::string_view(kDemoDataPrefix).size());
  if (!find_demo_dataset(name)) {
    std::string known;
    for (const auto& d : demo_datasets()) known += (known.empty() ? "" : ", ") + d.name;
    throw ConfigError(path + ": no such demo dataset (demo:" + known + ")");
  }
  const fs::path dir = fs::path(cache_dir.empty() ? default_cache_dir() : cache_dir) / "demo";
  const fs::path file = dir / (name + "-" + std::to_string(resources::kDemoSeed) + ".jsonl");
  const std::string text = demo_dataset_jsonl(name, resources::kDemoSeed, resources::kDemoPairs);
  // Rewritten when it differs, so a hand-edited or stale copy never stands in for the variant.
  if (!fs::exists(file) || fs::file_size(file) != text.size() || read_text(file.string()) != text) {
    fs::create_directories(dir);
    write_file_atomically(file, text);
  }
  return file.string();
}

RunSetup prepare_run(const RunOptions& options, const PrepareProgress& progress,
                     std::shared_ptr<dist::Communicator> communicator) {
  if (options.data_path.starts_with(kDemoDataPrefix)) {
    RunOptions resolved = options;
    resolved.data_path = resolve_demo_data(options.data_path, options.no_cache ? "" : options.cache_dir);
    auto setup = prepare_run(resolved, progress);
    setup.data_label = options.data_path;
    return setup;
  }
  RunSetup setup;
  auto stage = [&](const std::string& name) {
    if (progress && !progress(name, 0, 0)) throw Cancelled("cancelled while " + name);
  };
  stage("loading the tokenizer");
  const auto device = parse_device(options.device);
  bool add_bos = true;
  TokenizerConfig tokenizer_config;
  if (!options.tokenizer_path.empty() || !options.model_dir.empty()) {
    auto loaded = load_tokenizer(options.tokenizer_path.empty() ? fs::path(options.model_dir)
                                                                : fs::path(options.tokenizer_path));
    add_bos = loaded.add_bos;
    tokenizer_config = loaded.config;
    setup.tokenizer = std::move(loaded.tokenizer);
  } else {
    setup.tokenizer =
        SentencePieceTokenizer::from_bytes(resources::demo_tokenizer_model(), "embedded demo tokenizer");
  }
  auto tokenize = options.tokenize;
  tokenize.add_bos = add_bos;
  const fs::path cache_dir =
      options.no_cache ? fs::path()
                       : fs::path(options.cache_dir.empty() ? default_cache_dir() : options.cache_dir);

  stage("tokenizing data");
  // Tokenized pairs (all of them) and, for the margin loss, score differences by source line.
  std::vector<TokenizedPair> all;
  std::map<size_t, double> margins;
  std::vector<TokenizedUnpaired> unpaired;
  auto uses = [&](LossType type) {
    if (options.trainer.objective != Objective::Preference) return false;
    for (const auto& t : loss_terms(options.trainer.loss))
      if (t.type == type) return true;
    return false;
  };
  const bool want_margins = uses(LossType::Margin), want_kto = uses(LossType::Kto);
  if (options.data_path.empty()) {
    auto pairs = parse_preference_jsonl(resources::demo_preferences_jsonl(), "embedded demo data");
    all = tokenize_pairs(*setup.tokenizer, pairs, tokenize);
    for (const auto& p : pairs)
      if (p.margin()) margins[p.line] = *p.margin();
    setup.data_label = "embedded demo";
    setup.data_explanation = "the embedded demo preferences (standard layout: prompt, chosen, rejected)";
  } else {
    auto renderer = make_row_renderer(*setup.tokenizer, tokenizer_config, options.chat_template_path);
    LayoutOptions layout;
    if (!options.format.empty()) layout.format = parse_file_format(options.format);
    if (!options.layout.empty()) layout.layout = parse_layout(options.layout);
    if (!options.columns.empty()) layout.columns = parse_column_mapping(options.columns);
    layout.on_bad_row = parse_bad_row_policy(options.on_bad_row);
    layout.renderer = &renderer->renderer;
    if (want_margins) {
      // Scores live only in the text: the tokenized cache does not keep them.
      auto dataset = load_preference_dataset(options.data_path, layout);
      setup.data_explanation = dataset.explanation;
      for (const auto& p : dataset.pairs)
        if (p.margin()) margins[p.line] = *p.margin();
    }
    auto tokenized = load_tokenized_dataset(options.data_path, layout, *setup.tokenizer, tokenize, cache_dir);
    if (!tokenized.unpaired.empty() && !want_kto)
      throw ConfigError(options.data_path + ": unpaired (prompt, completion, label) data needs --loss kto");
    all = std::move(tokenized.pairs);
    unpaired = std::move(tokenized.unpaired);
    setup.tokenize_report = tokenized.report;
    setup.tokenized_from_cache = tokenized.from_cache;
    setup.data_label = options.data_path;
  }
  std::vector<bool> labels;
  if (want_kto) {
    // KTO trains on (prompt, completion, label); preference pairs become two examples each.
    auto rows = make_kto_rows(unpaired.empty() ? unpair(all) : unpaired);
    all = std::move(rows.rows);
    labels = std::move(rows.desirable);
  }
  if (all.empty()) throw DataError(setup.data_label + ": no preference pairs to train on");

  // Whole prompt groups go to one side (split_by_prompt); prompt ids stand for the prompt text.
  std::vector<std::string> keys;
  keys.reserve(all.size());
  for (const auto& p : all) keys.push_back(prompt_key(p));
  std::vector<std::string_view> views(keys.begin(), keys.end());
  // eval_fraction 1: every pair is evaluated and none trained on (dpo eval, dpo rank).
  const bool evaluate_all = options.eval_fraction >= 1;
  const bool split = options.eval_fraction > 0 && all.size() >= 4 && !evaluate_all;
  const auto indices =
      split ? split_by_prompt(views, options.eval_fraction, options.split_seed) : SplitIndices{};
  TrainerInputs inputs;
  if (split) {
    for (auto i : indices.train) inputs.train_pairs.push_back(all[i]);
    for (auto i : indices.eval) inputs.eval_pairs.push_back(all[i]);
    if (want_kto) {
      for (auto i : indices.train) inputs.train_desirable.push_back(labels[i]);
      for (auto i : indices.eval) inputs.eval_desirable.push_back(labels[i]);
    }
  } else if (evaluate_all) {
    inputs.eval_pairs = std::move(all);
    inputs.eval_desirable = std::move(labels);
  } else {
    inputs.train_pairs = std::move(all);
    inputs.train_desirable = std::move(labels);
  }
  if (want_margins) {
    auto margin_of = [&](const TokenizedPair& p) {
      auto it = margins.find(p.line);
      if (it == margins.end())
        throw DataError(setup.data_label + ": line " + std::to_string(p.line) +
                        ": the margin loss needs score_chosen and score_rejected");
      return it->second;
    };
    for (const auto& p : inputs.train_pairs) inputs.train_margins.push_back(margin_of(p));
    for (const auto& p : inputs.eval_pairs) inputs.eval_margins.push_back(margin_of(p));
  }
  setup.train_pairs = inputs.train_pairs.size();
  setup.eval_pairs = inputs.eval_pairs.size();

  stage("loading the model");
  LlamaForCausalLM policy{nullptr};
  if (!options.model_dir.empty()) {
    auto loaded = load_hf_model(options.model_dir, {.dtype = torch::kFloat32, .device = device});
    policy = loaded.model;
    setup.raw_config = loaded.raw_config;
    setup.model_label = options.model_dir;
    if (loaded.config.vocab_size < setup.tokenizer->vocab_size())
      throw ConfigError(options.model_dir + ": tokenizer has " +
                        std::to_string(setup.tokenizer->vocab_size()) +
                        " tokens but the model's vocab_size is " + std::to_string(loaded.config.vocab_size));
  } else if (const auto demo_dir = options.tokenizer_path.empty()
                                       ? resources::unpack_demo_model(cache_dir.empty() ? default_cache_dir()
                                                                                        : cache_dir.string())
                                       : std::string();
             !demo_dir.empty()) {
    // The demo's reference policy (resources/demo/model: SFT on the demo world's answers), embedded
    // in the binary and loaded through the same loader as any Hugging Face folder.
    auto loaded = load_hf_model(demo_dir, {.dtype = torch::kFloat32, .device = device});
    policy = loaded.model;
    setup.raw_config = loaded.raw_config;
    setup.model_label = "demo model (SFT on the demo world)";
  } else {
    auto config = LlamaConfig::tiny(setup.tokenizer->vocab_size());
    config.bos_token_id = setup.tokenizer->bos_id().value_or(-1);
    config.eos_token_id = setup.tokenizer->eos_id().value_or(-1);
    config.pad_token_id = setup.tokenizer->pad_id().value_or(-1);
    torch::manual_seed(options.model_seed);
    policy = LlamaForCausalLM(config);
    initialise_weights(policy);
    policy->to(device);
    setup.model_label = "tiny random Llama (demo)";
  }
  if (!options.reference_dir.empty()) {
    auto ref = load_hf_model(options.reference_dir, {.dtype = torch::kFloat32, .device = device});
    if (ref.config.vocab_size != policy->config().vocab_size)
      throw ConfigError(options.reference_dir + ": reference vocab_size " +
                        std::to_string(ref.config.vocab_size) + " differs from the policy's " +
                        std::to_string(policy->config().vocab_size));
    inputs.reference = ref.model;
  }
  setup.parameter_count = policy->config().parameter_count();
  setup.trainable_parameters = options.lora.r > 0 ? add_lora(policy, options.lora) : setup.parameter_count;
  inputs.policy = policy;
  inputs.pad_id = setup.tokenizer->pad_id().value_or(setup.tokenizer->eos_id().value_or(0));
  if (auto eos = setup.tokenizer->eos_id()) inputs.eos_id = *eos;
  if (!cache_dir.empty()) inputs.reference_cache_dir = cache_dir / "reference";
  inputs.communicator = std::move(communicator);
  setup.trainer = std::make_unique<Trainer>(std::move(inputs), options.trainer);
  return setup;
}

ExportOptions export_options(const RunSetup& setup, const RunOptions& options) {
  ExportOptions exported;
  exported.raw_config = setup.raw_config;
  exported.overwrite = true;
  if (!options.model_dir.empty()) exported.tokenizer_from = options.model_dir;
  return exported;
}

void save_policy(RunSetup& setup, const RunOptions& options, const std::string& dir,
                 const std::string& adapter_dir) {
  export_hf_model(setup.trainer->policy(), dir, export_options(setup, options));
  if (options.lora.r > 0 && !adapter_dir.empty())
    save_lora_adapter(setup.trainer->policy(), options.lora, adapter_dir, options.model_dir);
  for (const auto& [name, bytes] : extra_tokenizer_files(options))
    write_file_atomically(fs::path(dir) / name, bytes);
}

std::map<std::string, std::string> extra_tokenizer_files(const RunOptions& options) {
  if (options.model_dir.empty() && options.tokenizer_path.empty())
    return {{"tokenizer.model", std::string(resources::demo_tokenizer_model())},
            {"tokenizer_config.json",
             R"({"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>",)"
             R"( "add_bos_token": true, "tokenizer_class": "LlamaTokenizer"})"
             "\n"}};
  if (!options.tokenizer_path.empty()) {
    const fs::path t = options.tokenizer_path;
    return {{t.extension() == ".json" ? "tokenizer.json" : "tokenizer.model", read_text(t)}};
  }
  return {};
}

}  // namespace dpo::app
