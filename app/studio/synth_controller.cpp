#include "app/studio/synth_controller.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>

#include <nlohmann/json.hpp>

#include "app/studio/qt_text.h"
#include "core/io/json_file.h"
#include "core/io/text_file.h"
#include "core/runtime/error.h"

namespace dpo::studio {

QVector<widgets::SynthPreviewPrompt> loadCandidates(const QString& file) {
  QVector<widgets::SynthPreviewPrompt> out;
  const auto text = read_text(file.toStdString());
  size_t start = 0, line = 0;
  while (start < text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    ++line;
    const std::string_view row(text.data() + start, end - start);
    start = end + 1;
    if (row.empty()) continue;
    const auto label = file.toStdString() + ":" + std::to_string(line);
    const auto j = parse_json_text(row, label);
    try {
      widgets::SynthPreviewPrompt p;
      p.prompt = qstr(j.at("prompt").get<std::string>());
      for (const auto& a : j.at("answers"))
        p.answers.push_back({qstr(a.at("text").get<std::string>()), a.at("score").get<double>(),
                             a.value("tokens", 0), qstr(a.value("role", std::string()))});
      out.push_back(p);
    } catch (const nlohmann::json::exception& e) {
      throw ConfigError(label + ": not a candidates row (" + e.what() + ")");
    }
  }
  return out;
}

SynthController::SynthController(widgets::SynthPairsDialog* dialog, QObject* parent)
    : QObject(parent), dialog_(dialog), job_(new CliJob(this)) {
  connect(job_, &CliJob::finished, this, [this](bool ok) {
    dialog_->setRunning(false);
    QStringList report;
    for (const auto& line : job_->output().split('\n'))
      if (line.startsWith("pairs:") || line.startsWith("dropped prompts:") || line.startsWith("length bias:"))
        report << line;
    QVector<widgets::SynthPreviewPrompt> preview;
    QString problem;
    try {
      if (QFileInfo::exists(candidates_)) preview = loadCandidates(candidates_);
    } catch (const Error& e) {
      problem = qstr(e.what());
    }
    double sum = 0;
    int answers = 0;
    for (const auto& p : preview)
      for (const auto& a : p.answers) sum += a.score, ++answers;
    if (answers > 0)
      report.prepend(
          tr("mean score of the %1 sampled answers: %2").arg(answers).arg(sum / answers, 0, 'f', 4));
    dialog_->setResult(preview, report.join('\n'), ok ? pairs_ : QString());
    dialog_->setStatus(ok ? tr("Wrote %1").arg(pairs_)
                          : tr("No pairs: %1").arg(problem.isEmpty() ? job_->lastLine() : problem));
    Q_EMIT finished(ok);
  });
}

void SynthController::generate(const QString& model_dir, const QString& out_dir) {
  if (job_->isRunning()) return;
  QDir().mkpath(out_dir);
  const QString stem =
      QDir(out_dir).filePath("pairs-" + QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss"));
  pairs_ = stem + ".jsonl";
  candidates_ = stem + ".candidates.jsonl";
  QStringList args = dialog_->arguments();
  if (!model_dir.isEmpty()) args << "--model" << model_dir;
  args << "--out" << pairs_ << "--candidates" << candidates_ << "--quiet";
  if (!job_->start(args)) return dialog_->setStatus(tr("Cannot generate: %1").arg(job_->error()));
  dialog_->setRunning(true);
  dialog_->setStatus(tr("Sampling and scoring…"));
}

}  // namespace dpo::studio
