#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "app/cli/commands.h"
#include "app/cli/flag_checks.h"
#include "app/cli/local_ranks.h"
#include "app/session/run_directory.h"
#include "app/session/setup_file.h"
#include "core/dist/communicator.h"
#include "core/io/atomic_file.h"
#include "core/runtime/error.h"
#include "core/train/checkpoint.h"
#include "core/train/losses.h"

namespace dpo::cli {

namespace fs = std::filesystem;

namespace {
std::atomic<bool> g_interrupted{false};
void on_interrupt(int) { g_interrupted = true; }

// Each train flag and the run settings (JSON pointers into config.json's "run") it sets: on
// --resume a given flag is a change the run either takes or refuses (RunDirectory::resume_options).
const std::map<std::string, std::vector<std::string>>& flag_settings() {
  static const std::map<std::string, std::vector<std::string>> table = {
      {"--data", {"/data"}},
      {"--model", {"/model"}},
      {"--tokenizer", {"/tokenizer"}},
      {"--device", {"/device"}},
      {"--bf16", {"/trainer/bf16"}},
      {"--format", {"/format"}},
      {"--layout", {"/layout"}},
      {"--columns", {"/columns"}},
      {"--on-bad-row", {"/on_bad_row"}},
      {"--chat-template", {"/chat_template"}},
      {"--max-length", {"/max_length"}},
      {"--max-prompt-length", {"/max_prompt_length"}},
      {"--max-completion-length", {"/max_completion_length"}},
      {"--truncation", {"/truncation_mode"}},
      {"--eval-fraction", {"/eval_fraction"}},
      {"--split-seed", {"/split_seed"}},
      {"--reference", {"/reference"}},
      {"--beta", {"/trainer/beta"}},
      {"--loss", {"/trainer/loss_type", "/trainer/loss_terms"}},
      {"--label-smoothing", {"/trainer/label_smoothing"}},
      {"--rpo-alpha", {"/trainer/rpo_alpha"}},
      {"--simpo-gamma", {"/trainer/simpo_gamma"}},
      {"--margin-gamma", {"/trainer/margin_gamma"}},
      {"--length-alpha", {"/trainer/length_alpha"}},
      {"--orpo-lambda", {"/trainer/orpo_lambda"}},
      {"--discopop-tau", {"/trainer/discopop_tau"}},
      {"--fdpo-alpha", {"/trainer/fdpo_alpha"}},
      {"--wpo", {"/trainer/use_weighting"}},
      {"--ld-alpha", {"/trainer/ld_alpha"}},
      {"--no-precompute-ref", {"/trainer/precompute_ref_log_probs"}},
      {"--sync-ref-every", {"/trainer/ref_model_sync_steps"}},
      {"--sync-ref-alpha", {"/trainer/ref_model_mixup_alpha"}},
      {"--lora-r", {"/lora/r"}},
      {"--lora-alpha", {"/lora/lora_alpha"}},
      {"--lora-dropout", {"/lora/lora_dropout"}},
      {"--lora-targets", {"/lora/target_modules"}},
      {"--steps", {"/trainer/max_steps"}},
      {"--lr", {"/trainer/learning_rate"}},
      {"--schedule", {"/trainer/lr_scheduler_type"}},
      {"--warmup", {"/trainer/warmup_steps"}},
      {"--weight-decay", {"/trainer/weight_decay"}},
      {"--max-grad-norm", {"/trainer/max_grad_norm"}},
      {"--batch", {"/trainer/per_device_train_batch_size"}},
      {"--grad-accum", {"/trainer/gradient_accumulation_steps"}},
      {"--seed", {"/trainer/seed"}},
      {"--group-by-length", {"/trainer/group_by_length"}},
      {"--model-seed", {"/model_seed"}},
      {"--eval-every", {"/trainer/eval_steps"}},
      {"--max-nonfinite", {"/trainer/max_nonfinite_steps"}},
  };
  return table;
}
// Flags of this invocation only, never a run setting.
constexpr std::string_view kInvocationFlags[] = {
    "--help",        "--cache-dir",        "--no-cache",         "--quiet", "--resume",       "--out",
    "--overwrite",   "--checkpoint-every", "--keep-checkpoints", "--setup", "--print-config", "--nproc",
    "--dist-timeout"};
}  // namespace

bool is_known_train_flag(const std::string& name) {
  return flag_settings().contains(name) || std::find(std::begin(kInvocationFlags), std::end(kInvocationFlags),
                                                     name) != std::end(kInvocationFlags);
}

void add_train_options(CLI::App& cmd, TrainArgs& a, bool sft) {
  auto& t = a.run.trainer;
  if (sft) {
    t.objective = Objective::Sft;
    t.learning_rate = 1e-3;
  }
  // Added first: CLI11 runs option callbacks in the order the options were added, so every other
  // flag given, before or after it, overrides what the file says.
  cmd.add_option_function<std::string>(
         "--setup",
         [&a](const std::string& path) {
           auto setup = app::read_setup_file(path);
           if (setup.run.trainer.objective != a.run.trainer.objective)
             throw ConfigError(path + (setup.run.trainer.objective == Objective::Sft
                                           ? ": an SFT setup: train it with dpo sft --setup"
                                           : ": a preference setup: train it with dpo train --setup"));
           a.run = setup.run;
         },
         "setup file (.dposetup, saved by the studio's File > Save setup): its run settings; other flags "
         "override them")
      ->check(CLI::ExistingFile);
  cmd.add_option("--data", a.run.data_path,
                 "preference file: JSONL, JSON, CSV/TSV, optionally .gz; or demo:clean, demo:noisy, "
                 "demo:length-biased, demo:unpaired, demo:scored (default: the embedded demo, = demo:clean)")
      ->check(CLI::Validator(
          [](std::string& path) {
            // A demo variant is no file until prepare_run writes it (resolve_demo_data).
            return path.starts_with(app::kDemoDataPrefix) ? std::string() : CLI::ExistingFile(path);
          },
          "FILE"));
  cmd.add_option("--model", a.run.model_dir,
                 "Hugging Face model folder (default: the embedded demo model, a 2-layer Llama fitted by SFT "
                 "on the demo's answers; with --tokenizer alone, a tiny random Llama)")
      ->check(CLI::ExistingDirectory);
  cmd.add_option("--tokenizer", a.run.tokenizer_path,
                 "tokenizer.json or sentencepiece .model (default: the model's)")
      ->check(CLI::ExistingFile);
  cmd.add_option("--device", a.run.device, "auto (CUDA when present), cpu, cuda or cuda:N")
      ->capture_default_str();
  cmd.add_flag("--bf16", a.run.trainer.bf16_autocast,
               "bfloat16 autocast for forward passes on CUDA (ignored on CPU)");
  cmd.add_option("--format", a.run.format, "jsonl, json, csv, tsv (default: from the file name)");
  cmd.add_option("--layout", a.run.layout,
                 "standard, conversational, implicit_prompt, sharegpt, alpaca (default: detected)");
  cmd.add_option("--columns", a.run.columns, "column mapping, e.g. prompt=question,chosen=good,rejected=bad");
  cmd.add_option("--on-bad-row", a.run.on_bad_row, "error or skip")->capture_default_str();
  cmd.add_option("--chat-template", a.run.chat_template_path, "Jinja chat template for message lists")
      ->check(CLI::ExistingFile);
  at_least(cmd.add_option("--max-length", a.run.tokenize.max_length, "tokens per prompt+completion"), 1)
      ->capture_default_str();
  at_least(cmd.add_option("--max-prompt-length", a.run.tokenize.max_prompt_length,
                          "prompt tokens kept (0: no own limit)"),
           0)
      ->capture_default_str();
  at_least(cmd.add_option("--max-completion-length", a.run.tokenize.max_completion_length,
                          "completion tokens kept (0: no own limit)"),
           0)
      ->capture_default_str();
  cmd.add_option_function<std::string>(
         "--truncation",
         [&a](const std::string& v) { a.run.tokenize.prompt_truncation = parse_prompt_truncation(v); },
         "keep_end or keep_start: which part of a long prompt is kept")
      ->default_str("keep_end");
  in_range(cmd.add_option("--eval-fraction", a.run.eval_fraction,
                          "share of pairs held out for evaluation (whole prompts)"),
           0.0, 0.9)
      ->capture_default_str();
  cmd.add_option("--split-seed", a.run.split_seed, "seed of the train/eval split")->capture_default_str();
  cmd.add_option("--cache-dir", a.run.cache_dir,
                 "tokenized data and reference log-prob cache (default: ~/.cache/dpo-studio)");
  cmd.add_flag("--no-cache", a.run.no_cache, "neither read nor write the cache");

  if (!sft) {
    cmd.add_option("--reference", a.run.reference_dir,
                   "reference model folder (default: a frozen copy of the policy)")
        ->check(CLI::ExistingDirectory);
    positive(cmd.add_option("--beta", t.loss.beta, "DPO temperature beta (typical 0.01 - 0.5)"))
        ->capture_default_str();
    cmd.add_option_function<std::string>(
           "--loss",
           [&a](const std::string& text) {
             // "sigmoid" or "sigmoid:1,sppo_hard:0.5" (a weighted combination).
             auto& loss = a.run.trainer.loss;
             std::vector<LossTerm> terms;
             try {
               terms = parse_loss_terms(text);
             } catch (const ConfigError& e) {
               throw CLI::ValidationError("--loss", e.what());
             }
             loss.type = terms.front().type;
             // A bare name is the loss itself; weights or a list make a combination.
             if (terms.size() == 1 && text.find(':') == std::string::npos)
               loss.terms.clear();
             else
               loss.terms = terms;
           },
           "loss variant, or weighted terms like sigmoid:1,sppo_hard:0.5")
        ->default_str("sigmoid");
    in_range(cmd.add_option("--label-smoothing", t.loss.label_smoothing, "cDPO / rDPO label noise epsilon"),
             0.0, 0.49)
        ->capture_default_str();
    non_negative(cmd.add_option("--rpo-alpha", t.loss.rpo_alpha, "adds alpha * NLL(chosen) to the loss"))
        ->capture_default_str();
    cmd.add_option("--simpo-gamma", t.loss.simpo_gamma, "SimPO target margin")->capture_default_str();
    cmd.add_option("--margin-gamma", t.loss.margin_gamma,
                   "margin loss: m = gamma * (score_chosen - score_rejected)")
        ->capture_default_str();
    cmd.add_option("--length-alpha", t.loss.length_alpha, "rdpo-length: alpha per token of length difference")
        ->capture_default_str();
    non_negative(cmd.add_option("--orpo-lambda", t.loss.orpo_lambda, "ORPO odds-ratio weight"))
        ->capture_default_str();
    positive(cmd.add_option("--discopop-tau", t.loss.discopop_tau, "DiscoPOP temperature"))
        ->capture_default_str();
    positive(cmd.add_option("--fdpo-alpha", t.loss.fdpo_alpha, "fdpo_alpha: alpha of the alpha-divergence"))
        ->capture_default_str();
    cmd.add_flag(
        "--wpo", t.loss.wpo_weighting,
        "WPO: weight each pair by how likely the policy finds both answers (min(1, exp(w_w + w_l)))");
    in_range(
        cmd.add_option("--ld-alpha", t.loss.ld_alpha,
                       "LD-DPO: weight of the policy's log-probs past the shorter answer's length (1: off)"),
        0.0, 1.0)
        ->capture_default_str();
    // A callback, not a "!" flag: CLI11 shows a negated flag's default as "{false}" in --help.
    cmd.add_flag_callback(
        "--no-precompute-ref", [&t] { t.precompute_reference = false; },
        "run the reference model every step instead of one cached pass before training");
    at_least(cmd.add_option("--sync-ref-every", t.sync_reference_every,
                            "TR-DPO: mix the policy into the reference every N steps (0: never)"),
             0)
        ->capture_default_str();
    in_range(cmd.add_option("--sync-ref-alpha", t.sync_reference_alpha, "TR-DPO mixing weight alpha"), 0.0,
             1.0)
        ->capture_default_str();
  }
  at_least(cmd.add_option("--lora-r", a.run.lora.r, "LoRA rank (0: train every weight)"), 0)
      ->capture_default_str();
  positive(cmd.add_option("--lora-alpha", a.run.lora.alpha, "LoRA alpha (scale alpha / r)"))
      ->capture_default_str();
  in_range(cmd.add_option("--lora-dropout", a.run.lora.dropout, "LoRA dropout"), 0.0, 1.0, /*hi_open=*/true)
      ->capture_default_str();
  cmd.add_option_function<std::string>(
         "--lora-targets",
         [&a](const std::string& text) {
           a.run.lora.target_modules.clear();
           std::stringstream parts(text);
           for (std::string part; std::getline(parts, part, ',');)
             if (!part.empty()) a.run.lora.target_modules.push_back(part);
         },
         "projections that get adapters")
      ->default_str("q_proj,k_proj,v_proj,o_proj");
  at_least(cmd.add_option_function<int64_t>(
               "--steps",
               [&a](int64_t v) {
                 a.run.trainer.max_steps = v;
                 a.steps_given = true;
               },
               "optimiser steps"),
           1)
      ->default_str(std::to_string(t.max_steps));
  positive(cmd.add_option("--lr", t.learning_rate, "peak AdamW learning rate"))->capture_default_str();
  cmd.add_option_function<std::string>(
         "--schedule",
         [&a](const std::string& v) {
           auto s = parse_lr_schedule(v);
           if (!s) throw CLI::ValidationError("--schedule", "expected constant, linear or cosine");
           a.run.trainer.schedule = *s;
         },
         "learning-rate schedule after warmup: constant, linear, cosine")
      ->default_str("constant");
  at_least(cmd.add_option("--warmup", t.warmup_steps, "linear warmup steps"), 0)->capture_default_str();
  non_negative(cmd.add_option("--weight-decay", t.weight_decay, "AdamW decoupled weight decay"))
      ->capture_default_str();
  non_negative(cmd.add_option("--max-grad-norm", t.max_grad_norm, "gradient clipping (0: off)"))
      ->capture_default_str();
  at_least(cmd.add_option("--batch", t.batch_size, "pairs per micro-batch"), 1)->capture_default_str();
  at_least(cmd.add_option("--grad-accum", t.grad_accumulation, "micro-batches per optimiser step"), 1)
      ->capture_default_str();
  cmd.add_option("--seed", t.seed, "data order seed")->capture_default_str();
  cmd.add_flag("--group-by-length", t.group_by_length,
               "batch pairs of similar length together (less padding)");
  cmd.add_option("--model-seed", a.run.model_seed,
                 "initialisation seed of the tiny random Llama (--tokenizer without --model)")
      ->capture_default_str();
  at_least(cmd.add_option("--eval-every", t.eval_every,
                          "evaluate on the eval split every N steps (0: only at the end)"),
           0)
      ->capture_default_str();
  at_least(cmd.add_option("--max-nonfinite", t.max_nonfinite_steps,
                          "consecutive non-finite steps before stopping"),
           1)
      ->capture_default_str();
  at_least(cmd.add_option("--checkpoint-every", a.checkpoint_every,
                          "write a resumable checkpoint every N steps (0: none)"),
           0)
      ->capture_default_str();
  at_least(cmd.add_option("--keep-checkpoints", a.keep_checkpoints, "newest checkpoints kept (0: all)"), 0)
      ->capture_default_str();
  cmd.add_option("--resume", a.resume_dir, "continue the run in this directory from its newest checkpoint")
      ->check(CLI::ExistingDirectory);
  cmd.add_option("--out", a.out_dir,
                 "run directory: config.json, metrics.jsonl, eval.jsonl, pairs.jsonl, final/")
      ->capture_default_str();
  cmd.add_flag("--overwrite", a.overwrite, "replace an existing run in --out");
  cmd.add_flag("--quiet", a.quiet, "no per-step lines");
  at_least(
      cmd.add_option("--nproc", a.nproc,
                     "data-parallel processes on this machine (c10d, Gloo on CPU): each takes --batch "
                     "pairs per micro-batch, so a step sees nproc x batch pairs; rank 0 writes the run. "
                     "Or start `dpo train` once per rank with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT "
                     "set, as torchrun does")
          ->capture_default_str(),
      1);
  at_least(cmd.add_option("--dist-timeout", a.dist_timeout,
                          "seconds a data-parallel rank waits for the others in a collective before the run "
                          "stops with an error (a rank that died stops it at once); it must cover rank 0's "
                          "evaluations and checkpoint writes, which the others wait for")
               ->capture_default_str(),
           1);
  cmd.add_flag("--print-config", a.print_config,
               "print the run settings these flags resolve to (config.json's \"run\") as JSON and exit");
  // Every flag is a run setting or per invocation, so that --resume knows what to do with it.
  for (const auto* option : cmd.get_options())
    if (!is_known_train_flag(option->get_name()))
      throw std::logic_error("dpo train: " + option->get_name() + " is missing from flag_settings()");
  cmd.parse_complete_callback([&cmd, &a] {
    a.given.clear();
    for (const auto* option : cmd.get_options())
      if (option->count() > 0) a.given.push_back(option->get_name());
  });
}

int run_train(TrainArgs args) {
  const bool resuming = !args.resume_dir.empty();
  const auto given = [&](std::string_view flag) {
    return std::find(args.given.begin(), args.given.end(), flag) != args.given.end();
  };
  if (resuming && given("--out"))
    throw ConfigError("--resume continues the run in its own folder; leave out --out " + args.out_dir);
  if (resuming && given("--overwrite")) throw ConfigError("--overwrite is for a new run, not --resume");
  if (resuming && given("--setup"))
    throw ConfigError("--setup starts a new run; --resume continues one with its own settings");
  if (args.print_config) {
    if (resuming) throw ConfigError("--print-config shows a new run's settings; leave out --resume");
    nlohmann::json settings = args.run;
    settings["cache_dir"] = args.run.cache_dir;
    settings["no_cache"] = args.run.no_cache;
    std::cout << settings.dump(2) << "\n";
    return 0;
  }
  // Data parallel: --nproc N starts N ranks of this command; WORLD_SIZE in the environment (set by
  // them, torchrun or a scheduler) makes this process one of them.
  auto dist_config = dist::config_from_environment();
  if (dist_config && given("--nproc") && args.nproc != dist_config->world_size)
    throw ConfigError("--nproc " + std::to_string(args.nproc) + " disagrees with WORLD_SIZE=" +
                      std::to_string(dist_config->world_size) + " in the environment");
  if (!dist_config && args.nproc > 1) return launch_local_ranks(args.nproc, args.dist_timeout);
  std::shared_ptr<dist::Communicator> comm;
  if (dist_config && dist_config->world_size > 1) {
    if (given("--dist-timeout")) dist_config->timeout_seconds = args.dist_timeout;
    auto device = app::parse_device(args.run.device);
    // One GPU per rank of a machine.
    if (device.is_cuda() && !device.has_index()) {
      device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(dist_config->local_rank));
      args.run.device = device.str();
    }
    comm = dist::Communicator::connect(*dist_config, device);
  }
  // Rank 0 alone prints and writes the run folder; the other ranks read it, at most.
  const bool writer = !comm || comm->rank() == 0;
  if (!writer) {
    args.quiet = true;
    std::cout.setstate(std::ios::badbit);
  }
  auto out = resuming ? app::RunDirectory::resume(args.resume_dir)
                      : app::RunDirectory::create(args.out_dir, args.overwrite, /*touch=*/writer);
  std::vector<app::ResumeChange> changes;
  if (resuming) {
    // The run's own settings, with what the flags ask to change on top; checked before anything.
    const nlohmann::json cli = args.run;
    nlohmann::json overrides = nlohmann::json::object();
    for (const auto& flag : args.given) {
      const auto it = flag_settings().find(flag);
      if (it == flag_settings().end()) continue;
      for (const auto& pointer : it->second)
        overrides[pointer] = cli.value(nlohmann::json::json_pointer(pointer), nlohmann::json());
    }
    // The cache is per invocation: the run's own unless a flag names another.
    const auto cache_dir =
        given("--cache-dir") ? args.run.cache_dir : out.saved_config().value("cache_dir", std::string());
    const bool no_cache = given("--no-cache") || out.saved_config().value("no_cache", false);
    args.run = out.resume_options(overrides, changes);
    args.run.cache_dir = cache_dir;
    args.run.no_cache = no_cache;
    if (!given("--checkpoint-every"))
      args.checkpoint_every = out.saved_config().value("checkpoint_every", args.checkpoint_every);
    if (!given("--keep-checkpoints"))
      args.keep_checkpoints = out.saved_config().value("keep_checkpoints", args.keep_checkpoints);
    if (out.resuming() && out.resume_step() >= args.run.trainer.max_steps) {
      std::cout << out.path().string() << ": already at step " << out.resume_step() << " of "
                << args.run.trainer.max_steps << "; nothing to do (pass --steps N to go on)\n";
      return 0;
    }
  }
  const auto& resume_from = out.resume_checkpoint();

  auto setup = app::prepare_run(args.run, {}, comm);
  auto& trainer = *setup.trainer;
  const bool sft = args.run.trainer.objective == Objective::Sft;
  app::RunDirectoryConfig run_config{
      .run = args.run,
      .checkpoint_every = args.checkpoint_every,
      .keep_checkpoints = args.keep_checkpoints,
      .model_label = setup.model_label,
      .data_label = setup.data_label,
      .train_pairs = setup.train_pairs,
      .eval_pairs = setup.eval_pairs,
      .parameters = setup.parameter_count,
      .extra = {{"cache_dir", args.run.cache_dir}, {"no_cache", args.run.no_cache}}};
  if (comm) run_config.extra["processes"] = comm->world_size();
  std::vector<TrainerEvent> resume_events;
  if (resuming && !writer)
    resume_events = out.restore(trainer, changes);
  else if (resuming)
    resume_events = out.continue_run(trainer, changes, run_config);
  else if (writer)
    out.write_config(run_config);
  // Appended and flushed line by line so the studio (or tail -f) can follow a run live.
  if (writer) out.open_records();

  std::cout << "model: " << setup.model_label << ", data: " << setup.data_label << " (" << setup.train_pairs
            << " train / " << setup.eval_pairs << " eval pairs"
            << (setup.tokenized_from_cache ? ", tokenized from cache" : "")
            << "), policy: " << setup.parameter_count << " parameters"
            << (comm ? ", " + std::to_string(comm->world_size()) + " processes (" + comm->backend() + ")"
                     : "")
            << (args.run.lora.r > 0 ? " (LoRA r=" + std::to_string(args.run.lora.r) + ": " +
                                          std::to_string(setup.trainable_parameters) + " trainable)"
                                    : std::string())
            << ", "
            << (sft ? std::string("objective: SFT on chosen")
                    : "loss: " + std::string(loss_info(args.run.trainer.loss.type).label) + ", beta " +
                          std::to_string(args.run.trainer.loss.beta))
            << "\n";
  if (!setup.data_explanation.empty()) std::cout << "data: " << setup.data_explanation << "\n";
  if (setup.tokenize_report.prompt_truncated + setup.tokenize_report.completion_truncated > 0)
    std::cout << "truncated: " << setup.tokenize_report.prompt_truncated << " prompts, "
              << setup.tokenize_report.completion_truncated << " completions\n";
  if (resume_from)
    std::cout << "resuming from " << resume_from->string() << " (step " << trainer.steps_done() << ")\n";
  else if (resuming)
    std::cout << "no complete checkpoint in " << out.path().string() << ": starting again from step 0\n";
  for (const auto& e : resume_events) std::cout << "event: " << e.message << "\n";

  auto print_eval = [&](const PreferenceEval& e) {
    if (!writer) return;
    out.append_eval(e);
    if (!args.quiet && !trainer.eval_pairs().empty()) {
      if (sft)
        std::printf("eval %4lld  nll %.4f", static_cast<long long>(e.step), e.mean_loss);
      else
        std::printf("eval %4lld  loss %.4f  margin %+.4f  acc %.2f", static_cast<long long>(e.step),
                    e.mean_loss, e.mean_margin, e.accuracy);
      if (std::isfinite(e.sampled_length)) std::printf("  sampled length %.1f", e.sampled_length);
      std::printf("\n");
      std::fflush(stdout);
    }
  };
  TrainerCallbacks callbacks;
  // The reference pass can take minutes on a large model: a line every few seconds, with the time left.
  auto stage_started = std::chrono::steady_clock::now(), last_print = stage_started;
  std::string current_stage;
  callbacks.on_progress = [&](const std::string& stage, size_t done, size_t total) {
    if (args.quiet) return true;
    const auto now = std::chrono::steady_clock::now();
    if (stage != current_stage) current_stage = stage, stage_started = last_print = now;
    const double elapsed = std::chrono::duration<double>(now - stage_started).count();
    if (done == total) {
      std::printf("%s: %zu pairs in %.1f s\n", stage.c_str(), total, elapsed);
    } else if (std::chrono::duration<double>(now - last_print).count() >= 5.0 && done > 0) {
      last_print = now;
      std::printf("%s: %zu/%zu pairs, %.0f s, about %.0f s left\n", stage.c_str(), done, total, elapsed,
                  elapsed / static_cast<double>(done) * static_cast<double>(total - done));
    }
    std::fflush(stdout);
    return true;
  };
  callbacks.on_event = [&](const TrainerEvent& e) {
    if (!writer) return;
    out.append_event(e);
    std::cout << "event: " << e.message << "\n";
  };
  callbacks.on_step = [&](const StepMetrics& m) {
    if (!writer) return true;
    out.append_metrics(m);
    if (!args.quiet) {
      if (sft)
        std::printf("step %4lld  nll %.4f  lr %.2e  grad %.3f\n", static_cast<long long>(m.step), m.loss,
                    m.learning_rate, m.grad_norm);
      else
        std::printf(
            "step %4lld  loss %.4f  margin %+.4f  acc %.2f  chosen %+.4f  rejected %+.4f  len %.1f/%.1f%s\n",
            static_cast<long long>(m.step), m.loss, m.rewards_margins, m.rewards_accuracies, m.rewards_chosen,
            m.rewards_rejected, m.length_chosen, m.length_rejected, m.skipped ? "  SKIPPED" : "");
      std::fflush(stdout);
    }
    // The last step too, so `--resume --steps N` can extend a finished run.
    if (args.checkpoint_every > 0 && m.step % args.checkpoint_every == 0)
      out.save_checkpoint(trainer, setup, args.run, args.keep_checkpoints);
    return true;
  };
  // Other ranks do not evaluate: rank 0 does it alone, while they wait for its next step.
  if (writer) callbacks.on_eval = print_eval;

  std::signal(SIGINT, on_interrupt);
  const auto steps = train(trainer, callbacks, &g_interrupted);
  std::signal(SIGINT, SIG_DFL);
  // The final evaluation, unless the last step already made one.
  if (writer && !trainer.eval_pairs().empty() && !trainer.eval_due()) print_eval(trainer.evaluate());
  const bool stopped = !trainer.finished();
  if (writer && stopped && args.checkpoint_every > 0 && trainer.steps_done() % args.checkpoint_every != 0)
    out.save_checkpoint(trainer, setup, args.run, args.keep_checkpoints);
  if (writer) out.save_final(setup, args.run);
  if (comm && !writer) return stopped ? kExitInterrupted : 0;
  std::cout << (stopped ? "interrupted after " : "finished ") << steps << " steps (" << trainer.steps_done()
            << " in all); run: " << out.path().string() << "; model: " << (out.path() / "final").string()
            << "\n";
  return stopped ? kExitInterrupted : 0;
}

}  // namespace dpo::cli
