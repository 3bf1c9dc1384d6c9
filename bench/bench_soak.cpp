// Soak (issue 19): a long demo run in the offscreen studio with every tab rendered in turn and the
// running run ticked on the Compare tab. Measures resident memory after warm-up against the end
// (target: growth < 5%), the GUI thread's CPU time per plot replot in each window of steps (flat:
// last window / the first after warm-up < 1.5) and event-loop lateness (p99 < 50 ms). Exit 1 when a target
// fails.
//   bench_soak [--steps 2000] [--threads 1] [--batch 4] [--eval-every 50] [--tab-ms 250 (0: no switching)]
#include <QApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QSet>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTimer>

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

#include "app/studio/latency_probe.h"
#include "app/studio/main_window.h"
#include "app/studio/runs_browser.h"
#include "app/studio/training_plots.h"
#include "core/runtime/memory.h"

#include "app/studio/qcustomplot_include.h"

namespace {

// CPU time of the calling thread: a replot's own cost, not inflated when a build shares the core.
double threadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// The plot's own name, else its nearest named parent's ("rewardMarginPlot", "pairInspector").
QString nameOf(const QObject* o) {
  for (; o; o = o->parent())
    if (!o->objectName().isEmpty() && o->objectName() != "MetricPlot") return o->objectName();
  return QStringLiteral("?");
}

struct Window {
  qint64 last_step = 0;
  std::map<QString, std::pair<int, double>> by_plot;  // name: replots, CPU ms
  int replots = 0;
  double replot_cpu_ms = 0, replot_wall_ms = 0, replot_max_ms = 0;
  double seconds = 0;  // wall time of the window's steps
  double p99 = 0, max_late = 0;
  double rss_mb = 0;  // at the window's last step
};

// Times every replot of every QCustomPlot under the window (Training, Optimiser, Compare, the pair
// inspector's history, scatter and histogram) into the window of steps in progress.
class ReplotClock {
 public:
  explicit ReplotClock(std::vector<Window>& windows) : windows_(windows) {}
  void setWindow(int index) { current_ = index; }
  void hookAll(QWidget* root) {
    for (auto* plot : root->findChildren<QCustomPlot*>()) {
      if (hooked_.contains(plot)) continue;
      hooked_.insert(plot);
      QObject::connect(plot, &QObject::destroyed, &context_, [this, plot] { hooked_.remove(plot); });
      QObject::connect(plot, &QCustomPlot::beforeReplot, &context_, [this] {
        cpu_start_ = threadCpuMs();
        wall_.start();
      });
      QObject::connect(plot, &QCustomPlot::afterReplot, &context_, [this, plot] {
        if (current_ < 0 || static_cast<size_t>(current_) >= windows_.size()) return;
        Window& w = windows_[static_cast<size_t>(current_)];
        const double wall_ms = static_cast<double>(wall_.nsecsElapsed()) / 1e6;
        const double cpu_ms = threadCpuMs() - cpu_start_;
        ++w.replots;
        w.replot_cpu_ms += cpu_ms;
        auto& [count, sum] = w.by_plot[nameOf(plot)];
        ++count;
        sum += cpu_ms;
        w.replot_wall_ms += wall_ms;
        w.replot_max_ms = std::max(w.replot_max_ms, wall_ms);
      });
    }
  }
  int hooked() const { return static_cast<int>(hooked_.size()); }

 private:
  std::vector<Window>& windows_;
  QObject context_;  // the connections end with this clock, before the window's plots go
  QSet<QObject*> hooked_;
  int current_ = -1;  // before the first step: not counted
  double cpu_start_ = 0;
  QElapsedTimer wall_;
};

double mb(int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

}  // namespace

int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  qint64 steps = 2000, batch = 4, eval_every = 50, tab_ms = 250;
  int threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const qint64 value = QString(argv[i + 1]).toLongLong();
    if (value < 1 && std::strcmp(argv[i], "--eval-every") != 0 && std::strcmp(argv[i], "--tab-ms") != 0) {
      std::fprintf(stderr, "bench_soak: %s needs a positive integer\n", argv[i]);
      return 2;
    }
    if (!std::strcmp(argv[i], "--steps"))
      steps = value;
    else if (!std::strcmp(argv[i], "--threads"))
      threads = static_cast<int>(value);
    else if (!std::strcmp(argv[i], "--batch"))
      batch = value;
    else if (!std::strcmp(argv[i], "--eval-every"))
      eval_every = value;
    else if (!std::strcmp(argv[i], "--tab-ms"))
      tab_ms = value;
    else {
      std::fprintf(stderr,
                   "bench_soak: unknown option %s (--steps, --threads, --batch, --eval-every, --tab-ms)\n",
                   argv[i]);
      return 2;
    }
  }
  // 10 windows of 200 steps at the full length; the first is the warm-up.
  const qint64 window_steps = std::max<qint64>(1, std::min<qint64>(200, steps / 5));
  const qint64 sample_every = std::max<qint64>(1, std::min<qint64>(100, window_steps / 2));
  const auto window_count = static_cast<size_t>((steps + window_steps - 1) / window_steps);

  QTemporaryDir runs_root;
  dpo::studio::MainWindow window;
  window.setInteractiveErrors(false);
  window.resize(1600, 1000);
  window.show();
  window.runs()->setRunsRoot(runs_root.path());

  auto config = window.runConfig();
  config.run.trainer.max_steps = steps;
  config.run.trainer.batch_size = batch;
  config.run.trainer.eval_every = eval_every;
  config.threads = threads;
  window.setRunConfig(config);

  std::vector<Window> windows(window_count);
  std::vector<std::pair<qint64, double>> rss;  // (step, MB)
  ReplotClock replots(windows);
  replots.hookAll(&window);
  dpo::studio::LatencyProbe probe;
  QElapsedTimer clock;
  double window_start_s = 0;
  size_t window_first_tick = 0;
  qint64 seen = 0;
  QString run_dir;
  auto* run = window.run();

  // Every tab drawn in turn while training, as a user clicking through them would.
  QTimer tab_cycle;
  int tab_switches = 0;
  tab_cycle.setInterval(static_cast<int>(tab_ms));
  QObject::connect(&tab_cycle, &QTimer::timeout, &tab_cycle, [&] {
    auto* tabs = window.tabs();
    tabs->setCurrentIndex((tabs->currentIndex() + 1) % tabs->count());
    ++tab_switches;
  });
  QObject::connect(run, &dpo::studio::RunController::runDirectoryReady, &tab_cycle,
                   [&](const QString& dir, qint64) {
                     run_dir = dir;
                     window.runs()->setCompareRuns({dir});
                     replots.hookAll(&window);
                   });
  QObject::connect(run, &dpo::studio::RunController::stepRecorded, &tab_cycle,
                   [&](const dpo::StepMetrics& m) {
                     if (seen == 0) {
                       clock.start();
                       probe.start();
                       if (tab_ms > 0) tab_cycle.start();
                       replots.setWindow(0);
                     }
                     seen = m.step;
                     if (seen % sample_every == 0 || seen == steps)
                       rss.push_back({seen, mb(dpo::resident_bytes())});
                     if (seen % window_steps != 0 && seen != steps) return;
                     const auto index = static_cast<size_t>((seen - 1) / window_steps);
                     if (index >= windows.size()) return;
                     Window& w = windows[index];
                     const double now = static_cast<double>(clock.nsecsElapsed()) / 1e9;
                     w.last_step = seen;
                     w.seconds = now - window_start_s;
                     w.p99 = probe.quantile(0.99, window_first_tick);
                     w.max_late = probe.max(window_first_tick);
                     w.rss_mb = rss.back().second;
                     window_start_s = now;
                     window_first_tick = probe.samples();
                     // Re-ticking the run rebuilds the Compare plots from its files, as a user refreshing
                     // would.
                     if (!run_dir.isEmpty() && seen != steps) window.runs()->setCompareRuns({run_dir});
                     replots.hookAll(&window);
                     replots.setWindow(static_cast<int>(index + 1));
                   });
  QEventLoop loop;
  bool failed = false;
  QObject::connect(run, &dpo::studio::RunController::runFinished, &loop, [&](qint64, bool, bool f) {
    failed = f;
    replots.setWindow(static_cast<int>(windows.size()) - 1);  // the final flush counts in the last window
    window.plots()->flush();
    loop.quit();
  });
  QElapsedTimer prepare;
  prepare.start();
  window.startTraining();
  loop.exec();
  probe.stop();
  tab_cycle.stop();
  const double run_s = static_cast<double>(clock.nsecsElapsed()) / 1e9;
  if (failed || seen != steps) {
    std::fprintf(stderr, "bench_soak: the run failed after %lld of %lld steps: %s\n",
                 static_cast<long long>(seen), static_cast<long long>(steps), qPrintable(window.lastError()));
    return 1;
  }

  std::printf(
      "soak: %lld demo steps (batch %lld, eval every %lld, %d torch thread%s) in %.1f s after %.1f s "
      "of preparation: %.3f s/step; %d tab switches over %d tabs, %d plots timed\n",
      static_cast<long long>(steps), static_cast<long long>(batch), static_cast<long long>(eval_every),
      threads, threads == 1 ? "" : "s", run_s, static_cast<double>(prepare.elapsed()) / 1e3 - run_s,
      run_s / static_cast<double>(steps), tab_switches, window.tabs()->count(), replots.hooked());
  std::printf("%10s %8s %8s %14s %14s %12s %10s %10s %9s\n", "steps", "s", "replots", "cpu ms/replot",
              "wall ms/replot", "max replot", "p99 ms", "max ms", "RSS MB");
  qint64 first_step = 1;
  for (const auto& w : windows) {
    std::printf("%4lld-%-5lld %8.1f %8d %14.2f %14.2f %12.1f %10.1f %10.1f %9.1f\n",
                static_cast<long long>(first_step), static_cast<long long>(w.last_step), w.seconds, w.replots,
                w.replots ? w.replot_cpu_ms / w.replots : 0.0, w.replots ? w.replot_wall_ms / w.replots : 0.0,
                w.replot_max_ms, w.p99, w.max_late, w.rss_mb);
    first_step = w.last_step + 1;
  }
  std::printf("CPU ms per replot, first window -> last:");
  for (const auto& [name, first] : windows.front().by_plot) {
    const auto last = windows.back().by_plot[name];
    std::printf(" %s %.2f -> %.2f (%d, %d replots);", qPrintable(name), first.second / first.first,
                last.first ? last.second / last.first : 0.0, first.first, last.first);
  }
  std::printf("\n");
  std::printf("RSS by step:");
  for (const auto& [step, value] : rss) std::printf(" %lld:%.1f", static_cast<long long>(step), value);
  std::printf("\n");

  // Warm-up: the first window (tokenizer and model caches, plot buffers, allocator arenas).
  const auto warm =
      std::find_if(rss.begin(), rss.end(), [&](const auto& s) { return s.first >= window_steps; });
  const double rss_warm = warm != rss.end() ? warm->second : rss.front().second;
  const double rss_end = rss.back().second;
  const double growth = 100.0 * (rss_end - rss_warm) / rss_warm;
  auto per_replot = [](const Window& w) { return w.replots ? w.replot_cpu_ms / w.replots : 0.0; };
  // Replot cost after warm-up too: the first window fills empty plots (a few points, nothing to
  // decimate yet), so "flat" compares the second window with the last; the first is printed beside.
  const auto& warm_window = windows.size() > 2 ? windows[1] : windows.front();
  const double cold_replot = per_replot(windows.front());
  const double first_replot = per_replot(warm_window), last_replot = per_replot(windows.back());
  const double replot_ratio = first_replot > 0 ? last_replot / first_replot : 0.0;
  const double p99 = probe.quantile(0.99);
  const bool rss_ok = growth < 5.0, replot_ok = replot_ratio < 1.5 && first_replot > 0, loop_ok = p99 < 50.0;
  std::printf("resident memory: %.1f MB at step %lld, %.1f MB at step %lld: %+.2f%% (target < 5%%): %s\n",
              rss_warm, static_cast<long long>(warm != rss.end() ? warm->first : rss.front().first), rss_end,
              static_cast<long long>(rss.back().first), growth, rss_ok ? "PASS" : "FAIL");
  std::printf(
      "replot (GUI-thread CPU): %.2f ms in the window to step %lld (after warm-up), %.2f ms in the last: "
      "%.2fx "
      "(flat: < 1.5x): %s; the first window (cold) %.2f ms, %.2fx to the last\n",
      first_replot, static_cast<long long>(warm_window.last_step), last_replot, replot_ratio,
      replot_ok ? "PASS" : "FAIL", cold_replot, cold_replot > 0 ? last_replot / cold_replot : 0.0);
  std::printf("event loop: p50 %.2f ms, p99 %.2f ms, max %.1f ms over %zu ticks (target p99 < 50 ms): %s\n",
              probe.quantile(0.5), p99, probe.max(), probe.samples(), loop_ok ? "PASS" : "FAIL");
  const bool ok = rss_ok && replot_ok && loop_ok;
  std::printf("soak: %s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
