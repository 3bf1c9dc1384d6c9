// Shareable state (issue 18) on the offscreen platform: a setup file opens the studio with the
// file's settings in the form, its lesson and its tab; Save setup writes what the form shows; Copy run
// setup puts the `dpo train` line of the form on the clipboard.
#include <QAction>
#include <QClipboard>
#include <QDockWidget>
#include <QGuiApplication>
#include <QMenu>
#include <QMenuBar>
#include <QStatusBar>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <fstream>

#include "app/session/setup_file.h"
#include "app/session/train_args.h"
#include "app/studio/lesson_controller.h"
#include "app/studio/main_window.h"
#include "app/studio/setup_actions.h"
#include "widgets/dataset_panel.h"
#include "widgets/lesson_panel.h"
#include "widgets/pair_inspector.h"

using dpo::studio::MainWindow;
using dpo::studio::SetupActions;
using nlohmann::json;

namespace {

QAction* menuAction(MainWindow& w, const QString& menu, const QString& text) {
  for (QAction* m : w.menuBar()->actions())
    if (m->menu() && m->text().remove('&') == menu)
      for (QAction* a : m->menu()->actions())
        if (a->text().remove('&') == text) return a;
  return nullptr;
}

// A run the form can hold in full: every field it shows away from its default.
dpo::app::RunOptions formRun(const QString& data) {
  dpo::app::RunOptions o;
  o.data_path = data.toStdString();
  o.device = "cpu";
  auto& t = o.trainer;
  t.loss.type = dpo::LossType::Ipo;
  t.loss.beta = 0.3;
  t.learning_rate = 5e-5;
  t.max_steps = 60;
  t.batch_size = 4;
  t.eval_every = 10;
  t.grad_accumulation = 2;
  t.seed = 7;
  o.tokenize.max_length = 192;
  o.tokenize.max_prompt_length = 96;
  o.lora.r = 4;
  o.lora.alpha = 8;
  return o;
}

}  // namespace

class StudioSetupTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    data_ = dir_.filePath("class pairs.jsonl");
    std::ofstream(data_.toStdString()) << R"({"prompt": "2+2?", "chosen": "4", "rejected": "5"})"
                                       << "\n";
  }

  void menusHoldTheActions() {
    MainWindow w;
    auto* actions = w.findChild<SetupActions*>();
    QVERIFY(actions);
    QCOMPARE(menuAction(w, "Run", "Copy run setup"), actions->copyAction());
    QCOMPARE(menuAction(w, "File", "Save setup…"), actions->saveAction());
    QCOMPARE(menuAction(w, "File", "Open setup…"), actions->openAction());
  }

  // The form's values are the file's; the lesson is open and the tab shown.
  void setupFileOpensTheStudioInItsState() {
    dpo::app::SetupFile setup;
    setup.run = formRun(data_);
    setup.lesson = "2";
    setup.tab = "dataset";
    const QString file = dir_.filePath("lesson two.dposetup");
    dpo::app::write_setup_file(file.toStdString(), setup);

    MainWindow w;
    w.setInteractiveErrors(false);
    auto* actions = w.findChild<SetupActions*>();
    QVERIFY(actions->openSetup(file));
    QVERIFY2(actions->lastError().isEmpty(), qPrintable(actions->lastError()));
    QCOMPARE(json(w.runConfig().run).dump(), json(setup.run).dump());
    QVERIFY2(actions->notInForm().isEmpty(), qPrintable(actions->notInForm().join(", ")));
    auto* lessons = w.findChild<dpo::studio::LessonController*>();
    QVERIFY(lessons->findLesson("2") >= 0);
    QCOMPARE(lessons->panel()->currentLesson(), lessons->findLesson("2"));
    QVERIFY(!lessons->dock()->isHidden());
    QCOMPARE(w.tabs()->currentWidget(), static_cast<QWidget*>(w.datasetPanel()));

    // Saved again, it is the same file: settings, lesson (by name) and tab.
    const QString again = dir_.filePath("again.dposetup");
    QVERIFY(actions->saveSetup(again));
    const auto saved = dpo::app::read_setup_file(again.toStdString());
    QCOMPARE(json(saved.run).dump(), json(setup.run).dump());
    QCOMPARE(lessons->findLesson(QString::fromStdString(saved.lesson)), lessons->findLesson("2"));
    QCOMPARE(QString::fromStdString(saved.tab), QStringLiteral("dataset"));
  }

  void copyRunSetupPutsTheTrainLineOnTheClipboard() {
    MainWindow w;
    auto* actions = w.findChild<SetupActions*>();
    auto config = w.runConfig();
    config.run = formRun(data_);
    w.setRunConfig(config);
    actions->copyAction()->trigger();
    const QString line = QGuiApplication::clipboard()->text();
    QCOMPARE(line, QString::fromStdString(dpo::app::train_command_line(formRun(data_))));
    QVERIFY2(line.startsWith("dpo train --data '" + data_ + "' --device cpu --max-length 192"),
             qPrintable(line));
    QVERIFY(line.contains("--loss ipo --beta 0.3"));
    QVERIFY(line.contains("--lora-r 4 --lora-alpha 8"));
    QVERIFY(w.statusBar()->currentMessage().contains(line));
  }

  // Settings the form has no place for are named, not dropped silently.
  void settingsOutsideTheFormAreNamed() {
    dpo::app::SetupFile setup;
    setup.run.trainer.loss.type = dpo::LossType::Simpo;
    setup.run.trainer.loss.simpo_gamma = 0.8;
    setup.tab = "inspector";
    MainWindow w;
    auto* actions = w.findChild<SetupActions*>();
    QVERIFY(actions->applySetup(setup));
    QCOMPARE(actions->notInForm(), QStringList{"trainer.simpo_gamma"});
    QVERIFY(w.statusBar()->currentMessage().contains("trainer.simpo_gamma"));
    QCOMPARE(w.runConfig().run.trainer.loss.type, dpo::LossType::Simpo);
    QCOMPARE(w.tabs()->currentWidget(), static_cast<QWidget*>(w.pairInspector()));
  }

  // A bad file or an unknown lesson: one line naming it, the form untouched.
  void badSetupLeavesTheFormAsItWas() {
    MainWindow w;
    auto* actions = w.findChild<SetupActions*>();
    const json before = w.runConfig().run;

    const QString bad = dir_.filePath("bad.dposetup");
    std::ofstream(bad.toStdString())
        << R"({"format": "dpo-studio-setup", "version": 1, "run": {"learning_rate": 1}})";
    QVERIFY(!actions->openSetup(bad));
    QCOMPARE(actions->lastError(),
             bad +
                 ": run.learning_rate: unknown key (expected one of chat_template, columns, "
                 "data, device, eval_fraction, format, layout, lora, max_completion_length, "
                 "max_length, max_prompt_length, model, model_seed, on_bad_row, reference, "
                 "split_seed, tokenizer, trainer, truncation_mode)");

    dpo::app::SetupFile setup;
    setup.run.trainer.loss.beta = 0.4;
    setup.lesson = "no-such-lesson";
    QVERIFY(!actions->applySetup(setup, "class.dposetup"));
    QCOMPARE(actions->lastError(),
             QStringLiteral("class.dposetup: lesson: \"no-such-lesson\" is not one of the studio's lessons"));
    QCOMPARE(json(w.runConfig().run).dump(), before.dump());
  }

 private:
  QTemporaryDir dir_;
  QString data_;
};

QTEST_MAIN(StudioSetupTest)
#include "test_studio_setup.moc"
