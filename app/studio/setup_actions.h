#pragma once
#include <QObject>
#include <QString>
#include <QStringList>

#include "app/session/setup_file.h"

class QAction;

namespace dpo::studio {

class MainWindow;

// Shareable state (issue 18): Run ▸ Copy run setup puts the `dpo train …` line of the form's settings
// on the clipboard; File ▸ Save setup… / Open setup… write and read a setup file (.dposetup: the
// settings, the open lesson, the tab shown) that `dpo-studio --setup` and `dpo train --setup` open.
// Created by the MainWindow after its menus; works through its public API only.
class SetupActions : public QObject {
  Q_OBJECT

 public:
  explicit SetupActions(MainWindow* window);

  QAction* copyAction() const { return copy_; }
  QAction* saveAction() const { return save_; }
  QAction* openAction() const { return open_; }

  QString commandLine() const;  // `dpo train …` of the form's settings, shell-quoted
  void copyRunSetup();          // to the clipboard, and shown in the status bar

  app::SetupFile currentSetup() const;  // the form, the lesson open in the Lessons dock, the tab shown
  bool saveSetup(const QString& path);  // false: see lastError()
  bool openSetup(const QString& path);  // reads and applies; false (lastError()) leaves the studio as it was
  // Fills the form, opens the lesson, shows the tab. False (lastError()) for a lesson the studio lacks.
  bool applySetup(const app::SetupFile& setup, const QString& label = {});
  // Settings of the last applied setup that the form has no place for (config.json keys): the
  // studio trains them at their defaults, `dpo train --setup` with the file's values.
  QStringList notInForm() const { return not_in_form_; }
  QString lastError() const { return last_error_; }

 private:
  void chooseSaveFile();
  void chooseOpenFile();
  void fail(const QString& message);

  MainWindow* window_;
  QAction* copy_ = nullptr;
  QAction* save_ = nullptr;
  QAction* open_ = nullptr;
  QStringList not_in_form_;
  QString last_error_;
};

}  // namespace dpo::studio
