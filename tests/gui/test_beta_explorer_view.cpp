// The β explorer view (issue 14) on hand-made cells: the slider picks the nearest β, the bars are that
// cell's histogram, the line says what is saturated.
#include <qcustomplot.h>
#include <QtTest>

#include "widgets/beta_explorer_view.h"

using dpo::BetaExplorerCell;
using dpo::widgets::BetaExplorerView;

namespace {
BetaExplorerCell cell(double beta, double saturated, std::vector<size_t> counts) {
  BetaExplorerCell c;
  c.beta = beta;
  c.saturated = saturated;
  c.mean_weight = 0.25;
  c.accuracy = 0.75;
  c.lower = 0.0;
  c.upper = 1.0;
  c.histogram = std::move(counts);
  return c;
}
}  // namespace

class TestBetaExplorer : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void slidingPicksTheNearestBeta() {
    BetaExplorerView view;
    QVERIFY(view.shownCell() == nullptr);
    QVERIFY(view.summaryText().contains("needs an evaluation"));
    view.setCells(
        {cell(0.01, 0.0, {0, 4, 0, 0}), cell(0.1, 0.25, {1, 1, 2, 0}), cell(1.0, 0.5, {2, 0, 0, 2})}, 0.1,
        "4 pairs");
    QVERIFY(view.shownCell());
    QCOMPARE(view.shownCell()->beta, 0.1);
    QCOMPARE(
        view.summaryText(),
        QString("β 0.1: 25.0% of the pairs saturated (pulling with under 10% of their weight at the start), "
                "mean weight 0.250, accuracy 75.0% — the run's β"));
    view.setBeta(0.5);  // log-nearest: 1.0 (log 2) rather than 0.1 (log 5)
    QCOMPARE(view.shownCell()->beta, 1.0);
    QVERIFY(!view.summaryText().contains("the run's β"));
    // The bars are that cell's counts at the bin centres of [0, 1].
    auto* bars = qobject_cast<QCPBars*>(view.plot()->plottable(0));
    QVERIFY(bars);
    QCOMPARE(bars->data()->size(), 4);
    QCOMPARE(bars->data()->at(0)->key, 0.125);
    QCOMPARE(bars->data()->at(0)->value, 2.0);
    QCOMPARE(bars->data()->at(3)->value, 2.0);
    QCOMPARE(view.plot()->yAxis->range().upper, 4.0 * 1.1);  // the tallest bar of any β: axes stay put
    view.setBeta(0.002);
    QCOMPARE(view.shownCell()->beta, 0.01);
    view.setMessage("no reference");
    QVERIFY(view.shownCell() == nullptr);
    QCOMPARE(view.summaryText(), QString("no reference"));
  }
};

QTEST_MAIN(TestBetaExplorer)
#include "test_beta_explorer_view.moc"
