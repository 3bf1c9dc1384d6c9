// The studio's GUI thread during a demo run: event-loop lateness p50/p99/max while training,
// against the same probe on an idle window in the same process (target: p99 < 50 ms).
#include <QApplication>
#include <QEventLoop>
#include <QTimer>

#include <cstdio>

#include <QElapsedTimer>
#include "app/studio/diagnostics_feed.h"
#include "app/studio/latency_probe.h"
#include "app/studio/main_window.h"
#include "app/studio/run_panel.h"
#include "app/studio/runs_browser.h"
#include "app/studio/settings_panel.h"
#include "app/studio/status_bar.h"
#include "app/studio/training_plots.h"
#include "widgets/metric_plot.h"

int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  // argv: [steps] [torch threads]
  const qint64 steps = argc > 1 ? QString(argv[1]).toLongLong() : 150;
  dpo::studio::MainWindow window;
  window.setInteractiveErrors(false);
  window.resize(1600, 1000);
  window.show();

  dpo::studio::LatencyProbe probe;
  QEventLoop loop;
  probe.start();
  QTimer::singleShot(3000, &loop, &QEventLoop::quit);
  loop.exec();
  probe.stop();
  const double idle_p50 = probe.quantile(0.5), idle_p99 = probe.quantile(0.99), idle_max = probe.max();
  const size_t idle_ticks = probe.samples();

  auto config = window.runConfig();
  config.run.trainer.max_steps = steps;
  if (argc > 2) config.threads = QString(argv[2]).toInt();
  window.setRunConfig(config);
  QObject::connect(window.run(), &dpo::studio::RunController::runFinished, &loop, &QEventLoop::quit);
  probe.start();
  window.startTraining();
  loop.exec();
  probe.stop();
  std::printf("idle window:   p50 %.2f ms  p99 %.2f ms  max %.2f ms (%zu ticks)\n", idle_p50, idle_p99,
              idle_max, idle_ticks);
  std::printf("training %lld steps: p50 %.2f ms  p99 %.2f ms  max %.2f ms (%zu ticks)\n",
              static_cast<long long>(window.run()->stepsDone()), probe.quantile(0.5), probe.quantile(0.99),
              probe.max(), probe.samples());
  for (auto* plot : window.plots()->plots()) {
    QElapsedTimer t;
    t.start();
    QObject* custom = nullptr;
    for (auto* child : plot->findChildren<QWidget*>())
      if (QString(child->metaObject()->className()) == "QCustomPlot") custom = child;
    for (int i = 0; i < 5 && custom; ++i) QMetaObject::invokeMethod(custom, "replot", Qt::DirectConnection);
    std::printf("replot %-20s %.1f ms\n", qPrintable(plot->objectName()), t.nsecsElapsed() / 5e6);
  }
  std::printf("p99 while training = %.1fx the idle p99; target p99 < 50 ms: %s\n",
              probe.quantile(0.99) / std::max(0.01, idle_p99), probe.quantile(0.99) < 50 ? "PASS" : "FAIL");
  return probe.quantile(0.99) < 50 ? 0 : 1;
}
