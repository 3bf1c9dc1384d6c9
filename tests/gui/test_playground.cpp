// The Playground tab (issue 7) on a live demo run: policy and reference answers stream token by
// token while the run is paused, then both are scored with their implicit rewards.
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTabWidget>
#include <QtTest>

#include <cmath>
#include <optional>

#include "app/studio/diagnostics_feed.h"
#include "app/studio/main_window.h"
#include "app/studio/run_panel.h"
#include "app/studio/runs_browser.h"
#include "app/studio/settings_panel.h"
#include "app/studio/status_bar.h"
#include "app/studio/training_plots.h"
#include "core/runtime/runtime.h"
#include "widgets/playground_panel.h"
#include "widgets/playground_record.h"

using dpo::studio::MainWindow;
using dpo::studio::RunController;
using dpo::studio::RunState;
using dpo::widgets::PlaygroundPanel;
using dpo::widgets::PlaygroundResult;

namespace {
constexpr int kTimeoutMs = 180'000;  // shared 2-core machines: a demo step is well under a second alone
}

class PlaygroundTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { dpo::configure_threads(std::nullopt); }

  void panelAloneNeedsAPausedRun() {
    PlaygroundPanel panel;
    QSignalSpy requests(&panel, &PlaygroundPanel::generationRequested);
    QVERIFY(!panel.generateButton()->isEnabled());
    QVERIFY(!panel.hintLabel()->isHidden());
    QVERIFY(panel.hintLabel()->text().contains("pause the run", Qt::CaseInsensitive));
    panel.generate();
    QCOMPARE(requests.count(), 0);
    panel.setRunState(true, true);
    QVERIFY(panel.generateButton()->isEnabled());
    QVERIFY(panel.hintLabel()->isHidden());
    panel.setPrompt("User: can you carry this box?\nAssistant:");
    panel.maxTokensSpin()->setValue(7);
    panel.seedSpin()->setValue(42);
    panel.generateButton()->click();
    QCOMPARE(requests.count(), 1);
    QCOMPARE(requests.front().at(0).toString(), QString("User: can you carry this box?\nAssistant:"));
    QCOMPARE(requests.front().at(1).toInt(), 7);
    QCOMPARE(requests.front().at(3).toULongLong(), 42ull);
    QVERIFY(!panel.generateButton()->isEnabled());  // one request at a time
    panel.setRunState(false, false);                // the run ended: the request is dropped
    panel.setRunState(true, true);
    QVERIFY(panel.generateButton()->isEnabled());

    // Reference-free result: rewards are n/a.
    PlaygroundResult r;
    r.beta = 0.1;
    r.policy.generated = true;
    r.policy.text = "hi";
    r.policy.logp_policy = -3;
    panel.showResult(r);
    QCOMPARE(panel.answerText(0), QString("hi"));
    QVERIFY(panel.rewardLabel(0)->text().contains("n/a"));
    QVERIFY(panel.rewardLabel(1)->text().contains("n/a"));
    QVERIFY(panel.answerText(1).contains("reference-free"));
  }

  void streamsBothAnswersAndShowsTheirRewards() {
    MainWindow w;
    auto c = w.runConfig();
    c.run.trainer.max_steps = 1000;
    c.run.trainer.eval_every = 0;
    c.pause_after = 2;
    w.setRunConfig(c);
    w.setInteractiveErrors(false);
    w.show();
    PlaygroundPanel* panel = w.playground();
    QVERIFY(panel != nullptr);
    QCOMPARE(w.tabs()->tabText(w.tabs()->count() - 1), QString("Playground"));
    QCOMPARE(w.tabs()->widget(w.tabs()->count() - 1), static_cast<QWidget*>(panel));
    QVERIFY(!panel->generateButton()->isEnabled());  // idle

    w.startTraining();
    QTRY_VERIFY_WITH_TIMEOUT(w.run()->stepsDone() >= 1, kTimeoutMs);
    if (w.run()->state() == RunState::Running) QVERIFY(!panel->generateButton()->isEnabled());
    QTRY_COMPARE_WITH_TIMEOUT(w.run()->state(), RunState::Paused, kTimeoutMs);
    QCOMPARE(w.run()->stepsDone(), qint64{2});
    QVERIFY(panel->generateButton()->isEnabled());
    QVERIFY(panel->hintLabel()->isHidden());
    w.tabs()->setCurrentWidget(panel);

    // Record the order of arrivals: pieces per source, and whether the result came before them.
    QString streamed[2];
    int pieces[2] = {0, 0};
    int pieces_after_result = 0;
    std::optional<PlaygroundResult> result;
    connect(panel, &PlaygroundPanel::tokenAppended, this, [&](int source, const QString& piece) {
      QVERIFY(source == 0 || source == 1);
      if (result) ++pieces_after_result;
      streamed[source] += piece;
      ++pieces[source];
    });
    connect(panel, &PlaygroundPanel::resultShown, this, [&](const PlaygroundResult& r) { result = r; });

    panel->setPrompt("Question: what is 7 + 7?\nAnswer:");
    panel->maxTokensSpin()->setValue(16);
    panel->temperatureSpin()->setValue(0.0);
    panel->seedSpin()->setValue(3);
    panel->generateButton()->click();
    QVERIFY(panel->busy());
    QTRY_VERIFY_WITH_TIMEOUT(result.has_value(), kTimeoutMs);
    QVERIFY2(result->error.isEmpty(), qPrintable(result->error));
    QVERIFY(!panel->busy());
    QCOMPARE(pieces_after_result, 0);

    // Streamed: several pieces per model before the result, and the views show exactly them.
    QVERIFY2(pieces[0] > 1, qPrintable(QString::number(pieces[0])));
    QVERIFY2(pieces[1] > 1, qPrintable(QString::number(pieces[1])));
    QCOMPARE(panel->answerText(0), streamed[0]);
    QCOMPARE(panel->answerText(1), streamed[1]);
    QCOMPARE(result->policy.text, streamed[0]);
    QCOMPARE(result->reference.text, streamed[1]);
    QVERIFY2(streamed[0].contains("14"), qPrintable(streamed[0]));  // the SFT'd demo model can add
    QCOMPARE(result->prompt, QString("Question: what is 7 + 7?\nAnswer:"));
    QVERIFY(result->prompt_tokens > 5);
    QCOMPARE(result->step, int64_t{2});
    QVERIFY(result->has_reference);
    QCOMPARE(result->beta, 0.1);

    // Scores: finite log-probs, and the reward shown is β·(log π − log π_ref) of each answer.
    for (int source : {0, 1}) {
      const auto& a = result->answer(source);
      QVERIFY(a.generated);
      QVERIFY(a.tokens > 1 && a.tokens <= 16);
      QVERIFY(std::isfinite(a.logp_policy) && a.logp_policy < 0);
      QVERIFY(std::isfinite(a.logp_reference) && a.logp_reference < 0);
      const double expected = result->beta * (a.logp_policy - a.logp_reference);
      QVERIFY(std::abs(a.reward - expected) < 1e-12);
      QVERIFY2(panel->rewardLabel(source)->text().endsWith("= " + QString::number(expected, 'f', 4)),
               qPrintable(panel->rewardLabel(source)->text()));
      QVERIFY(panel->logpLabel(source)->text().contains(QString::number(a.logp_policy, 'f', 4)));
      QVERIFY(panel->refLogpLabel(source)->text().contains(QString::number(a.logp_reference, 'f', 4)));
    }
    if (qEnvironmentVariableIsSet("DPO_PLAYGROUND_SHOT"))
      w.grab().save(qEnvironmentVariable("DPO_PLAYGROUND_SHOT"));
    QCOMPARE(w.run()->stepsDone(), qint64{2});  // served while paused: no step ran
    QCOMPARE(w.run()->state(), RunState::Paused);

    // Resume: Generate is off again while training runs.
    w.togglePause();
    QTRY_COMPARE_WITH_TIMEOUT(w.run()->state(), RunState::Running, kTimeoutMs);
    QVERIFY(!panel->generateButton()->isEnabled());
    QVERIFY(!panel->hintLabel()->isHidden());
    w.run()->stop();
    QTRY_VERIFY_WITH_TIMEOUT(!w.run()->isTraining(), 60'000);
    QCOMPARE(w.run()->state(), RunState::Idle);

    // Stopped: the run's worker keeps its models, so the Playground still answers, from the model
    // as the run left it.
    QTRY_VERIFY_WITH_TIMEOUT(panel->generateButton()->isEnabled(), kTimeoutMs);
    const qint64 stopped_at = w.run()->stepsDone();
    result.reset();
    panel->generateButton()->click();
    QTRY_VERIFY_WITH_TIMEOUT(result.has_value(), kTimeoutMs);
    QVERIFY2(result->error.isEmpty(), qPrintable(result->error));
    QCOMPARE(result->step, stopped_at);
    const auto after_stop = *result;

    // Reopened in another window from its folder: the final model (and the demo model as its
    // reference) are loaded on the first Generate and give the same greedy answers and scores.
    const QString dir = w.currentRunDir();
    QVERIFY(QFileInfo::exists(dir + "/final/config.json"));
    MainWindow reopened;
    reopened.setInteractiveErrors(false);
    QVERIFY(reopened.viewRun(dir));
    PlaygroundPanel* panel2 = reopened.playground();
    QVERIFY(panel2->generateButton()->isEnabled());
    QVERIFY2(panel2->hintLabel()->text().contains("loads this run's final model"),
             qPrintable(panel2->hintLabel()->text()));
    std::optional<PlaygroundResult> reopened_result;
    connect(panel2, &PlaygroundPanel::resultShown, this,
            [&](const PlaygroundResult& r) { reopened_result = r; });
    panel2->setPrompt("Question: what is 7 + 7?\nAnswer:");
    panel2->maxTokensSpin()->setValue(16);
    panel2->temperatureSpin()->setValue(0.0);
    panel2->seedSpin()->setValue(3);
    panel2->generateButton()->click();
    QTRY_VERIFY_WITH_TIMEOUT(reopened_result.has_value(), kTimeoutMs);
    QVERIFY2(reopened_result->error.isEmpty(), qPrintable(reopened_result->error));
    QCOMPARE(reopened_result->policy.text, after_stop.policy.text);
    QCOMPARE(reopened_result->reference.text, after_stop.reference.text);
    QVERIFY(std::abs(reopened_result->policy.logp_policy - after_stop.policy.logp_policy) < 1e-3);
    QVERIFY(std::abs(reopened_result->policy.logp_reference - after_stop.policy.logp_reference) < 1e-3);
  }
};

QTEST_MAIN(PlaygroundTest)
#include "test_playground.moc"
