#include "app/studio/cli_job.h"

#include <QCoreApplication>
#include <QFileInfo>
#include <QProcess>

namespace dpo::studio {

CliJob::CliJob(QObject* parent) : QObject(parent), cli_(QCoreApplication::applicationDirPath() + "/dpo") {}

CliJob::~CliJob() {
  if (isRunning()) {
    process_->kill();
    process_->waitForFinished(5000);
  }
}

bool CliJob::isRunning() const { return process_ && process_->state() != QProcess::NotRunning; }

bool CliJob::start(const QStringList& arguments) {
  if (isRunning()) return false;
  if (!QFileInfo(cli_).isExecutable()) {
    error_ = tr("%1 is missing (the dpo command line is installed beside the studio)").arg(cli_);
    return false;
  }
  error_.clear();
  last_line_.clear();
  output_.clear();
  delete process_;
  process_ = new QProcess(this);
  process_->setProcessChannelMode(QProcess::MergedChannels);
  connect(process_, &QProcess::readyRead, this, [this] {
    while (process_->canReadLine()) {
      const auto line = QString::fromUtf8(process_->readLine()).trimmed();
      if (!line.isEmpty()) last_line_ = line;
      if (output_.size() < (1 << 20)) output_ += line + '\n';
    }
  });
  connect(process_, &QProcess::finished, this, [this](int code, QProcess::ExitStatus status) {
    const auto rest = QString::fromUtf8(process_->readAll()).trimmed();
    if (!rest.isEmpty()) last_line_ = rest.section('\n', -1), output_ += rest + '\n';
    Q_EMIT finished(status == QProcess::NormalExit && code == 0);
  });
  process_->start(cli_, arguments);
  return true;
}

void CliJob::stop() {
  if (isRunning()) process_->terminate();
}

}  // namespace dpo::studio
