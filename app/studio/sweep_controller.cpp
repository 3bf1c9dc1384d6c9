#include "app/studio/sweep_controller.h"

#include <QDir>
#include <QFileInfo>
#include <QTimer>

#include <filesystem>

#include "app/session/run_records.h"
#include "app/studio/qt_text.h"
#include "core/io/json_file.h"
#include "core/runtime/error.h"

namespace dpo::studio {

namespace fs = std::filesystem;

namespace {

// sweep.json's (or sweep_cell.json's) cell fields → the view's measures.
widgets::SweepViewCell cell_of(const nlohmann::json& j, const fs::path& dir) {
  widgets::SweepViewCell c;
  c.loss = qstr(j.value("loss", std::string()));
  c.beta = j.value("beta", 0.0);
  c.name = qstr(j.value("name", std::string()));
  c.run_dir = QString::fromStdString((dir / j.value("name", std::string())).string());
  const std::pair<const char*, const char*> fields[] = {{"heldout_accuracy", "held-out accuracy"},
                                                        {"true_reward", "true reward"},
                                                        {"sampled_kl", "KL to the reference"},
                                                        {"heldout_margin", "held-out margin"},
                                                        {"sampled_length", "sampled length"}};
  for (const auto& [key, measure] : fields)
    if (j.contains(key) && j[key].is_number()) c.outcomes[measure] = j[key].get<double>();
  try {
    for (const auto& m : app::load_run(c.run_dir.toStdString()).metrics)
      c.loss_curve << QPointF(static_cast<double>(m.step), m.loss);
  } catch (const Error&) {
    // A cell whose records cannot be read still shows its outcomes.
  }
  return c;
}

}  // namespace

widgets::SweepViewData loadSweep(const QString& dir_in) {
  widgets::SweepViewData out;
  out.dir = QFileInfo(dir_in).absoluteFilePath();
  const fs::path dir = out.dir.toStdString();
  try {
    const auto sweep = parse_json_file(dir / "sweep.json");
    if (sweep.contains("cells")) {
      for (const auto& c : sweep["cells"]) out.cells.push_back(cell_of(c, dir));
      if (sweep.contains("recommendation")) {
        out.recommended = qstr(sweep["recommendation"].value("cell", std::string()));
        out.reason = qstr(sweep["recommendation"].value("reason", std::string()));
      }
      return out;
    }
    // Still running (or stopped): the cells finished so far, in folder order.
    std::vector<fs::path> done;
    for (const auto& entry : fs::directory_iterator(dir))
      if (fs::is_regular_file(entry.path() / "sweep_cell.json")) done.push_back(entry.path());
    std::sort(done.begin(), done.end());
    for (const auto& d : done)
      out.cells.push_back(cell_of(parse_json_file(d / "sweep_cell.json").at("cell"), dir));
  } catch (const std::exception& e) {
    out.error = qstr(e.what());
  }
  return out;
}

SweepController::SweepController(widgets::SweepView* view, QObject* parent)
    : QObject(parent), view_(view), job_(new CliJob(this)) {
  poll_ = new QTimer(this);
  poll_->setInterval(2000);
  connect(poll_, &QTimer::timeout, this, [this] {
    if (!dir_.isEmpty() && QFileInfo::exists(dir_ + "/sweep.json")) view_->setData(loadSweep(dir_));
    if (!job_->lastLine().isEmpty()) view_->setStatus(tr("Sweeping: %1").arg(job_->lastLine()));
  });
  connect(view_, &widgets::SweepView::stopRequested, job_, &CliJob::stop);
  connect(job_, &CliJob::finished, this, [this](bool ok) {
    poll_->stop();
    view_->setRunning(false);
    view_->setData(loadSweep(dir_));
    if (!ok) view_->setStatus(tr("The sweep stopped: %1").arg(job_->lastLine()));
    Q_EMIT finished(ok);
  });
}

bool SweepController::isRunning() const { return job_->isRunning(); }

void SweepController::start(const QStringList& base_arguments, const QString& out_dir) {
  if (isRunning()) return;
  dir_ = QFileInfo(out_dir).absoluteFilePath();
  QStringList arguments = {"sweep",
                           "--beta",
                           view_->betasText(),
                           "--loss",
                           view_->lossesText(),
                           "--steps",
                           QString::number(view_->steps()),
                           "--out",
                           dir_};
  arguments << base_arguments;
  if (!job_->start(arguments)) {
    view_->setStatus(tr("Cannot run a sweep: %1").arg(job_->error()));
    return;
  }
  view_->setRunning(true);
  view_->setStatus(tr("Starting the sweep in %1").arg(dir_));
  poll_->start();
}

void SweepController::stop() { job_->stop(); }

void SweepController::open(const QString& dir) {
  dir_ = QFileInfo(dir).absoluteFilePath();
  view_->setData(loadSweep(dir_));
}

}  // namespace dpo::studio
