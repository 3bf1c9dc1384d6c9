#include "widgets/token_heatmap.h"

#include <QEvent>
#include <QHelpEvent>
#include <QLinearGradient>
#include <QPainter>
#include <QToolTip>

#include <algorithm>
#include <cmath>

namespace dpo::widgets {

namespace {
// ColorBrewer RdBu ends: readable on white and distinguishable with red-green colour blindness.
const QColor kLowered(0xB2, 0x18, 0x2B);
const QColor kRaised(0x21, 0x66, 0xAC);
constexpr int kPadX = 2, kPadY = 2, kGap = 1;

QColor mix(const QColor& a, const QColor& b, double t) {
  return QColor::fromRgbF(static_cast<float>(a.redF() + (b.redF() - a.redF()) * t),
                          static_cast<float>(a.greenF() + (b.greenF() - a.greenF()) * t),
                          static_cast<float>(a.blueF() + (b.blueF() - a.blueF()) * t));
}

QString visible(const QString& text, const QString& piece) {
  if (text.isEmpty()) {  // e.g. </s>, or a lone "▁" the decoder drops at the start
    if (piece.isEmpty()) return QStringLiteral("∅");
    QString p = piece;
    return p.replace(QStringLiteral("▁"), QStringLiteral("␣"));
  }
  QString s = text;
  s.replace('\n', QStringLiteral("⏎"));
  s.replace('\t', QStringLiteral("⇥"));
  return s;
}
}  // namespace

QColor logRatioColor(double logratio, double scale) {
  if (!std::isfinite(logratio)) return QColor(0xbb, 0xbb, 0xbb);
  const double t = std::clamp(logratio / std::max(scale, 1e-12), -1.0, 1.0);
  return t >= 0 ? mix(Qt::white, kRaised, t) : mix(Qt::white, kLowered, -t);
}

TokenHeatmap::TokenHeatmap(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  QFont f = font();
  f.setPointSizeF(f.pointSizeF() * 1.15);
  setFont(f);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Preferred);
  setAttribute(Qt::WA_OpaquePaintEvent, false);
}

void TokenHeatmap::setTokens(const std::vector<dpo::TokenScore>& tokens, double scale) {
  tokens_ = tokens;
  scale_ = scale > 0 ? scale : 1.0;
  shown_.clear();
  for (const auto& t : tokens_)
    shown_.push_back(visible(QString::fromStdString(t.text), QString::fromStdString(t.piece)));
  layoutTokens(width());
  updateGeometry();
  update();
}

void TokenHeatmap::clear() { setTokens({}, 1.0); }

QColor TokenHeatmap::tokenColor(int index) const {
  if (index < 0 || index >= count()) return {};
  return logRatioColor(tokens_[static_cast<size_t>(index)].logratio(), scale_);
}

QRect TokenHeatmap::tokenRect(int index) const {
  return index >= 0 && index < rects_.size() ? rects_[index] : QRect();
}

int TokenHeatmap::tokenAt(const QPoint& pos) const {
  for (int i = 0; i < rects_.size(); ++i)
    if (rects_[i].contains(pos)) return i;
  return -1;
}

QString TokenHeatmap::tokenToolTip(int index) const {
  if (index < 0 || index >= count()) return {};
  const auto& t = tokens_[static_cast<size_t>(index)];
  return tr("token %1: “%2” (piece %3)\nlog π = %4\nlog π_ref = %5\nlog π − log π_ref = %6")
      .arg(index + 1)
      .arg(shown_[index].toHtmlEscaped(), QString::fromStdString(t.piece).toHtmlEscaped())
      .arg(t.policy_logp, 0, 'f', 4)
      .arg(t.reference_logp, 0, 'f', 4)
      .arg(t.logratio(), 0, 'f', 4);
}

int TokenHeatmap::layoutTokens(int width) {
  const QFontMetrics fm(font());
  const int line_height = fm.height() + 2 * kPadY;
  const int usable = std::max(width, 60);
  rects_.clear();
  int x = 0, y = 0;
  for (int i = 0; i < count(); ++i) {
    const int w = fm.horizontalAdvance(shown_[i]) + 2 * kPadX;
    if (x > 0 && x + w > usable) {
      x = 0;
      y += line_height + kGap;
    }
    rects_.push_back(QRect(x, y, w, line_height));
    x += w + kGap;
    if (tokens_[static_cast<size_t>(i)].text.find('\n') != std::string::npos) {
      x = 0;
      y += line_height + kGap;
    }
  }
  return tokens_.empty() ? line_height : y + line_height;
}

int TokenHeatmap::heightForWidth(int width) const {
  return const_cast<TokenHeatmap*>(this)->layoutTokens(width);
}

QSize TokenHeatmap::sizeHint() const { return {360, heightForWidth(width() > 0 ? width() : 360)}; }

void TokenHeatmap::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  layoutTokens(width());
}

void TokenHeatmap::paintEvent(QPaintEvent*) {
  QPainter p(this);
  if (tokens_.empty()) {
    p.setPen(palette().color(QPalette::PlaceholderText));
    p.drawText(rect(), Qt::AlignLeft | Qt::AlignTop, tr("(no tokens)"));
    return;
  }
  for (int i = 0; i < count(); ++i) {
    const QColor bg = tokenColor(i);
    p.fillRect(rects_[i], bg);
    // Dark text on light cells, white on saturated ones, in any palette.
    p.setPen(bg.lightnessF() < 0.55 ? Qt::white : QColor(0x1a, 0x1a, 0x1a));
    p.drawText(rects_[i].adjusted(kPadX, 0, 0, 0), Qt::AlignLeft | Qt::AlignVCenter, shown_[i]);
  }
}

bool TokenHeatmap::event(QEvent* event) {
  if (event->type() == QEvent::ToolTip) {
    auto* help = static_cast<QHelpEvent*>(event);
    const int i = tokenAt(help->pos());
    if (i >= 0)
      QToolTip::showText(help->globalPos(), tokenToolTip(i), this, tokenRect(i));
    else
      QToolTip::hideText();
    return true;
  }
  return QWidget::event(event);
}

LogRatioLegend::LogRatioLegend(QWidget* parent) : QWidget(parent) {
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  setToolTip(
      tr("Per-token log π − log π_ref: how much more (blue) or less (red) likely the policy makes each "
         "token than the reference did. The colours saturate at ± the largest |value| of the pair."));
}

void LogRatioLegend::setScale(double scale) {
  scale_ = scale > 0 ? scale : 1.0;
  update();
}

QSize LogRatioLegend::sizeHint() const {
  const QFontMetrics fm(font());
  return {360, 2 * fm.height() + 14};
}

void LogRatioLegend::paintEvent(QPaintEvent*) {
  QPainter p(this);
  const QFontMetrics fm(font());
  const int bar_h = 12;
  const int label_w = fm.horizontalAdvance(QStringLiteral("less likely than π_ref")) + 8;
  const QRect bar(label_w, 2, std::max(40, width() - 2 * label_w), bar_h);
  QLinearGradient g(bar.topLeft(), bar.topRight());
  for (int k = 0; k <= 10; ++k) g.setColorAt(k / 10.0, logRatioColor((k / 5.0 - 1.0) * scale_, scale_));
  p.fillRect(bar, g);
  p.setPen(palette().color(QPalette::Mid));
  p.drawRect(bar.adjusted(0, 0, -1, -1));
  p.setPen(palette().color(QPalette::WindowText));
  const int ty = bar.bottom() + 2;
  const QRect below(bar.left() - 40, ty, bar.width() + 80, fm.height());
  p.drawText(below, Qt::AlignLeft, QStringLiteral("−%1").arg(scale_, 0, 'g', 3));
  p.drawText(below, Qt::AlignHCenter, QStringLiteral("0"));
  p.drawText(below, Qt::AlignRight, QStringLiteral("+%1").arg(scale_, 0, 'g', 3));
  p.drawText(QRect(0, 0, label_w - 6, bar_h + 4), Qt::AlignRight | Qt::AlignVCenter,
             tr("less likely than π_ref"));
  p.drawText(QRect(bar.right() + 6, 0, label_w, bar_h + 4), Qt::AlignLeft | Qt::AlignVCenter,
             tr("more likely"));
  p.drawText(QRect(0, ty + fm.height(), width(), fm.height()), Qt::AlignHCenter,
             tr("log π − log π_ref per token  [nats]"));
}

}  // namespace dpo::widgets
