#include "widgets/svg_writer.h"

#include <QFile>
#include <QSaveFile>

#include <algorithm>
#include <cmath>

namespace dpo::widgets {

namespace {
// Keep huge coordinates (an outlier far off the clipped range) finite and printable.
double clampCoord(double v) { return std::clamp(v, -1e6, 1e6); }
}  // namespace

SvgWriter::SvgWriter(double width, double height) : width_(width), height_(height) {}

QString SvgWriter::escape(const QString& text) {
  QString out;
  out.reserve(text.size() + 8);
  for (qsizetype i = 0; i < text.size(); ++i) {
    const QChar c = text[i];
    const char16_t u = c.unicode();
    if (c.isHighSurrogate() && i + 1 < text.size() && text[i + 1].isLowSurrogate()) {
      out += c;
      out += text[++i];
      continue;
    }
    if (c.isSurrogate()) continue;  // unpaired: not representable
    if (u < 0x20 && u != '\t' && u != '\n' && u != '\r') continue;
    if (u == 0xFFFE || u == 0xFFFF) continue;
    switch (u) {
      case '&':
        out += QLatin1String("&amp;");
        break;
      case '<':
        out += QLatin1String("&lt;");
        break;
      case '>':
        out += QLatin1String("&gt;");
        break;
      case '"':
        out += QLatin1String("&quot;");
        break;
      case '\'':
        out += QLatin1String("&apos;");
        break;
      default:
        out += c;
    }
  }
  return out;
}

QString SvgWriter::num(double v) {
  if (!std::isfinite(v)) v = 0;
  QString s = QString::number(clampCoord(v), 'f', 2);
  while (s.contains('.') && (s.endsWith('0') || s.endsWith('.'))) s.chop(1);
  return s == QLatin1String("-0") ? QStringLiteral("0") : s;
}

QString SvgWriter::color(const QColor& c, const char* attribute) {
  QString out = QStringLiteral(" %1=\"%2\"").arg(QLatin1String(attribute), c.name(QColor::HexRgb));
  if (c.alpha() < 255)
    out += QStringLiteral(" %1-opacity=\"%2\"").arg(QLatin1String(attribute)).arg(c.alphaF(), 0, 'g', 3);
  return out;
}

QString SvgWriter::strokeAttributes(const Stroke& s) {
  QString out = color(s.color, "stroke") + QStringLiteral(" stroke-width=\"%1\"").arg(num(s.width));
  if (!s.dashes.isEmpty()) {
    QStringList d;
    for (double v : s.dashes) d << num(v);
    out += QStringLiteral(" stroke-dasharray=\"%1\"").arg(d.join(','));
  }
  return out;
}

void SvgWriter::rect(const QRectF& r, const QColor& fill, const std::optional<Stroke>& stroke) {
  body_ += QStringLiteral("<rect x=\"%1\" y=\"%2\" width=\"%3\" height=\"%4\"")
               .arg(num(r.x()), num(r.y()), num(r.width()), num(r.height()));
  body_ += fill.alpha() == 0 ? QStringLiteral(" fill=\"none\"") : color(fill, "fill");
  if (stroke) body_ += strokeAttributes(*stroke);
  body_ += QLatin1String("/>\n");
}

void SvgWriter::line(QPointF a, QPointF b, const Stroke& stroke) {
  body_ += QStringLiteral("<line x1=\"%1\" y1=\"%2\" x2=\"%3\" y2=\"%4\"%5/>\n")
               .arg(num(a.x()), num(a.y()), num(b.x()), num(b.y()), strokeAttributes(stroke));
}

int SvgWriter::polyline(const QVector<QPointF>& points, const Stroke& stroke) {
  int written = 0;
  QString run;
  auto close = [&] {
    if (run.isEmpty()) return;
    body_ += QStringLiteral("<polyline fill=\"none\" stroke-linejoin=\"round\"%1 points=\"%2\"/>\n")
                 .arg(strokeAttributes(stroke), run.trimmed());
    run.clear();
    ++written;
  };
  for (const QPointF& p : points) {
    if (!std::isfinite(p.x()) || !std::isfinite(p.y())) {
      close();
      continue;
    }
    run += num(p.x()) + ',' + num(p.y()) + ' ';
  }
  close();
  return written;
}

void SvgWriter::polygon(const QVector<QPointF>& points, const QColor& fill,
                        const std::optional<Stroke>& stroke) {
  QString pts;
  for (const QPointF& p : points) pts += num(p.x()) + ',' + num(p.y()) + ' ';
  body_ += QStringLiteral("<polygon points=\"%1\"").arg(pts.trimmed()) + color(fill, "fill");
  if (stroke) body_ += strokeAttributes(*stroke);
  body_ += QLatin1String("/>\n");
}

void SvgWriter::text(QPointF at, const QString& text, const QColor& c, const Font& font) {
  static const char* anchors[] = {"start", "middle", "end"};
  body_ += QStringLiteral("<text x=\"%1\" y=\"%2\" font-size=\"%3\" text-anchor=\"%4\"")
               .arg(num(at.x()), num(at.y()), num(font.size),
                    QLatin1String(anchors[static_cast<int>(font.anchor)]));
  if (font.bold) body_ += QLatin1String(" font-weight=\"bold\"");
  if (font.rotate != 0)
    body_ +=
        QStringLiteral(" transform=\"rotate(%1 %2 %3)\"").arg(num(font.rotate), num(at.x()), num(at.y()));
  body_ += color(c, "fill") + '>' + escape(text) + QLatin1String("</text>\n");
}

void SvgWriter::beginClip(const QRectF& r) {
  const QString id = QStringLiteral("clip%1").arg(clips_++);
  body_ +=
      QStringLiteral("<clipPath id=\"%1\"><rect x=\"%2\" y=\"%3\" width=\"%4\" height=\"%5\"/></clipPath>\n")
          .arg(id, num(r.x()), num(r.y()), num(r.width()), num(r.height()));
  body_ += QStringLiteral("<g clip-path=\"url(#%1)\">\n").arg(id);
  ++open_groups_;
}

void SvgWriter::endClip() {
  if (open_groups_ == 0) return;
  body_ += QLatin1String("</g>\n");
  --open_groups_;
}

QString SvgWriter::toString() const {
  QString out = QStringLiteral(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%1\" height=\"%2\" "
                    "viewBox=\"0 0 %1 %2\" font-family=\"sans-serif\">\n")
                    .arg(num(width_), num(height_));
  out += body_;
  for (int i = 0; i < open_groups_; ++i) out += QLatin1String("</g>\n");
  out += QLatin1String("</svg>\n");
  return out;
}

bool SvgWriter::save(const QString& path) const {
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate)) return false;
  file.write(toString().toUtf8());
  return file.commit();
}

}  // namespace dpo::widgets
