// dpo_make_icons DIR APP_ID: the application icon in the hicolor theme layout under DIR
// (scalable/apps/APP_ID.svg, NxN/apps/APP_ID.png), drawn by widgets/app_icon.cpp.
#include <QDir>
#include <QFile>
#include <QString>

#include <cstdio>

#include "widgets/app_icon.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DIR APP_ID\n", argv[0]);
    return 2;
  }
  const QString dir = QString::fromLocal8Bit(argv[1]), id = QString::fromLocal8Bit(argv[2]);
  const auto fail = [](const QString& path) {
    std::fprintf(stderr, "error: %s: cannot write\n", qPrintable(path));
    return 1;
  };
  const QString svg_dir = dir + "/scalable/apps";
  QDir().mkpath(svg_dir);
  QFile svg(svg_dir + "/" + id + ".svg");
  if (!svg.open(QIODevice::WriteOnly) || svg.write(dpo::widgets::appIconSvg().toUtf8()) < 0 || !svg.flush())
    return fail(svg.fileName());
  for (int size : {16, 22, 24, 32, 48, 64, 128, 256}) {
    const QString png_dir = dir + QString("/%1x%1/apps").arg(size);
    QDir().mkpath(png_dir);
    const QString path = png_dir + "/" + id + ".png";
    if (!dpo::widgets::appIconImage(size).save(path, "PNG")) return fail(path);
  }
  return 0;
}
