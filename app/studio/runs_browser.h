#pragma once
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>

#include "widgets/run_summary.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QSlider;
class QWidget;

namespace dpo::widgets {
class MetricPlot;
class RunsPanel;
}  // namespace dpo::widgets

namespace dpo::studio {

// The runs under the runs root (and those opened by hand) in the Runs panel, which run is shown
// read-only, and the Compare tab that overlays the ticked runs. The window decides what viewing a
// run means for the rest of it (viewRequested).
class RunsBrowser : public QObject {
  Q_OBJECT

 public:
  explicit RunsBrowser(QObject* parent = nullptr);

  widgets::RunsPanel* panel() const { return panel_; }  // for the Runs dock
  QWidget* compareTab() const { return compare_tab_; }  // for the central tabs

  QString runsRoot() const { return runs_root_; }  // where new runs go (default: defaultRunsRoot())
  void setRunsRoot(const QString& root);           // and lists it
  void addOpened(const QString& dir);              // a run opened by hand, outside the runs root
  void refresh();
  void setCurrentRun(const QString& dir);  // highlighted in the list
  void showProgress(const QString& dir, qint64 steps_done, double accuracy, double beta);  // its row, live

  // The run shown read-only ("" when none) and its summary as last listed.
  QString viewedRun() const { return viewed_; }
  const widgets::RunSummary& viewedSummary() const { return viewed_summary_; }
  void setViewed(const QString& dir, const widgets::RunSummary& summary);
  void clearViewed() { setViewed({}, {}); }

  void setCompareRuns(const QStringList& dirs);  // overlays them on the Compare tab
  QStringList compareRuns() const { return compare_runs_; }
  QStringList compareLabels() const { return compare_labels_; }  // legend names, by differing settings
  QList<widgets::MetricPlot*> comparePlots() const { return compare_plots_; }
  widgets::MetricPlot* compareMarginPlot() const { return compare_plots_.value(0); }
  void setSmoothing(double weight);

 Q_SIGNALS:
  void viewRequested(const QString& dir);
  void openRequested();
  void compareShown();  // runs were ticked: the window shows the Compare tab

 private:
  void rebuildComparePlots();

  widgets::RunsPanel* panel_ = nullptr;
  QWidget* compare_tab_ = nullptr;
  QWidget* compare_area_ = nullptr;
  QLabel* compare_note_ = nullptr;
  QLabel* compare_empty_ = nullptr;
  QWidget* compare_bar_ = nullptr;
  QSlider* compare_smoothing_ = nullptr;
  QComboBox* compare_x_ = nullptr;
  QCheckBox* compare_outliers_ = nullptr;
  QList<widgets::MetricPlot*> compare_plots_;
  QStringList compare_runs_, compare_labels_;
  QString runs_root_;
  QStringList opened_runs_;
  QString viewed_;
  widgets::RunSummary viewed_summary_;
  double smoothing_ = 0.6;
  bool syncing_ = false;  // setting the panel's check marks from setCompareRuns
};

}  // namespace dpo::studio
