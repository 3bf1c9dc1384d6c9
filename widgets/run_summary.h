#pragma once
#include <QList>
#include <QMap>
#include <QMetaType>
#include <QString>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace dpo::widgets {

// One run directory as the Runs panel lists it: torch-free, filled by the studio's run catalog from
// config.json, the last metrics.jsonl line and the checkpoints (dpo::app::brief_run).
struct RunSummary {
  QString dir;   // absolute path of the run directory
  QString name;  // its folder name
  QString loss;  // "sigmoid", "ipo", ...
  double beta = 0;
  double learning_rate = 0;
  int64_t steps_done = 0;                                           // step of the last metrics line
  int64_t steps_total = 0;                                          // planned optimiser steps
  double last_accuracy = std::numeric_limits<double>::quiet_NaN();  // rewards/accuracies of the last step
  double last_beta = std::numeric_limits<double>::quiet_NaN();  // β of the last step (changed while paused)
  QString model;                                                // folder name of the model, or "demo"
  QString data;                                                 // file name of the data, or "demo"
  bool resumable = false;                                       // has a complete checkpoint
  int64_t checkpoint_step = 0;                                  // of the newest checkpoint
  QString source;                                               // "studio" or "cli"
  QString error;  // config.json missing or unreadable ("" when fine)
  // Every setting of config.json's "run", flattened: "trainer.beta" → "0.1". Compared across runs
  // to name each run in a comparison by what differs.
  QMap<QString, QString> settings;

  // β of the last step when it was logged and differs, else the run's: what a resume trains with.
  double latestBeta() const {
    const bool changed =
        std::isfinite(last_beta) && last_beta > 0 && std::abs(last_beta - beta) > 1e-9 * std::max(1.0, beta);
    return changed ? last_beta : beta;
  }
};

}  // namespace dpo::widgets

Q_DECLARE_METATYPE(dpo::widgets::RunSummary)
