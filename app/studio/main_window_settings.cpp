// MainWindow: the model and dataset pickers (the built-in demo first, then recent folders and
// files), the settings beyond the basics with their inline checks, and what persists (QSettings).
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>

#include <algorithm>

#include "app/studio/main_window.h"
#include "core/demo/demo_datasets.h"
#include "widgets/beta_slider.h"

namespace dpo::studio {

namespace {
constexpr int kRecentMax = 8;
const QString kOpenItem = QStringLiteral("\x01open");  // the "Open…" entry's data
const QString kSftItem = QStringLiteral("\x01sft");    // Reference: fit by SFT first

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
    validateSettings();
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
  validateSettings();
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

QWidget* MainWindow::buildMoreSettings(QWidget* parent) {
  auto* box = new QGroupBox(tr("Reference, LoRA, limits"), parent);
  box->setObjectName("moreSettings");
  more_settings_ = box;
  auto* form = new QFormLayout(box);
  reference_combo_ = new QComboBox(box);
  reference_combo_->setObjectName("referenceCombo");
  reference_combo_->addItem(tr("Frozen copy of the model"), QString());
  reference_combo_->addItem(tr("Another folder…"), kOpenItem);
  reference_combo_->addItem(tr("Fit by SFT on chosen first"), kSftItem);
  reference_combo_->setItemData(2, tr("SFT on the chosen answers for the steps below, then that model is both the "
                                      "policy's start and π_ref (saved in the run folder as sft-reference/)"),
                                Qt::ToolTipRole);
  reference_combo_->setToolTip(tr("π_ref, the policy's anchor. With LoRA the base model (adapters off) is the reference "
                                  "and no copy is kept. Its log-probs are computed once before training and cached in "
                                  "~/.cache/dpo-studio/reference, so no training step runs it."));
  connect(reference_combo_, &QComboBox::activated, this, [this](int index) {
    if (reference_combo_->itemData(index).toString() != kOpenItem) {
      validateSettings();
      return;
    }
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Reference model folder (Hugging Face)"));
    setReferenceDir(dir);
  });
  form->addRow(tr("Reference"), reference_combo_);
  sft_steps_spin_ = new QSpinBox(box);
  sft_steps_spin_->setObjectName("sftReferenceSteps");
  sft_steps_spin_->setRange(1, 1'000'000);
  sft_steps_spin_->setValue(50);
  sft_steps_spin_->setToolTip(tr("Optimiser steps of the SFT that fits the reference"));
  form->addRow(tr("SFT steps"), sft_steps_spin_);
  auto show_sft = [this, form] {
    const bool on = reference_combo_->currentData().toString() == kSftItem;
    form->setRowVisible(sft_steps_spin_, on);
  };
  connect(reference_combo_, &QComboBox::currentIndexChanged, this, show_sft);
  show_sft();
  device_combo_ = new QComboBox(box);
  device_combo_->setObjectName("deviceCombo");
  device_combo_->addItem(tr("auto (CUDA when present)"), QStringLiteral("auto"));
  device_combo_->addItem(tr("CPU"), QStringLiteral("cpu"));
  device_combo_->addItem(tr("CUDA"), QStringLiteral("cuda"));
  form->addRow(tr("Device"), device_combo_);
  accum_spin_ = new QSpinBox(box);
  accum_spin_->setObjectName("accumSpin");
  accum_spin_->setRange(1, 1024);
  accum_spin_->setToolTip(tr("Micro-batches per optimiser step: the effective batch is batch size × this, at the memory "
                             "cost of one micro-batch."));
  form->addRow(tr("Grad accumulation"), accum_spin_);
  seed_spin_ = new QSpinBox(box);
  seed_spin_->setObjectName("seedSpin");
  seed_spin_->setRange(0, 1'000'000);
  seed_spin_->setToolTip(tr("Seed of the data order: the same seed, settings and threads give the same run."));
  form->addRow(tr("Seed"), seed_spin_);
  max_length_spin_ = new QSpinBox(box);
  max_length_spin_->setObjectName("maxLengthSpin");
  max_length_spin_->setRange(16, 131072);
  max_length_spin_->setToolTip(tr("Prompt plus the longer completion, in tokens; longer pairs are truncated (counted in "
                                  "the Dataset tab)."));
  form->addRow(tr("Max length"), max_length_spin_);
  max_prompt_spin_ = new QSpinBox(box);
  max_prompt_spin_->setObjectName("maxPromptSpin");
  max_prompt_spin_->setRange(0, 131072);
  max_prompt_spin_->setSpecialValueText(tr("no own limit"));
  max_prompt_spin_->setToolTip(tr("Prompts longer than this keep their end."));
  form->addRow(tr("Max prompt length"), max_prompt_spin_);
  lora_spin_ = new QSpinBox(box);
  lora_spin_->setObjectName("loraRankSpin");
  lora_spin_->setRange(0, 1024);
  lora_spin_->setSpecialValueText(tr("off (full fine-tuning)"));
  lora_spin_->setToolTip(tr("LoRA rank on the attention projections; the base model with adapters off is then the "
                            "reference. The run folder gets adapter/ (PEFT) and final/ (merged)."));
  form->addRow(tr("LoRA rank"), lora_spin_);
  lora_alpha_spin_ = new QDoubleSpinBox(box);
  lora_alpha_spin_->setObjectName("loraAlphaSpin");
  lora_alpha_spin_->setRange(0.0, 4096.0);
  lora_alpha_spin_->setDecimals(1);
  form->addRow(tr("LoRA α"), lora_alpha_spin_);
  for (auto* spin : {accum_spin_, seed_spin_, max_length_spin_, max_prompt_spin_, lora_spin_})
    connect(spin, &QSpinBox::valueChanged, this, &MainWindow::validateSettings);
  connect(lora_alpha_spin_, &QDoubleSpinBox::valueChanged, this, &MainWindow::validateSettings);
  return box;
}

void MainWindow::setReferenceDir(const QString& dir) {
  while (reference_combo_->count() > 3) reference_combo_->removeItem(3);
  if (dir.isEmpty()) {
    reference_combo_->setCurrentIndex(0);
  } else {
    reference_combo_->addItem(QFileInfo(dir).fileName() + QStringLiteral("  —  ") + dir, dir);
    reference_combo_->setCurrentIndex(3);
  }
  validateSettings();
}

QString MainWindow::referenceDir() const {
  const QString dir = reference_combo_->currentData().toString();
  return dir == kOpenItem || dir == kSftItem ? QString() : dir;
}

qint64 MainWindow::sftReferenceSteps() const {
  return reference_combo_->currentData().toString() == kSftItem ? sft_steps_spin_->value() : 0;
}

void MainWindow::setSftReferenceSteps(qint64 steps) {
  if (steps <= 0) {
    if (reference_combo_->currentData().toString() == kSftItem) reference_combo_->setCurrentIndex(0);
    return;
  }
  sft_steps_spin_->setValue(static_cast<int>(steps));
  reference_combo_->setCurrentIndex(2);
}

QStringList MainWindow::settingsProblems() const {
  QStringList problems;
  const QString data = data_edit_->text().trimmed();
  if (!data.isEmpty() && !data.startsWith(QStringLiteral("demo:")) && !QFileInfo(data).isFile())
    problems << tr("Data file %1 not found").arg(data);
  auto hf_folder = [&](const QString& dir, const QString& what) {
    if (!dir.isEmpty() && !QFileInfo::exists(QDir(dir).filePath(QStringLiteral("config.json"))))
      problems << tr("%1 %2 has no config.json (a Hugging Face folder is expected)").arg(what, dir);
  };
  hf_folder(modelDir(), tr("Model folder"));
  hf_folder(referenceDir(), tr("Reference folder"));
  if (lora_spin_->value() > 0 && lora_alpha_spin_->value() <= 0) problems << tr("LoRA α must be positive");
  if (lora_spin_->value() > 0 && (!referenceDir().isEmpty() || sftReferenceSteps() > 0))
    problems << tr("With LoRA the base model is the reference: leave Reference at the frozen copy");
  if (max_prompt_spin_->value() > 0 && max_prompt_spin_->value() >= max_length_spin_->value())
    problems << tr("Max prompt length %1 leaves no room for answers under max length %2")
                    .arg(max_prompt_spin_->value())
                    .arg(max_length_spin_->value());
  if (eval_spin_->value() > steps_spin_->value())
    problems << tr("Evaluate every %1 steps is more than the %2 steps of the run (it evaluates only at the end)")
                    .arg(eval_spin_->value())
                    .arg(steps_spin_->value());
  return problems;
}

bool MainWindow::validateSettings() {
  if (!validation_ || !start_button_ || !more_settings_) return true;  // still building the window
  const QStringList problems = settingsProblems();
  // The eval cadence is only a warning; everything else would fail at once when the run starts.
  bool blocking = false;
  for (const auto& p : problems)
    if (!p.startsWith(tr("Evaluate every"))) blocking = true;
  validation_->setVisible(!problems.isEmpty());
  validation_->setText(problems.join(QLatin1Char('\n')));
  validation_->setStyleSheet(blocking ? QStringLiteral("color: #cf222e;") : QStringLiteral("color: #9a6700;"));
  if (blocking)
    start_button_->setEnabled(false);
  else if (state_ == RunState::Idle && !isViewingRun())
    start_button_->setEnabled(true);
  return !blocking;
}

}  // namespace dpo::studio
