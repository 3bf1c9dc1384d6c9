#pragma once
#include <QObject>
#include <QString>
#include <QStringList>

class QProcess;

namespace dpo::studio {

// The `dpo` command line beside the studio binary run as a child process (a sweep, a ranking): it never
// blocks the window, its last output line is the progress to show, and finished() says how it ended.
class CliJob : public QObject {
  Q_OBJECT

 public:
  explicit CliJob(QObject* parent = nullptr);
  ~CliJob() override;

  bool start(const QStringList& arguments);  // false (and error()) when the binary is missing
  void stop();
  bool isRunning() const;
  QString lastLine() const { return last_line_; }
  QString output() const { return output_; }  // everything it printed (stdout and stderr)
  QString error() const { return error_; }
  void setCliPath(const QString& path) { cli_ = path; }
  QString cliPath() const { return cli_; }

 Q_SIGNALS:
  void finished(bool ok);

 private:
  QProcess* process_ = nullptr;
  QString cli_;
  QString last_line_;
  QString output_;
  QString error_;
};

}  // namespace dpo::studio
