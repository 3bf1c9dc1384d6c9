// GUI tests of the studio on the offscreen platform (ctest sets QT_QPA_PLATFORM=offscreen).
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QLineEdit>
#include <QStandardItemModel>
#include <QPushButton>
#include <QSignalSpy>
#include <QtTest>

#include <algorithm>
#include <climits>
#include <cmath>
#include <optional>

#include "app/studio/main_window.h"
#include "core/runtime/runtime.h"
#include "widgets/metric_plot.h"

using dpo::studio::MainWindow;
using dpo::widgets::MetricPlot;

namespace {
// Generous: a demo step takes well under a second here, but CI machines are shared.
constexpr int kStepTimeoutMs = 120'000;

int fewestPoints(const MainWindow& w) {
  int fewest = INT_MAX;
  for (auto* plot : w.plots())
    for (int s = 0; s < plot->seriesCount(); ++s) fewest = std::min(fewest, plot->pointCount(s));
  return fewest;
}

void configure(MainWindow& w, qint64 steps, const QString& data = {}) {
  auto c = w.runConfig();
  c.steps = steps;
  c.data_path = data;
  w.setRunConfig(c);
  w.setInteractiveErrors(false);
}
}  // namespace

class StudioTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { dpo::configure_threads(std::nullopt); }

  void settingsPanel() {
    MainWindow w;
    auto* beta = w.findChild<QDoubleSpinBox*>();
    QVERIFY(beta);
    QCOMPARE(beta->minimum(), 0.001);
    QCOMPARE(beta->maximum(), 10.0);
    QCOMPARE(beta->value(), 0.1);
    QVERIFY(beta->toolTip().contains("0.01 – 0.5"));
    auto* data = w.findChild<QLineEdit*>();
    QVERIFY(data && data->placeholderText().startsWith("embedded demo"));

    auto* loss = w.findChild<QComboBox*>();
    QVERIFY(loss);
    QCOMPARE(loss->currentText(), QString("sigmoid (DPO)"));
    auto* model = qobject_cast<QStandardItemModel*>(loss->model());
    QVERIFY(model);
    int coming = 0;
    for (int i = 0; i < loss->count(); ++i) {
      if (!loss->itemText(i).endsWith("(coming)")) continue;
      ++coming;
      QVERIFY(!model->item(i)->isEnabled());
    }
    QVERIFY(coming >= 3);
    QCOMPARE(w.plots().size(), 4);
  }

  void coalescingTimerLimitsReplots() {
    MetricPlot plot;
    const int a = plot.addSeries("a", Qt::blue);
    const int b = plot.addSeries("b", Qt::red);
    plot.setSmoothing(0.6);
    plot.setReferenceLine(0.0);
    plot.resize(640, 420);
    plot.show();
    QTest::qWait(150);  // let the first show/resize replots settle
    const int before = plot.replotCount();

    for (int i = 0; i < 1000; ++i) {
      plot.addPoint(a, i, std::sin(i * 0.01));
      plot.addPoint(b, i, std::cos(i * 0.01));
    }
    QCOMPARE(plot.pointCount(a), 1000);
    QCOMPARE(plot.replotCount(), before);  // addPoint never draws
    QTest::qWait(200);
    const int burst_replots = plot.replotCount() - before;
    qInfo("1000-point burst: %d replot(s)", burst_replots);
    QVERIFY2(burst_replots >= 1 && burst_replots <= 8, qPrintable(QString::number(burst_replots)));
    QCOMPARE(plot.drawnPointCount(a), 1000);
    QCOMPARE(plot.drawnPointCount(b), 1000);

    // A steady trickle (one point per 5 ms) still redraws at most once per 40 ms tick.
    const int before_trickle = plot.replotCount();
    QElapsedTimer clock;
    clock.start();
    int added = 0;
    while (clock.elapsed() < 400) {
      plot.addPoint(a, 1000 + added, 0.5);
      ++added;
      QTest::qWait(5);
    }
    QTest::qWait(100);
    const int trickle_replots = plot.replotCount() - before_trickle;
    const int allowed = static_cast<int>(clock.elapsed() / 40) + 2;
    qInfo("%d points over %lld ms: %d replots", added, static_cast<long long>(clock.elapsed()), trickle_replots);
    QVERIFY2(trickle_replots <= allowed,
             qPrintable(QString("%1 replots for %2 points, allowed %3").arg(trickle_replots).arg(added).arg(allowed)));
    QCOMPARE(plot.drawnPointCount(a), 1000 + added);

    plot.clear();
    QCOMPARE(plot.pointCount(a), 0);
  }

  void startPauseResumeStop() {
    MainWindow w;
    configure(w, 100'000);  // never finishes on its own during the test
    w.show();
    QCOMPARE(w.state(), MainWindow::RunState::Idle);
    QVERIFY(w.startButton()->isEnabled());
    QVERIFY(!w.pauseButton()->isEnabled());
    QVERIFY(!w.stopButton()->isEnabled());

    QTest::mouseClick(w.startButton(), Qt::LeftButton);
    QVERIFY(w.isTraining());
    QVERIFY(!w.startButton()->isEnabled());
    QVERIFY(w.stopButton()->isEnabled());
    QTRY_VERIFY_WITH_TIMEOUT(fewestPoints(w) >= 5, kStepTimeoutMs);
    QVERIFY2(w.lastError().isEmpty(), qPrintable(w.lastError()));
    QCOMPARE(w.state(), MainWindow::RunState::Running);

    // Pause: takes effect after the step in progress, then nothing more arrives.
    QVERIFY(w.pauseButton()->isEnabled());
    QTest::mouseClick(w.pauseButton(), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(w.state(), MainWindow::RunState::Paused, kStepTimeoutMs);
    QCOMPARE(w.pauseButton()->text(), QString("Resume"));
    const qint64 paused_at = w.stepsDone();
    const int points_at_pause = fewestPoints(w);
    QTest::qWait(600);
    QCOMPARE(w.stepsDone(), paused_at);
    QCOMPARE(fewestPoints(w), points_at_pause);

    // Resume: steps flow again.
    QTest::mouseClick(w.pauseButton(), Qt::LeftButton);
    QCOMPARE(w.state(), MainWindow::RunState::Running);
    QTRY_VERIFY_WITH_TIMEOUT(w.stepsDone() >= paused_at + 2, kStepTimeoutMs);
    QVERIFY(fewestPoints(w) > points_at_pause);

    // Stop: the worker thread ends within a step and the window is ready for another run.
    QSignalSpy finished(&w, &MainWindow::runFinished);
    QElapsedTimer clock;
    clock.start();
    QTest::mouseClick(w.stopButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(!w.isTraining(), 15'000);
    qInfo("stop took %lld ms", static_cast<long long>(clock.elapsed()));
    QCOMPARE(finished.count(), 1);
    QCOMPARE(finished.at(0).at(1).toBool(), true);   // stopped
    QCOMPARE(finished.at(0).at(2).toBool(), false);  // not failed
    QCOMPARE(w.state(), MainWindow::RunState::Idle);
    QVERIFY(w.startButton()->isEnabled());
    QVERIFY(!w.stopButton()->isEnabled());

    // Every step arrived once and in order, and each plot holds one point per step.
    const auto& records = w.records();
    QVERIFY(!records.empty());
    for (size_t i = 0; i < records.size(); ++i) QCOMPARE(records[i].step, static_cast<qint64>(i + 1));
    QCOMPARE(fewestPoints(w), static_cast<int>(records.size()));
    QCOMPARE(w.rewardMarginPlot()->drawnPointCount(0), static_cast<int>(records.size()));
  }

  void stopWhilePaused() {
    MainWindow w;
    configure(w, 100'000);
    w.startTraining();
    QTRY_VERIFY_WITH_TIMEOUT(w.stepsDone() >= 1, kStepTimeoutMs);
    w.togglePause();
    QTRY_COMPARE_WITH_TIMEOUT(w.state(), MainWindow::RunState::Paused, kStepTimeoutMs);
    QSignalSpy finished(&w, &MainWindow::runFinished);
    w.stopTraining();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 5'000);  // no step runs: the wait is woken
    QVERIFY(!w.isTraining());
    QCOMPARE(w.state(), MainWindow::RunState::Idle);
  }

  void runToTheEnd() {
    MainWindow w;
    configure(w, 3);
    QSignalSpy finished(&w, &MainWindow::runFinished);
    w.startTraining();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kStepTimeoutMs);
    QCOMPARE(finished.at(0).at(0).toLongLong(), 3);
    QCOMPARE(finished.at(0).at(1).toBool(), false);
    QCOMPARE(w.stepsDone(), 3);
    QCOMPARE(w.lossPlot()->drawnPointCount(0), 3);
    QVERIFY(!w.isTraining());
  }

  void missingDataFileIsReported() {
    MainWindow w;
    configure(w, 10, "/nonexistent/dpo-studio-test/pairs.jsonl");
    QSignalSpy finished(&w, &MainWindow::runFinished);
    w.startTraining();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 30'000);
    QCOMPARE(finished.at(0).at(2).toBool(), true);  // failed
    QVERIFY(w.lastError().contains("pairs.jsonl"));
    QCOMPARE(w.state(), MainWindow::RunState::Idle);
    QVERIFY(w.startButton()->isEnabled());
    QCOMPARE(fewestPoints(w), 0);
  }

  void closingWhileTrainingJoinsTheWorker() {
    MainWindow w;
    configure(w, 100'000);
    w.show();
    w.startTraining();
    QTRY_VERIFY_WITH_TIMEOUT(w.stepsDone() >= 1, kStepTimeoutMs);
    QElapsedTimer clock;
    clock.start();
    QVERIFY(w.close());
    QVERIFY(!w.isTraining());  // joined synchronously in closeEvent
    QVERIFY(clock.elapsed() < 15'000);
  }
};

QTEST_MAIN(StudioTest)
#include "test_studio.moc"
