// The Rank tab (issue 14): a run's checkpoints ranked from the studio by `dpo rank`, the leaderboard with
// its intervals, the significance matrix, and a click that opens a model's mis-ranked pairs.
#include <QProcess>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include "app/studio/main_window.h"
#include "app/studio/qcustomplot_include.h"
#include "app/studio/rank_controller.h"
#include "scratch_runs.h"
#include "widgets/pair_inspector.h"
#include "widgets/rank_view.h"

using dpo::studio::MainWindow;

class RankViewTest : public QObject {
  Q_OBJECT

  QTemporaryDir root_;

 private Q_SLOTS:
  void initTestCase() { QVERIFY(use_scratch_runs_root(root_)); }

  void aRunsCheckpointsRankedAndInspected() {
    const QString run = root_.filePath("cli-run");
    QProcess train;
    train.setProcessChannelMode(QProcess::MergedChannels);
    train.start(QStringLiteral(DPO_CLI), {"--threads", "2", "train", "--steps", "4", "--checkpoint-every",
                                          "2", "--lr", "1e-3", "--quiet", "--no-cache", "--out", run});
    QVERIFY(train.waitForFinished(120'000));
    QVERIFY2(train.exitCode() == 0, train.readAll().constData());

    MainWindow w;
    w.setInteractiveErrors(false);
    w.rank()->job()->setCliPath(QStringLiteral(DPO_CLI));
    QVERIFY(w.openRun(run));
    QSignalSpy done(w.rank(), &dpo::studio::RankController::finished);
    Q_EMIT w.rankView()->rankRunRequested();
    QVERIFY(w.rank()->isRunning());
    QVERIFY(done.wait(240'000));
    QCOMPARE(done.first().first().toBool(), true);

    const auto& data = w.rankView()->data();
    QVERIFY2(data.error.isEmpty(), qPrintable(data.error));
    QCOMPARE(data.models.size(), size_t{3});  // step 2, step 4, final
    QCOMPARE(w.rankView()->table()->rowCount(), 3);
    for (const auto& m : data.models) {
      QVERIFY(m.lower <= m.accuracy && m.accuracy <= m.upper);
      QVERIFY(QFileInfo::exists(m.pairs_file));
    }
    QVERIFY(data.models[0].accuracy >= data.models[1].accuracy);  // best first
    // The matrix: n × n, "—" on the diagonal, and row minus column the other way round is its negative.
    auto* matrix = w.rankView()->matrix();
    QCOMPARE(matrix->rowCount(), 3);
    QCOMPARE(matrix->item(1, 1)->text(), QString("—"));
    QCOMPARE(data.pairwise[0][1]->difference, -data.pairwise[1][0]->difference);
    // One point with an interval per model on the leaderboard plot.
    QCOMPARE(w.rankView()->plot()->graph(0)->dataCount(), 3);

    // A click on the last model: its pairs in the inspector, showing the mis-ranked ones.
    Q_EMIT w.rankView()->table()->cellClicked(2, 1);
    QCOMPARE(w.pairInspector()->evalCount(), 1);
    QCOMPARE(w.pairInspector()->filter(), dpo::widgets::PairFilter::MisrankedNow);
    const int wrong = static_cast<int>(std::round((1.0 - data.models[2].accuracy) * 240));
    QCOMPARE(w.pairInspector()->visibleLines().size(), wrong);
  }

  void aFolderWithoutRankJsonIsOneLine() {
    QTemporaryDir empty;
    const auto data = dpo::studio::loadRank(empty.path());
    QVERIFY(data.error.contains("rank.json"));
    QVERIFY(data.models.empty());
  }
};

QTEST_MAIN(RankViewTest)
#include "test_rank_view.moc"
