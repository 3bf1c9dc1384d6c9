// The studio's pickers, persistence, preparation progress and error dialog (issues 7 and 8) on the
// offscreen platform.
#include <QComboBox>
#include <QCoreApplication>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

#include "app/studio/about_dialog.h"
#include "app/studio/diagnostics_feed.h"
#include "app/studio/main_window.h"
#include "app/studio/run_panel.h"
#include "app/studio/runs_browser.h"
#include "app/studio/settings_panel.h"
#include "app/studio/status_bar.h"
#include "app/studio/training_plots.h"
#include "widgets/beta_slider.h"
#include "widgets/error_dialog.h"
#include "widgets/progress_strip.h"

using dpo::studio::MainWindow;
using dpo::studio::RunController;
using dpo::studio::RunState;

namespace {
constexpr int kRunTimeoutMs = 120'000;
}

class StudioSettingsTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(settings_dir_.isValid());
    QCoreApplication::setOrganizationName("dpo-studio-test");
    QCoreApplication::setApplicationName("test_studio_settings");
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, settings_dir_.path());
  }

  // The demo is listed first in both pickers; a demo variant is a data path the run understands.
  void pickersListTheDemo() {
    MainWindow w;
    auto* model = w.settings()->modelCombo();
    QVERIFY(model->itemText(0).startsWith("Demo model"));
    QVERIFY(model->itemData(0).toString().isEmpty());
    QVERIFY(model->itemText(model->count() - 1).contains("Open Hugging Face folder"));
    auto* data = w.settings()->dataCombo();
    QStringList demo;
    for (int i = 0; i < data->count(); ++i)
      if (data->itemText(i).startsWith("Demo: ")) demo << data->itemText(i).mid(6);
    QCOMPARE(demo, QStringList({"clean", "noisy", "length-biased", "unpaired", "scored"}));
    QCOMPARE(data->currentIndex(), 0);  // clean: the embedded demo, an empty path
    QVERIFY(w.runConfig().run.data_path.empty());
    data->setCurrentIndex(data->findText("Demo: noisy"));
    Q_EMIT data->activated(data->currentIndex());
    QCOMPARE(w.runConfig().run.data_path, std::string("demo:noisy"));
    QVERIFY(w.runConfig().run.model_dir.empty());
  }

  // Help is the last menu; its About box gives CMake's project version and where user data lives.
  void aboutNamesTheVersionAndTheUserFolders() {
    MainWindow w;
    const QList<QAction*> menus = w.menuBar()->actions();
    QVERIFY(!menus.isEmpty());
    QCOMPARE(menus.last()->text(), QString("&Help"));
    QVERIFY(w.findChild<QAction*>("aboutAction"));
    dpo::studio::AboutDialog about(&w);
    const QString text = about.text();
    QVERIFY2(text.contains("DPO Studio " DPO_PROJECT_VERSION "<"), qPrintable(text));
    QVERIFY2(text.contains("libtorch 1."), qPrintable(text));
    QVERIFY2(text.contains(QSettings().fileName().toHtmlEscaped()), qPrintable(text));
    QVERIFY2(text.contains(qEnvironmentVariable("DPO_STUDIO_RUNS").toHtmlEscaped()), qPrintable(text));
  }

  // demo:noisy trains: 60 of its 240 labels are flipped, so it differs from the clean demo.
  void demoVariantTrains() {
    MainWindow w;
    w.setInteractiveErrors(false);
    auto config = w.runConfig();
    config.run.data_path = "demo:noisy";
    config.pause_after = 2;
    config.run.trainer.eval_every = 0;
    w.setRunConfig(config);
    QCOMPARE(w.settings()->dataCombo()->currentText(), QString("Demo: noisy"));
    w.startTraining();
    QTRY_COMPARE_WITH_TIMEOUT(w.run()->state(), RunState::Paused, kRunTimeoutMs);
    QVERIFY2(w.lastError().isEmpty(), qPrintable(w.lastError()));
    QCOMPARE(w.run()->stepsDone(), qint64(2));
    QSignalSpy finished(w.run(), &RunController::runFinished);
    w.run()->stop();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kRunTimeoutMs);
  }

  // Stop while preparing cancels: the run ends stopped, not failed, with no step and no dialog.
  void cancelWhilePreparing() {
    MainWindow w;
    w.setInteractiveErrors(false);
    auto config = w.runConfig();
    config.run.trainer.eval_every = 0;
    w.setRunConfig(config);
    QSignalSpy finished(w.run(), &RunController::runFinished);
    w.startTraining();
    QCOMPARE(w.run()->state(), RunState::Preparing);
    w.run()->stop();  // before the worker's first preparation report
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kRunTimeoutMs);
    QCOMPARE(finished.at(0).at(0).toLongLong(), 0);  // steps
    QCOMPARE(finished.at(0).at(1).toBool(), true);   // stopped
    QCOMPARE(finished.at(0).at(2).toBool(), false);  // failed
    QVERIFY(w.lastError().isEmpty());
    QVERIFY(w.statusLine()->progress()->isHidden());
  }

  // β on a log scale: 100 positions a decade from 0.001; the slider and the spin box follow each other.
  void betaSliderIsLogarithmic() {
    using dpo::widgets::BetaSlider;
    QCOMPARE(BetaSlider::positionOf(0.001), 0);
    QCOMPARE(BetaSlider::positionOf(0.1), 200);
    QCOMPARE(BetaSlider::positionOf(10.0), 400);
    QVERIFY(qAbs(BetaSlider::betaAt(250) - std::pow(10.0, -0.5)) < 1e-12);
    MainWindow w;
    auto* slider = w.settings()->betaSlider();
    QCOMPARE(slider->value(), 200);                             // the default β 0.1
    slider->triggerAction(QAbstractSlider::SliderPageStepAdd);  // +10 positions: 10^-0.9
    QCOMPARE(w.settings()->betaSpin()->value(), 0.126);
    w.settings()->betaSpin()->setValue(0.01);
    QCOMPARE(slider->value(), 100);
  }

  // LoRA rank and gradient accumulation from the form reach the run (its config.json).
  void loraAndAccumulationReachTheRun() {
    MainWindow w;
    w.setInteractiveErrors(false);
    auto config = w.runConfig();
    QCOMPARE(config.run.tokenize.max_length, int64_t(256));  // RunOptions' defaults
    QCOMPARE(config.run.lora.alpha, 16.0);
    config.run.lora.r = 4;
    config.run.trainer.grad_accumulation = 2;
    config.pause_after = 1;
    config.run.trainer.eval_every = 0;
    w.setRunConfig(config);
    QCOMPARE(w.settings()->loraRankSpin()->value(), 4);
    QCOMPARE(w.settings()->gradAccumulationSpin()->value(), 2);
    QSignalSpy finished(w.run(), &RunController::runFinished);
    w.startTraining();
    QTRY_COMPARE_WITH_TIMEOUT(w.run()->state(), RunState::Paused, kRunTimeoutMs);
    QFile f(QDir(w.currentRunDir()).filePath("config.json"));
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QJsonObject run = QJsonDocument::fromJson(f.readAll()).object().value("run").toObject();
    QCOMPARE(run.value("lora").toObject().value("r").toInt(), 4);
    QCOMPARE(run.value("trainer").toObject().value("gradient_accumulation_steps").toInt(), 2);
    w.run()->stop();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kRunTimeoutMs);
  }

  // Reference "fit by SFT on chosen first": the SFT'd model is saved in the run folder and the run
  // starts from it (config.json's model_dir), with the preparation strip counting the SFT steps.
  void sftFirstReference() {
    MainWindow w;
    w.setInteractiveErrors(false);
    auto config = w.runConfig();
    config.sft_reference_steps = 3;
    config.pause_after = 1;
    config.run.trainer.eval_every = 0;
    w.setRunConfig(config);
    QCOMPARE(w.settings()->sftReferenceSteps(), qint64(3));
    QCOMPARE(w.runConfig().sft_reference_steps, qint64(3));
    QStringList stages;
    connect(w.statusLine()->progress()->bar(), &QProgressBar::valueChanged, this,
            [&] { stages << w.statusLine()->progress()->stage(); });
    QSignalSpy finished(w.run(), &RunController::runFinished);
    w.startTraining();
    QTRY_COMPARE_WITH_TIMEOUT(w.run()->state(), RunState::Paused, kRunTimeoutMs);
    QVERIFY2(w.lastError().isEmpty(), qPrintable(w.lastError()));
    const QDir run(w.currentRunDir());
    QVERIFY(QFileInfo::exists(run.filePath("sft-reference/config.json")));
    QVERIFY(QFileInfo::exists(run.filePath("sft-reference/model.safetensors")));
    QFile f(run.filePath("config.json"));
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QJsonObject saved = QJsonDocument::fromJson(f.readAll()).object().value("run").toObject();
    QVERIFY2(saved.value("model").toString().endsWith("sft-reference"),
             qPrintable(saved.value("model").toString()));
    QVERIFY2(stages.join("|").contains("SFT on the chosen answers"), qPrintable(stages.join("|")));
    w.run()->stop();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kRunTimeoutMs);
  }

  // The window fits a 1600-pixel-wide screen (the Xvfb check) with its docks: no minimum size forces
  // it wider.
  void windowFitsACommonLaptopScreen() {
    MainWindow w;
    QString widths;
    for (auto* child : w.findChildren<QWidget*>(QString(), Qt::FindDirectChildrenOnly))
      widths += QStringLiteral("%1 %2: %3\n")
                    .arg(child->metaObject()->className(), child->objectName())
                    .arg(child->minimumSizeHint().width());
    for (int i = 0; i < w.tabs()->count(); ++i)
      widths += QStringLiteral("tab %1: %2\n")
                    .arg(w.tabs()->tabText(i))
                    .arg(w.tabs()->widget(i)->minimumSizeHint().width());
    QVERIFY2(w.minimumSizeHint().width() <= 1600,
             qPrintable(QStringLiteral("%1\n%2").arg(w.minimumSizeHint().width()).arg(widths)));
  }

  void progressStripCounts() {
    dpo::widgets::ProgressStrip strip;
    QSignalSpy cancel(&strip, &dpo::widgets::ProgressStrip::cancelRequested);
    strip.setProgress("reference log-probs (train)", 54, 216);
    QVERIFY(!strip.isHidden());
    QCOMPARE(strip.bar()->maximum(), 1000);
    QCOMPARE(strip.bar()->value(), 250);  // 54 / 216
    QCOMPARE(strip.bar()->format(), QString("54 / 216"));
    strip.setProgress("tokenizing data", 0, 0);
    QCOMPARE(strip.bar()->maximum(), 0);  // busy: the stage cannot count
    strip.cancelButton()->click();
    QCOMPARE(cancel.count(), 1);
    QVERIFY(!strip.cancelButton()->isEnabled());
    QVERIFY(strip.findChild<QLabel*>("preparationStage")->text().contains("Cancelling"));
    strip.finish();
    QVERIFY(strip.isHidden());
    QVERIFY(strip.cancelButton()->isEnabled());
  }

  void errorDialogShowsTheCauseAndKeepsTheRest() {
    auto* box = dpo::widgets::makeErrorDialog(
        nullptr, "Training failed", "internal error: CUDA out of memory\nat frame 3\nat frame 4",
        "Everything recorded so far is kept.", "Run settings: loss sigmoid");
    QCOMPARE(box->text(), QString("<b>internal error: CUDA out of memory</b>"));
    QCOMPARE(box->informativeText(), QString("Everything recorded so far is kept."));
    QVERIFY(box->detailedText().contains("at frame 4"));
    QVERIFY(box->detailedText().endsWith("Run settings: loss sigmoid"));
    QVERIFY(box->testAttribute(Qt::WA_DeleteOnClose));
    delete box;
  }

  // Settings and recent files survive a restart; nothing is read or written without persistence.
  void settingsPersist() {
    QTemporaryDir dir;
    const QString file = dir.filePath("pairs.jsonl");
    {
      QFile f(file);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write("{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"}\n");
    }
    {
      MainWindow w;  // not persistent: saveSettings writes nothing
      auto c = w.runConfig();
      c.run.trainer.loss.beta = 0.7;
      w.setRunConfig(c);
      w.saveSettings();
      QVERIFY(!QSettings().contains("run/beta"));
    }
    {
      MainWindow w;
      w.enablePersistence();
      auto c = w.runConfig();
      c.run.trainer.loss.beta = 0.3;
      c.run.trainer.loss.type = dpo::LossType::Ipo;
      c.run.data_path = file.toStdString();
      w.setRunConfig(c);
      w.plots()->xAxisCombo()->setCurrentIndex(1);
      w.saveSettings();
    }
    MainWindow w;
    QCOMPARE(w.runConfig().run.trainer.loss.beta,
             0.1);  // a fresh window, before persistence, has the defaults
    w.enablePersistence();
    QCOMPARE(w.runConfig().run.trainer.loss.beta, 0.3);
    QCOMPARE(dpo::studio::lossName(w.runConfig().run), QString("ipo"));
    QCOMPARE(w.runConfig().run.data_path, file.toStdString());
    QCOMPARE(w.plots()->xAxisCombo()->currentIndex(), 1);
  }

 private:
  QTemporaryDir settings_dir_;
};

QTEST_MAIN(StudioSettingsTest)
#include "test_studio_settings.moc"
