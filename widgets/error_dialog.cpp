#include "widgets/error_dialog.h"

#include <QMessageBox>

namespace dpo::widgets {

QMessageBox* makeErrorDialog(QWidget* parent, const QString& title, const QString& message,
                             const QString& hint, const QString& details) {
  auto* box = new QMessageBox(QMessageBox::Critical, title, QString(), QMessageBox::Ok, parent);
  box->setObjectName("errorDialog");
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->setTextFormat(Qt::RichText);
  box->setText(QStringLiteral("<b>%1</b>").arg(message.section(QLatin1Char('\n'), 0, 0).toHtmlEscaped()));
  if (!hint.isEmpty()) box->setInformativeText(hint);
  QString all = message;
  if (!details.isEmpty()) all += QStringLiteral("\n\n") + details;
  box->setDetailedText(all);
  return box;
}

}  // namespace dpo::widgets
