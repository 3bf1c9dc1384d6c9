#pragma once
#include <QHash>
#include <QList>
#include <QVector>
#include <QWidget>

#include <optional>

#include <vector>

#include "widgets/core_records.h"

class QComboBox;
class QCustomPlot;
class QLabel;
class QStandardItemModel;
class QTableView;

namespace dpo::widgets {

class LogRatioLegend;
class MarginHistogram;
class QuadrantScatter;
class TokenHeatmap;

// Which eval pairs the table lists. "Now" is the latest evaluation, "before" the one preceding it.
enum class PairFilter { All, MisrankedNow, BecameMisranked, FlippedToCorrect, LargestMargin };

// The lines of the pairs `filter` keeps, in the order of `latest`. LargestMargin keeps the
// kLargestMarginCount pairs of largest |margin|.
inline constexpr int kLargestMarginCount = 10;
QList<qint64> filterPairs(const std::vector<dpo::PairRecord>& latest,
                          const std::vector<dpo::PairRecord>& before, PairFilter filter);

// The pair inspector: a sortable, filterable table of eval pairs; for the selected pair its text
// with a per-token log π − log π_ref heatmap, its margin and reward history over the evaluations,
// and its DPO gradient weight; a quadrant scatter of (a, b) for all pairs and a margin histogram.
// Token scores come from whoever listens to pairTokensRequested (the worker) via setPairTokens.
class PairInspector : public QWidget {
  Q_OBJECT

 public:
  explicit PairInspector(QWidget* parent = nullptr);
  ~PairInspector() override;

  void addEval(const dpo::PreferenceEval& eval);
  void setPairTokens(const dpo::PairTokenScores& tokens);
  // false: nothing can score tokens now (no run live): the panes show the last scores received.
  void setTokensAvailable(bool available);
  void clear();

  void setFilter(PairFilter filter);
  PairFilter filter() const;
  QList<qint64> visibleLines() const;  // table rows, top to bottom
  void selectPair(qint64 line);
  std::optional<qint64> selectedLine() const { return selected_; }
  std::vector<dpo::PairRecord> history(qint64 line) const;  // one record per evaluation
  int evalCount() const { return static_cast<int>(evals_.size()); }
  QString detailsText() const;  // the summary line of the selected pair

  QTableView* table() const { return table_; }
  QComboBox* filterCombo() const { return filter_combo_; }
  QuadrantScatter* scatter() const { return scatter_; }
  MarginHistogram* histogram() const { return histogram_; }
  TokenHeatmap* chosenHeatmap() const { return chosen_map_; }
  TokenHeatmap* rejectedHeatmap() const { return rejected_map_; }
  LogRatioLegend* legend() const { return legend_; }
  QCustomPlot* historyPlot() const { return history_plot_; }
  int historyPointCount() const;  // margin points drawn in the history plot

 Q_SIGNALS:
  void pairTokensRequested(qint64 line);

 private:
  void rebuildTable();
  void showPair(qint64 line);
  void updateHistory(qint64 line);
  void showTokens(const dpo::PairTokenScores& tokens);
  const dpo::PairRecord* latestRecord(qint64 line) const;
  QString statusOf(const dpo::PairRecord& now) const;

  QVector<dpo::PreferenceEval> evals_;
  QHash<qint64, dpo::PairTokenScores> tokens_;  // latest scores per pair line
  std::optional<qint64> selected_;
  bool tokens_available_ = false;
  bool rebuilding_ = false;

  QComboBox* filter_combo_ = nullptr;
  QLabel* count_label_ = nullptr;
  QStandardItemModel* model_ = nullptr;
  QTableView* table_ = nullptr;
  QuadrantScatter* scatter_ = nullptr;
  MarginHistogram* histogram_ = nullptr;
  QLabel* details_ = nullptr;
  QLabel* prompt_ = nullptr;
  QLabel* tokens_state_ = nullptr;
  TokenHeatmap* chosen_map_ = nullptr;
  TokenHeatmap* rejected_map_ = nullptr;
  LogRatioLegend* legend_ = nullptr;
  QCustomPlot* history_plot_ = nullptr;
};

}  // namespace dpo::widgets
