#include "app/studio/rank_controller.h"

#include <QDir>
#include <QFileInfo>

#include "app/studio/qt_text.h"
#include "core/io/json_file.h"

namespace dpo::studio {

widgets::RankViewData loadRank(const QString& dir_in) {
  widgets::RankViewData out;
  out.dir = QFileInfo(dir_in).absoluteFilePath();
  try {
    const auto j = parse_json_file((out.dir + "/rank.json").toStdString());
    out.head_to_head = j.value("head_to_head", false);
    out.judge = qstr(j.value("judge", std::string()));
    for (const auto& m : j.at("models")) {
      widgets::RankViewModel r;
      r.model = qstr(m.at("model").get<std::string>());
      r.rank = m.at("rank").get<int>();
      // Head to head: the length-controlled strength when it was fitted, else the plain one.
      const auto& value = !out.head_to_head                 ? m.at("accuracy")
                          : m.contains("length_controlled") ? m["length_controlled"].at("strength")
                                                            : m.at("strength");
      r.accuracy = value.at("estimate").get<double>();
      r.lower = value.at("lower").get<double>();
      r.upper = value.at("upper").get<double>();
      r.margin = out.head_to_head ? m.at("win_rate").get<double>()
                                  : m.at("mean_margin").at("estimate").get<double>();
      if (m.contains("pairs_file"))
        r.pairs_file = QDir(out.dir).filePath(qstr(m["pairs_file"].get<std::string>()));
      out.models.push_back(r);
    }
    if (j.contains("pairwise"))
      for (const auto& row : j["pairwise"]) {
        std::vector<std::optional<widgets::RankViewDifference>> cells;
        for (const auto& c : row) {
          if (c.is_null()) {
            cells.emplace_back();
            continue;
          }
          cells.push_back(widgets::RankViewDifference{
              c.at("difference").at("estimate").get<double>(), c.at("difference").at("lower").get<double>(),
              c.at("difference").at("upper").get<double>(), c.at("p_value").get<double>()});
        }
        out.pairwise.push_back(std::move(cells));
      }
  } catch (const std::exception& e) {
    out.error = out.dir + "/rank.json: " + qstr(e.what());
    out.models.clear();
    out.pairwise.clear();
  }
  return out;
}

RankController::RankController(widgets::RankView* view, QObject* parent)
    : QObject(parent), view_(view), job_(new CliJob(this)) {
  connect(job_, &CliJob::finished, this, [this](bool ok) {
    view_->setRunning(false);
    if (ok) {
      view_->setData(loadRank(dir_));
      view_->setStatus(tr("Ranked in %1. Click a model for its mis-ranked pairs.").arg(dir_));
    } else {
      view_->setStatus(tr("The ranking failed: %1").arg(job_->lastLine()));
    }
    Q_EMIT finished(ok);
  });
}

void RankController::start(const QStringList& models, const QString& run_dir,
                           const QStringList& base_arguments, const QString& out_dir) {
  if (isRunning()) return;
  dir_ = QFileInfo(out_dir).absoluteFilePath();
  QStringList arguments = {"rank", "--no-sample", "--quiet", "--out", dir_};
  if (!run_dir.isEmpty())
    arguments << "--run" << run_dir;
  else
    arguments << "--models" << models;
  arguments << base_arguments;
  if (!job_->start(arguments)) {
    view_->setStatus(tr("Cannot rank: %1").arg(job_->error()));
    return;
  }
  view_->setRunning(true);
  view_->setStatus(tr("Scoring %1 on the same pairs…")
                       .arg(run_dir.isEmpty() ? tr("%1 models").arg(models.size())
                                              : tr("the checkpoints of %1").arg(run_dir)));
}

}  // namespace dpo::studio
