#pragma once
#include <QString>
#include <QWidget>

#include <vector>

#include "widgets/core_records.h"

class QCustomPlot;
class QCPBars;
class QLabel;

namespace dpo::widgets {

class BetaSlider;

// The β explorer (issue 14): slide β and watch how hard each eval pair would still pull. Shows one
// loss's cells over a β grid (core/eval/beta_explorer.h computes them from the latest evaluation's
// log-ratios); the slider picks the nearest cell, the bars are its gradient-weight histogram on
// axes shared by every β, and a line says how many pairs are saturated. No training involved.
class BetaExplorerView : public QWidget {
  Q_OBJECT

 public:
  explicit BetaExplorerView(QWidget* parent = nullptr);

  // cells: one loss, ascending β. run_beta: the run's β, where the slider starts.
  void setCells(const std::vector<dpo::BetaExplorerCell>& cells, double run_beta, const QString& source);
  void setMessage(const QString& message);  // nothing to show, and why
  void setBeta(double beta);                // as if the user moved the slider there

  const dpo::BetaExplorerCell* shownCell() const;  // nullptr while a message shows
  QString summaryText() const;
  QCustomPlot* plot() const { return plot_; }

 private:
  void show(size_t index);

  std::vector<dpo::BetaExplorerCell> cells_;
  size_t shown_ = 0;
  double run_beta_ = 0.1;
  BetaSlider* slider_ = nullptr;
  QLabel* summary_ = nullptr;
  QLabel* source_ = nullptr;
  QCustomPlot* plot_ = nullptr;
  QCPBars* bars_ = nullptr;
};

}  // namespace dpo::widgets
