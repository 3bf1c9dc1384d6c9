#include "widgets/app_icon.h"

#include <QPainter>
#include <QPen>
#include <QPolygonF>

#include <cmath>
#include <numbers>
#include <vector>

#include "widgets/svg_writer.h"

namespace dpo::widgets {

namespace {

constexpr double kCanvas = 256.0;

struct Shape {
  QVector<QPointF> points;
  QColor fill;         // invalid: an open line
  QColor stroke;       // for lines
  double width = 0.0;  // stroke width, canvas units
};

// A square with rounded corners as a polygon (SvgWriter and QPainter both draw polygons the same way).
QVector<QPointF> roundedSquare(double from, double to, double radius) {
  QVector<QPointF> points;
  const QPointF centres[4] = {{to - radius, from + radius},
                              {to - radius, to - radius},
                              {from + radius, to - radius},
                              {from + radius, from + radius}};
  constexpr int kSegments = 8;  // per corner
  for (int corner = 0; corner < 4; ++corner)
    for (int i = 0; i <= kSegments; ++i) {
      const double a = (corner - 1 + double(i) / kSegments) * std::numbers::pi / 2;  // -90° first
      points.append(centres[corner] + QPointF(radius * std::cos(a), radius * std::sin(a)));
    }
  return points;
}

QVector<QPointF> box(double x0, double y0, double x1, double y1) {
  return {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}};
}

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> list = {
      {roundedSquare(16, 240, 44), QColor(0x24, 0x34, 0x47), {}, 0},
      {box(72, 124, 120, 208), QColor(0x3c, 0xb3, 0x71), {}, 0},                         // chosen
      {box(136, 160, 184, 208), QColor(0xe0, 0x5d, 0x5d), {}, 0},                        // rejected
      {{{48, 104}, {100, 80}, {148, 92}, {208, 48}}, {}, QColor(0xf5, 0xf1, 0xe3), 14},  // reward gap
  };
  return list;
}

}  // namespace

QString appIconSvg() {
  SvgWriter svg(kCanvas, kCanvas);
  for (const Shape& s : shapes()) {
    if (s.fill.isValid())
      svg.polygon(s.points, s.fill);
    else
      svg.polyline(s.points, SvgStroke{s.stroke, s.width, {}});
  }
  return svg.toString();
}

QImage appIconImage(int size) {
  QImage image(size, size, QImage::Format_ARGB32_Premultiplied);
  image.fill(Qt::transparent);
  QPainter p(&image);
  p.setRenderHint(QPainter::Antialiasing);
  p.scale(size / kCanvas, size / kCanvas);
  for (const Shape& s : shapes()) {
    if (s.fill.isValid()) {
      p.setPen(Qt::NoPen);
      p.setBrush(s.fill);
      p.drawPolygon(QPolygonF(s.points));
    } else {
      // As SvgWriter's polyline: SVG's default butt caps, round joins.
      p.setPen(QPen(s.stroke, s.width, Qt::SolidLine, Qt::FlatCap, Qt::RoundJoin));
      p.setBrush(Qt::NoBrush);
      p.drawPolyline(QPolygonF(s.points));
    }
  }
  return image;
}

QIcon appIcon() {
  QIcon icon;
  for (int size : {16, 24, 32, 48, 64, 128, 256}) icon.addPixmap(QPixmap::fromImage(appIconImage(size)));
  return icon;
}

}  // namespace dpo::widgets
