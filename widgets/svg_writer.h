#pragma once
#include <QColor>
#include <QPointF>
#include <QRectF>
#include <QString>
#include <QVector>

#include <optional>

namespace dpo::widgets {

struct SvgStroke {
  QColor color = Qt::black;  // alpha becomes stroke-opacity
  double width = 1.0;        // px
  QVector<double> dashes;    // px on/off lengths; empty = solid
};
enum class SvgAnchor { Start, Middle, End };
struct SvgFont {
  double size = 11.0;  // px
  bool bold = false;
  SvgAnchor anchor = SvgAnchor::Start;
  double rotate = 0.0;  // degrees about the anchor point (−90 for a left axis label)
};

// A minimal SVG 1.1 writer: enough shapes to draw a plot as vectors. Not QSvgGenerator (qt6-svg):
// in Qt 6.4 it writes no clip paths (QPainter::setClipRect is dropped), so a zoomed plot's lines
// would spill over the axes; this writer clips with <clipPath>. Coordinates are user units = pixels, origin
// top-left, y down. Every piece of text goes through escape(), so titles such as "a < b & c" stay valid XML.
class SvgWriter {
 public:
  using Stroke = SvgStroke;
  using Anchor = SvgAnchor;
  using Font = SvgFont;

  SvgWriter(double width, double height);  // px

  // XML 1.0 text escaping: & < > " ' become entities; characters XML cannot hold are dropped.
  static QString escape(const QString& text);

  void rect(const QRectF& r, const QColor& fill, const std::optional<Stroke>& stroke = std::nullopt);
  void line(QPointF a, QPointF b, const Stroke& stroke);
  // Non-finite points split the line: one <polyline> per finite run of ≥ 1 point.
  int polyline(const QVector<QPointF>& points, const Stroke& stroke);
  void polygon(const QVector<QPointF>& points, const QColor& fill,
               const std::optional<Stroke>& stroke = std::nullopt);
  void text(QPointF at, const QString& text, const QColor& color, const Font& font = {});

  // Later shapes are clipped to r until endClip() (the plot's axis rectangle).
  void beginClip(const QRectF& r);
  void endClip();

  QString toString() const;  // the whole document, closed
  bool save(const QString& path) const;

 private:
  static QString num(double v);
  static QString color(const QColor& c, const char* attribute);
  static QString strokeAttributes(const Stroke& s);

  double width_, height_;
  QString body_;
  int clips_ = 0, open_groups_ = 0;
};

}  // namespace dpo::widgets
