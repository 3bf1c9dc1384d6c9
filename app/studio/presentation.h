#pragma once
#include <QByteArray>
#include <QFont>
#include <QObject>

class QAction;
class QScrollArea;

namespace dpo::studio {

class MainWindow;

// View ▸ Presentation and the zoom keys (issue 18, the classroom mode). Zoom (Ctrl+ / Ctrl− /
// Ctrl+0) scales every font of the studio: the application font, the widgets that set their own
// size (plot titles, the lesson title) and the plots' axis, legend and label fonts, which
// QCustomPlot keeps apart from the widget font. Presentation mode adds a further factor for a
// projector, hides the advanced settings, the settings column, the plots' captions and the Runs and
// Run log docks, and gives the Lessons dock (with Diagnostics behind it) the left of the window.
// Created by the MainWindow next to the LessonController; adds its actions to the View menu.
class Presentation : public QObject {
  Q_OBJECT

 public:
  static constexpr double kPresentationScale = 1.35;
  static constexpr double kZoomStep = 0.1;
  static constexpr double kMinZoom = 0.5;
  static constexpr double kMaxZoom = 3.0;

  explicit Presentation(MainWindow* window);
  ~Presentation() override;  // gives the application its own font back

  bool isOn() const { return on_; }
  void setOn(bool on);
  double zoom() const { return zoom_; }
  void setZoom(double zoom);  // clamped to [kMinZoom, kMaxZoom]
  void zoomIn() { setZoom(zoom_ + kZoomStep); }
  void zoomOut() { setZoom(zoom_ - kZoomStep); }
  void resetZoom() { setZoom(1.0); }
  // What every font is multiplied by now: the zoom, times kPresentationScale in presentation mode.
  double fontScale() const { return on_ ? zoom_ * kPresentationScale : zoom_; }
  const QFont& baseFont() const { return base_font_; }  // the application font at scale 1

  // Restores the mode and zoom of the last session and saves each change from now on (QSettings);
  // called with MainWindow::enablePersistence, so tests and headless runs neither read nor write them.
  void enablePersistence();

  QAction* presentationAction() const { return presentation_action_; }
  QAction* zoomInAction() const { return zoom_in_action_; }
  QAction* zoomOutAction() const { return zoom_out_action_; }
  QAction* resetZoomAction() const { return reset_zoom_action_; }
  QAction* settingsColumnAction() const { return settings_column_action_; }  // View ▸ Run settings

 Q_SIGNALS:
  void changed();  // the mode or the zoom

 private:
  void applyFonts();
  void applyLayout();
  void fitLeftColumn();  // the settings column's minimum width follows its fonts
  QScrollArea* leftColumn() const;
  void setSettingsColumnVisible(bool on);
  void save() const;

  MainWindow* window_;
  QFont base_font_;
  double applied_scale_ = 1.0;  // the scale the fonts carry now
  double zoom_ = 1.0;
  bool on_ = false;
  bool persistent_ = false;
  bool restoring_ = false;   // enablePersistence: the window already has the saved layout
  QByteArray normal_state_;  // the docks before presentation mode, restored after it
  QAction* presentation_action_ = nullptr;
  QAction* settings_column_action_ = nullptr;
  QAction* zoom_in_action_ = nullptr;
  QAction* zoom_out_action_ = nullptr;
  QAction* reset_zoom_action_ = nullptr;
};

}  // namespace dpo::studio
