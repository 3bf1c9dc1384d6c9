#pragma once
#include <QDialog>

class QMainWindow;

namespace dpo::studio {

// Help ▸ About DPO Studio: the version (CMake's project VERSION, as `dpo --version` says it), the
// libtorch and BLAS in use, and where the studio keeps runs, caches and settings, which an
// uninstall leaves alone.
class AboutDialog : public QDialog {
 public:
  explicit AboutDialog(QWidget* parent = nullptr);
  QString text() const { return text_; }  // the body, as rich text

 private:
  QString text_;
};

// Adds the Help menu (last in the menu bar) with its About action.
void addHelpMenu(QMainWindow* window);

}  // namespace dpo::studio
