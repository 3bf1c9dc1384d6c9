#pragma once
#include <QSlider>

namespace dpo::widgets {

// A horizontal slider over β on a log scale (0.001 … 10, 100 positions a decade) that shades the
// typical range of seed 002 §6 (0.01 – 0.5), so a value outside it is visibly unusual.
class BetaSlider : public QSlider {
  Q_OBJECT

 public:
  explicit BetaSlider(QWidget* parent = nullptr);

  double beta() const;        // the value at the handle
  void setBeta(double beta);  // clamped to the range; emits betaChanged only on user moves
  static double betaAt(int position);
  static int positionOf(double beta);
  static constexpr double kTypicalLow = 0.01, kTypicalHigh = 0.5;

 Q_SIGNALS:
  void betaChanged(double beta);  // the user moved the handle

 protected:
  void paintEvent(QPaintEvent* event) override;
};

}  // namespace dpo::widgets
