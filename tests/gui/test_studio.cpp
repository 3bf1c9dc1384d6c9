// GUI tests of the studio on the offscreen platform (ctest sets QT_QPA_PLATFORM=offscreen).
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QFrame>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSet>
#include <QSignalSpy>
#include <QSlider>
#include <QStandardItemModel>
#include <QTemporaryDir>
#include <QToolTip>
#include <QtTest>

#include <algorithm>
#include <climits>
#include <cmath>
#include <deque>
#include <limits>
#include <optional>

#include "app/studio/diagnostics_feed.h"
#include "app/studio/main_window.h"
#include "app/studio/run_panel.h"
#include "app/studio/runs_browser.h"
#include "app/studio/settings_panel.h"
#include "app/studio/status_bar.h"
#include "app/studio/training_plots.h"
#include "core/runtime/runtime.h"
#include "widgets/beta_explorer_view.h"
#include "widgets/diagnostics_panel.h"
#include "widgets/metric_plot.h"
#include "widgets/pair_inspector.h"
#include "widgets/quadrant_scatter.h"
#include "widgets/smoothing.h"
#include "widgets/token_heatmap.h"

#include <QListWidget>
#include <QTableView>

using dpo::PairRecord;
using dpo::PairTokenScores;
using dpo::PreferenceEval;
using dpo::StepMetrics;
using dpo::TokenScore;
using dpo::studio::MainWindow;
using dpo::studio::RunController;
using dpo::studio::RunState;
using dpo::widgets::DiagnosticItem;
using dpo::widgets::DiagnosticsPanel;
using dpo::widgets::MetricPlot;
using dpo::widgets::PairFilter;
using dpo::widgets::PairInspector;

namespace {
// Generous: a demo step takes well under a second here, but CI machines are shared.
constexpr int kStepTimeoutMs = 120'000;

int fewestPoints(const MainWindow& w) {
  int fewest = INT_MAX;
  for (auto* plot : w.plots()->plots())
    for (int s = 0; s < plot->seriesCount(); ++s)
      if (!plot->isPointSeries(s)) fewest = std::min(fewest, plot->pointCount(s));
  return fewest;
}

PairRecord pair(qint64 step, qint64 line, double a, double b, double beta = 0.1, int64_t len_w = 10,
                int64_t len_l = 10) {
  PairRecord p;
  p.step = step;
  p.line = line;
  p.logratio_chosen = a;
  p.logratio_rejected = b;
  p.reward_chosen = beta * a;
  p.reward_rejected = beta * b;
  p.margin = beta * (a - b);
  p.misranked = !(p.margin > 0);
  p.gradient_weight = 1.0 / (1.0 + std::exp(p.margin));  // σ(r_l − r_w)
  p.length_chosen = len_w;
  p.length_rejected = len_l;
  return p;
}

PreferenceEval evalOf(qint64 step, std::vector<PairRecord> pairs) {
  PreferenceEval e;
  e.step = step;
  e.beta = 0.1;
  e.pairs = std::move(pairs);
  for (const auto& p : e.pairs) e.accuracy += p.misranked ? 0.0 : 1.0 / e.pairs.size();
  return e;
}

// Lines 10..15 at two evaluations (β = 0.1). Statuses at step 20 against step 10:
//   10 right → right, 11 right → mis-ranked (became), 12 mis-ranked → right (flipped),
//   13 mis-ranked → mis-ranked, 14 right → right with the largest |margin|, 15 mis-ranked → mis-ranked.
std::pair<PreferenceEval, PreferenceEval> handMadeEvals() {
  PreferenceEval before =
      evalOf(10, {pair(10, 10, 0.5, 0.1), pair(10, 11, 0.3, 0.0), pair(10, 12, -0.2, 0.4),
                  pair(10, 13, -1.0, 0.5), pair(10, 14, 2.0, 0.0), pair(10, 15, 0.0, 0.2)});
  PreferenceEval now =
      evalOf(20, {pair(20, 10, 0.6, 0.1, 0.1, 30, 10), pair(20, 11, -0.4, 0.3, 0.1, 5, 12),
                  pair(20, 12, 0.9, -0.3, 0.1, 8, 8), pair(20, 13, -1.5, 0.5, 0.1, 20, 4),
                  pair(20, 14, 6.0, -3.0, 0.1, 9, 11), pair(20, 15, -0.1, 0.0, 0.1, 10, 10)});
  return {before, now};
}

// A response token: the text it adds, the tokenizer's piece, log π and log π_ref.
TokenScore tok(const char* text, const char* piece, double policy_logp, double reference_logp) {
  TokenScore t;
  t.text = text;
  t.piece = piece;
  t.policy_logp = policy_logp;
  t.reference_logp = reference_logp;
  return t;
}

QList<qint64> sorted(QList<qint64> v) {
  std::sort(v.begin(), v.end());
  return v;
}

void configure(MainWindow& w, qint64 steps, const QString& data = {}) {
  auto c = w.runConfig();
  c.run.trainer.max_steps = steps;
  c.run.data_path = data.toStdString();
  w.setRunConfig(c);
  w.setInteractiveErrors(false);
}
}  // namespace

class StudioTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { dpo::configure_threads(std::nullopt); }

  void settingsPanel() {
    MainWindow w;
    auto* beta = w.settings()->betaSpin();
    QVERIFY(beta);
    QCOMPARE(beta->minimum(), 0.001);
    QCOMPARE(beta->maximum(), 10.0);
    QCOMPARE(beta->value(), 0.1);
    QVERIFY(beta->toolTip().contains("0.01 – 0.5"));
    auto* data = w.findChild<QLineEdit*>("dataEdit");
    QVERIFY(data && data->placeholderText().startsWith("embedded demo"));

    auto* loss = w.findChild<QComboBox*>("lossCombo");
    QVERIFY(loss);
    QCOMPARE(loss->currentText(), QString("sigmoid (DPO)"));
    auto* model = qobject_cast<QStandardItemModel*>(loss->model());
    QVERIFY(model);
    // Every loss of the table once, each selectable (23 in core/types/loss_config.h's LossType).
    QCOMPARE(loss->count(), 23);
    QSet<QString> names;
    for (int i = 0; i < loss->count(); ++i) {
      QVERIFY2(model->item(i)->isEnabled(), qPrintable(loss->itemText(i)));
      QVERIFY2(!loss->itemText(i).contains("coming"), qPrintable(loss->itemText(i)));
      names.insert(loss->itemData(i).toString());
    }
    QCOMPARE(names.size(), 23);
    for (const char* name :
         {"ipo", "hinge", "robust", "simpo", "orpo", "kto", "aot", "fdpo_js", "sigmoid_norm"})
      QVERIFY2(names.contains(name), name);
    QCOMPARE(w.plots()->plots().size(), 5);  // margin, log-ratios, loss, length, optimiser (its own tab)
    QCOMPARE(w.plots()->optimiserPlot()->seriesCount(), 2);
  }

  void debiasedEmaMatchesHandComputedValues() {
    using dpo::widgets::debiased_ema;
    // w = 0.5 on {1, 2, 3}: s = 0.5, 1.25, 2.125; debiased by 1 − 0.5^t = 0.5, 0.75, 0.875.
    const auto a = debiased_ema({1, 2, 3}, 0.5);
    QCOMPARE(a.size(), size_t{3});
    QCOMPARE(a[0], 1.0);
    QVERIFY(std::abs(a[1] - 1.25 / 0.75) < 1e-15);
    QVERIFY(std::abs(a[2] - 2.125 / 0.875) < 1e-15);
    // w = 0.6 on {2, 4}: s = 0.8, 0.6·0.8 + 0.4·4 = 2.08; debiased 0.8/0.4 = 2, 2.08/0.64 = 3.25.
    const auto b = debiased_ema({2, 4}, 0.6);
    QVERIFY(std::abs(b[0] - 2.0) < 1e-12);
    QVERIFY(std::abs(b[1] - 3.25) < 1e-12);
    // w = 0 is the raw series; a NaN is a gap that leaves the average alone: after {1, NaN, 3}
    // with w = 0.5 the state is 0.5·0.5 + 0.5·3 = 1.75 over 1 − 0.25.
    QCOMPARE(debiased_ema({1, -2, 7}, 0.0), (std::vector<double>{1, -2, 7}));
    const auto c = debiased_ema({1, std::numeric_limits<double>::quiet_NaN(), 3}, 0.5);
    QVERIFY(std::isnan(c[1]));
    QVERIFY(std::abs(c[2] - 1.75 / 0.75) < 1e-15);

    MetricPlot plot;
    const int s = plot.addSeries("loss", Qt::red);
    plot.setSmoothing(0.5);
    for (int i = 1; i <= 3; ++i) plot.addPoint(s, i, i);
    plot.flush();
    const QVector<double> drawn = plot.smoothedValues(s);
    QCOMPARE(drawn.size(), 3);
    for (int i = 0; i < 3; ++i) QVERIFY(std::abs(drawn[i] - a[static_cast<size_t>(i)]) < 1e-15);
    plot.setSmoothing(0.0);  // raw only
    QVERIFY(plot.smoothedValues(s).isEmpty());
  }

  void hoverTextAndCsvExport() {
    MetricPlot plot;
    plot.setAxisLabels("step", "loss");
    const int loss = plot.addSeries("loss", Qt::red);
    const int acc = plot.addSeries("accuracy", Qt::gray);
    plot.setSeriesSmoothed(acc, false);
    plot.setSmoothing(0.5);
    const double values[] = {0.7, 0.6, 0.5};
    for (int i = 0; i < 3; ++i) plot.addPoint(loss, i + 1, values[i]);
    plot.addPoint(acc, 1, 0.25);
    plot.addPoint(acc, 3, 0.75);
    plot.flush();
    // Smoothed at step 2: (0.5·0.35 + 0.5·0.6) / 0.75 = 0.475 / 0.75 = 0.6333…
    QCOMPARE(plot.valuesText(2.2), QString("step 2\nloss: 0.6 (smoothed 0.633333)"));
    QCOMPARE(plot.valuesText(2.9), QString("step 3\nloss: 0.5 (smoothed 0.557143)\naccuracy: 0.75"));

    QTemporaryDir dir;
    const QString path = dir.filePath("loss.csv");
    QVERIFY(plot.saveCsv(path));
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly | QIODevice::Text));
    // Step 3 smoothed: (0.5·0.475 + 0.5·0.5) / 0.875 = 0.4875 / 0.875 = 0.557142857143
    QCOMPARE(QString::fromUtf8(file.readAll()), QString("step,loss,loss (smoothed),accuracy\n"
                                                        "1,0.7,0.7,0.25\n"
                                                        "2,0.6,0.633333333333,\n"
                                                        "3,0.5,0.557142857143,0.75\n"));

    // A real hover over the plot area shows the same text as a tooltip.
    plot.resize(640, 420);
    plot.show();
    QVERIFY(QTest::qWaitForWindowExposed(&plot));
    QWidget* canvas = nullptr;
    for (auto* child : plot.findChildren<QWidget*>())
      if (QByteArray(child->metaObject()->className()) == "QCustomPlot") canvas = child;
    QVERIFY(canvas);
    plot.flush();
    QTest::mouseMove(canvas, QPoint(canvas->width() / 2, canvas->height() / 3));
    QTRY_VERIFY(QToolTip::isVisible());
    QVERIFY2(QToolTip::text().startsWith("step "), qPrintable(QToolTip::text()));
    QVERIFY2(QToolTip::text().contains("loss: "), qPrintable(QToolTip::text()));

    QVERIFY(!plot.logScale());
    plot.setLogScale(true);
    QVERIFY(plot.logScale());
    QCOMPARE(plot.drawnPointCount(loss), 3);
    plot.setLogScale(false);
    QVERIFY(!plot.logScale());
  }

  void smoothingSliderDrivesEveryPlot() {
    MainWindow w;
    QSlider* slider = w.plots()->smoothingSlider();
    QVERIFY(slider);
    for (auto* plot : w.plots()->plots()) QCOMPARE(plot->smoothing(), slider->value() / 100.0);
    slider->setValue(0);
    for (auto* plot : w.plots()->plots()) QCOMPARE(plot->smoothing(), 0.0);
    slider->setValue(85);
    for (auto* plot : w.plots()->plots()) QCOMPARE(plot->smoothing(), 0.85);
  }

  void diagnosticsPanelStates() {
    DiagnosticsPanel panel;
    QVERIFY(panel.summary().contains("once training starts"));
    panel.setItems({}, 40);
    QCOMPARE(panel.summary(), QString("✓ All clear so far: no warning sign in 40 steps."));
    QCOMPARE(panel.findChildren<QFrame*>("diagnosticCard").size(), 0);

    DiagnosticItem error{DiagnosticItem::Severity::Error,
                         "non_finite",
                         "Non-finite values",
                         "at step 7: loss = nan",
                         "diverged",
                         "lower the learning rate",
                         "NaN means an overflow.\n\nLower the learning rate.",
                         7};
    DiagnosticItem warning{DiagnosticItem::Severity::Warning,
                           "beta_too_high",
                           "Margin stuck",
                           "margin 0.002",
                           "not learning",
                           "lower β",
                           "The margin is the gap.\n\nA large β holds the policy <back>.",
                           40};
    panel.setItems({error, warning}, 40);
    QCOMPARE(panel.itemCount(), 2);
    QCOMPARE(panel.summary(), QString("2 findings after 40 steps:"));
    const auto cards = panel.findChildren<QFrame*>("diagnosticCard");
    QCOMPARE(cards.size(), 2);
    QStringList ids;
    for (auto* card : cards) ids << card->property("findingId").toString();
    ids.sort();
    QCOMPARE(ids, (QStringList{"beta_too_high", "non_finite"}));
    bool evidence_shown = false;
    for (auto* body : panel.findChildren<QLabel*>("findingBody"))
      evidence_shown =
          evidence_shown || (body->text().contains("margin 0.002") && body->text().contains("lower β"));
    QVERIFY(evidence_shown);
    // Each card links to its explanation, folded until asked for; the text is plain, in paragraphs.
    panel.show();
    QCOMPARE(panel.findChildren<QLabel*>("findingExplain").size(), 2);
    QLabel* link = nullptr;
    QLabel* explanation = nullptr;
    for (auto* card : cards)
      if (card->property("findingId") == "beta_too_high") {
        link = card->findChild<QLabel*>("findingExplain");
        explanation = card->findChild<QLabel*>("findingExplanation");
      }
    QVERIFY(link && explanation);
    QVERIFY(link->text().contains("What does this mean?"));
    QVERIFY(explanation->isHidden());
    Q_EMIT link->linkActivated("explain");
    QVERIFY(!explanation->isHidden());
    QVERIFY(panel.explanationShown("beta_too_high"));
    QVERIFY(!panel.explanationShown("non_finite"));
    QCOMPARE(explanation->text(),
             QString("<p>The margin is the gap.</p><p>A large β holds the policy &lt;back&gt;.</p>"));
    QVERIFY(link->text().contains("Hide the explanation"));
    for (auto* label : panel.findChildren<QLabel*>())
      QVERIFY2(!label->text().contains("seed 002"), qPrintable(label->text()));
    // The same findings a second later: no rebuild (no flicker, scroll position kept).
    const int rebuilds = panel.rebuildCount();
    panel.setItems({error, warning}, 41);
    QCOMPARE(panel.rebuildCount(), rebuilds);
    QCOMPARE(panel.summary(), QString("2 findings after 41 steps:"));
    DiagnosticItem note{
        DiagnosticItem::Severity::Info, "length_bias_in_data", "Chosen longer", "1.27×", "", "", "", 0};
    panel.setItems({note}, 40);
    QCOMPARE(panel.summary(), QString("No problem in 40 steps; 1 note:"));
    QCOMPARE(panel.findChildren<QLabel*>("findingExplain").size(), 0);  // nothing to explain: no link
    // A rebuilt card keeps its explanation open.
    panel.setItems({warning}, 42);
    QCOMPARE(panel.findChildren<QLabel*>("findingExplanation").size(), 1);
    QVERIFY(!panel.findChildren<QLabel*>("findingExplanation")[0]->isHidden());
    panel.clear();
    QCOMPARE(panel.itemCount(), 0);
  }

  void recordsBecomeDiagnosticItems() {
    // 120 steps where the policy stays at the reference (β = 2): the core's β-too-high rule.
    std::deque<StepMetrics> records;
    for (int i = 1; i <= 120; ++i) {
      StepMetrics r;
      r.step = i;
      r.beta = 2.0;
      r.rewards_margins = i % 2 ? 0.001 : 0.003;
      r.loss = i % 2 ? 0.6925 : 0.6915;
      r.rewards_accuracies = 0.5;
      r.logps_chosen = -50;
      r.logps_rejected = -55;
      r.length_chosen = 30;
      r.length_rejected = 29;
      records.push_back(r);
    }
    auto items = dpo::studio::diagnoseRecords(records, 2.0);
    QCOMPARE(items.size(), 1);
    QCOMPARE(items[0].id, QString("beta_too_high"));
    QCOMPARE(items[0].severity, DiagnosticItem::Severity::Warning);
    QVERIFY2(items[0].evidence.startsWith("after 120 steps, margin 0.002 and loss 0.692 ≈ ln 2"),
             qPrintable(items[0].evidence));
    QVERIFY2(items[0].explanation.contains("ln 2"), qPrintable(items[0].explanation));
    QCOMPARE(items[0].step, 120);

    records[9].loss = std::numeric_limits<double>::quiet_NaN();
    items = dpo::studio::diagnoseRecords(records, 2.0);
    QCOMPARE(items.size(), 2);
    QCOMPARE(items[0].severity, DiagnosticItem::Severity::Error);  // errors first
    QCOMPARE(items[0].step, 10);
  }

  void coalescingTimerLimitsReplots() {
    MetricPlot plot;
    const int a = plot.addSeries("a", Qt::blue);
    const int b = plot.addSeries("b", Qt::red);
    plot.setSmoothing(0.6);
    plot.setReferenceLine(0.0);
    plot.resize(640, 420);
    plot.show();
    QTest::qWait(150);  // let the first show/resize replots settle
    const int before = plot.replotCount();

    for (int i = 0; i < 1000; ++i) {
      plot.addPoint(a, i, std::sin(i * 0.01));
      plot.addPoint(b, i, std::cos(i * 0.01));
    }
    QCOMPARE(plot.pointCount(a), 1000);
    QCOMPARE(plot.replotCount(), before);  // addPoint never draws
    QTest::qWait(200);
    const int burst_replots = plot.replotCount() - before;
    qInfo("1000-point burst: %d replot(s)", burst_replots);
    QVERIFY2(burst_replots >= 1 && burst_replots <= 8, qPrintable(QString::number(burst_replots)));
    QCOMPARE(plot.drawnPointCount(a), 1000);
    QCOMPARE(plot.drawnPointCount(b), 1000);

    // A steady trickle (one point per 5 ms) still redraws at most once per 40 ms tick.
    const int before_trickle = plot.replotCount();
    QElapsedTimer clock;
    clock.start();
    int added = 0;
    while (clock.elapsed() < 400) {
      plot.addPoint(a, 1000 + added, 0.5);
      ++added;
      QTest::qWait(5);
    }
    QTest::qWait(100);
    const int trickle_replots = plot.replotCount() - before_trickle;
    const int allowed = static_cast<int>(clock.elapsed() / 40) + 2;
    qInfo("%d points over %lld ms: %d replots", added, static_cast<long long>(clock.elapsed()),
          trickle_replots);
    QVERIFY2(
        trickle_replots <= allowed,
        qPrintable(
            QString("%1 replots for %2 points, allowed %3").arg(trickle_replots).arg(added).arg(allowed)));
    QCOMPARE(plot.drawnPointCount(a), 1000 + added);

    plot.clear();
    QCOMPARE(plot.pointCount(a), 0);
  }

  void startPauseResumeStop() {
    MainWindow w;
    configure(w, 100'000);  // never finishes on its own during the test
    w.show();
    QCOMPARE(w.run()->state(), RunState::Idle);
    QVERIFY(w.controls()->startButton()->isEnabled());
    QVERIFY(!w.controls()->pauseButton()->isEnabled());
    QVERIFY(!w.controls()->stopButton()->isEnabled());

    QTest::mouseClick(w.controls()->startButton(), Qt::LeftButton);
    QVERIFY(w.run()->isTraining());
    QVERIFY(!w.controls()->startButton()->isEnabled());
    QVERIFY(w.controls()->stopButton()->isEnabled());
    QTRY_VERIFY_WITH_TIMEOUT(fewestPoints(w) >= 5, kStepTimeoutMs);
    QVERIFY2(w.lastError().isEmpty(), qPrintable(w.lastError()));
    QCOMPARE(w.run()->state(), RunState::Running);
    // The optimiser tab draws the records' own grad norms (hover text of step 1).
    w.plots()->flush();
    QVERIFY2(w.plots()->optimiserPlot()->valuesText(1).contains(
                 QString::number(w.run()->records().front().grad_norm, 'g', 4).left(4)),
             qPrintable(w.plots()->optimiserPlot()->valuesText(1)));

    // Diagnostics follow the run, at most about once a second however fast steps arrive.
    const int diagnoses_at_start = w.diagnostics()->count();
    QTRY_VERIFY_WITH_TIMEOUT(w.diagnostics()->count() > diagnoses_at_start, kStepTimeoutMs);
    QVERIFY2(w.diagnosticsPanel()->summary().contains("steps"), qPrintable(w.diagnosticsPanel()->summary()));
    const int diagnoses_before = w.diagnostics()->count();
    const qint64 steps_before = w.run()->stepsDone();
    QElapsedTimer diagnose_clock;
    diagnose_clock.start();
    QTest::qWait(2500);
    const int diagnoses = w.diagnostics()->count() - diagnoses_before;
    qInfo("%lld steps in %lld ms: %d diagnoses", static_cast<long long>(w.run()->stepsDone() - steps_before),
          static_cast<long long>(diagnose_clock.elapsed()), diagnoses);
    QVERIFY(diagnoses <= diagnose_clock.elapsed() / 1000 + 1);

    // Pause: takes effect after the step in progress, then nothing more arrives.
    QVERIFY(w.controls()->pauseButton()->isEnabled());
    QTest::mouseClick(w.controls()->pauseButton(), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(w.run()->state(), RunState::Paused, kStepTimeoutMs);
    QCOMPARE(w.controls()->pauseButton()->text(), QString("Resume"));
    const qint64 paused_at = w.run()->stepsDone();
    const int points_at_pause = fewestPoints(w);
    QTest::qWait(600);
    QCOMPARE(w.run()->stepsDone(), paused_at);
    QCOMPARE(fewestPoints(w), points_at_pause);

    // Resume: steps flow again.
    QTest::mouseClick(w.controls()->pauseButton(), Qt::LeftButton);
    QCOMPARE(w.run()->state(), RunState::Running);
    QTRY_VERIFY_WITH_TIMEOUT(w.run()->stepsDone() >= paused_at + 2, kStepTimeoutMs);
    QVERIFY(fewestPoints(w) > points_at_pause);

    // Stop: the worker thread ends within a step and the window is ready for another run.
    QSignalSpy finished(w.run(), &RunController::runFinished);
    QElapsedTimer clock;
    clock.start();
    QTest::mouseClick(w.controls()->stopButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(!w.run()->isTraining(), 15'000);
    qInfo("stop took %lld ms", static_cast<long long>(clock.elapsed()));
    QCOMPARE(finished.count(), 1);
    QCOMPARE(finished.at(0).at(1).toBool(), true);   // stopped
    QCOMPARE(finished.at(0).at(2).toBool(), false);  // not failed
    QCOMPARE(w.run()->state(), RunState::Idle);
    QVERIFY(w.controls()->startButton()->isEnabled());
    QVERIFY(!w.controls()->stopButton()->isEnabled());

    // Every step arrived once and in order, and each plot holds one point per step.
    const auto& records = w.run()->records();
    QVERIFY(!records.empty());
    for (size_t i = 0; i < records.size(); ++i) QCOMPARE(records[i].step, static_cast<qint64>(i + 1));
    QCOMPARE(fewestPoints(w), static_cast<int>(records.size()));
    QCOMPARE(w.plots()->rewardMarginPlot()->drawnPointCount(0), static_cast<int>(records.size()));
  }

  void stopWhilePaused() {
    MainWindow w;
    configure(w, 100'000);
    w.startTraining();
    QTRY_VERIFY_WITH_TIMEOUT(w.run()->stepsDone() >= 1, kStepTimeoutMs);
    w.togglePause();
    QTRY_COMPARE_WITH_TIMEOUT(w.run()->state(), RunState::Paused, kStepTimeoutMs);
    QSignalSpy finished(w.run(), &RunController::runFinished);
    w.run()->stop();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 5'000);  // no step runs: the wait is woken
    QVERIFY(!w.run()->isTraining());
    QCOMPARE(w.run()->state(), RunState::Idle);
  }

  void runToTheEnd() {
    MainWindow w;
    configure(w, 3);
    QSignalSpy finished(w.run(), &RunController::runFinished);
    w.startTraining();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kStepTimeoutMs);
    QCOMPARE(finished.at(0).at(0).toLongLong(), 3);
    QCOMPARE(finished.at(0).at(1).toBool(), false);
    QCOMPARE(w.run()->stepsDone(), 3);
    QCOMPARE(w.plots()->lossPlot()->drawnPointCount(0), 3);
    QVERIFY(!w.run()->isTraining());
    // The finished run has been diagnosed: the panel holds exactly what the core says about it.
    const auto expected = dpo::studio::diagnoseRecords(w.run()->records(),
                                                       w.runConfig().run.trainer.loss.beta, w.run()->evals());
    QCOMPARE(w.diagnosticsPanel()->items(), expected);
    QVERIFY2(w.diagnosticsPanel()->summary().contains("3 steps"),
             qPrintable(w.diagnosticsPanel()->summary()));
    auto* footnote = w.diagnosticsPanel()->findChild<QLabel*>("diagnosticsFootnote");
    QVERIFY(footnote);
    QCOMPARE(footnote->text(), QString("The trend checks start after 20 steps (3 so far)."));

    // One evaluation at the end, and the final policy's token scores stay inspectable after the run.
    QCOMPARE(w.run()->evals().size(), size_t{1});
    QCOMPARE(w.run()->evals().back().step, 3);
    const PairRecord target = w.run()->evals().back().pairs.back();
    w.pairInspector()->selectPair(target.line);
    double a = 0, b = 0;
    for (const auto& t : w.pairInspector()->chosenHeatmap()->tokens()) a += t.logratio();
    for (const auto& t : w.pairInspector()->rejectedHeatmap()->tokens()) b += t.logratio();
    QVERIFY(!w.pairInspector()->chosenHeatmap()->tokens().empty());
    QVERIFY2(std::abs(a - target.logratio_chosen) < 2e-3,
             qPrintable(QString("%1 vs %2").arg(a).arg(target.logratio_chosen)));
    QVERIFY2(std::abs(b - target.logratio_rejected) < 2e-3,
             qPrintable(QString("%1 vs %2").arg(b).arg(target.logratio_rejected)));
  }

  // A missing file is named above Start, which stays disabled; a file the core rejects fails the
  // run with the core's file:line message.
  void missingDataFileIsReported() {
    MainWindow w;
    configure(w, 10, "/nonexistent/dpo-studio-test/pairs.jsonl");
    QVERIFY(!w.controls()->startButton()->isEnabled());
    QVERIFY(!w.settings()->problemsLabel()->isHidden());
    QVERIFY(
        w.settings()->problemsLabel()->text().contains("/nonexistent/dpo-studio-test/pairs.jsonl not found"));
    QSignalSpy finished(w.run(), &RunController::runFinished);
    w.startTraining();
    QVERIFY(!w.run()->isTraining());

    QTemporaryDir dir;
    const QString bad = dir.filePath("broken.jsonl");
    QFile f(bad);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"}\n{not json\n");
    f.close();
    configure(w, 10, bad);
    // Only the warning that 10 steps end before the first evaluation at 25 remains.
    QCOMPARE(w.settings()->settingsProblems().size(), 1);
    QVERIFY(w.settings()->settingsProblems().front().startsWith("Evaluate every 25 steps"));
    QVERIFY(w.controls()->startButton()->isEnabled());
    w.startTraining();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 30'000);
    QCOMPARE(finished.at(0).at(2).toBool(), true);  // failed
    QVERIFY2(w.lastError().contains("broken.jsonl:2"), qPrintable(w.lastError()));
    QCOMPARE(w.run()->state(), RunState::Idle);
    QVERIFY(w.controls()->startButton()->isEnabled());
    QCOMPARE(fewestPoints(w), 0);
  }

  void closingWhileTrainingJoinsTheWorker() {
    MainWindow w;
    configure(w, 100'000);
    w.show();
    w.startTraining();
    QTRY_VERIFY_WITH_TIMEOUT(w.run()->stepsDone() >= 1, kStepTimeoutMs);
    QElapsedTimer clock;
    clock.start();
    QVERIFY(w.close());
    QVERIFY(!w.run()->isTraining());  // joined synchronously in closeEvent
    QVERIFY(clock.elapsed() < 15'000);
  }

  void evalRecordsFeedTheMarginAndLengthRules() {
    // 30 steps with a margin rising 0.1 per step; evaluations every 5 steps whose sampled length
    // rises with it (20 → 45 tokens) and whose 40 pair margins sit in two clusters (−1 and +3).
    std::deque<StepMetrics> records;
    for (int i = 1; i <= 30; ++i) {
      StepMetrics r;
      r.step = i;
      r.beta = 0.1;
      r.loss = 0.6;
      r.rewards_margins = 0.1 * i;
      r.rewards_accuracies = 0.7;
      r.length_chosen = r.length_rejected = 20;
      records.push_back(r);
    }
    std::vector<PreferenceEval> evals;
    for (int step = 5; step <= 30; step += 5) {
      std::vector<PairRecord> pairs;
      for (int k = 0; k < 40; ++k)
        pairs.push_back(pair(step, k + 1, k < 15 ? -10.0 - 0.1 * (k % 3) : 30.0 + 0.1 * (k % 3), 0.0));
      PreferenceEval e = evalOf(step, pairs);
      e.sampled_length = 20.0 + step * (25.0 / 30.0);
      evals.push_back(e);
    }
    const auto ids = [](const QList<DiagnosticItem>& items) {
      QStringList out;
      for (const auto& i : items) out << i.id;
      return out;
    };
    const auto with = ids(dpo::studio::diagnoseRecords(records, 0.1, evals));
    QVERIFY2(with.contains("bimodal_margins"), qPrintable(with.join(", ")));
    QVERIFY2(with.contains("length_exploitation"), qPrintable(with.join(", ")));
    const auto without = ids(dpo::studio::diagnoseRecords(records, 0.1));
    QVERIFY2(!without.contains("bimodal_margins") && !without.contains("length_exploitation"),
             qPrintable(without.join(", ")));
  }

  void filtersSelectTheRightPairs() {
    const auto [before, now] = handMadeEvals();
    using dpo::widgets::filterPairs;
    QCOMPARE(filterPairs(now.pairs, before.pairs, PairFilter::All), (QList<qint64>{10, 11, 12, 13, 14, 15}));
    QCOMPARE(filterPairs(now.pairs, before.pairs, PairFilter::MisrankedNow), (QList<qint64>{11, 13, 15}));
    QCOMPARE(filterPairs(now.pairs, before.pairs, PairFilter::BecameMisranked), (QList<qint64>{11}));
    // 15 was mis-ranked (margin −0.02) and still is; 12 flipped.
    QCOMPARE(filterPairs(now.pairs, before.pairs, PairFilter::FlippedToCorrect), (QList<qint64>{12}));
    // With fewer pairs than the top-k count every pair is kept; with more, the largest |margin| win.
    QCOMPARE(filterPairs(now.pairs, before.pairs, PairFilter::LargestMargin).size(), 6);
    std::vector<PairRecord> many;
    for (int i = 0; i < 30; ++i) many.push_back(pair(30, 100 + i, 0.01 * i, 0.0));  // |margin| grows with i
    const auto top = filterPairs(many, {}, PairFilter::LargestMargin);
    QCOMPARE(top.size(), dpo::widgets::kLargestMarginCount);
    for (qint64 line : top)
      QVERIFY2(line >= 130 - dpo::widgets::kLargestMarginCount, qPrintable(QString::number(line)));
    // Without an earlier evaluation nothing "became" or "flipped".
    QVERIFY(filterPairs(now.pairs, {}, PairFilter::BecameMisranked).isEmpty());
    QVERIFY(filterPairs(now.pairs, {}, PairFilter::FlippedToCorrect).isEmpty());

    // The inspector's table follows the filter combo.
    PairInspector inspector;
    inspector.addEval(before);
    inspector.addEval(now);
    inspector.setFilter(PairFilter::MisrankedNow);
    QCOMPARE(sorted(inspector.visibleLines()), (QList<qint64>{11, 13, 15}));
    inspector.setFilter(PairFilter::FlippedToCorrect);
    QCOMPARE(inspector.visibleLines(), (QList<qint64>{12}));
    inspector.filterCombo()->setCurrentIndex(
        inspector.filterCombo()->findData(int(PairFilter::BecameMisranked)));
    QCOMPARE(inspector.visibleLines(), (QList<qint64>{11}));
  }

  void inspectorPopulatesFromEvalRecords() {
    const auto [before, now] = handMadeEvals();
    PairInspector inspector;
    inspector.resize(1400, 900);
    inspector.show();
    QSignalSpy requests(&inspector, &PairInspector::pairTokensRequested);
    inspector.setTokensAvailable(true);
    inspector.addEval(before);
    inspector.addEval(now);
    QCOMPARE(inspector.evalCount(), 2);
    QCOMPARE(inspector.table()->model()->rowCount(), 6);
    QCOMPARE(inspector.scatter()->pointCount(), 6);
    int counted = 0;
    for (int c : inspector.histogram()->counts()) counted += c;
    QCOMPARE(counted, 6);
    // Default order: margin ascending, most mis-ranked first. Margins at step 20:
    // 10: 0.05, 11: −0.07, 12: 0.12, 13: −0.2, 14: 0.9, 15: −0.01.
    QCOMPARE(inspector.visibleLines(), (QList<qint64>{13, 11, 15, 10, 12, 14}));
    // By length difference (chosen − rejected), descending: 10: +20, 13: +16, 12: 0, 15: 0, 14: −2, 11: −7.
    inspector.table()->sortByColumn(7, Qt::DescendingOrder);
    const auto by_length = inspector.visibleLines();
    QCOMPARE(by_length.front(), 10);
    QCOMPARE(by_length.at(1), 13);
    QCOMPARE(by_length.back(), 11);
    // By the chosen reward (column 3), ascending: 13 (−0.15), 11 (−0.04), 15 (−0.01), 10, 12, 14.
    inspector.table()->sortByColumn(3, Qt::AscendingOrder);
    QCOMPARE(inspector.visibleLines(), (QList<qint64>{13, 11, 15, 10, 12, 14}));

    // Clicking a row selects the pair: details, history over both evaluations, a token request.
    requests.clear();
    const auto lines = inspector.visibleLines();
    const int row = static_cast<int>(lines.indexOf(11));
    const QRect cell = inspector.table()->visualRect(inspector.table()->model()->index(row, 0));
    QTest::mouseClick(inspector.table()->viewport(), Qt::LeftButton, {}, cell.center());
    QCOMPARE(inspector.selectedLine(), std::optional<qint64>(11));
    QCOMPARE(requests.count(), 1);
    QCOMPARE(requests.at(0).at(0).toLongLong(), 11);
    QVERIFY2(inspector.detailsText().contains("line 11"), qPrintable(inspector.detailsText()));
    QVERIFY2(inspector.detailsText().contains("became mis-ranked"), qPrintable(inspector.detailsText()));
    // σ(r_l − r_w) with margin −0.07: 1 / (1 + e^−0.07) = 0.51749...
    QVERIFY2(inspector.detailsText().contains("0.517"), qPrintable(inspector.detailsText()));
    const auto history = inspector.history(11);
    QCOMPARE(history.size(), 2);
    QCOMPARE(history[0].step, 10);
    QCOMPARE(history[1].margin, 0.1 * (-0.4 - 0.3));
    QCOMPARE(inspector.historyPointCount(), 2);

    // Clicking a point of the scatter selects that pair.
    const auto at = inspector.scatter()->pointPosition(14);
    QVERIFY(at.has_value());
    QTest::mouseClick(inspector.scatter()->canvas(), Qt::LeftButton, {}, *at);
    QCOMPARE(inspector.selectedLine(), std::optional<qint64>(14));
    QCOMPARE(requests.last().at(0).toLongLong(), 14);

    // The answer for the selected pair fills the heatmaps; one for another pair is ignored.
    PairTokenScores stale;
    stale.line = 11;
    stale.chosen = {tok("x", "x", -1.0, -0.5)};
    inspector.setPairTokens(stale);
    QVERIFY(inspector.chosenHeatmap()->tokens().empty());
    PairTokenScores tokens;
    tokens.line = 14;
    tokens.prompt = "Which colour is the sky?";
    tokens.chosen = {tok("Blue", "▁Blue", -1.0, -3.0), tok(".", ".", -0.5, -0.4)};
    tokens.rejected = {tok("Green", "▁Green", -4.0, -1.0)};
    tokens.has_reference = true;
    inspector.setPairTokens(tokens);
    QCOMPARE(inspector.chosenHeatmap()->tokens().size(), 2);
    QCOMPARE(inspector.rejectedHeatmap()->tokens().size(), 1);
    QCOMPARE(inspector.legend()->scale(), 3.0);  // the largest |log-ratio| of the pair
  }

  void heatmapColourSignMatchesLogRatio() {
    using dpo::widgets::logRatioColor;
    // Blue = the policy made the token more likely than π_ref did; red = less likely; white = unchanged.
    for (double v : {0.05, 0.5, 2.0, 10.0}) {
      const QColor up = logRatioColor(v, 2.0), down = logRatioColor(-v, 2.0);
      QVERIFY2(up.blue() > up.red(), qPrintable(up.name()));
      QVERIFY2(down.red() > down.blue(), qPrintable(down.name()));
    }
    QCOMPARE(logRatioColor(0.0, 1.0), QColor(Qt::white));
    QCOMPARE(logRatioColor(5.0, 1.0), logRatioColor(1.0, 1.0));  // saturates at ±scale
    QVERIFY(logRatioColor(0.5, 1.0).lightness() > logRatioColor(1.0, 1.0).lightness());

    dpo::widgets::TokenHeatmap map;
    map.resize(400, 100);
    map.setTokens(
        {tok("up", "▁up", -1.0, -2.5), tok("down", "▁down", -3.0, -1.0), tok("same", "▁same", -2.0, -2.0)},
        1.5);
    map.show();
    const QImage image = map.grab().toImage();
    const QColor drawn[3] = {image.pixelColor(map.tokenRect(0).topLeft() + QPoint(1, 1)),
                             image.pixelColor(map.tokenRect(1).topLeft() + QPoint(1, 1)),
                             image.pixelColor(map.tokenRect(2).topLeft() + QPoint(1, 1))};
    QVERIFY2(drawn[0].blue() > drawn[0].red() + 100, qPrintable(drawn[0].name()));  // +1.5: full blue
    QVERIFY2(drawn[1].red() > drawn[1].blue() + 100, qPrintable(drawn[1].name()));  // −2.0: full red
    QCOMPARE(drawn[2], QColor(Qt::white));
    const QString tip = map.tokenToolTip(1);
    QVERIFY2(tip.contains("-3.0000") && tip.contains("-1.0000") && tip.contains("-2.0000"), qPrintable(tip));
    QCOMPARE(map.tokenAt(map.tokenRect(1).center()), 1);
  }

  void evalPointsAndTokenScoresFromALiveRun() {
    MainWindow w;
    configure(w, 100'000);
    auto c = w.runConfig();
    c.run.trainer.eval_every = 2;
    w.setRunConfig(c);
    w.show();
    w.startTraining();
    QTRY_VERIFY_WITH_TIMEOUT(w.run()->evals().size() >= 1, kStepTimeoutMs);
    QCOMPARE(w.run()->evals().front().step, 2);
    QVERIFY(!w.run()->evals().front().pairs.empty());
    w.togglePause();
    QTRY_COMPARE_WITH_TIMEOUT(w.run()->state(), RunState::Paused, kStepTimeoutMs);
    // Evaluate where it stands, then score one pair's tokens: they must add up to its a and b.
    if (w.run()->evals().back().step !=
        w.run()->stepsDone()) {  // a scheduled eval may have just run at this step
      const size_t evals_before = w.run()->evals().size();
      w.run()->evaluateNow();
      QTRY_COMPARE_WITH_TIMEOUT(w.run()->evals().size(), evals_before + 1, kStepTimeoutMs);
    }
    const auto& latest = w.run()->evals().back();
    QCOMPARE(latest.step, w.run()->stepsDone());
    QCOMPARE(w.pairInspector()->evalCount(), static_cast<int>(w.run()->evals().size()));
    QCOMPARE(w.plots()->rewardMarginPlot()->pointCount(1 + 1),
             static_cast<int>(w.run()->evals().size()));  // eval margin series
    // The β explorer took the same evaluation: at the run's β its accuracy is the eval's.
    auto* explorer = w.findChild<dpo::widgets::BetaExplorerView*>("betaExplorer");
    QVERIFY(explorer && explorer->shownCell());
    QVERIFY(std::abs(explorer->shownCell()->beta - 0.1) < 1e-9);
    QVERIFY(std::abs(explorer->shownCell()->accuracy - latest.accuracy) < 1e-9);
    QVERIFY2(explorer->summaryText().contains("the run's β"), qPrintable(explorer->summaryText()));
    const PairRecord target = latest.pairs.back();
    QSignalSpy shown(&w, &MainWindow::pairTokensShown);
    w.pairInspector()->selectPair(target.line);
    QTRY_VERIFY_WITH_TIMEOUT(!shown.isEmpty(), kStepTimeoutMs);
    double a = 0, b = 0;
    for (const auto& t : w.pairInspector()->chosenHeatmap()->tokens()) a += t.logratio();
    for (const auto& t : w.pairInspector()->rejectedHeatmap()->tokens()) b += t.logratio();
    QVERIFY(!w.pairInspector()->chosenHeatmap()->tokens().empty());
    QVERIFY2(std::abs(a - target.logratio_chosen) < 2e-3,
             qPrintable(QString("%1 vs %2").arg(a).arg(target.logratio_chosen)));
    QVERIFY2(std::abs(b - target.logratio_rejected) < 2e-3,
             qPrintable(QString("%1 vs %2").arg(b).arg(target.logratio_rejected)));
    w.run()->stop();
    QTRY_VERIFY_WITH_TIMEOUT(!w.run()->isTraining(), 15'000);
  }

  void pauseBetaChangeResumeIsLoggedAndApplied() {
    MainWindow w;
    configure(w, 100'000);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    w.activateWindow();
    w.startTraining();
    QCOMPARE(w.settings()->betaSpin()->value(), 0.1);
    QTRY_VERIFY_WITH_TIMEOUT(w.run()->stepsDone() >= 2, kStepTimeoutMs);
    QVERIFY(!w.settings()->betaSpin()->isEnabled());  // only while paused
    QVERIFY(!w.controls()->stepButton()->isEnabled());
    w.togglePause();
    QTRY_COMPARE_WITH_TIMEOUT(w.run()->state(), RunState::Paused, kStepTimeoutMs);
    QVERIFY(w.settings()->betaSpin()->isEnabled());
    QVERIFY(w.settings()->learningRateSpin()->isEnabled());
    QVERIFY(w.controls()->stepButton()->isEnabled());
    const qint64 paused_at = w.run()->stepsDone();
    QCOMPARE(w.run()->records().back().beta, 0.1);

    // Step: exactly one optimiser step, and the run stays paused.
    QTest::mouseClick(w.controls()->stepButton(), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(w.run()->stepsDone(), paused_at + 1, kStepTimeoutMs);
    QTRY_VERIFY_WITH_TIMEOUT(w.controls()->stepButton()->isEnabled(), kStepTimeoutMs);
    QTest::qWait(500);
    QCOMPARE(w.run()->stepsDone(), paused_at + 1);
    QCOMPARE(w.run()->state(), RunState::Paused);

    // β change while paused, then resume: logged once, marked on every plot, carried by the next step.
    w.settings()->betaSpin()->setValue(0.25);
    const size_t records_before = w.run()->records().size();
    QTest::mouseClick(w.controls()->pauseButton(), Qt::LeftButton);  // Resume
    QTRY_VERIFY_WITH_TIMEOUT(w.run()->records().size() > records_before, kStepTimeoutMs);
    QCOMPARE(w.run()->events().size(), 1);
    QCOMPARE(w.run()->events().front().kind, std::string("beta"));
    QCOMPARE(w.run()->events().front().value, 0.25);
    QCOMPARE(w.run()->events().front().step, paused_at + 1);
    // The Run log tells the run's life in order: start, preparation, pause, the change, resume.
    QStringList log;
    for (int i = 0; i < w.eventLog()->count(); ++i) log << w.eventLog()->item(i)->text().mid(10);  // no time
    QCOMPARE(log.filter("β → 0.25").size(), 1);
    const auto line_at = [&](const QString& start) {
      for (int i = 0; i < log.size(); ++i)
        if (log[i].startsWith(start)) return i;
      return -1;
    };
    QVERIFY2(line_at("start: sigmoid, β 0.1,") == 0, qPrintable(log.join("\n")));
    QVERIFY2(line_at("preparing: ") > 0 && line_at("ready: ") > line_at("preparing: "),
             qPrintable(log.join("\n")));
    QVERIFY2(line_at(QStringLiteral("step %1: paused").arg(paused_at)) > line_at("ready: "),
             qPrintable(log.join("\n")));
    QVERIFY2(line_at(QStringLiteral("after step %1: β → 0.25").arg(paused_at + 1)) >
                 line_at(QStringLiteral("step %1: paused").arg(paused_at)),
             qPrintable(log.join("\n")));
    QVERIFY2(line_at(QStringLiteral("step %1: resumed").arg(paused_at + 1)) > 0, qPrintable(log.join("\n")));
    for (auto* plot : w.plots()->plots()) QCOMPARE(plot->markerCount(), 1);
    const auto& next = w.run()->records()[records_before];
    QCOMPARE(next.step, paused_at + 2);
    QCOMPARE(next.beta, 0.25);
    QCOMPARE(w.run()->records()[records_before - 1].beta, 0.1);

    // Keyboard: F6 pauses, F10 steps, F6 resumes, Shift+F5 stops.
    QTest::keyClick(&w, Qt::Key_F6);
    QTRY_COMPARE_WITH_TIMEOUT(w.run()->state(), RunState::Paused, kStepTimeoutMs);
    const qint64 at = w.run()->stepsDone();
    QTest::keyClick(&w, Qt::Key_F10);
    QTRY_COMPARE_WITH_TIMEOUT(w.run()->stepsDone(), at + 1, kStepTimeoutMs);
    QSignalSpy finished(w.run(), &RunController::runFinished);
    QTest::keyClick(&w, Qt::Key_F5, Qt::ShiftModifier);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 15'000);
  }
};

QTEST_MAIN(StudioTest)
#include "test_studio.moc"
