// Lesson mode of the studio (issue 8) on the offscreen platform: predict, run, reveal.
// DPO_LESSON_SCREENSHOT=<file.png> also saves the window after the reveal.
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "app/session/lesson_run.h"
#include "app/studio/diagnostics_feed.h"
#include "app/studio/lesson_controller.h"
#include "app/studio/main_window.h"
#include "app/studio/run_panel.h"
#include "app/studio/runs_browser.h"
#include "app/studio/settings_panel.h"
#include "app/studio/status_bar.h"
#include "app/studio/training_plots.h"
#include "core/train/trainer.h"
#include "widgets/lesson_panel.h"
#include "widgets/metric_plot.h"

using dpo::studio::LessonController;
using dpo::studio::MainWindow;
using dpo::studio::RunController;
using dpo::studio::RunState;

namespace {
constexpr int kRunTimeoutMs = 120'000;
}

class LessonsPanelTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void menuListsEmbeddedLessons() {
    MainWindow w;
    auto* c = w.findChild<LessonController*>();
    QVERIFY(c);
    QCOMPARE(c->panel()->lessonCount(), 7);
    QCOMPARE(c->panel()->lessonList()->count(), 7);
    QVERIFY(c->menu()->title().contains("Lessons"));
    // 7 lessons, separator, Open lesson file…, the dock's toggle
    QCOMPARE(c->menu()->actions().size(), 10);
    QVERIFY(c->dock()->isHidden());
    QCOMPARE(c->findLesson("beta-too-high"), c->findLesson("2"));
    QCOMPARE(c->findLesson("nope"), -1);
  }

  void lessonTwoPredictRunReveal() {
    MainWindow w;
    w.setInteractiveErrors(false);
    auto config = w.runConfig();
    config.pause_after = 20;  // the run pauses itself: a teacher would press F6 / Step here
    config.run.trainer.eval_every = 0;
    w.setRunConfig(config);
    w.resize(1600, 1000);
    w.show();
    auto* c = w.findChild<LessonController*>();
    QVERIFY(c);
    auto* panel = c->panel();
    const int two = c->findLesson("2");
    QVERIFY(two >= 0);
    QVERIFY(c->openLesson(two));
    QVERIFY(c->dock()->isVisible());

    // Predict: the question is shown, the explanation is not.
    QVERIFY(panel->titleLabel()->text().contains(QString::fromUtf8("β too high")));
    QVERIFY(panel->questionLabel()->isVisible());
    QVERIFY(panel->questionLabel()->text().contains("beta = 5"));
    QVERIFY(!panel->explanationLabel()->isVisible());
    QVERIFY(panel->explanationLabel()->text().isEmpty());
    QVERIFY(!panel->revealed());

    // The lesson's plots are marked: margins, loss, rewards/chosen|rejected; not the length plot.
    QVERIFY(w.plots()->rewardMarginPlot()->property("lessonHighlight").toBool());
    QVERIFY(w.plots()->lossPlot()->property("lessonHighlight").toBool());
    QVERIFY(w.plots()->logRatioPlot()->property("lessonHighlight").toBool());
    QVERIFY(!w.plots()->lengthPlot()->property("lessonHighlight").toBool());
    QVERIFY(w.plots()->lossPlot()->title().startsWith(QString::fromUtf8("★")));

    // Run: the settings come from the lesson's first run ("high": sigmoid, β 5, lr 1e-4, 120 steps).
    QCOMPARE(panel->runCombo()->count(), 2);
    QCOMPARE(panel->currentRun(), 0);
    QVERIFY(panel->runButton()->isEnabled());
    QTest::mouseClick(panel->runButton(), Qt::LeftButton);
    const auto rc = w.runConfig();
    QCOMPARE(rc.run.trainer.loss.beta, 5.0);
    QCOMPARE(dpo::studio::lossName(rc.run), QString("sigmoid"));
    QCOMPARE(rc.run.trainer.max_steps, int64_t(120));
    QCOMPARE(rc.run.trainer.batch_size, int64_t(8));
    QVERIFY(qAbs(rc.run.trainer.learning_rate - 1e-4) < 1e-9);
    QVERIFY(rc.run.data_path.empty());  // clean = the embedded demo
    QVERIFY(w.run()->isTraining());
    QTRY_COMPARE_WITH_TIMEOUT(w.run()->state(), RunState::Paused, kRunTimeoutMs);
    QCOMPARE(w.run()->stepsDone(), qint64(20));
    QCOMPARE(w.run()->records().front().beta, 5.0);
    // The Step button steps once from there.
    QTest::mouseClick(w.controls()->stepButton(), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(w.run()->stepsDone(), qint64(21), kRunTimeoutMs);
    QTRY_COMPARE_WITH_TIMEOUT(w.run()->state(), RunState::Paused, kRunTimeoutMs);

    // Reveal: what to look for, the explanation and the seed section.
    QTest::mouseClick(panel->revealButton(), Qt::LeftButton);
    QVERIFY(panel->revealed());
    QVERIFY(panel->explanationLabel()->isVisible());
    QVERIFY(panel->explanationLabel()->text().contains("KL leash"));
    QVERIFY(panel->explanationLabel()->text().contains(QString::fromUtf8("002 §6")));

    const QString shot = qEnvironmentVariable("DPO_LESSON_SCREENSHOT");
    if (!shot.isEmpty()) {
      w.plots()->flush();
      QCoreApplication::processEvents();
      QVERIFY(w.grab().save(shot));
    }

    QSignalSpy finished(w.run(), &RunController::runFinished);
    w.run()->stop();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kRunTimeoutMs);
    QTRY_VERIFY_WITH_TIMEOUT(!w.run()->isTraining(), kRunTimeoutMs);

    // The second run of the lesson fills β 0.1.
    panel->runCombo()->setCurrentIndex(1);
    c->setAutoStart(false);
    QTest::mouseClick(panel->runButton(), Qt::LeftButton);
    QCOMPARE(w.runConfig().run.trainer.loss.beta, 0.1);
    QVERIFY(!w.run()->isTraining());

    // Another lesson: question again, explanation hidden again.
    QVERIFY(c->openLesson(c->findLesson("first-run")));
    QVERIFY(!panel->explanationLabel()->isVisible());
  }

  void lessonRunCarriesItsDatasetAndSeeds() {
    MainWindow w;
    auto* c = w.findChild<LessonController*>();
    const int noisy = c->findLesson("noisy-labels");
    QVERIFY(noisy >= 0);
    const auto cfg = c->configFor(noisy, 1);  // rdpo: robust, ε 0.25 on the noisy variant
    QVERIFY(cfg.lesson.has_value());
    QCOMPARE(QString::fromStdString(cfg.lesson->dataset), QString("noisy"));
    QCOMPARE(dpo::studio::lossName(cfg.run), QString("robust"));
    QCOMPARE(cfg.run.trainer.loss.label_smoothing, 0.25);
    QCOMPARE(cfg.run.trainer.max_steps, int64_t(400));
    QVERIFY(cfg.run.data_path.empty());  // the worker writes the variant into the run folder
    c->setShortRuns(true);
    QCOMPARE(c->configFor(noisy, 1).run.trainer.max_steps, int64_t(300));
  }

  // Lesson 7's first run is SFT on chosen: the studio trains it (NLL, no reference) and says so in
  // the run's config.json.
  void sftLessonRunTrainsInTheStudio() {
    MainWindow w;
    w.setInteractiveErrors(false);
    auto config = w.runConfig();
    config.pause_after = 4;
    config.run.trainer.eval_every = 0;
    w.setRunConfig(config);
    auto* c = w.findChild<LessonController*>();
    const int ref = c->findLesson("reference-matters");
    QVERIFY(c->openLesson(ref));
    c->panel()->runCombo()->setCurrentIndex(0);
    QVERIFY(c->panel()->runButton()->isEnabled());
    c->panel()->runButton()->click();
    QVERIFY(w.run()->isTraining());
    QTRY_COMPARE_WITH_TIMEOUT(w.run()->state(), RunState::Paused, kRunTimeoutMs);
    QCOMPARE(w.run()->stepsDone(), qint64(4));
    // NLL of the chosen answers: positive, and no implicit reward without a reference.
    QVERIFY(w.run()->records().front().loss > 0.1);
    QCOMPARE(w.run()->records().front().rewards_margins, 0.0);
    QFile f(QDir(w.currentRunDir()).filePath("config.json"));
    QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(w.currentRunDir()));
    const QByteArray json = f.readAll();
    QVERIFY2(json.contains("\"objective\": \"sft\""), json.constData());
    QSignalSpy finished(w.run(), &RunController::runFinished);
    w.run()->stop();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kRunTimeoutMs);
  }

  // Run all & check on lesson 1 (short): PASS in the panel, with the very numbers `dpo lesson run`
  // computes for the same run (here in-process through the same session code).
  void runAllChecksTheSymptomLikeTheCli() {
    MainWindow w;
    w.setInteractiveErrors(false);
    auto config = w.runConfig();
    config.run.trainer.eval_every = 0;
    w.setRunConfig(config);
    auto* c = w.findChild<LessonController*>();
    c->setShortRuns(true);
    const int first = c->findLesson("first-run");
    QVERIFY(c->openLesson(first));
    QVERIFY(c->panel()->runAllButton()->isEnabled());
    QVERIFY(c->panel()->checkLabel()->isHidden());
    c->panel()->runAllButton()->click();
    QTRY_VERIFY_WITH_TIMEOUT(c->lastCheck() >= 0, 4 * kRunTimeoutMs);
    QCOMPARE(c->lastCheck(), 1);
    QVERIFY(!c->panel()->checkLabel()->isHidden());
    QVERIFY(c->panel()->checkLabel()->text().contains("PASS"));
    // The measured clauses say what the symptom was: they wait for Reveal.
    QVERIFY(!c->panel()->checkLabel()->text().contains("dpo.final.rewards/margins"));
    c->panel()->reveal();
    QVERIFY(c->panel()->checkLabel()->text().contains("PASS"));
    QVERIFY(c->panel()->checkLabel()->text().contains("dpo.final.rewards/margins"));
    if (const QString shot = qEnvironmentVariable("DPO_LESSON_CHECK_SCREENSHOT"); !shot.isEmpty()) {
      w.resize(1600, 1000);
      w.show();
      w.plots()->flush();
      QCoreApplication::processEvents();
      QVERIFY(w.grab().save(shot));
    }

    const auto& measured = c->measuredValues();
    dpo::LessonRun run;
    run.label = "dpo";
    run.dataset = "clean";
    run.loss = "sigmoid";
    run.beta = 0.1;
    run.learning_rate = 1e-4;
    run.steps = 100;  // the lesson's short_steps
    auto setup = dpo::app::prepare_run(dpo::app::lesson_run_options(run, run.steps));
    dpo::app::LessonProbe probe(setup);
    dpo::train(*setup.trainer, [&](const dpo::StepMetrics& m) {
      probe.record(m);
      return true;
    });
    const auto expected = probe.finish(run.label, run.beta);
    for (const char* key : {"final.rewards/margins", "final.rewards/accuracies", "first.rewards/chosen",
                            "sampled.reward_before", "sampled.reward_after", "heldout.accuracy"}) {
      const QString name = QStringLiteral("dpo.") + key;
      QVERIFY2(measured.contains(name), qPrintable(name));
      QVERIFY2(qAbs(measured.value(name) - expected.at(key)) <= 1e-6 * (1 + qAbs(expected.at(key))),
               qPrintable(QStringLiteral("%1: studio %2, cli %3")
                              .arg(name)
                              .arg(measured.value(name))
                              .arg(expected.at(key))));
    }
  }

  void teacherWritesALessonFile() {
    MainWindow w;
    auto* c = w.findChild<LessonController*>();
    QTemporaryDir dir;
    const QString path = dir.filePath("mine.json");
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(R"({"number": 8, "title": "My lesson", "question": "What happens at beta 0.3?",
      "runs": [{"label": "a", "beta": 0.3, "steps": 15, "loss": "ipo"}],
      "plots": ["loss"], "symptom": "it falls", "check": "a.final.loss < a.first.loss",
      "explanation": "Because.", "seed_section": "002 §6"})");
    f.close();
    const int i = c->openLessonFile(path);
    QVERIFY2(i >= 0, qPrintable(c->lastError()));
    QCOMPARE(c->panel()->currentLesson(), i);
    QVERIFY(c->panel()->questionLabel()->text().contains("beta 0.3"));
    c->setAutoStart(false);
    c->panel()->runButton()->click();  // the window is not shown here
    QCOMPARE(w.runConfig().run.trainer.loss.beta, 0.3);
    QCOMPARE(dpo::studio::lossName(w.runConfig().run), QString("ipo"));
    QCOMPARE(w.runConfig().run.trainer.max_steps, int64_t(15));

    const QString bad = dir.filePath("bad.json");
    QFile b(bad);
    QVERIFY(b.open(QIODevice::WriteOnly));
    b.write(R"({"title": "x", "colour": 3})");
    b.close();
    QCOMPARE(c->openLessonFile(bad), -1);
    QVERIFY(c->lastError().contains("bad.json"));
  }
};

QTEST_MAIN(LessonsPanelTest)
#include "test_lessons_panel.moc"
