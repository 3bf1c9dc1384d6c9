#pragma once
#include <QString>
#include <QStringList>
#include <QWidget>

#include <optional>
#include <vector>

class QCustomPlot;
class QLabel;
class QLineEdit;
class QPushButton;
class QTableWidget;

namespace dpo::widgets {

// `dpo rank`'s rank.json as the Rank tab draws it.
struct RankViewModel {
  QString model;
  int rank = 0;
  double accuracy = 0, lower = 0, upper = 0;  // preference accuracy (or strength) with its 95% interval
  double margin = 0;
  QString pairs_file;  // absolute path of its pairs (the pair inspector opens them)
};
struct RankViewDifference {
  double difference = 0, lower = 0, upper = 0;  // accuracy of the row model minus the column model
  double p_value = 1;
};
struct RankViewData {
  QString dir;
  // Head to head (dpo rank --head-to-head): the numbers are Bradley–Terry strengths (logit scale), not
  // accuracies, and there is no pairwise matrix.
  bool head_to_head = false;
  QString judge;
  std::vector<RankViewModel> models;  // best first
  // [row][column], models in the same order; nullopt on the diagonal.
  std::vector<std::vector<std::optional<RankViewDifference>>> pairwise;
  QString error;
};

// The Rank tab (issue 14): models (or the viewed run's checkpoints) scored on the same preference
// pairs; a leaderboard with confidence-interval bars, the table, and the pairwise significance
// matrix (paired bootstrap). Clicking a model asks to open its mis-ranked pairs in the inspector.
class RankView : public QWidget {
  Q_OBJECT

 public:
  explicit RankView(QWidget* parent = nullptr);

  void setData(const RankViewData& data);
  const RankViewData& data() const { return data_; }
  void setRunning(bool running);
  void setStatus(const QString& text);
  QStringList modelFolders() const;  // from the form
  void setModelFolders(const QStringList& folders);

  QTableWidget* table() const { return table_; }
  QTableWidget* matrix() const { return matrix_; }
  QCustomPlot* plot() const { return plot_; }

 Q_SIGNALS:
  void rankRequested();     // the form's models
  void rankRunRequested();  // the viewed run's checkpoints
  void pairsRequested(const QString& pairs_file, const QString& model);

 private:
  RankViewData data_;
  QLineEdit* models_ = nullptr;
  QPushButton* rank_ = nullptr;
  QPushButton* rank_run_ = nullptr;
  QLabel* status_ = nullptr;
  QCustomPlot* plot_ = nullptr;
  QTableWidget* table_ = nullptr;
  QTableWidget* matrix_ = nullptr;
};

}  // namespace dpo::widgets
