#include "app/cli/bench_command.h"
#include "app/cli/flag_checks.h"
#include "app/cli/local_ranks.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/diagnose/diagnostics.h"
#include "core/dist/communicator.h"
#include "core/io/safetensors.h"
#include "core/model/llama.h"
#include "core/runtime/error.h"
#include "core/runtime/memory.h"
#include "core/runtime/runtime.h"
#include "core/runtime/torch_compat.h"
#include "core/train/logprobs.h"
#include "core/train/reference_logps.h"
#include "core/train/trainer.h"

namespace dpo::cli {

namespace {

struct Shape {
  int64_t vocab, dim, layers, heads, kv_heads, ffn;
};

// The named shapes of issue 13 (vocab, dim, layers, heads, kv heads, ffn); tied head everywhere.
const std::map<std::string, Shape>& named_shapes() {
  static const std::map<std::string, Shape> shapes{{"2M", {4096, 128, 4, 4, 2, 384}},
                                                   {"7M", {8192, 256, 6, 8, 4, 768}},
                                                   {"7M-32k", {32000, 256, 6, 8, 4, 768}},
                                                   {"30M", {16384, 512, 8, 8, 4, 1536}},
                                                   {"qwen-vocab", {151936, 256, 4, 8, 2, 768}}};
  return shapes;
}

struct StepArgs {
  std::string config = "2M";
  std::optional<int64_t> vocab, dim, layers, heads, kv_heads, ffn;
  int64_t seq = 512, batch = 8, iters = 3, warmup = 1;
  std::optional<int> threads;
  std::string reference = "cached";
  std::string device = "cpu";
  bool bf16 = false;
  double learning_rate = 1e-4;
  int64_t chunk = -1;  // logit chunk rows; -1: the core's default, 0: whole logits at once
  std::string save_inputs;
  bool json = false;
  int nproc = 1;  // data-parallel processes (each takes --batch pairs)
};

struct DistBenchArgs {
  std::string config = "7M";
  int64_t seq = 256, batch = 4, iters = 5, warmup = 1;
  int nproc = 2;
  int threads = 0;  // in all; 0: the hardware threads
};

struct CompareArgs {
  std::vector<std::string> configs{"7M-32k"};
  std::vector<int64_t> seqs{512};
  int64_t batch = 8, iters = 3, warmup = 1;
  int threads = 2;
  std::string reference = "both";
  std::string python = "/usr/bin/python3";
  std::string baseline;
  std::string device = "cpu";
  bool bf16 = false;
  double memory_limit_gb = 0;  // per child; 0: 90% of physical memory
  std::string json_out;
};

StepArgs& step_args() {
  static StepArgs a;
  return a;
}
CompareArgs& compare_args() {
  static CompareArgs a;
  return a;
}
CLI::App*& step_command() {
  static CLI::App* c = nullptr;
  return c;
}
CLI::App*& compare_command() {
  static CLI::App* c = nullptr;
  return c;
}
DistBenchArgs& dist_args() {
  static DistBenchArgs a;
  return a;
}
CLI::App*& dist_command() {
  static CLI::App* c = nullptr;
  return c;
}

Shape resolve_shape(const StepArgs& a) {
  auto it = named_shapes().find(a.config);
  if (it == named_shapes().end()) {
    std::string known;
    for (const auto& [name, _] : named_shapes()) known += (known.empty() ? "" : ", ") + name;
    throw ConfigError("bench: unknown --config '" + a.config + "' (known: " + known + ")");
  }
  Shape s = it->second;
  if (a.vocab) s.vocab = *a.vocab;
  if (a.dim) s.dim = *a.dim;
  if (a.layers) s.layers = *a.layers;
  if (a.heads) s.heads = *a.heads;
  if (a.kv_heads) s.kv_heads = *a.kv_heads;
  if (a.ffn) s.ffn = *a.ffn;
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// GFLOP/s of a 2048² fp32 matmul on `device`, best of 5 after one warm-up.
double matmul_peak_gflops(const torch::Device& device) {
  torch::NoGradGuard no_grad;
  const int64_t n = 2048;
  auto a = torch::randn({n, n}, torch::TensorOptions().device(device));
  auto b = torch::randn({n, n}, torch::TensorOptions().device(device));
  auto c = torch::matmul(a, b);
  c.sum().item<float>();  // synchronises a CUDA stream
  double best = 1e30;
  for (int i = 0; i < 5; ++i) {
    const auto t = std::chrono::steady_clock::now();
    torch::matmul_out(c, a, b);
    c.sum().item<float>();
    best = std::min(best, seconds_since(t));
  }
  return 2.0 * n * n * n / best / 1e9;
}

// Model FLOPs of one step the way MFU is usually counted (PaLM, appendix B): 6·N per token for the
// policy's forward and backward, N the matmul parameters including the (tied) head over every
// position, plus 12·L·C·T per token for attention; an every-step reference adds its forward,
// 2·N + 4·L·C·T per token. What the core actually executes is less (no head over prompt positions).
double model_flops(const Shape& s, int64_t rows, int64_t seq, bool reference_every_step) {
  const double head_dim = static_cast<double>(s.dim / s.heads);
  const double per_layer =
      s.dim * (s.heads * head_dim) * 2 + s.dim * (s.kv_heads * head_dim) * 2 + 3.0 * s.dim * s.ffn;
  const double n = s.layers * per_layer + static_cast<double>(s.vocab) * s.dim;
  const double attention = static_cast<double>(s.layers) * s.dim * seq;
  const double tokens = static_cast<double>(rows) * seq;
  double flops = tokens * (6 * n + 12 * attention);
  if (reference_every_step) flops += tokens * (2 * n + 4 * attention);
  return flops;
}

// B pairs that fill exactly `seq` tokens: a shared prompt of seq/4 random ids, then a chosen and a
// rejected completion of random ids. Ids start at 3 (0 pad, 1 bos, 2 eos). Rows [0, B) chosen.
std::vector<TokenizedPair> random_pairs(int64_t pairs, int64_t seq, int64_t vocab, torch::Tensor* ids_out) {
  const int64_t prompt = seq / 4;
  auto generator = at::detail::createCPUGenerator(1234);
  auto ids = torch::randint(3, vocab, {2 * pairs, seq}, generator, torch::kLong);  // (2B, T)
  ids.narrow(0, pairs, pairs).narrow(1, 0, prompt).copy_(ids.narrow(0, 0, pairs).narrow(1, 0, prompt));
  auto a = ids.accessor<int64_t, 2>();
  std::vector<TokenizedPair> out(static_cast<size_t>(pairs));
  for (int64_t i = 0; i < pairs; ++i) {
    auto& p = out[static_cast<size_t>(i)];
    for (int64_t t = 0; t < seq; ++t) {
      (t < prompt ? p.prompt_ids : p.chosen_ids).push_back(a[i][t]);
      if (t >= prompt) p.rejected_ids.push_back(a[pairs + i][t]);
    }
    p.line = static_cast<size_t>(i + 1);
  }
  if (ids_out != nullptr) *ids_out = ids;
  return out;
}

nlohmann::json run_step_bench(const StepArgs& a) {
  const Shape shape = resolve_shape(a);
  if (a.seq < 8 || a.batch < 1 || a.iters < 1 || a.warmup < 0)
    throw ConfigError("bench: needs --seq >= 8, --batch >= 1, --iters >= 1, --warmup >= 0");
  if (a.reference != "cached" && a.reference != "every-step")
    throw ConfigError("bench: --reference must be cached or every-step, not '" + a.reference + "'");
  const int threads = configure_threads(a.threads);
  const torch::Device device(a.device);
  if (device.is_cuda() && !torch::cuda::is_available())
    throw ConfigError("bench: --device cuda but CUDA is not available");
  // One rank of `dpo bench step --nproc N` (its launcher set WORLD_SIZE): batch pairs per rank.
  std::shared_ptr<dist::Communicator> comm;
  if (const auto dist_config = dist::config_from_environment(); dist_config && dist_config->world_size > 1)
    comm = dist::Communicator::connect(*dist_config, device);
  const int world = comm ? comm->world_size() : 1;

  LlamaConfig config;
  config.vocab_size = shape.vocab;
  config.hidden_size = shape.dim;
  config.intermediate_size = shape.ffn;
  config.num_hidden_layers = shape.layers;
  config.num_attention_heads = shape.heads;
  config.num_key_value_heads = shape.kv_heads;
  config.head_dim = shape.heads > 0 ? shape.dim / shape.heads : 0;
  config.max_position_embeddings = std::max<int64_t>(a.seq, 512);
  config.tie_word_embeddings = true;
  config.validate();

  torch::manual_seed(0);
  LlamaForCausalLM model(config);
  initialise_weights(model);
  model->to(device);
  torch::Tensor ids;
  auto pairs = random_pairs(a.batch, a.seq, shape.vocab, &ids);
  if (!a.save_inputs.empty()) {
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto& p : model->named_parameters()) tensors.emplace_back(p.key(), p.value().detach());
    tensors.emplace_back("bench.input_ids", ids);
    write_safetensors(a.save_inputs, tensors);
  }

  TrainerConfig tc;
  tc.batch_size = a.batch;
  tc.eval_batch_size = a.batch;
  tc.max_steps = a.warmup + a.iters;
  tc.learning_rate = a.learning_rate;
  tc.precompute_reference = a.reference == "cached";
  tc.measure_sampled_length = false;
  tc.bf16_autocast = a.bf16;
  if (a.chunk >= 0) tc.logit_chunk_rows = a.chunk;
  // Every rank holds the global batch's pairs; the trainer gives each its share.
  if (world > 1) pairs = random_pairs(a.batch * world, a.seq, shape.vocab, nullptr);
  TrainerInputs inputs{.policy = model, .train_pairs = pairs, .pad_id = 0, .communicator = comm};
  Trainer trainer(std::move(inputs), tc);

  const auto prepare_started = std::chrono::steady_clock::now();
  trainer.prepare();
  const double prepare_seconds = seconds_since(prepare_started);

  std::vector<double> times;
  std::optional<StepMetrics> first;
  int64_t rss_before = 0;
  double wait_before = 0;
  for (int64_t i = 0; i < a.warmup + a.iters; ++i) {
    if (i == a.warmup) {
      wait_before = trainer.gradient_wait_seconds();
      rss_before = resident_bytes();
      reset_peak_resident();
      if (device.is_cuda()) compat::cuda_reset_peak(device.has_index() ? device.index() : 0);
    }
    const auto t = std::chrono::steady_clock::now();
    auto m = trainer.step();  // reads its metrics with .item(): the step has finished on the device
    if (i >= a.warmup) times.push_back(seconds_since(t));
    if (!first) first = m;
  }
  const int64_t peak = peak_resident_bytes();
  const int64_t device_peak =
      device.is_cuda() ? compat::cuda_peak_allocated_bytes(device.has_index() ? device.index() : 0) : -1;

  // The reference pass alone (what the cached mode runs once before step 1), same rows.
  std::vector<double> reference_times;
  for (int i = 0; i < (comm ? 0 : 2); ++i) {
    const auto t = std::chrono::steady_clock::now();
    compute_reference_logps(model, pairs, 0, a.batch, nullptr, tc.logit_chunk_rows);
    reference_times.push_back(seconds_since(t));
  }

  const double step_seconds = diagnose::median(times);
  const int64_t rows = 2 * a.batch * world;
  const double tokens = static_cast<double>(rows * a.seq);
  const double flops = model_flops(shape, rows, a.seq, a.reference == "every-step");
  const double peak_gflops = matmul_peak_gflops(device);
  const double achieved = flops / step_seconds / 1e9;
  const double reference_tps =
      reference_times.empty() ? 0.0 : tokens / world / diagnose::median(reference_times);
  const double step_tps = tokens / step_seconds;
  int64_t parameters = 0;
  for (const auto& p : model->parameters()) parameters += p.numel();
  nlohmann::json result = {{"program", "dpo bench step"},
                           {"torch", TORCH_VERSION},
                           {"threads", threads},
                           {"device", a.device},
                           {"bf16", a.bf16},
                           {"config", a.config},
                           {"vocab", shape.vocab},
                           {"dim", shape.dim},
                           {"layers", shape.layers},
                           {"heads", shape.heads},
                           {"kv_heads", shape.kv_heads},
                           {"ffn", shape.ffn},
                           {"parameters", parameters},
                           {"seq", a.seq},
                           {"batch", a.batch},
                           {"reference", a.reference},
                           {"logit_chunk_rows", tc.logit_chunk_rows},
                           {"step_seconds", step_seconds},
                           {"step_seconds_all", times},
                           {"tokens_per_second", step_tps},
                           {"model_gflop_per_step", flops / 1e9},
                           {"achieved_gflops", achieved},
                           {"matmul_peak_gflops", peak_gflops},
                           {"mfu", achieved / peak_gflops},
                           {"peak_rss_mb", static_cast<double>(peak) / (1 << 20)},
                           {"rss_before_mb", static_cast<double>(rss_before) / (1 << 20)},
                           {"step_extra_mb", static_cast<double>(peak - rss_before) / (1 << 20)},
                           {"prepare_seconds", prepare_seconds},
                           {"reference_pass_tokens_per_second", reference_tps},
                           {"reference_pass_vs_step", reference_tps / step_tps},
                           {"first_loss", first->loss},
                           {"first_logps_chosen", first->logps_chosen},
                           {"first_grad_norm", first->grad_norm}};
  if (device_peak >= 0) result["peak_device_mb"] = static_cast<double>(device_peak) / (1 << 20);
  if (comm) {
    // What a step all-reduces: the gradient buckets, then the step's counts (5) and sums (13 + world).
    int64_t bytes = 0;
    for (auto b : trainer.gradient_buckets()) bytes += b;
    result["processes"] = world;
    result["global_batch"] = a.batch * world;
    result["gradient_buckets"] = trainer.gradient_buckets().size();
    result["allreduce_mb_per_step"] = static_cast<double>(bytes + 8 * (5 + 13 + world)) / (1 << 20);
    result["exposed_allreduce_seconds_per_step"] =
        (trainer.gradient_wait_seconds() - wait_before) / static_cast<double>(a.iters);
    result["program"] = "dpo bench step --nproc " + std::to_string(world);
  }
  return result;
}

void print_step(const nlohmann::json& r) {
  std::cout << std::fixed << std::setprecision(3);
  std::cout << "shape " << r["config"].get<std::string>() << ": vocab " << r["vocab"] << ", dim " << r["dim"]
            << ", layers " << r["layers"] << ", heads " << r["heads"] << "/" << r["kv_heads"] << ", ffn "
            << r["ffn"] << " (" << r["parameters"] << " parameters); batch " << r["batch"] << " pairs x seq "
            << r["seq"] << ", reference " << r["reference"].get<std::string>() << ", " << r["threads"]
            << " threads on " << r["device"].get<std::string>() << "\n";
  std::cout << "step: " << r["step_seconds"].get<double>() << " s (median), " << std::setprecision(0)
            << r["tokens_per_second"].get<double>() << " tokens/s, " << r["achieved_gflops"].get<double>()
            << " GFLOP/s of a " << r["matmul_peak_gflops"].get<double>() << " GFLOP/s matmul peak: MFU "
            << std::setprecision(1) << 100 * r["mfu"].get<double>() << "%\n";
  std::cout << "memory: peak " << std::setprecision(0) << r["peak_rss_mb"].get<double>() << " MB resident, "
            << r["step_extra_mb"].get<double>() << " MB above the " << r["rss_before_mb"].get<double>()
            << " MB held before the step\n";
  std::cout << "reference pass: " << r["reference_pass_tokens_per_second"].get<double>() << " tokens/s, "
            << std::setprecision(2) << r["reference_pass_vs_step"].get<double>() << "x a training step's\n";
}

struct ChildResult {
  int status = -1;
  std::string out, err;
};

// Runs argv with stdout and stderr captured; RLIMIT_AS bounds the child so that an out-of-memory
// baseline fails with an allocation error instead of waking the kernel's OOM killer.
ChildResult run_child(const std::vector<std::string>& argv, double memory_limit_bytes) {
  int out_pipe[2], err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) throw Error("bench: pipe failed");
  const pid_t pid = fork();
  if (pid < 0) throw Error("bench: fork failed");
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    close(out_pipe[0]);
    close(err_pipe[0]);
    if (memory_limit_bytes > 0) {
      rlimit limit{static_cast<rlim_t>(memory_limit_bytes), static_cast<rlim_t>(memory_limit_bytes)};
      setrlimit(RLIMIT_AS, &limit);
    }
    std::vector<char*> args;
    for (const auto& s : argv) args.push_back(const_cast<char*>(s.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::fprintf(stderr, "cannot run %s\n", args[0]);
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  ChildResult r;
  // Both pipes drained together, so a chatty stderr can never block the child.
  std::array<char, 4096> buffer;
  std::array<pollfd, 2> fds{pollfd{out_pipe[0], POLLIN, 0}, pollfd{err_pipe[0], POLLIN, 0}};
  std::array<std::string*, 2> texts{&r.out, &r.err};
  for (int open_pipes = 2; open_pipes > 0;) {
    if (poll(fds.data(), fds.size(), -1) < 0) break;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, buffer.data(), buffer.size());
      if (n > 0) {
        texts[i]->append(buffer.data(), static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_pipes;
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string last_line(const std::string& text) {
  auto end = text.find_last_not_of("\n ");
  if (end == std::string::npos) return "";
  auto begin = text.rfind('\n', end);
  return text.substr(begin == std::string::npos ? 0 : begin + 1,
                     end + 1 - (begin == std::string::npos ? 0 : begin + 1));
}

std::string find_baseline(const std::string& given) {
  namespace fs = std::filesystem;
  if (!given.empty()) return given;
  // Only a build tree (build/<preset>/bin) has the baseline beside it; an installed dpo names no source path.
  const fs::path candidate = fs::path(executable_dir()) / "../../../bench/baseline/dpo_step.py";
  if (fs::exists(candidate)) return fs::weakly_canonical(candidate).string();
  throw ConfigError("bench compare: bench/baseline/dpo_step.py not found (give --baseline PATH)");
}

double physical_memory_bytes() {
  return static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
}

int run_compare(const CompareArgs& a) {
  const std::string baseline = find_baseline(a.baseline);
  const double limit = (a.memory_limit_gb > 0 ? a.memory_limit_gb * 1e9 : 0.9 * physical_memory_bytes());
  std::vector<std::string> modes;
  if (a.reference == "both")
    modes = {"cached", "every-step"};
  else
    modes = {a.reference};
  const auto inputs =
      std::filesystem::temp_directory_path() / ("dpo-bench-" + std::to_string(getpid()) + ".safetensors");
  nlohmann::json rows = nlohmann::json::array();
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  // On a GPU the memory that counts is the device's (the caching allocator's peak), else resident.
  const std::string memory_key = torch::Device(a.device).is_cuda() ? "peak_device_mb" : "peak_rss_mb";
  std::cout << "dpo bench compare: dpo (C++ core) vs " << baseline << " on " << a.python << ", " << a.threads
            << " threads, batch " << a.batch << " pairs, " << a.iters << " timed steps after " << a.warmup
            << " warm-up, the same weights and tokens\n\n";
  std::cout << std::left << std::setw(12) << "shape" << std::setw(6) << "seq" << std::setw(12) << "reference"
            << std::right << std::setw(10) << "dpo s" << std::setw(10) << "py s" << std::setw(9) << "speed"
            << std::setw(10) << "dpo MB" << std::setw(10) << "py MB" << std::setw(8) << "mem" << std::setw(7)
            << "MFU" << std::setw(12) << "logp diff" << std::setw(12) << "|g| diff"
            << "\n";
  for (const auto& config : a.configs) {
    for (const auto seq : a.seqs) {
      // The Python sketch runs its reference every step in every row; it is run once per shape.
      std::optional<nlohmann::json> py;
      std::string py_error;
      for (const auto& mode : modes) {
        std::vector<std::string> cpp{exe,
                                     "bench",
                                     "step",
                                     "--config",
                                     config,
                                     "--seq",
                                     std::to_string(seq),
                                     "--batch",
                                     std::to_string(a.batch),
                                     "--threads",
                                     std::to_string(a.threads),
                                     "--iters",
                                     std::to_string(a.iters),
                                     "--warmup",
                                     std::to_string(a.warmup),
                                     "--reference",
                                     mode,
                                     "--device",
                                     a.device,
                                     "--json",
                                     "--save-inputs",
                                     inputs.string()};
        if (a.bf16) cpp.push_back("--bf16");
        auto c = run_child(cpp, limit);
        nlohmann::json row{{"config", config}, {"seq", seq}, {"reference", mode}};
        if (c.status != 0) {
          row["dpo_error"] = last_line(c.err);
          std::cout << std::left << std::setw(12) << config << std::setw(6) << seq << std::setw(12) << mode
                    << "dpo failed (exit " << c.status << "): " << last_line(c.err) << "\n";
          rows.push_back(row);
          continue;
        }
        auto d = nlohmann::json::parse(last_line(c.out));
        row["dpo"] = d;
        if (!py && py_error.empty()) {
          std::vector<std::string> pyargs{a.python,    baseline,
                                          "--config",  config,
                                          "--seq",     std::to_string(seq),
                                          "--batch",   std::to_string(a.batch),
                                          "--threads", std::to_string(a.threads),
                                          "--iters",   std::to_string(a.iters),
                                          "--warmup",  std::to_string(a.warmup),
                                          "--device",  a.device,
                                          "--inputs",  inputs.string(),
                                          "--json"};
          if (a.bf16) pyargs.push_back("--bf16");
          auto p = run_child(pyargs, limit);
          if (p.status == 0)
            py = nlohmann::json::parse(last_line(p.out));
          else
            py_error = "exit " + std::to_string(p.status) + ": " + last_line(p.err);
        }
        std::cout << std::left << std::setw(12) << config << std::setw(6) << seq << std::setw(12) << mode
                  << std::right << std::fixed << std::setprecision(2) << std::setw(10)
                  << d["step_seconds"].get<double>();
        if (py) {
          const double speed = (*py)["step_seconds"].get<double>() / d["step_seconds"].get<double>();
          const double mem = d[memory_key].get<double>() / (*py)[memory_key].get<double>();
          const double logp =
              std::abs(d["first_logps_chosen"].get<double>() - (*py)["first_logps_chosen"].get<double>()) /
              std::max(1.0, std::abs((*py)["first_logps_chosen"].get<double>()));
          const double grad =
              std::abs(d["first_grad_norm"].get<double>() - (*py)["first_grad_norm"].get<double>()) /
              std::max(1e-12, std::abs((*py)["first_grad_norm"].get<double>()));
          row["python"] = *py;
          row["speedup"] = speed;
          row["memory_ratio"] = mem;
          row["logps_relative_difference"] = logp;
          row["grad_norm_relative_difference"] = grad;
          std::cout << std::setw(10) << (*py)["step_seconds"].get<double>() << std::setw(8) << speed << "x"
                    << std::setprecision(0) << std::setw(10) << d[memory_key].get<double>() << std::setw(10)
                    << (*py)[memory_key].get<double>() << std::setprecision(2) << std::setw(7) << mem << "x";
        } else {
          row["python_error"] = py_error;
          std::cout << std::setw(10) << "failed" << std::setw(9) << "-" << std::setprecision(0)
                    << std::setw(10) << d[memory_key].get<double>() << std::setw(10) << "-" << std::setw(8)
                    << "-";
        }
        std::cout << std::setprecision(1) << std::setw(6) << 100 * d["mfu"].get<double>() << "%";
        if (py)
          std::cout << std::scientific << std::setprecision(1) << std::setw(12)
                    << row["logps_relative_difference"].get<double>() << std::setw(12)
                    << row["grad_norm_relative_difference"].get<double>() << std::fixed;
        std::cout << "\n";
        if (!py) std::cout << "    python baseline failed (" << py_error << ")\n";
        std::cout.flush();
        rows.push_back(row);
      }
    }
  }
  std::filesystem::remove(inputs);
  std::cout
      << "\nspeed = python seconds / dpo seconds (the sketch always runs its reference every step); mem = "
         "dpo peak / python peak (resident memory; device memory on CUDA); diffs: step 1's mean log pi(y_w) "
         "and gradient norm, "
         "relative\n";
  if (!a.json_out.empty()) std::ofstream(a.json_out) << rows.dump(1) << "\n";
  return 0;
}

}  // namespace

// One process with the global batch and every thread, against --nproc processes with their share
// of both, in the same run (docs/scaling.md).
int run_dist_bench(const DistBenchArgs& a) {
  const int threads =
      a.threads > 0 ? a.threads : static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  if (threads % a.nproc != 0)
    throw ConfigError("bench dist: " + std::to_string(threads) + " threads do not split into " +
                      std::to_string(a.nproc) + " processes (give --threads)");
  const std::string self = "/proc/self/exe";
  auto common = [&](int64_t batch, int thread_count) {
    return std::vector<std::string>{self,
                                    "bench",
                                    "step",
                                    "--config",
                                    a.config,
                                    "--seq",
                                    std::to_string(a.seq),
                                    "--batch",
                                    std::to_string(batch),
                                    "--iters",
                                    std::to_string(a.iters),
                                    "--warmup",
                                    std::to_string(a.warmup),
                                    "--threads",
                                    std::to_string(thread_count),
                                    "--json"};
  };
  auto parse = [](const ChildResult& r, const char* what) {
    if (r.status != 0)
      throw Error(std::string("bench dist: the ") + what + " run failed: " + last_line(r.err));
    return nlohmann::json::parse(last_line(r.out));
  };
  std::cout << "one process, batch " << a.batch * a.nproc << ", " << threads << " threads ...\n"
            << std::flush;
  const auto one = parse(run_child(common(a.batch * a.nproc, threads), 0), "one-process");
  auto argv = common(a.batch, threads / a.nproc);
  argv.insert(argv.end(), {"--nproc", std::to_string(a.nproc)});
  std::cout << a.nproc << " processes, batch " << a.batch << " each, " << threads / a.nproc
            << " threads each ...\n"
            << std::flush;
  const auto many = parse(run_child(argv, 0), "data-parallel");
  const double ratio = many["tokens_per_second"].get<double>() / one["tokens_per_second"].get<double>();
  std::cout << std::fixed << std::setprecision(3) << "shape " << a.config << " ("
            << one["parameters"].get<int64_t>() << " parameters), seq " << a.seq << ", global batch "
            << a.batch * a.nproc << " pairs\n"
            << "  1 process:  " << one["step_seconds"].get<double>() << " s/step, " << std::setprecision(0)
            << one["tokens_per_second"].get<double>() << " tokens/s\n"
            << std::setprecision(3) << "  " << a.nproc << " processes: " << many["step_seconds"].get<double>()
            << " s/step, " << std::setprecision(0) << many["tokens_per_second"].get<double>()
            << " tokens/s = " << std::setprecision(2) << ratio << "x the one process\n"
            << "  all-reduce per step: " << std::setprecision(2)
            << many["allreduce_mb_per_step"].get<double>() << " MB in "
            << many["gradient_buckets"].get<int64_t>() << " gradient bucket(s); waited "
            << std::setprecision(4) << many["exposed_allreduce_seconds_per_step"].get<double>()
            << " s/step after backward\n"
            << "  losses of the first step: " << std::setprecision(6) << one["first_loss"].get<double>()
            << " vs " << many["first_loss"].get<double>() << "\n";
  return 0;
}

void add_bench_command(CLI::App& cli) {
  auto* bench =
      cli.add_subcommand("bench", "measure the training core: one step, or against the Python sketch");
  bench->require_subcommand(1);
  auto& s = step_args();
  auto* step =
      bench->add_subcommand("step", "one optimiser step on a random-initialised Llama of a given shape");
  step->add_option("--config", s.config, "named shape: 2M, 7M, 7M-32k, 30M, qwen-vocab")
      ->capture_default_str();
  step->add_option("--vocab", s.vocab, "vocabulary size (overrides the named shape)");
  step->add_option("--dim", s.dim, "hidden size");
  step->add_option("--layers", s.layers, "decoder layers");
  step->add_option("--heads", s.heads, "attention heads");
  step->add_option("--kv-heads", s.kv_heads, "key/value heads");
  step->add_option("--ffn", s.ffn, "MLP intermediate size");
  at_least(step->add_option("--seq", s.seq, "tokens per sequence (prompt: the first quarter)"), 8)
      ->capture_default_str();
  at_least(step->add_option("--batch", s.batch, "pairs per step"), 1)->capture_default_str();
  at_least(step->add_option("--threads", s.threads, "torch intra-op threads (default: all)"), 1);
  at_least(step->add_option("--iters", s.iters, "timed steps (the median is reported)"), 1)
      ->capture_default_str();
  at_least(step->add_option("--warmup", s.warmup, "untimed steps first"), 0)->capture_default_str();
  step->add_option("--reference", s.reference, "cached (precomputed once) or every-step")
      ->capture_default_str();
  step->add_option("--device", s.device, "cpu or cuda")->capture_default_str();
  step->add_flag("--bf16", s.bf16, "bfloat16 autocast for the forward passes (CUDA)");
  positive(step->add_option("--lr", s.learning_rate, "AdamW learning rate"))->capture_default_str();
  step->add_option("--chunk", s.chunk,
                   "positions per lm_head chunk (0: all at once; default: the core's choice)");
  step->add_option("--save-inputs", s.save_inputs,
                   "write the weights and token ids (safetensors) for the Python baseline");
  step->add_flag("--json", s.json, "one JSON object");
  at_least(step->add_option("--nproc", s.nproc,
                            "data-parallel processes on this machine, each with --batch pairs (c10d, Gloo)"),
           1);
  step_command() = step;

  auto& d = dist_args();
  auto* dist_bench = bench->add_subcommand(
      "dist",
      "one process against --nproc data-parallel processes on the same global batch (docs/scaling.md)");
  dist_bench->add_option("--config", d.config, "named shape: 2M, 7M, 7M-32k, 30M, qwen-vocab")
      ->capture_default_str();
  at_least(dist_bench->add_option("--seq", d.seq, "tokens per sequence"), 8)->capture_default_str();
  at_least(
      dist_bench->add_option("--batch", d.batch, "pairs per process (the one process takes nproc x batch)"),
      1)
      ->capture_default_str();
  at_least(dist_bench->add_option("--nproc", d.nproc, "processes"), 2)->capture_default_str();
  at_least(dist_bench->add_option("--iters", d.iters, "timed steps"), 1)->capture_default_str();
  at_least(dist_bench->add_option("--warmup", d.warmup, "untimed steps"), 0)->capture_default_str();
  at_least(dist_bench->add_option("--threads", d.threads, "threads in all (default: the hardware threads)"),
           1);
  dist_command() = dist_bench;

  auto& c = compare_args();
  auto* compare =
      bench->add_subcommand("compare", "dpo bench step against bench/baseline/dpo_step.py, side by side");
  compare->add_option("--configs", c.configs, "named shapes")->capture_default_str();
  compare->add_option("--seq", c.seqs, "sequence lengths")->capture_default_str();
  at_least(compare->add_option("--batch", c.batch, "pairs per step"), 1)->capture_default_str();
  at_least(compare->add_option("--threads", c.threads, "intra-op threads of both"), 1)->capture_default_str();
  at_least(compare->add_option("--iters", c.iters, "timed steps"), 1)->capture_default_str();
  at_least(compare->add_option("--warmup", c.warmup, "untimed steps"), 0)->capture_default_str();
  compare->add_option("--reference", c.reference, "cached, every-step or both (dpo's side)")
      ->capture_default_str();
  compare->add_option("--python", c.python, "interpreter with torch (Debian's python3-torch)")
      ->capture_default_str();
  compare->add_option("--baseline", c.baseline, "path of bench/baseline/dpo_step.py");
  compare->add_option("--device", c.device, "cpu or cuda")->capture_default_str();
  compare->add_flag("--bf16", c.bf16, "bfloat16 autocast in both (CUDA)");
  positive(compare->add_option("--memory-limit-gb", c.memory_limit_gb,
                               "address-space limit per process (default 90% of RAM)"));
  compare->add_option("--json", c.json_out, "also write every row as JSON to this file");
  compare_command() = compare;
}

bool bench_command_chosen() {
  return (step_command() && step_command()->parsed()) || (compare_command() && compare_command()->parsed()) ||
         (dist_command() && dist_command()->parsed());
}

int run_bench_command() {
  if (compare_command()->parsed()) return run_compare(compare_args());
  if (dist_command()->parsed()) return run_dist_bench(dist_args());
  if (step_args().nproc > 1 && !dist::config_from_environment())
    return launch_local_ranks(step_args().nproc, /*timeout_seconds=*/600);
  const auto result = run_step_bench(step_args());
  if (step_args().json)
    std::cout << result.dump() << "\n";
  else
    print_step(result);
  return 0;
}

}  // namespace dpo::cli
