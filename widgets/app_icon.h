#pragma once
#include <QIcon>
#include <QImage>
#include <QString>

namespace dpo::widgets {

// DPO Studio's application icon, drawn from one list of shapes in a 256 × 256 canvas: a chosen bar
// taller than a rejected one under a rising reward curve. The same shapes give the scalable SVG the
// package installs, its PNG sizes and the window icon, so the three cannot differ.
QString appIconSvg();
QImage appIconImage(int size);  // size × size, ARGB32 premultiplied, transparent outside the tile
QIcon appIcon();                // 16 … 256 px

}  // namespace dpo::widgets
