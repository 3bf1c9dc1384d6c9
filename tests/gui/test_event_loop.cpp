// The GUI thread keeps serving events while the demo trains: a generous bound that catches a
// blocked loop (a step or a redraw on the GUI thread). The figure itself: bench/bench_event_loop.
#include <QApplication>
#include <QEventLoop>
#include <QTimer>
#include <QtTest>

#include "app/studio/diagnostics_feed.h"
#include "app/studio/latency_probe.h"
#include "app/studio/main_window.h"
#include "app/studio/run_panel.h"
#include "app/studio/runs_browser.h"
#include "app/studio/settings_panel.h"
#include "app/studio/status_bar.h"
#include "app/studio/training_plots.h"

class EventLoopTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void staysResponsiveDuringADemoRun() {
    dpo::studio::MainWindow window;
    window.setInteractiveErrors(false);
    window.resize(1600, 1000);
    window.show();
    auto config = window.runConfig();
    config.run.trainer.max_steps = 120;
    window.setRunConfig(config);

    dpo::studio::LatencyProbe probe(5);
    QEventLoop loop;
    QObject::connect(window.run(), &dpo::studio::RunController::runFinished, &loop, &QEventLoop::quit);
    QTimer::singleShot(240000, &loop, &QEventLoop::quit);
    probe.start();
    window.startTraining();
    loop.exec();
    probe.stop();
    QCOMPARE(window.run()->stepsDone(), qint64{120});
    qInfo("event-loop lateness: p50 %.1f ms, p99 %.1f ms, max %.1f ms over %zu ticks", probe.quantile(0.5),
          probe.quantile(0.99), probe.max(), probe.samples());
    QVERIFY(probe.samples() > 50);
    // The product target is p99 < 50 ms (the benchmark); a CI machine shared with other jobs gets 5×.
    QVERIFY2(probe.quantile(0.99) < 250.0, "the GUI thread was blocked during training");
  }
};

QTEST_MAIN(EventLoopTest)
#include "test_event_loop.moc"
