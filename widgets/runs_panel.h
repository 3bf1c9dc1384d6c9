#pragma once
#include <QList>
#include <QString>
#include <QStringList>
#include <QWidget>

#include "widgets/run_summary.h"

class QLabel;
class QPushButton;
class QTreeWidget;
class QTreeWidgetItem;

namespace dpo::widgets {

// The Runs dock: run directories (the runs root's, plus any opened by hand) with name, loss, β,
// learning rate, steps done / planned, last accuracy and whether they can be resumed. Double-click
// opens a run (read-only); the Compare checkboxes pick the runs overlaid on the Compare plots.
// Plain Qt: the studio fills it with RunSummary values.
class RunsPanel : public QWidget {
  Q_OBJECT

 public:
  enum Column { Name, Loss, Beta, LearningRate, Steps, Accuracy, Resumable, Model, Data, ColumnCount };

  explicit RunsPanel(QWidget* parent = nullptr);

  // Replaces the list; check marks and the current run are kept by directory.
  void setRuns(const QList<dpo::widgets::RunSummary>& runs);
  const QList<dpo::widgets::RunSummary>& runs() const { return runs_; }
  int runCount() const { return static_cast<int>(runs_.size()); }
  int indexOf(const QString& dir) const;  // -1 when not listed

  QStringList checkedRuns() const;  // in list order
  void setChecked(const QString& dir, bool on);
  void setCurrentRun(const QString& dir);  // shown in bold: the run open in the window
  // The row of the run training now, between refreshes: its step, accuracy and β so far.
  void showProgress(const QString& dir, int64_t steps_done, double accuracy, double beta);
  void setRootText(const QString& text);  // where the list comes from
  void setStatus(const QString& text);

  QTreeWidget* tree() const { return tree_; }
  QPushButton* openButton() const { return open_button_; }
  QPushButton* refreshButton() const { return refresh_button_; }
  QPushButton* viewButton() const { return view_button_; }

 Q_SIGNALS:
  void runActivated(const QString& dir);  // double-click or "View": open read-only
  void compareChanged(const QStringList& dirs);
  void openRequested();  // "Open run…"
  void refreshRequested();

 private:
  void fill(QTreeWidgetItem* item, const dpo::widgets::RunSummary& run) const;

  QList<dpo::widgets::RunSummary> runs_;
  QString current_;
  QTreeWidget* tree_ = nullptr;
  QLabel* root_ = nullptr;
  QLabel* status_ = nullptr;
  QPushButton* open_button_ = nullptr;
  QPushButton* refresh_button_ = nullptr;
  QPushButton* view_button_ = nullptr;
  bool filling_ = false;
};

}  // namespace dpo::widgets
