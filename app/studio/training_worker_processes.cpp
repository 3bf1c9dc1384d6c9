// The studio's multi-process runs: `dpo train --nproc N` in a child process, followed through the run
// folder its rank 0 writes (records are flushed line by line), with the same signals as a run of the
// worker's own.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <QCoreApplication>

#include "app/session/run_records.h"
#include "app/session/setup_file.h"
#include "app/studio/training_worker.h"
#include "core/runtime/error.h"
#include "core/runtime/runtime.h"
#include "core/train/losses.h"

extern char** environ;

namespace dpo::studio {

namespace fs = std::filesystem;

namespace {

// The lines of `log` that start with "error: " (the launcher's and rank 0's), else its last line.
QString error_lines(const fs::path& log) {
  std::ifstream in(log);
  QStringList errors;
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    last = line;
    if (line.rfind("error: ", 0) == 0) errors << QString::fromStdString(line.substr(7));
  }
  if (errors.isEmpty()) errors << QString::fromStdString(last);
  return errors.join(QStringLiteral("\n"));
}

}  // namespace

void TrainingWorker::runProcesses() {
  qint64 steps_done = 0;
  bool stopped = false;
  try {
    if (config_.lesson || config_.sft_reference_steps > 0 || !config_.resume_dir.isEmpty())
      throw ConfigError(
          "Processes above 1 start a new run; lessons, \"Fit by SFT on chosen first\" and resuming a run "
          "use one process");
    const fs::path dpo = fs::path(QCoreApplication::applicationDirPath().toStdString()) / "dpo";
    if (!fs::exists(dpo))
      throw ConfigError("Processes above 1 run the dpo program beside dpo-studio, and " + dpo.string() +
                        " is missing");
    const app::RunOptions& options = config_.run;
    const auto root =
        config_.runs_root.isEmpty() ? app::default_runs_root() : fs::path(config_.runs_root.toStdString());
    const auto dir = app::new_run_dir(root, std::string(loss_info(options.trainer.loss.type).name),
                                      options.trainer.loss.beta);
    fs::create_directories(dir);
    // How the processes were started, kept with the run: its settings and what they printed.
    const auto setup_path = dir / "processes.dposetup";
    app::write_setup_file(setup_path, {.run = options});
    const auto log_path = dir / "processes.log";
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const int threads =
        config_.threads > 0
            ? config_.threads
            : static_cast<int>(std::max(1u, cores / static_cast<unsigned>(config_.processes)));
    std::vector<std::string> args = {dpo.string(), "--threads", std::to_string(threads), "train", "--setup",
                                     setup_path.string(), "--out", dir.string(), "--nproc",
                                     std::to_string(config_.processes), "--quiet",
                                     // Rank 0's evaluations and checkpoints included.
                                     "--dist-timeout", "1800"};
    if (!options.cache_dir.empty()) args.insert(args.end(), {"--cache-dir", options.cache_dir});
    if (options.no_cache) args.emplace_back("--no-cache");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = -1;
    const int spawned = posix_spawn(&pid, dpo.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) throw Error("cannot start " + dpo.string() + ": " + std::strerror(spawned));
    Q_EMIT preparing(tr("starting %1 processes").arg(config_.processes), 0, 0);

    // Follows the folder until the processes end: config.json, then the records as they grow.
    bool announced_dir = false;
    size_t metrics_seen = 0, evals_seen = 0, events_seen = 0;
    uintmax_t last_sizes = 0;
    auto follow = [&] {
      if (!announced_dir && fs::exists(dir / "config.json")) {
        const auto brief = app::brief_run(dir);
        if (!brief.error.empty()) return;
        announced_dir = true;
        Q_EMIT runDirectoryReady(QString::fromStdString(dir.string()), -1);
        const auto& c = brief.config;
        Q_EMIT prepared(QString::fromStdString(c.value("data_label", std::string())),
                        c.value("train_pairs", qint64{0}), c.value("parameters", qint64{0}),
                        QString::fromStdString(c.value("model_label", std::string())));
      }
      if (!announced_dir) return;
      uintmax_t sizes = 0;
      for (const char* name : app::kRunRecordFiles) {
        std::error_code ec;
        const auto size = fs::file_size(dir / name, ec);
        sizes += ec ? 0 : size;
      }
      if (sizes == last_sizes) return;
      last_sizes = sizes;
      const auto run = app::load_run(dir);
      for (; metrics_seen < run.metrics.size(); ++metrics_seen) {
        Q_EMIT stepFinished(run.metrics[metrics_seen]);
        steps_done = run.metrics[metrics_seen].step;
      }
      for (; events_seen < run.events.size(); ++events_seen)
        Q_EMIT eventLogged(run.events[events_seen].event);
      for (; evals_seen < run.evals.size(); ++evals_seen) Q_EMIT evalFinished(run.evals[evals_seen]);
    };
    int status = 0;
    bool interrupted = false;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (stop_ && !interrupted) {
        // As Ctrl+C: every rank stops after the same step and rank 0 saves the model.
        ::kill(pid, SIGINT);
        interrupted = true;
      }
      follow();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    last_sizes = 0;
    follow();
    stopped = interrupted;
    const bool ok = WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 130);
    if (!ok) throw Error(error_lines(log_path).toStdString());
    Q_EMIT finished(steps_done, stopped);
    // The run lingers for the Playground and the pair inspector as one of the worker's own: its
    // final model, loaded here.
    if (steps_done > 0) {
      config_.playground_dir = QString::fromStdString(dir.string());
      runPlayground(/*announce=*/false);
    }
    return;
  } catch (const std::exception& e) {
    Q_EMIT failed(QString::fromStdString(e.what()));
  }
  Q_EMIT finished(steps_done, stopped);
}

}  // namespace dpo::studio
