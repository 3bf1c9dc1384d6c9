// MainWindow: the model and dataset pickers (the built-in demo first, then recent folders and
// files) and the settings that persist between sessions (QSettings).
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QLineEdit>
#include <QSettings>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QCheckBox>

#include "app/studio/main_window.h"
#include "core/demo/demo_datasets.h"

namespace dpo::studio {

namespace {
constexpr int kRecentMax = 8;
const QString kOpenItem = QStringLiteral("\x01open");  // the "Open…" entry's data

QString demoPath(const DemoDataset& d) {
  // clean is the embedded demo itself (an empty path), so a fresh studio starts on it.
  return d.name == "clean" ? QString() : QStringLiteral("demo:") + QString::fromStdString(d.name);
}
}  // namespace

void MainWindow::fillPickers() {
  {
    const QSignalBlocker block(model_combo_);
    const QString current = model_combo_->currentData().toString();
    model_combo_->clear();
    model_combo_->addItem(tr("Demo model (built in: SFT on the demo world)"), QString());
    model_combo_->setItemData(0, tr("A small Llama trained by the project's own code; its true reward is known"), Qt::ToolTipRole);
    for (const auto& path : recent_models_) {
      model_combo_->addItem(QFileInfo(path).fileName() + QStringLiteral("  —  ") + path, path);
      model_combo_->setItemData(model_combo_->count() - 1, path, Qt::ToolTipRole);
    }
    model_combo_->addItem(tr("Open Hugging Face folder…"), kOpenItem);
    const int i = model_combo_->findData(current);
    model_combo_->setCurrentIndex(i >= 0 ? i : 0);
  }
  {
    const QSignalBlocker block(data_combo_);
    data_combo_->clear();
    for (const auto& d : demo_datasets()) {
      if (d.name == "eval") continue;  // held out: lessons measure on it, nobody should train on it
      data_combo_->addItem(tr("Demo: %1").arg(QString::fromStdString(d.name)), demoPath(d));
      data_combo_->setItemData(data_combo_->count() - 1, QString::fromStdString(d.description), Qt::ToolTipRole);
    }
    for (const auto& path : recent_data_) {
      data_combo_->addItem(QFileInfo(path).fileName(), path);
      data_combo_->setItemData(data_combo_->count() - 1, path, Qt::ToolTipRole);
    }
    data_combo_->addItem(tr("Open file…"), kOpenItem);
  }
  syncDataCombo();
}

void MainWindow::syncDataCombo() {
  const QSignalBlocker block(data_combo_);
  data_combo_->setCurrentIndex(data_combo_->findData(data_edit_->text().trimmed()));  // -1: a path typed in
}

void MainWindow::onModelPicked(int index) {
  if (model_combo_->itemData(index).toString() != kOpenItem) {
    model_index_ = index;
    return;
  }
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Hugging Face model folder (config.json, model.safetensors, tokenizer)"));
  if (dir.isEmpty()) {
    const QSignalBlocker block(model_combo_);
    model_combo_->setCurrentIndex(model_index_);
    return;
  }
  setModelDir(dir);
}

void MainWindow::onDataPicked(int index) {
  const QString path = data_combo_->itemData(index).toString();
  if (path == kOpenItem) {
    chooseDataFile();
    syncDataCombo();
    return;
  }
  data_edit_->setText(path);
}

void MainWindow::setModelDir(const QString& dir) {
  if (!dir.isEmpty()) addRecent(recent_models_, dir);
  fillPickers();
  const QSignalBlocker block(model_combo_);
  const int i = model_combo_->findData(dir);
  model_combo_->setCurrentIndex(i >= 0 ? i : 0);
  model_index_ = model_combo_->currentIndex();
}

QString MainWindow::modelDir() const {
  const QString dir = model_combo_->currentData().toString();
  return dir == kOpenItem ? QString() : dir;
}

void MainWindow::addRecent(QStringList& list, const QString& path) {
  if (path.isEmpty() || path.startsWith(QStringLiteral("demo:"))) return;
  list.removeAll(path);
  list.prepend(path);
  while (list.size() > kRecentMax) list.removeLast();
  if (persistent_) {
    QSettings settings;
    settings.setValue(QStringLiteral("recent/data"), recent_data_);
    settings.setValue(QStringLiteral("recent/models"), recent_models_);
  }
}

void MainWindow::rememberUsed(const StudioRunConfig& config) {
  addRecent(recent_data_, config.data_path);
  addRecent(recent_models_, config.model_dir);
  fillPickers();
  saveSettings();
}

void MainWindow::enablePersistence() {
  persistent_ = true;
  QSettings s;
  recent_data_ = s.value(QStringLiteral("recent/data")).toStringList();
  recent_models_ = s.value(QStringLiteral("recent/models")).toStringList();
  // Files that went away since are dropped rather than offered.
  recent_data_.erase(std::remove_if(recent_data_.begin(), recent_data_.end(), [](const QString& p) { return !QFileInfo::exists(p); }),
                     recent_data_.end());
  recent_models_.erase(std::remove_if(recent_models_.begin(), recent_models_.end(), [](const QString& p) { return !QFileInfo::exists(p); }),
                       recent_models_.end());
  fillPickers();
  if (s.contains(QStringLiteral("run/loss"))) {
    StudioRunConfig c = runConfig();
    c.data_path = s.value(QStringLiteral("run/data"), c.data_path).toString();
    if (!c.data_path.isEmpty() && !c.data_path.startsWith(QStringLiteral("demo:")) && !QFileInfo::exists(c.data_path))
      c.data_path.clear();
    c.loss_name = s.value(QStringLiteral("run/loss"), c.loss_name).toString();
    c.beta = s.value(QStringLiteral("run/beta"), c.beta).toDouble();
    c.learning_rate = s.value(QStringLiteral("run/learning_rate"), c.learning_rate).toDouble();
    c.steps = s.value(QStringLiteral("run/steps"), c.steps).toLongLong();
    c.batch_size = s.value(QStringLiteral("run/batch_size"), c.batch_size).toLongLong();
    c.eval_every = s.value(QStringLiteral("run/eval_every"), c.eval_every).toLongLong();
    setRunConfig(c);
    const QString model = s.value(QStringLiteral("run/model")).toString();
    if (!model.isEmpty() && QFileInfo::exists(model)) setModelDir(model);
  }
  smoothing_slider_->setValue(s.value(QStringLiteral("view/smoothing"), smoothing_slider_->value()).toInt());
  const int x = x_axis_combo_->findData(s.value(QStringLiteral("view/x_axis"), x_axis_combo_->currentData()));
  if (x >= 0) x_axis_combo_->setCurrentIndex(x);
  clip_check_->setChecked(s.value(QStringLiteral("view/clip_outliers"), false).toBool());
  restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray());
  restoreState(s.value(QStringLiteral("window/state")).toByteArray());
}

void MainWindow::saveSettings() {
  if (!persistent_) return;
  QSettings s;
  const StudioRunConfig c = runConfig();
  s.setValue(QStringLiteral("run/data"), c.data_path);
  s.setValue(QStringLiteral("run/model"), c.model_dir);
  s.setValue(QStringLiteral("run/loss"), c.loss_name);
  s.setValue(QStringLiteral("run/beta"), c.beta);
  s.setValue(QStringLiteral("run/learning_rate"), c.learning_rate);
  s.setValue(QStringLiteral("run/steps"), c.steps);
  s.setValue(QStringLiteral("run/batch_size"), c.batch_size);
  s.setValue(QStringLiteral("run/eval_every"), c.eval_every);
  s.setValue(QStringLiteral("view/smoothing"), smoothing_slider_->value());
  s.setValue(QStringLiteral("view/x_axis"), x_axis_combo_->currentData());
  s.setValue(QStringLiteral("view/clip_outliers"), clip_check_->isChecked());
  s.setValue(QStringLiteral("window/geometry"), saveGeometry());
  s.setValue(QStringLiteral("window/state"), saveState());
  s.setValue(QStringLiteral("recent/data"), recent_data_);
  s.setValue(QStringLiteral("recent/models"), recent_models_);
}

}  // namespace dpo::studio
