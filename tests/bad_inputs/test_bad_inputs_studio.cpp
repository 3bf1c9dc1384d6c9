// Hostile files through the studio (issue 19): the run fails with the same one line the CLI
// prints, the window stays up, and the files are as they were.
#include <QSignalSpy>
#include <QtTest>

#include "app/studio/main_window.h"
#include "app/studio/run_controller.h"
#include "hostile_files.h"

using dpo::studio::MainWindow;
using dpo::studio::RunController;
using dpo::studio::RunState;
using namespace hostile;

namespace {
constexpr int kRunTimeoutMs = 120'000;
}

class BadInputsStudioTest : public QObject {
  Q_OBJECT

  // Starts a run of `config` and waits for it to end failed; returns the error it showed.
  QString failedRun(MainWindow& w, const std::string& data, const std::string& model) {
    auto config = w.runConfig();
    config.run.data_path = data;
    config.run.model_dir = model;
    config.run.trainer.max_steps = 2;
    config.run.trainer.eval_every = 0;
    w.setRunConfig(config);
    QSignalSpy finished(w.run(), &RunController::runFinished);
    w.startTraining();
    if (!finished.wait(kRunTimeoutMs)) return "(the run did not end)";
    if (!finished.at(0).at(2).toBool()) return "(the run did not fail)";
    return w.lastError();
  }

  fs::path fresh(const char* name) {
    const auto d = root() / name;
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
  }

 private Q_SLOTS:
  void deeplyNestedRowNamesFileAndLine() {
    MainWindow w;
    w.setInteractiveErrors(false);
    const auto d = fresh("studio-deep");
    write(d / "deep.jsonl", pairs_jsonl(1) + R"({"prompt": )" + nested(100000) + "}\n");
    const auto error = failedRun(w, (d / "deep.jsonl").string(), "");
    QVERIFY2(error.contains("deep.jsonl:2"), qPrintable(error));
    QCOMPARE(w.run()->state(), RunState::Idle);
  }

  void truncatedGzipIsRefused() {
    MainWindow w;
    w.setInteractiveErrors(false);
    const auto d = fresh("studio-gz");
    const auto gz = gzip(pairs_jsonl(200));
    write(d / "p.jsonl.gz", gz.substr(0, gz.size() - 8));
    const auto error = failedRun(w, (d / "p.jsonl.gz").string(), "");
    QVERIFY2(error.contains("p.jsonl.gz"), qPrintable(error));
  }

  void zeroAttentionHeadsNamesTheKey() {
    MainWindow w;
    w.setInteractiveErrors(false);
    const auto d = fresh("studio-heads");
    edit_config(d, [](json& c) { c["num_attention_heads"] = 0; });
    const auto error = failedRun(w, "", (d / "m").string());
    QVERIFY2(error.contains("config.json") && error.contains("num_attention_heads"), qPrintable(error));
  }

  // Resuming a run whose checkpoint was tampered with fails before any record is cut back.
  void corruptCheckpointLeavesTheRunAsItWas() {
    MainWindow w;
    w.setInteractiveErrors(false);
    const auto d = fresh("studio-resume");
    const auto run = copy_run(d);
    edit_json(run / "config.json", [](json& c) { c["run"]["trainer"]["max_steps"] = 6; });
    edit_json(newest_checkpoint(run) / "trainer_state.json", [](json& s) { s["data_order"][3] = 1234; });
    const auto before = snapshot(run);
    QSignalSpy finished(w.run(), &RunController::runFinished);
    w.resumeRun(QString::fromStdString(run.string()));
    QVERIFY(finished.wait(kRunTimeoutMs));
    QVERIFY(finished.at(0).at(2).toBool());
    const auto error = w.lastError();
    QVERIFY2(error.contains("trainer_state.json") && error.contains("data_order"), qPrintable(error));
    QVERIFY(snapshot(run) == before);
  }

  void cleanupTestCase() { fs::remove_all(root()); }
};

QTEST_MAIN(BadInputsStudioTest)
#include "test_bad_inputs_studio.moc"
