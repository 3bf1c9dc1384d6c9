// The application icon (widgets/app_icon.cpp): the PNG sizes, the window icon and the SVG the .deb
// installs come from one list of shapes; checked by colour at known places and by the SVG's structure.
#include <QRegularExpression>
#include <QXmlStreamReader>
#include <QtTest>

#include "widgets/app_icon.h"

class AppIconTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void pixelsAtKnownPlaces() {
    for (int size : {32, 64, 256}) {
      const QImage image = dpo::widgets::appIconImage(size);
      QCOMPARE(image.size(), QSize(size, size));
      const auto at = [&](double x, double y) {  // canvas units (0..256)
        return image.pixelColor(int(x * size / 256.0), int(y * size / 256.0));
      };
      QCOMPARE(at(1, 1).alpha(), 0);                                // outside the tile: transparent
      QCOMPARE(at(20, 20).alpha(), 0);                              // cut by the rounded corner
      QCOMPARE(at(40, 230), QColor(0x24, 0x34, 0x47));              // the tile
      QCOMPARE(at(96, 190), QColor(0x3c, 0xb3, 0x71));              // the chosen bar
      QCOMPARE(at(160, 195), QColor(0xe0, 0x5d, 0x5d));             // the rejected bar, shorter:
      QCOMPARE(at(160, 140), QColor(0x24, 0x34, 0x47));             //   the tile above it
      QVERIFY2(at(178, 70).lightness() > 200, "the reward curve");  // halfway from (148,92) to (208,48)
    }
  }

  void svgHasTheSameShapes() {
    const QString svg = dpo::widgets::appIconSvg();
    QXmlStreamReader xml(svg);
    int polygons = 0, polylines = 0;
    QString view_box;
    while (!xml.atEnd()) {
      if (xml.readNext() != QXmlStreamReader::StartElement) continue;
      if (xml.name() == QLatin1String("svg")) view_box = xml.attributes().value("viewBox").toString();
      if (xml.name() == QLatin1String("polygon")) ++polygons;
      if (xml.name() == QLatin1String("polyline")) ++polylines;
    }
    QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
    QCOMPARE(view_box, QString("0 0 256 256"));
    QCOMPARE(polygons, 3);  // tile, chosen, rejected
    QCOMPARE(polylines, 1);
    QVERIFY(svg.contains("fill=\"#3cb371\""));
    QVERIFY(svg.contains("points=\"48,104 100,80 148,92 208,48\""));
  }

  void windowIconHasEverySize() {
    const QIcon icon = dpo::widgets::appIcon();
    const QList<QSize> sizes = icon.availableSizes();
    for (int s : {16, 32, 48, 256}) QVERIFY2(sizes.contains(QSize(s, s)), qPrintable(QString::number(s)));
  }
};

QTEST_MAIN(AppIconTest)
#include "test_app_icon.moc"
