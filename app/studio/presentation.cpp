#include "app/studio/presentation.h"

#include <QAction>
#include <QApplication>
#include <QDockWidget>
#include <QMenu>
#include <QMenuBar>
#include <QMetaProperty>
#include <QScrollArea>
#include <QSettings>
#include <QSplitter>
#include <QStyle>
#include <QTimer>

#include <algorithm>
#include <cmath>

#include "app/studio/main_window.h"
#include "app/studio/qcustomplot_include.h"
#include "app/studio/settings_panel.h"
#include "app/studio/training_plots.h"
#include "widgets/metric_plot.h"

namespace dpo::studio {

namespace {

const QString kModeKey = QStringLiteral("view/presentation");
const QString kZoomKey = QStringLiteral("view/zoom");
const QString kNormalStateKey = QStringLiteral("view/normal_state");

// A font's size at scale 1, remembered per object and role the first time it is scaled: later
// zooms start from it, so steps never compound their rounding. An object seen for the first time
// was built under the scale in effect then (its font derived from the application's).
double baseSize(QObject* owner, const QByteArray& role, const QFont& font, double applied_scale) {
  const QByteArray key = "dpoBaseFontSize_" + role;
  const QVariant known = owner->property(key.constData());
  if (known.isValid()) return known.toDouble();
  const double size = (font.pointSizeF() > 0 ? font.pointSizeF() : font.pixelSize()) / applied_scale;
  owner->setProperty(key.constData(), size);
  return size;
}

QFont resized(QObject* owner, const QByteArray& role, QFont font, double applied_scale, double scale) {
  const double base = baseSize(owner, role, font, applied_scale);
  if (font.pointSizeF() > 0)
    font.setPointSizeF(base * scale);
  else
    font.setPixelSize(std::max(1, static_cast<int>(std::lround(base * scale))));
  return font;
}

// QCustomPlot's axes, legends, text elements and items each hold their own QFont properties
// (labelFont, tickLabelFont, font, selectedFont, ...), copied from the widget when they were made.
void scalePlot(QCustomPlot* plot, double applied_scale, double scale) {
  for (QObject* part : plot->findChildren<QObject*>()) {
    if (part->isWidgetType()) continue;
    const QMetaObject* meta = part->metaObject();
    for (int i = meta->propertyOffset(); i < meta->propertyCount(); ++i) {
      const QMetaProperty p = meta->property(i);
      if (p.metaType().id() != QMetaType::QFont || !p.isWritable()) continue;
      const QFont font = p.read(part).value<QFont>();
      p.write(part, resized(part, p.name(), font, applied_scale, scale));
    }
  }
  plot->replot(QCustomPlot::rpQueuedReplot);
}

QMenu* viewMenu(MainWindow* window) {
  for (QAction* a : window->menuBar()->actions())
    if (a->menu() && a->text().remove('&') == MainWindow::tr("View")) return a->menu();
  return window->menuBar()->addMenu(MainWindow::tr("&View"));
}

}  // namespace

Presentation::Presentation(MainWindow* window)
    : QObject(window), window_(window), base_font_(QApplication::font()) {
  setObjectName("presentation");
  QMenu* view = viewMenu(window);
  view->addSeparator();
  presentation_action_ = view->addAction(tr("&Presentation"));
  presentation_action_->setObjectName("presentationAction");
  presentation_action_->setCheckable(true);
  presentation_action_->setShortcuts(
      {QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_P), QKeySequence(Qt::Key_F11)});
  presentation_action_->setToolTip(
      tr("For a projector: larger fonts, the lesson panel large, advanced settings and the Runs list "
         "hidden"));
  connect(presentation_action_, &QAction::toggled, this, &Presentation::setOn);

  settings_column_action_ = view->addAction(tr("Run &settings"));
  settings_column_action_->setObjectName("settingsColumnAction");
  settings_column_action_->setCheckable(true);
  settings_column_action_->setChecked(true);
  settings_column_action_->setToolTip(tr("The run settings beside the plots (hidden in presentation mode)"));
  connect(settings_column_action_, &QAction::toggled, this, &Presentation::setSettingsColumnVisible);

  zoom_in_action_ = view->addAction(tr("Zoom &in"), this, &Presentation::zoomIn);
  zoom_in_action_->setShortcuts({QKeySequence::ZoomIn, QKeySequence(Qt::CTRL | Qt::Key_Equal)});
  zoom_out_action_ = view->addAction(tr("Zoom &out"), this, &Presentation::zoomOut);
  zoom_out_action_->setShortcuts(QKeySequence::ZoomOut);
  reset_zoom_action_ = view->addAction(tr("&Actual size"), this, &Presentation::resetZoom);
  reset_zoom_action_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_0));
}

Presentation::~Presentation() {
  if (applied_scale_ != 1.0) QApplication::setFont(base_font_);
}

void Presentation::setOn(bool on) {
  if (on == on_) return;
  if (on && !restoring_) normal_state_ = window_->saveState();
  on_ = on;
  {
    const QSignalBlocker block(presentation_action_);
    presentation_action_->setChecked(on);
  }
  applyFonts();
  applyLayout();
  save();
  Q_EMIT changed();
}

void Presentation::setZoom(double zoom) {
  zoom = std::clamp(std::round(zoom * 100.0) / 100.0, kMinZoom, kMaxZoom);
  if (zoom == zoom_) return;
  zoom_ = zoom;
  applyFonts();
  save();
  Q_EMIT changed();
}

void Presentation::applyFonts() {
  const double scale = fontScale();
  if (scale == applied_scale_) return;
  const double applied = applied_scale_;
  // Record the widgets' own sizes before the application font moves under them.
  QList<QWidget*> own_size;
  for (QWidget* w : window_->findChildren<QWidget*>())
    if (w->testAttribute(Qt::WA_SetFont)) {
      baseSize(w, "widget", w->font(), applied);
      own_size.append(w);
    }
  QFont app_font = base_font_;
  if (base_font_.pointSizeF() > 0)
    app_font.setPointSizeF(base_font_.pointSizeF() * scale);
  else
    app_font.setPixelSize(std::max(1, static_cast<int>(std::lround(base_font_.pixelSize() * scale))));
  QApplication::setFont(app_font);
  for (QWidget* w : std::as_const(own_size)) w->setFont(resized(w, "widget", w->font(), applied, scale));
  // Widgets under a style sheet keep the font they were polished with until polished again;
  // setting the sheet anew repolishes the widget and everything in it.
  for (QWidget* w : window_->findChildren<QWidget*>())
    if (!w->styleSheet().isEmpty()) w->setStyleSheet(w->styleSheet());
  for (QCustomPlot* plot : window_->findChildren<QCustomPlot*>()) scalePlot(plot, applied, scale);
  applied_scale_ = scale;
  fitLeftColumn();
}

QScrollArea* Presentation::leftColumn() const {
  auto* splitter = qobject_cast<QSplitter*>(window_->centralWidget());
  auto* scroll = splitter ? qobject_cast<QScrollArea*>(splitter->widget(0)) : nullptr;
  return scroll && scroll->widget() ? scroll : nullptr;
}

void Presentation::fitLeftColumn() {
  QScrollArea* scroll = leftColumn();
  if (!scroll) return;
  QWidget* panel = scroll->widget();
  const int width = std::max(panel->minimumWidth(), panel->minimumSizeHint().width()) +
                    scroll->style()->pixelMetric(QStyle::PM_ScrollBarExtent) + 4;
  scroll->setMinimumWidth(width);
}

void Presentation::setSettingsColumnVisible(bool on) {
  if (QScrollArea* scroll = leftColumn()) scroll->setVisible(on);
  const QSignalBlocker block(settings_column_action_);
  settings_column_action_->setChecked(on);
}

void Presentation::applyLayout() {
  window_->settings()->setAdvancedVisible(!on_);
  // At 720 lines the captions would take the curves' height; some also hint at a lesson's answer
  // ("both falling together hints β too low").
  for (auto* plot : window_->plots()->plots())
    if (plot) plot->setCaptionVisible(!on_);
  auto* lessons = window_->findChild<QDockWidget*>("lessonDock");
  auto* diagnostics = window_->findChild<QDockWidget*>("diagnosticsDock");
  // The tabs under the docks name them; a dock's own title keeps the font it was made with.
  for (QDockWidget* dock : {lessons, diagnostics})
    if (dock && on_ && !dock->titleBarWidget()) {
      dock->setTitleBarWidget(new QWidget(dock));
    } else if (dock && !on_ && dock->titleBarWidget()) {
      QWidget* bar = dock->titleBarWidget();
      dock->setTitleBarWidget(nullptr);  // back to the default title; the empty one is not deleted
      bar->deleteLater();
    }
  if (!on_) {
    if (normal_state_.isEmpty() || !window_->restoreState(normal_state_))
      for (const char* name : {"runsDock", "eventDock", "diagnosticsDock"})
        if (auto* dock = window_->findChild<QDockWidget*>(name)) dock->show();
    setSettingsColumnVisible(true);
    fitLeftColumn();
    return;
  }
  // At 1280×720 and presentation fonts there is room for two columns: the lesson on the left (read first),
  // the plots beside it. The lesson sets the run, so the form waits behind View ▸ Run settings.
  setSettingsColumnVisible(false);
  for (const char* name : {"runsDock", "eventDock"})
    if (auto* dock = window_->findChild<QDockWidget*>(name)) dock->hide();
  if (lessons) {
    lessons->setFloating(false);
    window_->addDockWidget(Qt::LeftDockWidgetArea, lessons);
    if (diagnostics) {
      diagnostics->setFloating(false);
      window_->tabifyDockWidget(lessons, diagnostics);
    }
    lessons->show();
    lessons->raise();
  }
  // A third of the width for the lesson (the plots' legends need the rest), once the docks settled.
  QTimer::singleShot(0, this, [this] {
    auto* dock = window_->findChild<QDockWidget*>("lessonDock");
    if (on_ && dock && dock->isVisible())
      window_->resizeDocks({dock}, {window_->width() / 3}, Qt::Horizontal);
  });
}

void Presentation::enablePersistence() {
  persistent_ = true;
  QSettings s;
  restoring_ = true;
  normal_state_ = s.value(kNormalStateKey).toByteArray();
  const double zoom = s.value(kZoomKey, 1.0).toDouble();
  zoom_ = std::clamp(zoom, kMinZoom, kMaxZoom);
  if (s.value(kModeKey, false).toBool())
    setOn(true);
  else
    applyFonts();
  restoring_ = false;
}

void Presentation::save() const {
  if (!persistent_ || restoring_) return;
  QSettings s;
  s.setValue(kModeKey, on_);
  s.setValue(kZoomKey, zoom_);
  if (on_)
    s.setValue(kNormalStateKey, normal_state_);
  else
    s.remove(kNormalStateKey);
}

}  // namespace dpo::studio
