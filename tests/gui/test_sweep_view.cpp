// The Sweep tab (issue 14): a sweep started from the studio runs `dpo sweep`, the heatmap and small
// plots show its runs, the recommendation is starred, and a click opens the run.
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>
#include "app/studio/qcustomplot_include.h"

#include "app/studio/main_window.h"
#include "app/studio/sweep_controller.h"
#include "scratch_runs.h"
#include "widgets/sweep_view.h"

using dpo::studio::MainWindow;

class SweepViewTest : public QObject {
  Q_OBJECT

  QTemporaryDir root_;

 private Q_SLOTS:
  void initTestCase() { QVERIFY(use_scratch_runs_root(root_)); }

  void startedFromTheStudioShownAndOpened() {
    MainWindow w;
    w.setInteractiveErrors(false);
    auto* view = w.sweepView();
    QVERIFY(view);
    w.sweep()->job()->setCliPath(QStringLiteral(DPO_CLI));
    view->findChild<QLineEdit*>("sweepBetas")->setText("0.05, 0.5");
    view->findChild<QLineEdit*>("sweepLosses")->setText("sigmoid");
    view->findChild<QSpinBox*>()->setValue(4);
    QSignalSpy done(w.sweep(), &dpo::studio::SweepController::finished);
    QTest::mouseClick(view->findChild<QPushButton*>("sweepStart"), Qt::LeftButton);
    QVERIFY(w.sweep()->isRunning());
    QVERIFY(done.wait(240'000));
    QCOMPARE(done.first().first().toBool(), true);

    const auto& data = view->data();
    QVERIFY2(data.error.isEmpty(), qPrintable(data.error));
    QCOMPARE(data.cells.size(), size_t{2});
    auto* heatmap = view->heatmap();
    QCOMPARE(heatmap->rowCount(), 1);
    QCOMPARE(heatmap->columnCount(), 2);
    QCOMPARE(heatmap->horizontalHeaderItem(0)->text(), QString("β 0.05"));
    QCOMPARE(heatmap->verticalHeaderItem(0)->text(), QString("sigmoid"));
    // Held-out accuracy as a percentage; the recommended run is starred, and only it.
    int starred = 0;
    for (int c = 0; c < 2; ++c) {
      const QString text = heatmap->item(0, c)->text();
      QVERIFY2(text.endsWith('%'), qPrintable(text));
      starred += text.startsWith("★");
    }
    QCOMPARE(starred, 1);
    QVERIFY(view->recommendation()->text().startsWith("Recommended: β "));
    // One small training-loss plot per run, on the same axes, each with its 4 steps.
    QCOMPARE(view->smallPlotCount(), 2);
    QCOMPARE(view->smallPlot(0)->graph(0)->dataCount(), 4);
    QCOMPARE(view->smallPlot(0)->yAxis->range(), view->smallPlot(1)->yAxis->range());
    // Another measure recolours the same cells: KL to the reference.
    view->setMeasure("KL to the reference");
    QVERIFY(!heatmap->item(0, 1)->text().contains('%'));

    // A click opens that run read-only in the window.
    QSignalSpy viewed(&w, &MainWindow::runViewed);
    const QString run_dir = heatmap->item(0, 1)->data(Qt::UserRole).toString();
    QVERIFY(run_dir.endsWith("sigmoid-b0.5"));
    Q_EMIT heatmap->cellClicked(0, 1);
    QCOMPARE(viewed.count(), 1);
    QCOMPARE(viewed.first().first().toString(), run_dir);

    // The same folder read back: what `dpo sweep` wrote.
    const auto again = dpo::studio::loadSweep(data.dir);
    QCOMPARE(again.recommended, data.recommended);
    QCOMPARE(again.cells.size(), size_t{2});
  }

  void aFolderThatIsNotASweepIsOneLine() {
    QTemporaryDir empty;
    const auto data = dpo::studio::loadSweep(empty.path());
    QVERIFY(data.error.contains("sweep.json"));
    dpo::widgets::SweepView view;
    view.setData(data);
    QCOMPARE(view.heatmap()->rowCount(), 0);
  }
};

QTEST_MAIN(SweepViewTest)
#include "test_sweep_view.moc"
