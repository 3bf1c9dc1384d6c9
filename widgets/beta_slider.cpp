#include "widgets/beta_slider.h"

#include <QPainter>
#include <QStyle>
#include <QStyleOptionSlider>

#include <algorithm>
#include <cmath>

namespace dpo::widgets {

namespace {
constexpr int kPerDecade = 100;
constexpr double kLowExponent = -3, kHighExponent = 1;  // 0.001 … 10
}  // namespace

BetaSlider::BetaSlider(QWidget* parent) : QSlider(Qt::Horizontal, parent) {
  setRange(0, static_cast<int>((kHighExponent - kLowExponent) * kPerDecade));
  setTickPosition(QSlider::TicksBelow);
  setTickInterval(kPerDecade);  // one tick a decade: 0.001, 0.01, 0.1, 1, 10
  setToolTip(
      tr("β on a log scale, one tick a decade (0.001 … 10). Shaded: the typical range 0.01 – 0.5 "
         "(seed 002 §6)."));
  connect(this, &QSlider::sliderMoved, this, [this](int position) { Q_EMIT betaChanged(betaAt(position)); });
  connect(this, &QSlider::actionTriggered, this, [this](int action) {
    if (action != QAbstractSlider::SliderMove) Q_EMIT betaChanged(betaAt(sliderPosition()));
  });
}

double BetaSlider::betaAt(int position) {
  return std::pow(10.0, kLowExponent + static_cast<double>(position) / kPerDecade);
}

int BetaSlider::positionOf(double beta) {
  const double e = std::log10(std::max(beta, 1e-12));
  return static_cast<int>(
      std::lround(std::clamp(e - kLowExponent, 0.0, kHighExponent - kLowExponent) * kPerDecade));
}

double BetaSlider::beta() const { return betaAt(value()); }

void BetaSlider::setBeta(double beta) {
  const QSignalBlocker block(this);
  setValue(positionOf(beta));
}

void BetaSlider::paintEvent(QPaintEvent* event) {
  QStyleOptionSlider option;
  initStyleOption(&option);
  const QRect groove = style()->subControlRect(QStyle::CC_Slider, &option, QStyle::SC_SliderGroove, this);
  const QRect handle = style()->subControlRect(QStyle::CC_Slider, &option, QStyle::SC_SliderHandle, this);
  // Handle centres span the groove minus one handle width.
  const int span = groove.width() - handle.width();
  auto x_of = [&](double beta) {
    return groove.left() + handle.width() / 2 +
           QStyle::sliderPositionFromValue(minimum(), maximum(), positionOf(beta), span);
  };
  QPainter painter(this);
  QColor band(0x2e, 0xa0, 0x43);
  band.setAlpha(70);
  painter.fillRect(
      QRect(QPoint(x_of(kTypicalLow), groove.top() - 3), QPoint(x_of(kTypicalHigh), groove.bottom() + 3)),
      band);
  painter.end();
  QSlider::paintEvent(event);
}

}  // namespace dpo::widgets
