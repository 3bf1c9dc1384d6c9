#include "app/studio/about_dialog.h"

#include <QApplication>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMainWindow>
#include <QMenuBar>
#include <QSettings>
#include <QVBoxLayout>

#include "app/session/run_setup.h"
#include "app/studio/run_catalog.h"
#include "core/runtime/runtime.h"
#include "core/runtime/version.h"
#include "widgets/app_icon.h"

namespace dpo::studio {

AboutDialog::AboutDialog(QWidget* parent) : QDialog(parent) {
  setObjectName("aboutDialog");
  setWindowTitle(tr("About DPO Studio"));
  QString version = QString::fromLatin1(dpo::version());
  const QString torch = QStringLiteral("libtorch ") + QString::fromLatin1(torch_version());
  const QString data_dir = QString::fromStdString(installed_data_dir());
  const auto row = [](const QString& what, const QString& where) {
    return QStringLiteral("<tr><td>%1&nbsp;</td><td><code>%2</code></td></tr>")
        .arg(what, where.toHtmlEscaped());
  };
  text_ = tr("<h3>DPO Studio %1</h3>"
             "<p>Direct Preference Optimization, watched as it learns.</p>"
             "<p>%2<br>BLAS: %3</p>")
              .arg(version.toHtmlEscaped(), torch.toHtmlEscaped(),
                   QString::fromStdString(blas_description()).toHtmlEscaped()) +
          QStringLiteral("<table>") + row(tr("Runs"), defaultRunsRoot()) +
          row(tr("Caches"), QString::fromStdString(app::default_cache_dir())) +
          row(tr("Settings"), QSettings().fileName()) +
          (QFileInfo(data_dir).isDir() ? row(tr("Demo and lessons"), QDir::cleanPath(data_dir)) : QString()) +
          QStringLiteral("</table>") +
          tr("<p>Uninstalling the studio leaves your runs, caches and settings where they are.</p>");

  auto* icon = new QLabel;
  icon->setPixmap(QPixmap::fromImage(widgets::appIconImage(96)));
  icon->setAlignment(Qt::AlignTop);
  auto* body = new QLabel(text_);
  body->setObjectName("aboutText");
  body->setTextFormat(Qt::RichText);
  body->setTextInteractionFlags(Qt::TextSelectableByMouse);
  body->setWordWrap(true);
  auto* top = new QHBoxLayout;
  top->addWidget(icon);
  top->addWidget(body, 1);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(top);
  layout->addWidget(buttons);
}

void addHelpMenu(QMainWindow* window) {
  auto* help = window->menuBar()->addMenu(QObject::tr("&Help"));
  help->setObjectName("helpMenu");
  QAction* about = help->addAction(QObject::tr("&About DPO Studio"), window, [window] {
    AboutDialog dialog(window);
    dialog.exec();
  });
  about->setMenuRole(QAction::AboutRole);
  about->setObjectName("aboutAction");
}

}  // namespace dpo::studio
