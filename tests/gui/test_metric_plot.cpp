// MetricPlot behaviour: x axis by step / tokens / time, outlier clipping, SVG export, palette and
// high-DPI PNG. Offscreen QTest; values checked are the ones handed to the plot.
#include <QApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QImage>
#include <QPalette>
#include <QTemporaryDir>
#include <QXmlStreamReader>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <limits>

#include "widgets/decimate.h"
#include "widgets/metric_plot.h"
#include "widgets/svg_writer.h"

using dpo::widgets::MetricPlot;
using dpo::widgets::SvgWriter;

namespace {

QPalette darkPalette() {
  QPalette p;
  p.setColor(QPalette::Window, QColor(0x20, 0x22, 0x26));
  p.setColor(QPalette::WindowText, QColor(0xe6, 0xe6, 0xe6));
  p.setColor(QPalette::Base, QColor(0x18, 0x18, 0x1a));
  p.setColor(QPalette::Text, QColor(0xe6, 0xe6, 0xe6));
  p.setColor(QPalette::Mid, QColor(0x60, 0x60, 0x66));
  p.setColor(QPalette::Button, QColor(0x30, 0x30, 0x34));
  p.setColor(QPalette::ButtonText, QColor(0xe6, 0xe6, 0xe6));
  return p;
}

// Share of pixels in the centre quarter of the image darker than lightness 0.3.
double darkShare(const QImage& image) {
  int dark = 0, total = 0;
  for (int y = image.height() * 3 / 8; y < image.height() * 5 / 8; ++y)
    for (int x = image.width() * 3 / 8; x < image.width() * 5 / 8; ++x, ++total)
      if (image.pixelColor(x, y).lightnessF() < 0.3) ++dark;
  return total ? static_cast<double>(dark) / total : 0.0;
}

struct SvgSummary {
  QList<int> polyline_points;  // points per <polyline>, document order
  int polygons = 0;
  QStringList texts;
  QString background;  // fill of the first <rect>
  QString error;
};

SvgSummary parseSvg(const QString& path) {
  SvgSummary out;
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly)) {
    out.error = "cannot open";
    return out;
  }
  QXmlStreamReader xml(&file);
  while (!xml.atEnd()) {
    if (xml.readNext() != QXmlStreamReader::StartElement) continue;
    const auto name = xml.name();
    if (name == QLatin1String("polyline")) {
      out.polyline_points << static_cast<int>(
          xml.attributes().value("points").toString().split(' ', Qt::SkipEmptyParts).size());
    } else if (name == QLatin1String("polygon")) {
      ++out.polygons;
    } else if (name == QLatin1String("rect") && out.background.isEmpty()) {
      out.background = xml.attributes().value("fill").toString();
    } else if (name == QLatin1String("text")) {
      out.texts << xml.readElementText();
    }
  }
  if (xml.hasError()) out.error = xml.errorString() + QStringLiteral(" at line %1").arg(xml.lineNumber());
  return out;
}

}  // namespace

class TestMetricPlot : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // What a plot draws stays bounded by its width (issue 19's soak), and no spike is lost.
  void decimationKeepsSpikesAndBoundsThePoints() {
    std::vector<double> px, v;
    for (int i = 0; i < 10000; ++i) {
      px.push_back(i * 0.06);  // 10,000 points over 600 pixels
      v.push_back(std::sin(i * 0.01) * 0.1);
    }
    v[5000] = 100;
    v[7000] = -100;
    const auto kept = dpo::widgets::decimated_indices(px, v, 3.0);
    QVERIFY(kept.size() <= 2 * 600 / 3 + 4);
    QVERIFY(kept.size() >= 200);
    QCOMPARE(kept.front(), size_t{0});
    QCOMPARE(kept.back(), size_t{9999});
    QVERIFY(std::adjacent_find(kept.begin(), kept.end(), [](size_t a, size_t b) { return a >= b; }) ==
            kept.end());
    QVERIFY(std::find(kept.begin(), kept.end(), size_t{5000}) != kept.end());
    QVERIFY(std::find(kept.begin(), kept.end(), size_t{7000}) != kept.end());
    // A constant stretch, a step, a constant stretch: one point at each end of the flat parts, the
    // step at the resolution of a bucket (by hand: the bucket before the step starts at 597).
    std::vector<double> px2, v2;
    for (int i = 0; i < 1000; ++i) {
      px2.push_back(i);
      v2.push_back(i < 600 ? 1.0 : 2.0);
    }
    QCOMPARE(dpo::widgets::decimated_indices(px2, v2, 3.0), (std::vector<size_t>{0, 597, 600, 999}));
    QCOMPARE(dpo::widgets::decimated_indices({0, 1}, {5, 6}, 3.0), (std::vector<size_t>{0, 1}));
  }

  void xAxisByTokensAndTime() {
    MetricPlot plot;
    plot.setAxisLabels("step", "loss");
    const int loss = plot.addSeries("loss", Qt::red);
    const int eval = plot.addPointSeries("eval loss", Qt::darkRed);
    for (double step : {5.0, 10.0, 15.0, 20.0}) plot.addPoint(loss, step, step / 10);
    plot.addPoint(eval, 20, 1.5);
    plot.addMarker(15, "β 0.1 → 0.2");
    plot.addXSample(10, 1000, 2.0);
    plot.addXSample(20, 3000, 6.0);
    plot.flush();
    // Step axis: drawn x is the step.
    QCOMPARE(plot.drawnPoints(loss).at(1), QPointF(10, 1.0));

    plot.setXAxis(MetricPlot::XAxis::Tokens);
    plot.flush();
    const QVector<QPointF> tokens = plot.drawnPoints(loss);
    QCOMPARE(tokens.size(), 4);
    QCOMPARE(tokens[0].x(), 0.0);     // step 5 is before the first sample
    QCOMPARE(tokens[1].x(), 1000.0);  // step 10 → 1000 tokens
    QCOMPARE(tokens[2].x(), 2000.0);  // step 15: halfway between (10, 1000) and (20, 3000)
    QCOMPARE(tokens[3].x(), 3000.0);
    QCOMPARE(tokens[2].y(), 1.5);
    QCOMPARE(plot.drawnPoints(eval).at(0).x(), 3000.0);  // eval points follow the mapping
    QCOMPARE(plot.mapStep(15), 2000.0);
    QCOMPARE(plot.valuesText(1990), QString("step 15 · tokens 2000\nloss: 1.5"));

    plot.setXAxis(MetricPlot::XAxis::Seconds);
    plot.flush();
    QCOMPARE(plot.drawnPoints(loss).at(2).x(), 4.0);  // (2 s + 6 s) / 2
    QCOMPARE(plot.valuesText(6.1), QString("step 20 · time (s) 6\nloss: 2\neval loss: 1.5"));

    // A point drawn before its step's sample arrives sits at the last known x, then moves.
    plot.setXAxis(MetricPlot::XAxis::Tokens);
    plot.addPoint(loss, 30, 3.0);
    plot.flush();
    QCOMPARE(plot.drawnPoints(loss).at(4).x(), 3000.0);
    plot.addXSample(30, 5000, 9.0);
    plot.flush();
    QCOMPARE(plot.drawnPoints(loss).at(4).x(), 5000.0);
    QCOMPARE(plot.drawnPoints(loss).at(3).x(), 3000.0);  // already final: untouched

    // CSV stays keyed by step, with the mapped x next to it.
    QTemporaryDir dir;
    QVERIFY(plot.saveCsv(dir.filePath("x.csv")));
    QFile csv(dir.filePath("x.csv"));
    QVERIFY(csv.open(QIODevice::ReadOnly | QIODevice::Text));
    QCOMPARE(QString::fromUtf8(csv.readAll()), QString("step,tokens,loss,eval loss\n"
                                                       "5,0,0.5,\n"
                                                       "10,1000,1,\n"
                                                       "15,2000,1.5,\n"
                                                       "20,3000,2,1.5\n"
                                                       "30,5000,3,\n"));

    // Back to steps: the plain keys again.
    plot.setXAxis(MetricPlot::XAxis::Step);
    plot.flush();
    QCOMPARE(plot.drawnPoints(loss).at(2).x(), 15.0);
    QCOMPARE(plot.valuesText(14.6), QString("step 15\nloss: 1.5"));
  }

  void smoothedLineFollowsTheMapping() {
    MetricPlot plot;
    const int s = plot.addSeries("loss", Qt::red);
    plot.setSmoothing(0.5);
    plot.setXAxis(MetricPlot::XAxis::Tokens);
    for (int step = 1; step <= 4; ++step) {
      plot.addXSample(step, step * 100.0, step);
      plot.addPoint(s, step, step);
    }
    plot.flush();
    QCOMPARE(plot.smoothedValues(s).size(), 4);
    QCOMPARE(plot.valuesText(310), QString("step 3 · tokens 300\nloss: 3 (smoothed 2.42857)"));
  }

  // One redraw of a long run (4 series × 20 000 steps, tokens axis, clipping on, the step's x sample
  // arriving after its points so every tick re-keys the tail): the work stays per new point plus
  // one linear pass for the percentiles; printed, with a generous bound.
  void longRunTickCost() {
    MetricPlot plot;
    plot.resize(640, 400);
    std::vector<int> series;
    for (int k = 0; k < 4; ++k) series.push_back(plot.addSeries(QString("s%1").arg(k), Qt::red));
    plot.setSmoothing(0.6);
    plot.setClipOutliers(true);
    plot.setXAxis(MetricPlot::XAxis::Tokens);
    constexpr int kSteps = 20000;
    for (int step = 1; step <= kSteps; ++step) {
      for (int s : series) plot.addPoint(s, step, std::sin(step * 0.001 + s));
      plot.addXSample(step, step * 512.0, step * 0.1);
    }
    plot.flush();
    QElapsedTimer clock;
    clock.start();
    constexpr int kTicks = 20;
    for (int i = 1; i <= kTicks; ++i) {
      for (int s : series) plot.addPoint(s, kSteps + i, 0.5);
      plot.flush();  // drawn at the last known x
      plot.addXSample(kSteps + i, (kSteps + i) * 512.0, (kSteps + i) * 0.1);
    }
    plot.flush();
    const double ms = clock.nsecsElapsed() / 1e6 / (2 * kTicks);
    qInfo("tick with 4 × %d points drawn: %.2f ms", kSteps, ms);
    QCOMPARE(plot.drawnPoints(series[0]).last().x(), (kSteps + kTicks) * 512.0);
    QVERIFY2(ms < 250, qPrintable(QString::number(ms)));
  }

  void clipOutliers() {
    MetricPlot plot;
    const int s = plot.addSeries("loss", Qt::red);
    for (int i = 0; i < 100; ++i) plot.addPoint(s, i, i == 50 ? 1e6 : 1.0 + 0.01 * std::sin(i));
    plot.flush();
    QVERIFY2(plot.yRange().second >= 1e6, qPrintable(QString::number(plot.yRange().second)));
    plot.setClipOutliers(true);
    QVERIFY(plot.clipOutliers());
    plot.flush();
    const auto [lower, upper] = plot.yRange();
    QVERIFY2(upper < 10 && upper > 1.0, qPrintable(QString::number(upper)));
    QVERIFY2(lower > 0.9 && lower < 1.0, qPrintable(QString::number(lower)));
    QCOMPARE(plot.drawnPointCount(s), 100);  // the spike is still drawn, just off range
    // New points keep the clipped autoscale.
    plot.addPoint(s, 100, 1.0);
    plot.flush();
    QVERIFY(plot.yRange().second < 10);
    plot.setClipOutliers(false);
    plot.flush();
    QVERIFY(plot.yRange().second >= 1e6);
  }

  void svgWriterEscapesAndSplits() {
    QCOMPARE(SvgWriter::escape("a<b & \"c\" 'd'>"), QString("a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"));
    QCOMPARE(SvgWriter::escape(QString("x") + QChar(0x01) + "y"), QString("xy"));  // not XML
    QCOMPARE(SvgWriter::escape("β≈0.1"), QString("β≈0.1"));

    SvgWriter svg(100, 50);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    QCOMPARE(svg.polyline({{0, 0}, {1, 1}, {nan, 2}, {3, 3}}, {}), 2);
    svg.text({5, 5}, "<&>", Qt::black, {});
    svg.beginClip(QRectF(0, 0, 10, 10));
    svg.line({0, 0}, {1, 1}, {QColor(255, 0, 0, 128), 1.5, {4, 2}});  // left open: toString closes it
    const QString doc = svg.toString();
    QVERIFY(doc.contains("&lt;&amp;&gt;"));
    QVERIFY(doc.contains("stroke-opacity=\"0.502\""));
    QVERIFY(doc.contains("stroke-dasharray=\"4,2\""));
    QXmlStreamReader xml(doc);
    int polylines = 0;
    while (!xml.atEnd())
      if (xml.readNext() == QXmlStreamReader::StartElement && xml.name() == QLatin1String("polyline"))
        ++polylines;
    QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
    QCOMPARE(polylines, 2);
  }

  void svgExport() {
    MetricPlot plot;
    plot.setTitle("Loss <&> margin");
    plot.setAxisLabels("step", "loss  [nats]", "accuracy");
    const int a = plot.addSeries("loss", Qt::red);
    const int b = plot.addSeries("accuracy (right)", Qt::blue, MetricPlot::Axis::Right, true);
    const int e = plot.addPointSeries("eval loss", Qt::darkRed);
    plot.setRightAxisRange(0, 1.05);
    plot.setReferenceLine(0.693, "ln 2");
    plot.setSmoothing(0.6);
    for (int i = 0; i < 50; ++i) {
      plot.addPoint(a, i, 0.7 - 0.005 * i);
      plot.addPoint(b, i, 0.5 + 0.008 * i);
    }
    for (int i = 0; i < 5; ++i) plot.addPoint(e, i * 10, 0.68 - 0.01 * i);
    plot.addMarker(25, "β → 0.2");

    QTemporaryDir dir;
    const QString path = dir.filePath("plot.svg");
    QVERIFY(plot.saveSvg(path, 640, 400));
    const SvgSummary svg = parseSvg(path);
    QVERIFY2(svg.error.isEmpty(), qPrintable(svg.error));
    // Raw + smoothed line for each of the two curves; eval points are markers, not lines.
    QCOMPARE(svg.polyline_points, (QList<int>{50, 50, 50, 50}));
    QCOMPARE(svg.polygons, 5 + 1);  // 5 diamonds + the legend's
    QVERIFY(svg.texts.contains("Loss <&> margin"));
    QVERIFY(svg.texts.contains("loss  [nats]"));
    QVERIFY(svg.texts.contains("ln 2"));
    QVERIFY(svg.texts.contains("β → 0.2"));
    QVERIFY(svg.texts.contains("eval loss"));
    QVERIFY(svg.texts.contains("accuracy (right)"));
    QVERIFY(svg.texts.contains("0.6"));  // a y tick label
    QVERIFY(svg.texts.contains("20"));   // an x tick label
    QFile raw(path);
    QVERIFY(raw.open(QIODevice::ReadOnly));
    QVERIFY(raw.readAll().contains("Loss &lt;&amp;&gt; margin"));

    if (const QString keep = qEnvironmentVariable("METRIC_PLOT_OUT"); !keep.isEmpty()) {  // for a look
      plot.saveSvg(keep + "/plot.svg", 640, 400);
      plot.savePng(keep + "/plot.png", 640, 400, 2.0);
      plot.setPalette(darkPalette());
      plot.saveSvg(keep + "/plot_dark.svg", 640, 400);
      plot.savePng(keep + "/plot_dark.png", 640, 400, 1.0);
      plot.setPalette(QPalette());
    }
    // Smoothing off: one line per curve.
    plot.setSmoothing(0);
    QVERIFY(plot.saveSvg(path));
    QCOMPARE(parseSvg(path).polyline_points, (QList<int>{50, 50}));
  }

  void followsThePalette() {
    MetricPlot plot;
    plot.setTitle("Loss");
    plot.setAxisLabels("step", "loss");
    plot.resize(520, 360);
    plot.show();
    QVERIFY(QTest::qWaitForWindowExposed(&plot));
    plot.flush();
    QVERIFY(darkShare(plot.grab().toImage()) < 0.05);  // the default (light) palette

    const QPalette dark = darkPalette();
    plot.setPalette(dark);
    plot.flush();
    const QImage image = plot.grab().toImage();
    QVERIFY2(darkShare(image) > 0.9, qPrintable(QString::number(darkShare(image))));
    QCOMPARE(plot.textColor(), dark.color(QPalette::WindowText));
    QTemporaryDir dir;
    QVERIFY(plot.saveSvg(dir.filePath("dark.svg")));
    QCOMPARE(parseSvg(dir.filePath("dark.svg")).background, dark.color(QPalette::Window).name());

    // The application palette reaches a plot that has none of its own.
    MetricPlot other;
    other.resize(520, 360);
    other.show();
    QVERIFY(QTest::qWaitForWindowExposed(&other));
    const QPalette before = QApplication::palette();
    QApplication::setPalette(dark);
    QCoreApplication::processEvents();
    other.flush();
    QVERIFY(darkShare(other.grab().toImage()) > 0.9);
    QCOMPARE(other.textColor(), dark.color(QPalette::WindowText));
    QApplication::setPalette(before);
    QCoreApplication::processEvents();
    other.flush();
    QVERIFY(darkShare(other.grab().toImage()) < 0.05);
  }

  void pngAtDevicePixelRatio2() {
    MetricPlot plot;
    plot.setTitle("Loss");
    const int s = plot.addSeries("loss", Qt::red);
    for (int i = 0; i < 40; ++i) plot.addPoint(s, i, std::exp(-0.05 * i));
    plot.resize(400, 300);
    QTemporaryDir dir;
    QVERIFY(plot.savePng(dir.filePath("x1.png"), 300, 200, 1.0));
    QVERIFY(plot.savePng(dir.filePath("x2.png"), 300, 200, 2.0));
    const QImage x1(dir.filePath("x1.png")), x2(dir.filePath("x2.png"));
    QCOMPARE(x1.size(), QSize(300, 200));
    QCOMPARE(x2.size(), QSize(600, 400));
    // Crisp, not upscaled: an upscaled image has uniform 2×2 blocks everywhere.
    int mixed = 0;
    for (int y = 0; y + 1 < x2.height(); y += 2)
      for (int x = 0; x + 1 < x2.width(); x += 2) {
        const QRgb p = x2.pixel(x, y);
        if (x2.pixel(x + 1, y) != p || x2.pixel(x, y + 1) != p || x2.pixel(x + 1, y + 1) != p) ++mixed;
      }
    QVERIFY2(mixed > 200, qPrintable(QString::number(mixed)));
  }
};

QTEST_MAIN(TestMetricPlot)
#include "test_metric_plot.moc"
