#include "app/studio/run_catalog.h"

#include <QDir>
#include <QFileInfo>

#include <cmath>
#include <exception>
#include <map>

#include "app/session/run_records.h"
#include "core/types/checkpoint_paths.h"

namespace dpo::studio {

namespace fs = std::filesystem;

namespace {
fs::path toPath(const QString& s) { return fs::path(s.toStdString()); }
QString fromPath(const fs::path& p) { return QString::fromStdString(p.string()); }

QString scalarText(const nlohmann::json& v) {
  if (v.is_string()) return QString::fromStdString(v.get<std::string>());
  if (v.is_boolean()) return v.get<bool>() ? QStringLiteral("on") : QStringLiteral("off");
  if (v.is_number_integer() || v.is_number_unsigned()) return QString::fromStdString(v.dump());
  if (v.is_number()) return QString::number(v.get<double>(), 'g', 6);
  return QString::fromStdString(v.dump());
}

void flatten(const nlohmann::json& j, const QString& prefix, QMap<QString, QString>& out) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items())
      flatten(value,
              prefix.isEmpty() ? QString::fromStdString(key) : prefix + "." + QString::fromStdString(key),
              out);
  } else {
    out.insert(prefix, scalarText(j));
  }
}

// Settings that never change what a run learns, so never name a run in a comparison.
bool ignoredSetting(const QString& key) {
  return key == "device" || key == "trainer.bf16" || key == "trainer.per_device_eval_batch_size" ||
         key == "trainer.measure_sampled_length";
}

// Short names for the settings people vary most; the rest go by their last key.
QString settingLabel(const QString& key) {
  static const QMap<QString, QString> names{
      {"trainer.beta", QString::fromUtf8("β")},
      {"trainer.loss_type", "loss"},
      {"trainer.learning_rate", "lr"},
      {"trainer.max_steps", "steps"},
      {"trainer.per_device_train_batch_size", "batch"},
      {"trainer.gradient_accumulation_steps", "grad accum"},
      {"trainer.eval_steps", "eval every"},
      {"trainer.lr_scheduler_type", "schedule"},
      {"trainer.warmup_steps", "warmup"},
      {"trainer.label_smoothing", "label smoothing"},
      {"trainer.seed", "seed"},
      {"lora.r", "LoRA r"},
      {"data", "data"},
      {"model", "model"},
  };
  const auto it = names.find(key);
  if (it != names.end()) return *it;
  return key.section('.', -1);
}

QString settingValue(const QString& key, const QString& value) {
  if ((key == "data" || key == "model" || key == "reference" || key == "tokenizer") && !value.isEmpty())
    return QFileInfo(value).fileName();
  if ((key == "data" || key == "model") && value.isEmpty()) return QStringLiteral("demo");
  return value;
}
}  // namespace

QString defaultRunsRoot() { return fromPath(app::default_runs_root()); }

RunSummary summarizeRun(const QString& dir) {
  RunSummary s;
  s.dir = QFileInfo(dir).absoluteFilePath();
  s.name = QFileInfo(s.dir).fileName();
  const auto brief = app::brief_run(toPath(s.dir));
  s.error = QString::fromStdString(brief.error);
  s.steps_done = brief.steps_done;
  s.steps_total = brief.max_steps;
  if (brief.last) {
    s.last_accuracy = brief.last->rewards_accuracies;
    if (brief.last->beta > 0) s.last_beta = brief.last->beta;
  }
  s.resumable = brief.checkpoint.has_value();
  if (brief.checkpoint) s.checkpoint_step = checkpoint_step(*brief.checkpoint);
  s.source = QString::fromStdString(brief.config.value("source", std::string("cli")));
  if (brief.config.contains("run")) {
    flatten(brief.config["run"], {}, s.settings);
    s.loss = s.settings.value("trainer.loss_type");
    s.beta = s.settings.value("trainer.beta").toDouble();
    s.learning_rate = s.settings.value("trainer.learning_rate").toDouble();
    const auto shortName = [&](const QString& key) {
      const QString path = s.settings.value(key);
      if (path.isEmpty() || path.startsWith("demo")) return path.isEmpty() ? QStringLiteral("demo") : path;
      const QFileInfo info(path);
      return info.fileName().isEmpty() ? QFileInfo(info.path()).fileName() : info.fileName();
    };
    s.model = shortName("model");
    s.data = shortName("data");
  }
  return s;
}

QList<RunSummary> listRuns(const QString& root) {
  QList<RunSummary> out;
  for (const auto& dir : app::list_run_dirs(toPath(root))) out.push_back(summarizeRun(fromPath(dir)));
  return out;
}

RunRecords loadRunRecords(const QString& dir, qint64 up_to_step) {
  RunRecords r;
  r.summary = summarizeRun(dir);
  try {
    const auto run = app::load_run(toPath(r.summary.dir));
    const double beta = run.options.trainer.loss.beta;
    const auto keep = [&](int64_t step) { return up_to_step < 0 || step <= up_to_step; };
    std::map<int64_t, double> beta_at;  // β of each step, for the evaluations made after it
    for (const auto& m : run.metrics) {
      if (!keep(m.step)) continue;
      r.metrics.push_back(m);
      if (!(m.beta > 0)) r.metrics.back().beta = beta;  // lines written before β was logged
      beta_at[m.step] = r.metrics.back().beta;
    }
    for (const auto& e : run.evals) {
      if (!keep(e.step)) continue;
      auto it = beta_at.upper_bound(e.step);
      const double b = it == beta_at.begin() ? beta : std::prev(it)->second;
      r.evals.push_back(e);
      r.evals.back().beta = b;
    }
    for (const auto& e : run.events) {
      if (!keep(e.event.step)) continue;
      r.events.push_back(e.event);
      r.events.back().value = e.value;
    }
  } catch (const std::exception& e) {
    r.error = QString::fromStdString(e.what()).section('\n', 0, 0);
  }
  return r;
}

QStringList differingSettingLabels(const QList<RunSummary>& runs) {
  QStringList keys;  // settings whose value is not the same in every run, in a stable order
  QMap<QString, bool> seen;
  for (const auto& run : runs)
    for (auto it = run.settings.begin(); it != run.settings.end(); ++it) seen.insert(it.key(), true);
  // The usual suspects first, then the rest alphabetically.
  const QStringList first{"trainer.loss_type", "trainer.beta", "trainer.learning_rate"};
  QStringList order = first;
  for (auto it = seen.begin(); it != seen.end(); ++it)
    if (!first.contains(it.key())) order.push_back(it.key());
  for (const auto& key : order) {
    if (!seen.contains(key) || ignoredSetting(key)) continue;
    bool differs = false;
    for (const auto& run : runs)
      differs = differs || run.settings.value(key, QStringLiteral("—")) !=
                               runs.front().settings.value(key, QStringLiteral("—"));
    if (differs) keys.push_back(key);
  }
  QStringList labels;
  for (const auto& run : runs) {
    QStringList parts;
    for (const auto& key : keys)
      parts.push_back(settingLabel(key) + " " +
                      settingValue(key, run.settings.value(key, QStringLiteral("—"))));
    labels.push_back(parts.isEmpty() ? run.name : parts.join(QString::fromUtf8(" · ")));
  }
  // Runs with identical settings (a repeat) still need distinct names.
  const QStringList plain = labels;
  for (int i = 0; i < labels.size(); ++i)
    if (plain.count(plain[i]) > 1 && labels[i] != runs[i].name) labels[i] += " (" + runs[i].name + ")";
  return labels;
}

}  // namespace dpo::studio
