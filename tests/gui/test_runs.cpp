// Runs in the studio (issue 7): run directories listed, reopened read-only, compared, resumed.
#include <QDir>
#include <QFile>
#include <QLabel>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTreeWidget>
#include <QtTest>

#include <cstdlib>

#include "app/studio/diagnostics_feed.h"
#include "app/studio/main_window.h"
#include "app/studio/run_catalog.h"
#include "app/studio/run_panel.h"
#include "app/studio/runs_browser.h"
#include "app/studio/settings_panel.h"
#include "app/studio/status_bar.h"
#include "app/studio/training_plots.h"
#include "core/runtime/runtime.h"
#include "widgets/metric_plot.h"
#include "widgets/pair_inspector.h"
#include "widgets/runs_panel.h"

#include "app/studio/qcustomplot_include.h"

using dpo::studio::MainWindow;
using dpo::studio::RunController;
using dpo::studio::RunState;
using dpo::widgets::MetricPlot;

namespace {
constexpr int kRunTimeoutMs = 180'000;

int lineCount(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return -1;
  int n = 0;
  while (!f.atEnd())
    if (!f.readLine().trimmed().isEmpty()) ++n;
  return n;
}

// `dpo train` into dir; returns its output on failure.
QString cliTrain(const QString& dir, const QStringList& extra) {
  QProcess p;
  p.setProcessChannelMode(QProcess::MergedChannels);
  p.start(QStringLiteral(DPO_CLI),
          QStringList{"--threads", "2", "train", "--steps", "6", "--eval-every", "3", "--checkpoint-every",
                      "3", "--quiet", "--no-cache", "--out", dir} +
              extra);
  if (!p.waitForFinished(kRunTimeoutMs)) return "timed out";
  return p.exitCode() == 0 ? QString() : QString::fromUtf8(p.readAll());
}
}  // namespace

class RunsTest : public QObject {
  Q_OBJECT

  QTemporaryDir root_;
  QString a_, b_;

 private Q_SLOTS:
  void initTestCase() {
    dpo::configure_threads(std::nullopt);
    QVERIFY(root_.isValid());
    qputenv("DPO_STUDIO_RUNS", root_.path().toUtf8());
    a_ = root_.filePath("cli-b0.1");
    b_ = root_.filePath("cli-b0.5");
    QString error = cliTrain(a_, {"--beta", "0.1"});
    QVERIFY2(error.isEmpty(), qPrintable(error));
    error = cliTrain(b_, {"--beta", "0.5"});
    QVERIFY2(error.isEmpty(), qPrintable(error));
  }

  void listsRunsOfTheRoot() {
    MainWindow w;
    w.setInteractiveErrors(false);
    QCOMPARE(w.runs()->runsRoot(), root_.path());
    QCOMPARE(w.runs()->panel()->runCount(), 2);
    const int i = w.runs()->panel()->indexOf(QFileInfo(a_).absoluteFilePath());
    QVERIFY(i >= 0);
    const auto& run = w.runs()->panel()->runs()[i];
    QCOMPARE(run.loss, QString("sigmoid"));
    QCOMPARE(run.beta, 0.1);
    QCOMPARE(run.steps_done, qint64(6));
    QCOMPARE(run.steps_total, qint64(6));
    QVERIFY(run.resumable);
    QCOMPARE(run.checkpoint_step, qint64(6));  // the last step's (checkpoints at 3 and 6)
    QVERIFY(std::isfinite(run.last_accuracy));
    auto* item = w.runs()->panel()->tree()->topLevelItem(i);
    QCOMPARE(item->text(dpo::widgets::RunsPanel::Beta), QString("0.1"));
    QCOMPARE(item->text(dpo::widgets::RunsPanel::Steps), QString("6 / 6"));
  }

  void compareOverlaysTwoRunsNamedByTheirDifference() {
    MainWindow w;
    w.setInteractiveErrors(false);
    // Ticking both in the Runs list, as a user would.
    w.runs()->panel()->setChecked(QFileInfo(a_).absoluteFilePath(), true);
    w.runs()->panel()->setChecked(QFileInfo(b_).absoluteFilePath(), true);
    QCOMPARE(w.runs()->compareRuns().size(), 2);
    QCOMPARE(w.tabs()->currentWidget(), w.runs()->compareTab());
    QStringList labels = w.runs()->compareLabels();
    labels.sort();
    QCOMPARE(labels, (QStringList{QString::fromUtf8("β 0.1"), QString::fromUtf8("β 0.5")}));

    MetricPlot* margin = w.runs()->compareMarginPlot();
    QVERIFY(margin != nullptr);
    QCOMPARE(margin->seriesCount(), 2);
    QCOMPARE(margin->pointCount(0), lineCount(a_ + "/metrics.jsonl"));
    QCOMPARE(margin->pointCount(1), lineCount(b_ + "/metrics.jsonl"));
    // Each series is a raw and a smoothed graph of one colour; the two runs' colours differ, and the
    // legend names each run by β only.
    QCustomPlot* plot = margin->plot();
    QStringList names;
    QList<QColor> colours;
    for (int g = 0; g < plot->graphCount(); ++g) {
      if (!names.contains(plot->graph(g)->name())) {
        names.push_back(plot->graph(g)->name());
        colours.push_back(plot->graph(g)->pen().color());
      }
    }
    QCOMPARE(names.size(), 2);
    QCOMPARE(names, w.runs()->compareLabels());
    QVERIFY(colours[0] != colours[1]);
    int legend_names = 0;
    for (int i = 0; i < plot->legend->itemCount(); ++i)
      if (auto* item = qobject_cast<QCPPlottableLegendItem*>(plot->legend->item(i)))
        legend_names += names.contains(item->plottable()->name()) ? 1 : 0;
    QVERIFY(legend_names >= 2);
    // Every compare plot overlays both runs.
    for (auto* p : w.runs()->comparePlots()) QCOMPARE(p->seriesCount(), 2);

    // Unticking one leaves one series.
    w.runs()->panel()->setChecked(QFileInfo(b_).absoluteFilePath(), false);
    QCOMPARE(w.runs()->compareMarginPlot()->seriesCount(), 1);
  }

  void differingSettingsNameLossAndBeta() {
    dpo::widgets::RunSummary x, y;
    x.name = "x";
    y.name = "y";
    x.settings = {{"trainer.loss_type", "sigmoid"}, {"trainer.beta", "0.1"}, {"trainer.seed", "0"}};
    y.settings = {{"trainer.loss_type", "ipo"}, {"trainer.beta", "0.1"}, {"trainer.seed", "0"}};
    QCOMPARE(dpo::studio::differingSettingLabels({x, y}), (QStringList{"loss sigmoid", "loss ipo"}));
    y.settings["trainer.beta"] = "0.5";
    QCOMPARE(dpo::studio::differingSettingLabels({x, y}),
             (QStringList{QString::fromUtf8("loss sigmoid · β 0.1"), QString::fromUtf8("loss ipo · β 0.5")}));
    // Nothing differs: the folder names.
    QCOMPARE(dpo::studio::differingSettingLabels({x, x}), (QStringList{"x", "x"}));
  }

  void reopensReadOnlyWithAllRecords() {
    MainWindow w;
    w.show();  // the run controls sit in a toolbar, which lays its widgets out once shown
    w.setInteractiveErrors(false);
    QSignalSpy viewed(&w, &MainWindow::runViewed);
    // A CLI run directory opened with "Open run…".
    QVERIFY2(w.openRun(a_), qPrintable(w.lastError()));
    QCOMPARE(viewed.count(), 1);
    QVERIFY(w.isViewingRun());
    const int steps = lineCount(a_ + "/metrics.jsonl");
    QCOMPARE(steps, 6);
    for (auto* plot : w.plots()->plots())
      for (int s = 0; s < plot->seriesCount(); ++s)
        if (!plot->isPointSeries(s) && plot->pointCount(s) > 0) QCOMPARE(plot->pointCount(s), steps);
    QCOMPARE(w.plots()->rewardMarginPlot()->pointCount(0), steps);
    QCOMPARE(static_cast<int>(w.run()->records().size()), steps);
    QCOMPARE(static_cast<int>(w.run()->evals().size()), lineCount(a_ + "/eval.jsonl"));
    QCOMPARE(w.pairInspector()->evalCount(), lineCount(a_ + "/eval.jsonl"));
    QVERIFY(!w.pairInspector()->visibleLines().isEmpty());
    QCOMPARE(w.settings()->betaSpin()->value(), 0.1);
    // Read-only: Start off, the settings locked, Resume shown but off: the run is finished, its
    // newest checkpoint is its last step (6 of 6).
    QVERIFY(!w.controls()->startButton()->isEnabled());
    QVERIFY(!w.settings()->betaSpin()->isEnabled());
    QVERIFY(w.controls()->resumeRunButton()->isVisibleTo(&w));
    QVERIFY(!w.controls()->resumeRunButton()->isEnabled());
    // A broken record names file and line, and nothing is shown as if it were fine.
    QTemporaryDir broken;
    QVERIFY(QFile::copy(a_ + "/config.json", broken.filePath("config.json")));
    QFile m(broken.filePath("metrics.jsonl"));
    QVERIFY(m.open(QIODevice::WriteOnly));
    m.write("{\"step\": 1}\n");
    m.close();
    QVERIFY(w.viewRun(broken.path()));
    QVERIFY2(w.lastError().contains("metrics.jsonl:1: "), qPrintable(w.lastError()));
    w.leaveRunView();
    QVERIFY(!w.isViewingRun());
    QVERIFY(w.controls()->startButton()->isEnabled());
  }

  // Processes 2 (issue 16): the run trains in `dpo train --nproc 2`, followed through its folder;
  // pause and checkpoint say why they cannot act; each process's throughput is in the status bar.
  void trainsOnTwoProcesses() {
    QTemporaryDir runs;
    MainWindow w;
    w.setInteractiveErrors(false);
    w.runs()->setRunsRoot(runs.path());
    w.settings()->processesSpin()->setValue(2);
    auto c = w.runConfig();
    QCOMPARE(c.processes, 2);
    c.run.trainer.max_steps = 6;
    c.run.trainer.batch_size = 4;
    c.run.trainer.eval_every = 3;
    w.setRunConfig(c);
    QSignalSpy steps(w.run(), &RunController::stepRecorded);
    QSignalSpy evals(w.run(), &RunController::evalRecorded);
    QSignalSpy finished(w.run(), &RunController::runFinished);
    w.startTraining();
    QVERIFY(steps.wait(kRunTimeoutMs));
    QVERIFY(!w.controls()->pauseButton()->isEnabled());
    QVERIFY2(w.controls()->whyDisabled("pause").contains("2 processes"),
             qPrintable(w.controls()->whyDisabled("pause")));
    QVERIFY(finished.wait(kRunTimeoutMs));
    QVERIFY(!finished.at(0).at(1).toBool());  // not stopped
    QVERIFY(!finished.at(0).at(2).toBool());  // not failed
    QCOMPARE(steps.count(), 6);
    QCOMPARE(evals.count(), 2);
    const auto last = steps.last().at(0).value<dpo::StepMetrics>();
    QCOMPARE(last.step, qint64(6));
    QCOMPARE(last.rank_tokens_per_second.size(), size_t{2});
    const QString dir = w.currentRunDir();
    QVERIFY(dir.startsWith(runs.path()));
    QCOMPARE(lineCount(dir + "/metrics.jsonl"), 6);
    QVERIFY(QFile::exists(dir + "/final/model.safetensors"));
    auto* speed = w.findChild<QLabel*>("speedLabel");
    QVERIFY(speed != nullptr);
    QVERIFY2(speed->text().contains("tokens/s per process"), qPrintable(speed->text()));
    // The finished run answers the Playground from its final model, as a run of one process does.
    QTRY_VERIFY_WITH_TIMEOUT(w.run()->playgroundAvailable(), 10'000);

    // Stop ends every process after the same step; rank 0 still writes the final model.
    c.run.trainer.max_steps = 100'000;
    w.setRunConfig(c);
    steps.clear();
    finished.clear();
    w.startTraining();
    QVERIFY(steps.wait(kRunTimeoutMs));
    w.run()->stop();
    QVERIFY(finished.wait(kRunTimeoutMs));
    QVERIFY(finished.at(0).at(1).toBool());   // stopped
    QVERIFY(!finished.at(0).at(2).toBool());  // not failed
    const QString stopped_dir = w.currentRunDir();
    QVERIFY(stopped_dir != dir);
    QVERIFY(lineCount(stopped_dir + "/metrics.jsonl") < 1000);
    QVERIFY(QFile::exists(stopped_dir + "/final/model.safetensors"));
  }

  void pauseSaveCheckpointStopResume() {
    QTemporaryDir runs;
    MainWindow w;
    w.setInteractiveErrors(false);
    w.runs()->setRunsRoot(runs.path());
    auto c = w.runConfig();
    c.run.trainer.max_steps = 7;
    c.run.trainer.eval_every = 0;
    c.pause_after = 3;
    w.setRunConfig(c);
    QSignalSpy paused(w.run(), &RunController::paused);
    QSignalSpy ready(w.run(), &RunController::runDirectoryReady);
    QSignalSpy saved(w.run(), &RunController::checkpointSaved);
    QSignalSpy finished(w.run(), &RunController::runFinished);
    w.startTraining();
    QVERIFY(paused.wait(kRunTimeoutMs));
    QCOMPARE(paused.at(0).at(0).toLongLong(), qint64(3));
    QCOMPARE(ready.count(), 1);
    const QString dir = w.currentRunDir();
    QVERIFY(dir.startsWith(runs.path()));
    QVERIFY2(QFileInfo(dir).fileName().contains("-sigmoid-b0.1"), qPrintable(dir));
    QVERIFY(w.controls()->saveCheckpointButton()->isEnabled());
    w.controls()->saveCheckpointButton()->click();
    QVERIFY(saved.wait(kRunTimeoutMs));
    QCOMPARE(saved.at(0).at(0).toLongLong(), qint64(3));
    QVERIFY2(saved.at(0).at(2).toString().isEmpty(), qPrintable(saved.at(0).at(2).toString()));
    QVERIFY(QDir(dir + "/checkpoints/step-000003").exists());
    w.run()->stop();
    QVERIFY(finished.wait(kRunTimeoutMs));
    QVERIFY(finished.at(0).at(1).toBool());  // stopped
    QCOMPARE(lineCount(dir + "/metrics.jsonl"), 3);
    QVERIFY(QFile::exists(dir + "/final/model.safetensors"));
    QVERIFY(QFile::exists(dir + "/config.json"));

    // The studio lists it as resumable; reopen and resume: steps go on from 4.
    const int row = w.runs()->panel()->indexOf(dir);
    QVERIFY(row >= 0);
    QVERIFY(w.runs()->panel()->runs()[row].resumable);
    QVERIFY(w.viewRun(dir));
    QVERIFY(!w.controls()->startButton()->isEnabled());
    QVERIFY(w.controls()->resumeRunButton()->isEnabled());
    QSignalSpy steps(w.run(), &RunController::stepRecorded);
    finished.clear();
    ready.clear();
    w.controls()->resumeRunButton()->click();
    QVERIFY(!w.isViewingRun());
    QCOMPARE(static_cast<int>(w.run()->records().size()), 3);  // drawn from the files first
    QVERIFY(finished.wait(kRunTimeoutMs));
    QCOMPARE(ready.count(), 1);
    QCOMPARE(ready.at(0).at(0).toString(), dir);
    QCOMPARE(ready.at(0).at(1).toLongLong(), qint64(3));
    QVERIFY(!finished.at(0).at(2).toBool());  // not failed
    QVERIFY2(w.lastError().isEmpty(), qPrintable(w.lastError()));
    QCOMPARE(w.run()->stepsDone(), qint64(7));
    // The first step recorded live after the preloaded three is step 4.
    QVERIFY(steps.count() >= 7);
    QCOMPARE(steps.at(3).at(0).value<dpo::StepMetrics>().step, qint64(4));
    QCOMPARE(static_cast<int>(w.run()->records().size()), 7);
    for (size_t i = 0; i < w.run()->records().size(); ++i)
      QCOMPARE(w.run()->records()[i].step, static_cast<int64_t>(i + 1));
    QCOMPARE(lineCount(dir + "/metrics.jsonl"), 7);
    QCOMPARE(w.plots()->rewardMarginPlot()->pointCount(0), 7);
  }
};

QTEST_MAIN(RunsTest)
#include "test_runs.moc"
