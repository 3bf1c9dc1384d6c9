#pragma once
#include <QObject>
#include <QString>
#include <QStringList>

#include "app/studio/cli_job.h"
#include "widgets/rank_view.h"

namespace dpo::studio {

// rank.json and its pairs files as the Rank tab draws them.
widgets::RankViewData loadRank(const QString& dir);

// The Rank tab's worker: `dpo rank` as a child process on the window's data; the table when it ends.
class RankController : public QObject {
  Q_OBJECT

 public:
  RankController(widgets::RankView* view, QObject* parent = nullptr);

  // Either models (folders) or a run directory (its checkpoints and final/); base: --data and friends.
  void start(const QStringList& models, const QString& run_dir, const QStringList& base_arguments,
             const QString& out_dir);
  bool isRunning() const { return job_->isRunning(); }
  CliJob* job() const { return job_; }

 Q_SIGNALS:
  void finished(bool ok);

 private:
  widgets::RankView* view_;
  CliJob* job_;
  QString dir_;
};

}  // namespace dpo::studio
