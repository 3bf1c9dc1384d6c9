// The studio as a user meets it on a laptop (issue 18): the window fits 1280×720 and 1366×768,
// the run controls sit in a toolbar and say why a key cannot act, the wheel never edits a field
// without focus, and no legend entry or axis title is cut.
#include <QDockWidget>
#include <QPushButton>
#include <QScreen>
#include <QSpinBox>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolBar>
#include <QTreeWidget>
#include <QWheelEvent>
#include <QtTest>

#include "app/studio/lesson_controller.h"
#include "app/studio/main_window.h"
#include "app/studio/qcustomplot_include.h"
#include "app/studio/run_panel.h"
#include "app/studio/runs_browser.h"
#include "app/studio/settings_panel.h"
#include "app/studio/status_bar.h"
#include "app/studio/training_plots.h"
#include "core/runtime/runtime.h"
#include "widgets/metric_plot.h"
#include "widgets/runs_panel.h"

using dpo::studio::MainWindow;
using dpo::widgets::MetricPlot;

namespace {
// Every legend entry and axis title of every plot on the tab shown now, with the plot's title.
QStringList cutTexts(const QList<MetricPlot*>& plots) {
  QStringList cut;
  for (auto* plot : plots) {
    if (!plot->isVisible()) continue;
    plot->flush();
    plot->plot()->replot();  // the layout at the current size
    plot->plot()->replot();  // a title switched to its short form is laid out once more
    for (const auto& text : plot->cutTexts()) cut << plot->title() + ": " + text;
  }
  return cut;
}

void wheel(QWidget* target, int delta) {
  const QPointF at(target->width() / 2.0, target->height() / 2.0);
  QWheelEvent event(at, target->mapToGlobal(at), QPoint(), QPoint(0, delta), Qt::NoButton, Qt::NoModifier,
                    Qt::NoScrollPhase, false);
  QApplication::sendEvent(target, &event);
}
}  // namespace

class StudioFitTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { dpo::configure_threads(std::nullopt); }

  void windowFitsALaptopScreen() {
    MainWindow w;
    // A 1280×720 screen less a window frame and a desktop panel.
    QVERIFY2(w.minimumSizeHint().width() <= 1260 && w.minimumSizeHint().height() <= 680,
             qPrintable(QStringLiteral("minimum %1×%2")
                            .arg(w.minimumSizeHint().width())
                            .arg(w.minimumSizeHint().height())));
    // Never larger than the screen it opens on, whatever size was asked for (or saved).
    w.fitToScreen(QSize(5000, 4000));
    const QRect room = w.screen()->availableGeometry();
    // (or at its minimum, where the screen is smaller still: the offscreen test screen is 800×600)
    QVERIFY(w.width() <= std::max(room.width(), w.minimumSizeHint().width()));
    QVERIFY(w.height() <= std::max(room.height(), w.minimumSizeHint().height()));
    QVERIFY(w.width() < 5000 && w.height() < 4000);
  }

  void legendsAndAxisTitlesAreWholeAtLaptopSizes() {
    for (const QSize size : {QSize(1280, 720), QSize(1366, 768), QSize(1600, 1000)}) {
      MainWindow w;
      w.resize(size);
      w.show();
      QVERIFY(QTest::qWaitForWindowExposed(&w));
      QCOMPARE(w.size(), size);
      QCoreApplication::processEvents();
      const auto training = cutTexts(w.plots()->plots());
      QVERIFY2(
          training.isEmpty(),
          qPrintable(
              QStringLiteral("%1×%2: %3").arg(size.width()).arg(size.height()).arg(training.join(" | "))));
      // From a laptop's 1366×768 up, every plot keeps a y title (the short one at least).
      if (size.width() >= 1366)
        for (auto* plot : w.plots()->plots())
          if (plot->isVisible()) QVERIFY2(!plot->plot()->yAxis->label().isEmpty(), qPrintable(plot->title()));
      w.tabs()->setCurrentWidget(w.plots()->optimiserPlot());
      QCoreApplication::processEvents();
      const auto optimiser = cutTexts({w.plots()->optimiserPlot()});
      QVERIFY2(optimiser.isEmpty(), qPrintable(optimiser.join(" | ")));
    }
  }

  void legendWrapsInsteadOfWideningThePlot() {
    MetricPlot plot;
    for (const char* name : {"chosen", "rejected", "eval chosen", "eval rejected", "sampled KL(π‖π_ref)",
                             "β 0.1 · sigmoid, lr 1e-4"})
      plot.addSeries(QString::fromUtf8(name), Qt::blue);
    for (int s = 0; s < plot.seriesCount(); ++s) plot.addPoint(s, 1, s);
    plot.resize(330, 300);
    plot.show();
    QVERIFY(QTest::qWaitForWindowExposed(&plot));
    QVERIFY2(cutTexts({&plot}).isEmpty(), qPrintable(cutTexts({&plot}).join(" | ")));
    QVERIFY(plot.plot()->legend->wrap() < plot.seriesCount());  // more than one row
    QVERIFY2(plot.minimumSizeHint().width() <= 330,
             qPrintable(QString::number(plot.minimumSizeHint().width())));
    // Wider: the entries go back into fewer rows.
    const int rows_narrow = plot.plot()->legend->rowCount();
    plot.resize(1200, 300);
    QCoreApplication::processEvents();
    QCOMPARE(cutTexts({&plot}), QStringList());
    QVERIFY(plot.plot()->legend->rowCount() < rows_narrow);
  }

  void constantLearningRateIsDrawnAroundItsValue() {
    MetricPlot plot;
    plot.setAxisLabels("step", "gradient norm", "learning rate");
    const int norm = plot.addSeries("grad norm", Qt::red);
    const int lr = plot.addSeries("learning rate", Qt::gray, MetricPlot::Axis::Right);
    for (int step = 1; step <= 50; ++step) {
      plot.addPoint(norm, step, 1.0 + 0.01 * step);
      plot.addPoint(lr, step, 1e-4);
    }
    plot.flush();
    const auto [lower, upper] = plot.yRange(MetricPlot::Axis::Right);
    // 1e-4 ± 8 % of half of it: the axis reads 0.00006 … 0.00014, not ±1e21.
    QVERIFY2(lower > 0 && lower < 1e-4 && upper > 1e-4 && upper < 2e-4,
             qPrintable(QStringLiteral("%1 … %2").arg(lower).arg(upper)));
  }

  void runControlsAreInAToolbarAndSayWhyAKeyCannotAct() {
    MainWindow w;
    w.resize(1280, 720);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    auto* toolbar = w.findChild<QToolBar*>("runToolbar");
    QVERIFY(toolbar && toolbar->isVisible());
    for (auto* button : {w.controls()->startButton(), w.controls()->pauseButton(), w.controls()->stepButton(),
                         w.controls()->stopButton()}) {
      QVERIFY(toolbar->isAncestorOf(button));
      QVERIFY(button->isVisible());
      // Inside the window at the top, whatever the settings panel's scroll position.
      const QRect r(button->mapTo(&w, QPoint(0, 0)), button->size());
      QVERIFY2(w.rect().contains(r) && r.top() < 100, qPrintable(button->text()));
    }
    QVERIFY(w.controls()->startButton()->isEnabled());
    QVERIFY(!w.controls()->stepButton()->isEnabled());
    // F10 while nothing runs: the status bar says why instead of nothing happening.
    w.statusBar()->clearMessage();
    QTest::keyClick(&w, Qt::Key_F10);
    QVERIFY2(w.statusBar()->currentMessage().contains("Step works while a run is paused"),
             qPrintable(w.statusBar()->currentMessage()));
    QTest::keyClick(&w, Qt::Key_S, Qt::ControlModifier);
    QVERIFY2(w.statusBar()->currentMessage().startsWith("Save checkpoint: no run is in progress"),
             qPrintable(w.statusBar()->currentMessage()));
    QTest::keyClick(&w, Qt::Key_F5, Qt::ShiftModifier);
    QCOMPARE(w.statusBar()->currentMessage(), QStringLiteral("Stop: no run is in progress"));
  }

  void lessonRunShowsTheDemoModelItTrains() {
    MainWindow w;
    auto c = w.runConfig();
    c.run.model_dir = "/models/some-other-model";
    c.run.reference_dir = "/models/its-reference";
    w.setRunConfig(c);
    QCOMPARE(w.settings()->modelDir(), QStringLiteral("/models/some-other-model"));
    auto* lessons = w.findChild<dpo::studio::LessonController*>();
    QVERIFY(lessons);
    const auto lesson = lessons->configFor(0, 0);
    QVERIFY(lesson.lesson.has_value());
    QCOMPARE(lesson.run.model_dir, std::string());
    QCOMPARE(lesson.run.reference_dir, std::string());
    w.setRunConfig(lesson);
    QCOMPARE(w.settings()->modelDir(), QString());  // the form shows the built-in demo model
  }

  void runsListShowsModelDataBetaChangesAndLiveProgress() {
    dpo::widgets::RunsPanel panel;
    dpo::widgets::RunSummary run;
    run.dir = "/runs/a";
    run.name = "a";
    run.loss = "sigmoid";
    run.beta = 0.1;
    run.last_beta = 0.3;  // changed while paused
    run.learning_rate = 1e-4;
    run.steps_done = 40;
    run.steps_total = 200;
    run.model = "Qwen2-0.5B";
    run.data = "dpo_en_demo.json";
    dpo::widgets::RunSummary same = run;
    same.dir = "/runs/b";
    same.name = "b";
    same.last_beta = 0.1;
    panel.setRuns({run, same});
    auto* tree = panel.findChild<QTreeWidget*>("runsTree");
    QVERIFY(tree);
    using P = dpo::widgets::RunsPanel;
    QCOMPARE(tree->headerItem()->text(P::Model), QStringLiteral("Model"));
    QCOMPARE(tree->headerItem()->text(P::Data), QStringLiteral("Data"));
    QCOMPARE(tree->topLevelItem(0)->text(P::Beta), QStringLiteral("0.1→0.3"));
    QCOMPARE(tree->topLevelItem(1)->text(P::Beta), QStringLiteral("0.1"));
    QCOMPARE(tree->topLevelItem(0)->text(P::Model), QStringLiteral("Qwen2-0.5B"));
    QCOMPARE(tree->topLevelItem(0)->text(P::Data), QStringLiteral("dpo_en_demo.json"));
    panel.showProgress("/runs/b", 57, 0.75, 0.2);
    QCOMPARE(tree->topLevelItem(1)->text(P::Steps), QStringLiteral("57 / 200"));
    QCOMPARE(tree->topLevelItem(1)->text(P::Accuracy), QStringLiteral("0.75"));
    QCOMPARE(tree->topLevelItem(1)->text(P::Beta), QStringLiteral("0.1→0.2"));
  }

  void progressSaysHowLongIsLeft() {
    using dpo::studio::formatDuration;
    QCOMPARE(formatDuration(44.6), QStringLiteral("45 s"));
    QCOMPARE(formatDuration(200), QStringLiteral("3 min 20 s"));
    QCOMPARE(formatDuration(3700), QStringLiteral("1 h 01 min"));
  }

  void wheelOverTheFormScrollsItAndEditsOnlyAFocusedField() {
    MainWindow w;
    w.resize(1280, 720);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QSpinBox* steps = nullptr;
    for (auto* spin : w.settings()->findChildren<QSpinBox*>())
      if (spin->value() == w.runConfig().run.trainer.eval_every && spin->specialValueText().contains("end"))
        steps = spin;
    QVERIFY(steps);
    const int before = steps->value();
    w.activateWindow();
    w.tabs()->setFocus();
    QVERIFY(!steps->hasFocus());
    wheel(steps, -120);
    QCOMPARE(steps->value(), before);
    steps->setFocus();
    QVERIFY(QTest::qWaitFor([&] { return steps->hasFocus(); }));
    wheel(steps, -120);
    QCOMPARE(steps->value(), before - 1);
  }
};

QTEST_MAIN(StudioFitTest)
#include "test_studio_fit.moc"
