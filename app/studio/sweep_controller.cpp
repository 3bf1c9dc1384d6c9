#include "app/studio/sweep_controller.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QProcess>
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
    : QObject(parent), view_(view), cli_(QCoreApplication::applicationDirPath() + "/dpo") {
  poll_ = new QTimer(this);
  poll_->setInterval(2000);
  connect(poll_, &QTimer::timeout, this, [this] {
    if (!dir_.isEmpty() && QFileInfo::exists(dir_ + "/sweep.json")) view_->setData(loadSweep(dir_));
    if (!last_line_.isEmpty()) view_->setStatus(tr("Sweeping: %1").arg(last_line_));
  });
  connect(view_, &widgets::SweepView::stopRequested, this, &SweepController::stop);
}

SweepController::~SweepController() {
  if (process_ && process_->state() != QProcess::NotRunning) {
    process_->kill();
    process_->waitForFinished(5000);
  }
}

bool SweepController::isRunning() const { return process_ && process_->state() != QProcess::NotRunning; }

void SweepController::start(const QStringList& base_arguments, const QString& out_dir) {
  if (isRunning()) return;
  if (!QFileInfo(cli_).isExecutable()) {
    view_->setStatus(
        tr("Cannot run a sweep: %1 is missing (the dpo command line is installed beside the studio)")
            .arg(cli_));
    return;
  }
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
  last_line_.clear();
  delete process_;
  process_ = new QProcess(this);
  process_->setProcessChannelMode(QProcess::MergedChannels);
  connect(process_, &QProcess::readyRead, this, [this] {
    while (process_->canReadLine()) {
      const auto line = QString::fromUtf8(process_->readLine()).trimmed();
      if (!line.isEmpty()) last_line_ = line;
    }
  });
  connect(process_, &QProcess::finished, this, [this](int code, QProcess::ExitStatus status) {
    poll_->stop();
    const auto rest = QString::fromUtf8(process_->readAll()).trimmed();
    if (!rest.isEmpty()) last_line_ = rest.section('\n', -1);
    view_->setRunning(false);
    const bool ok = status == QProcess::NormalExit && code == 0;
    auto data = loadSweep(dir_);
    view_->setData(data);
    if (!ok) view_->setStatus(tr("The sweep stopped: %1").arg(last_line_));
    Q_EMIT finished(ok);
  });
  view_->setRunning(true);
  view_->setStatus(tr("Starting the sweep in %1").arg(dir_));
  process_->start(cli_, arguments);
  poll_->start();
}

void SweepController::stop() {
  if (isRunning()) process_->terminate();
}

void SweepController::open(const QString& dir) {
  dir_ = QFileInfo(dir).absoluteFilePath();
  view_->setData(loadSweep(dir_));
}

}  // namespace dpo::studio
