#pragma once
#include <QObject>
#include <QString>
#include <QVector>

#include "app/studio/cli_job.h"
#include "widgets/synth_pairs_dialog.h"

namespace dpo::studio {

// `dpo pairs --candidates`'s file as the dialog previews it; throws dpo::Error naming file and line.
QVector<widgets::SynthPreviewPrompt> loadCandidates(const QString& file);

// The Synthetic pairs dialog's worker: `dpo pairs` with the window's model as a child process, into a
// new file beside the runs; the preview and the report when it ends.
class SynthController : public QObject {
  Q_OBJECT

 public:
  SynthController(widgets::SynthPairsDialog* dialog, QObject* parent = nullptr);

  // model_dir: the window's model (empty: the demo model); out_dir: where the pairs file goes.
  void generate(const QString& model_dir, const QString& out_dir);
  CliJob* job() const { return job_; }

 Q_SIGNALS:
  void finished(bool ok);

 private:
  widgets::SynthPairsDialog* dialog_;
  CliJob* job_;
  QString pairs_, candidates_;
};

}  // namespace dpo::studio
