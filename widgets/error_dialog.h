#pragma once
#include <QString>

class QMessageBox;
class QWidget;

namespace dpo::widgets {

// A non-modal error box: the first line of `message` as the cause in bold, `hint` under it (what
// was kept, what to try), and everything else (the whole message, the run's settings) behind
// "Show Details…". Deletes itself when closed; the caller opens it.
QMessageBox* makeErrorDialog(QWidget* parent, const QString& title, const QString& message,
                             const QString& hint, const QString& details);

}  // namespace dpo::widgets
