#pragma once
#include <QString>
#include <QWidget>

class QLabel;
class QProgressBar;
class QPushButton;

namespace dpo::widgets {

// The status-bar strip shown while a run prepares (tokenizing, loading, the reference pass): the
// stage in words, a bar that counts when the stage can (busy otherwise), and Cancel.
class ProgressStrip : public QWidget {
  Q_OBJECT

 public:
  explicit ProgressStrip(QWidget* parent = nullptr);

  // total 0: the stage cannot count, the bar is busy. Shows the strip.
  void setProgress(const QString& stage, qint64 done, qint64 total);
  void finish();  // hides it

  QString stage() const { return stage_; }
  QProgressBar* bar() const { return bar_; }
  QPushButton* cancelButton() const { return cancel_; }

 Q_SIGNALS:
  void cancelRequested();

 private:
  QString stage_;
  QLabel* label_ = nullptr;
  QProgressBar* bar_ = nullptr;
  QPushButton* cancel_ = nullptr;
};

}  // namespace dpo::widgets
