#pragma once
#include <QColor>
#include <QVector>
#include <QWidget>

#include <vector>

#include "widgets/core_records.h"

namespace dpo::widgets {

// Diverging colour for a per-token log-ratio log π − log π_ref: blue where the policy raised the
// token's probability, red where it lowered it, white at 0; saturates at ±scale.
QColor logRatioColor(double logratio, double scale);

// One response as flowing text, each token on a background coloured by its log-ratio; hovering a
// token shows it, both log-probs and the difference. Plain data in, no torch.
class TokenHeatmap : public QWidget {
  Q_OBJECT

 public:
  explicit TokenHeatmap(QWidget* parent = nullptr);

  void setTokens(const std::vector<dpo::TokenScore>& tokens, double scale);
  void clear();
  const std::vector<dpo::TokenScore>& tokens() const { return tokens_; }
  int count() const { return static_cast<int>(tokens_.size()); }
  double scale() const { return scale_; }
  QColor tokenColor(int index) const;    // the background drawn for token `index`
  QRect tokenRect(int index) const;      // where it is drawn
  int tokenAt(const QPoint& pos) const;  // -1: none
  QString tokenToolTip(int index) const;

  bool hasHeightForWidth() const override { return true; }
  int heightForWidth(int width) const override;
  QSize sizeHint() const override;

 protected:
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  bool event(QEvent* event) override;

 private:
  int layoutTokens(int width);  // fills rects_, returns the height used

  std::vector<dpo::TokenScore> tokens_;
  QVector<QRect> rects_;
  QVector<QString> shown_;  // the token's text as drawn (whitespace made visible)
  double scale_ = 1.0;
};

// The colour bar under the heatmaps: −scale … 0 … +scale with words for each end.
class LogRatioLegend : public QWidget {
  Q_OBJECT

 public:
  explicit LogRatioLegend(QWidget* parent = nullptr);
  void setScale(double scale);
  double scale() const { return scale_; }
  QSize sizeHint() const override;

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  double scale_ = 1.0;
};

}  // namespace dpo::widgets
