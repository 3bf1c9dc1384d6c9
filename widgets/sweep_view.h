#pragma once
#include <QList>
#include <QPointF>
#include <QString>
#include <QStringList>
#include <QVector>
#include <QWidget>

#include <map>
#include <vector>

class QComboBox;
class QCustomPlot;
class QGridLayout;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace dpo::widgets {

// One run of a β × loss sweep (`dpo sweep`), as the Sweep tab draws it.
struct SweepViewCell {
  QString loss;
  double beta = 0;
  QString name;                        // "sigmoid-b0.1"
  QString run_dir;                     // the cell's run directory
  std::map<QString, double> outcomes;  // by measure name (kSweepMeasures); missing: not measured
  QVector<QPointF> loss_curve;         // (step, training loss)
};

struct SweepViewData {
  QString dir;
  std::vector<SweepViewCell> cells;
  QString recommended;  // the recommended cell's name
  QString reason;       // in words
  QString error;        // why the folder could not be read ("" when fine)
};

// The measures the heatmap can colour by, and whether more is better.
struct SweepMeasure {
  const char* name;
  bool higher_is_better;
};
inline constexpr SweepMeasure kSweepMeasures[] = {{"held-out accuracy", true},
                                                  {"true reward", true},
                                                  {"KL to the reference", false},
                                                  {"held-out margin", true},
                                                  {"sampled length", false}};

// The Sweep tab (issue 14): a heatmap of one outcome over loss (rows) × β (columns), the
// recommendation in words, and one small training-loss plot per run on shared axes. Clicking a
// cell or a small plot asks to open that run. The form on top starts a sweep with the window's
// settings (the studio runs `dpo sweep`) or opens one made earlier.
class SweepView : public QWidget {
  Q_OBJECT

 public:
  explicit SweepView(QWidget* parent = nullptr);

  void setData(const SweepViewData& data);
  const SweepViewData& data() const { return data_; }
  void setMeasure(const QString& measure);
  void setRunning(bool running);
  void setStatus(const QString& text);

  QString betasText() const;   // "0.01,0.1,1"
  QString lossesText() const;  // "sigmoid,ipo"
  int steps() const;

  QTableWidget* heatmap() const { return heatmap_; }
  QComboBox* measureCombo() const { return measure_; }
  QLabel* recommendation() const { return reason_; }
  int smallPlotCount() const { return static_cast<int>(small_plots_.size()); }
  QCustomPlot* smallPlot(int i) const { return small_plots_.at(i); }

 Q_SIGNALS:
  void runRequested(const QString& run_dir);
  void startRequested();
  void openRequested();
  void stopRequested();

 private:
  void fillHeatmap();
  void fillSmallPlots();

  SweepViewData data_;
  QLineEdit* betas_ = nullptr;
  QLineEdit* losses_ = nullptr;
  QSpinBox* steps_ = nullptr;
  QPushButton* start_ = nullptr;
  QPushButton* stop_ = nullptr;
  QPushButton* open_ = nullptr;
  QLabel* status_ = nullptr;
  QComboBox* measure_ = nullptr;
  QTableWidget* heatmap_ = nullptr;
  QLabel* reason_ = nullptr;
  QWidget* grid_host_ = nullptr;
  QGridLayout* grid_ = nullptr;
  QList<QCustomPlot*> small_plots_;
};

}  // namespace dpo::widgets
