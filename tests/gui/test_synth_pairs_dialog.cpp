// The Synthetic pairs dialog (issue 14): the demo model's samples scored by the demo world's reward,
// previewed with their roles, then handed to the window as its dataset.
#include <QCheckBox>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTreeWidget>
#include <QtTest>

#include "app/studio/main_window.h"
#include "app/studio/synth_controller.h"
#include "scratch_runs.h"
#include "widgets/synth_pairs_dialog.h"

using dpo::studio::MainWindow;

class SynthPairsTest : public QObject {
  Q_OBJECT

  QTemporaryDir root_;

 private Q_SLOTS:
  void initTestCase() { QVERIFY(use_scratch_runs_root(root_)); }

  void generatePreviewAndTrainOnThem() {
    MainWindow w;
    w.setInteractiveErrors(false);
    auto* dialog = w.synthDialog();
    w.synth()->job()->setCliPath(QStringLiteral(DPO_CLI));
    dialog->kSpin()->setValue(3);
    dialog->maxPromptsSpin()->setValue(8);
    QCOMPARE(dialog->scorerEdit()->text(), QString("true"));
    QVERIFY(!dialog->trainButton()->isEnabled());
    QSignalSpy done(w.synth(), &dpo::studio::SynthController::finished);
    QTest::mouseClick(dialog->generateButton(), Qt::LeftButton);
    QVERIFY(done.wait(120'000));
    QCOMPARE(done.first().first().toBool(), true);

    // Every prompt with its 3 answers; best-vs-worst marks one chosen and one rejected where it pairs.
    auto* preview = dialog->preview();
    QCOMPARE(preview->topLevelItemCount(), 8);
    int pairs = 0;
    for (int i = 0; i < preview->topLevelItemCount(); ++i) {
      auto* prompt = preview->topLevelItem(i);
      QCOMPARE(prompt->childCount(), 3);
      int chosen = 0, rejected = 0;
      double best = -1e9, worst = 1e9, chosen_score = 0, rejected_score = 0;
      for (int a = 0; a < 3; ++a) {
        const double score = prompt->child(a)->text(1).toDouble();
        best = std::max(best, score), worst = std::min(worst, score);
        if (prompt->child(a)->text(2) == "chosen") ++chosen, chosen_score = score;
        if (prompt->child(a)->text(2) == "rejected") ++rejected, rejected_score = score;
      }
      QCOMPARE(chosen, rejected);
      if (chosen == 1) {
        ++pairs;
        QCOMPARE(chosen_score, best);
        QCOMPARE(rejected_score, worst);
      }
    }
    QVERIFY(pairs > 0);
    QVERIFY(QFileInfo::exists(dialog->pairsFile()));

    QVERIFY2(dialog->findChild<QLabel*>("synthReport")
                 ->text()
                 .startsWith("mean score of the 24 sampled answers: "),
             qPrintable(dialog->findChild<QLabel*>("synthReport")->text()));

    QTest::mouseClick(dialog->trainButton(), Qt::LeftButton);
    QCOMPARE(QString::fromStdString(w.runConfig().run.data_path), dialog->pairsFile());
    QVERIFY(!dialog->isVisible());

    // Train on them, then the next round: the trained model answers, and the round after starts from it.
    auto c = w.runConfig();
    c.run.trainer.max_steps = 3;
    c.run.eval_fraction = 0;
    w.setRunConfig(c);
    w.startTraining();
    QTRY_VERIFY_WITH_TIMEOUT(!w.run()->isTraining() && w.run()->stepsDone() == 3, 120'000);
    const QString final_model = w.currentRunDir() + "/final";
    QTRY_VERIFY_WITH_TIMEOUT(QFileInfo::exists(final_model), 30'000);
    w.openSynthDialog();
    QVERIFY(dialog->fromLastRunBox()->isEnabled());
    dialog->fromLastRunBox()->setChecked(true);
    QTest::mouseClick(dialog->generateButton(), Qt::LeftButton);
    QVERIFY(done.wait(120'000));
    QCOMPARE(done.last().first().toBool(), true);
    QFile round2(dialog->pairsFile());
    QVERIFY(round2.open(QIODevice::ReadOnly));
    const auto row = QJsonDocument::fromJson(round2.readLine()).object();
    QCOMPARE(row["provenance"].toObject()["model"].toString(), final_model);
    QTest::mouseClick(dialog->trainButton(), Qt::LeftButton);
    QCOMPARE(QString::fromStdString(w.runConfig().run.model_dir), final_model);
  }
};

QTEST_MAIN(SynthPairsTest)
#include "test_synth_pairs_dialog.moc"
