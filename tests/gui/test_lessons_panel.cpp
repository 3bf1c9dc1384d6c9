// Lesson mode of the studio (issue 8) on the offscreen platform: predict, run, reveal.
// DPO_LESSON_SCREENSHOT=<file.png> also saves the window after the reveal.
#include <QComboBox>
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

#include "app/studio/lesson_controller.h"
#include "app/studio/main_window.h"
#include "widgets/lesson_panel.h"
#include "widgets/metric_plot.h"

using dpo::studio::LessonController;
using dpo::studio::MainWindow;

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
    config.eval_every = 0;
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
    QVERIFY(w.rewardMarginPlot()->property("lessonHighlight").toBool());
    QVERIFY(w.lossPlot()->property("lessonHighlight").toBool());
    QVERIFY(w.logRatioPlot()->property("lessonHighlight").toBool());
    QVERIFY(!w.lengthPlot()->property("lessonHighlight").toBool());
    QVERIFY(w.lossPlot()->title().startsWith(QString::fromUtf8("★")));

    // Run: the settings come from the lesson's first run ("high": sigmoid, β 5, lr 1e-4, 120 steps).
    QCOMPARE(panel->runCombo()->count(), 2);
    QCOMPARE(panel->currentRun(), 0);
    QVERIFY(panel->runButton()->isEnabled());
    QTest::mouseClick(panel->runButton(), Qt::LeftButton);
    const auto rc = w.runConfig();
    QCOMPARE(rc.beta, 5.0);
    QCOMPARE(rc.loss_name, QString("sigmoid"));
    QCOMPARE(rc.steps, qint64(120));
    QCOMPARE(rc.batch_size, qint64(8));
    QVERIFY(qAbs(rc.learning_rate - 1e-4) < 1e-9);
    QVERIFY(rc.data_path.isEmpty());  // clean = the embedded demo
    QVERIFY(w.isTraining());
    QTRY_COMPARE_WITH_TIMEOUT(w.state(), MainWindow::RunState::Paused, kRunTimeoutMs);
    QCOMPARE(w.stepsDone(), qint64(20));
    QCOMPARE(w.records().front().beta, 5.0);
    // The Step button steps once from there.
    QTest::mouseClick(w.stepButton(), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(w.stepsDone(), qint64(21), kRunTimeoutMs);
    QTRY_COMPARE_WITH_TIMEOUT(w.state(), MainWindow::RunState::Paused, kRunTimeoutMs);

    // Reveal: what to look for, the explanation and the seed section.
    QTest::mouseClick(panel->revealButton(), Qt::LeftButton);
    QVERIFY(panel->revealed());
    QVERIFY(panel->explanationLabel()->isVisible());
    QVERIFY(panel->explanationLabel()->text().contains("KL leash"));
    QVERIFY(panel->explanationLabel()->text().contains(QString::fromUtf8("002 §6")));

    const QString shot = qEnvironmentVariable("DPO_LESSON_SCREENSHOT");
    if (!shot.isEmpty()) {
      w.flushPlots();
      QCoreApplication::processEvents();
      QVERIFY(w.grab().save(shot));
    }

    QSignalSpy finished(&w, &MainWindow::runFinished);
    w.stopTraining();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kRunTimeoutMs);
    QTRY_VERIFY_WITH_TIMEOUT(!w.isTraining(), kRunTimeoutMs);

    // The second run of the lesson fills β 0.1.
    panel->runCombo()->setCurrentIndex(1);
    c->setAutoStart(false);
    QTest::mouseClick(panel->runButton(), Qt::LeftButton);
    QCOMPARE(w.runConfig().beta, 0.1);
    QVERIFY(!w.isTraining());

    // Another lesson: question again, explanation hidden again.
    QVERIFY(c->openLesson(c->findLesson("first-run")));
    QVERIFY(!panel->explanationLabel()->isVisible());
  }

  void noisyVariantIsWrittenForTheWorker() {
    MainWindow w;
    auto* c = w.findChild<LessonController*>();
    const int noisy = c->findLesson("noisy-labels");
    QVERIFY(noisy >= 0);
    const auto cfg = c->configFor(noisy, 0);
    QVERIFY(!cfg.data_path.isEmpty());
    QVERIFY(QFileInfo::exists(cfg.data_path));
    QVERIFY(cfg.data_path.endsWith("noisy.jsonl"));
  }

  void sftRunIsNotRunnable() {
    MainWindow w;
    auto* c = w.findChild<LessonController*>();
    const int ref = c->findLesson("reference-matters");
    QVERIFY(c->openLesson(ref));
    bool some_disabled = false;
    for (int i = 0; i < c->panel()->runCombo()->count(); ++i) {
      c->panel()->runCombo()->setCurrentIndex(i);
      if (!c->panel()->runButton()->isEnabled()) some_disabled = true;
    }
    QVERIFY(some_disabled);
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
    QCOMPARE(w.runConfig().beta, 0.3);
    QCOMPARE(w.runConfig().loss_name, QString("ipo"));
    QCOMPARE(w.runConfig().steps, qint64(15));

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
