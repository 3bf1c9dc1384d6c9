#include "app/studio/settings_panel.h"

#include <QAbstractSpinBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>

#include "app/studio/qt_text.h"
#include "app/studio/run_controller.h"
#include "core/demo/demo_datasets.h"
#include "core/types/loss_config.h"
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

SettingsPanel::SettingsPanel(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(10);

  // Model and data: the built-in demo first, then recent folders and files, then Open….
  auto* data_box = new QGroupBox(tr("Model and data"), this);
  auto* data_form = new QFormLayout(data_box);
  model_combo_ = new QComboBox(data_box);
  model_combo_->setObjectName("modelCombo");
  model_combo_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  model_combo_->setMinimumContentsLength(16);
  model_combo_->setToolTip(tr(
      "The policy to train (and, frozen, its reference): the built-in demo model or a Hugging Face folder"));
  data_combo_ = new QComboBox(data_box);
  data_combo_->setObjectName("dataCombo");
  data_combo_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  data_combo_->setMinimumContentsLength(16);
  data_combo_->setToolTip(
      tr("The demo's datasets (true reward known), recent files, or any preference file"));
  data_form->addRow(tr("Model"), model_combo_);
  data_form->addRow(tr("Dataset"), data_combo_);
  auto* data_row = new QHBoxLayout;
  data_form->addRow(tr("File"), data_row);
  data_edit_ = new QLineEdit(data_box);
  data_edit_->setObjectName("dataEdit");
  data_edit_->setPlaceholderText(tr("embedded demo (240 pairs)"));
  data_edit_->setClearButtonEnabled(true);
  data_edit_->setToolTip(
      tr("Preference JSONL, one {\"prompt\", \"chosen\", \"rejected\"} object per line.\n"
         "Leave empty to train on the embedded demo."));
  open_button_ = new QPushButton(tr("Open…"), data_box);
  connect(open_button_, &QPushButton::clicked, this, &SettingsPanel::chooseDataFile);
  data_row->addWidget(data_edit_, 1);
  data_row->addWidget(open_button_);
  fillPickers();
  connect(model_combo_, &QComboBox::activated, this, &SettingsPanel::onModelPicked);
  connect(data_combo_, &QComboBox::activated, this, &SettingsPanel::onDataPicked);
  connect(data_edit_, &QLineEdit::textChanged, this, &SettingsPanel::syncDataCombo);

  // Objective
  auto* objective_box = new QGroupBox(tr("Objective"), this);
  auto* objective_form = new QFormLayout(objective_box);
  loss_combo_ = new QComboBox(objective_box);
  loss_combo_->setObjectName("lossCombo");
  for (const auto& loss : loss_table()) {
    loss_combo_->addItem(qstr(loss.label), qstr(loss.name));
    loss_combo_->setItemData(loss_combo_->count() - 1, qstr(loss.formula), Qt::ToolTipRole);
  }
  connect(loss_combo_, &QComboBox::currentIndexChanged, this, &SettingsPanel::updateLossFormula);
  objective_form->addRow(tr("Loss"), loss_combo_);
  loss_formula_ = new QLabel(objective_box);
  loss_formula_->setWordWrap(true);
  loss_formula_->setStyleSheet("color: #5f6b7a;");
  loss_formula_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  objective_form->addRow(loss_formula_);

  beta_spin_ = new QDoubleSpinBox(objective_box);
  beta_spin_->setRange(0.001, 10.0);
  beta_spin_->setDecimals(3);
  // Steps scale with the value's magnitude (0.01 → 0.011, 1 → 1.1): a log-like feel.
  beta_spin_->setStepType(QAbstractSpinBox::AdaptiveDecimalStepType);
  beta_spin_->setToolTip(
      tr("β, the DPO temperature: how strongly the policy is tied to the reference.\n"
         "Larger β keeps it closer to the reference; smaller β lets it move further.\n"
         "Typical range 0.01 – 0.5 (seed 002 §6); 0.1 is the usual start.\n"
         "While paused you may change it: it applies from the next step and is marked on the plots."));
  connect(beta_spin_, &QDoubleSpinBox::editingFinished, this, &SettingsPanel::runChangesEdited);
  objective_form->addRow(tr("β (beta)"), beta_spin_);
  beta_slider_ = new widgets::BetaSlider(objective_box);
  beta_slider_->setObjectName("betaSlider");
  objective_form->addRow(QString(), beta_slider_);
  connect(beta_slider_, &widgets::BetaSlider::betaChanged, this,
          [this](double beta) { beta_spin_->setValue(beta); });
  connect(beta_slider_, &QSlider::sliderReleased, this, &SettingsPanel::runChangesEdited);
  connect(beta_spin_, &QDoubleSpinBox::valueChanged, this,
          [this](double beta) { beta_slider_->setBeta(beta); });

  // Optimisation
  auto* optim_box = new QGroupBox(tr("Optimisation"), this);
  auto* optim_form = new QFormLayout(optim_box);
  lr_spin_ = new QDoubleSpinBox(optim_box);
  lr_spin_->setRange(1e-6, 1.0);
  lr_spin_->setDecimals(6);
  lr_spin_->setStepType(QAbstractSpinBox::AdaptiveDecimalStepType);
  lr_spin_->setToolTip(
      tr("AdamW learning rate of the policy.\n"
         "While paused you may change it: it applies from the next step and is marked on the plots."));
  connect(lr_spin_, &QDoubleSpinBox::editingFinished, this, &SettingsPanel::runChangesEdited);
  optim_form->addRow(tr("Learning rate"), lr_spin_);
  steps_spin_ = new QSpinBox(optim_box);
  steps_spin_->setRange(1, 1'000'000);
  steps_spin_->setToolTip(tr("Optimiser steps of the run."));
  optim_form->addRow(tr("Steps"), steps_spin_);
  batch_spin_ = new QSpinBox(optim_box);
  batch_spin_->setRange(1, 4096);
  batch_spin_->setToolTip(tr("Preference pairs per optimiser step."));
  optim_form->addRow(tr("Batch size (pairs)"), batch_spin_);
  eval_spin_ = new QSpinBox(optim_box);
  eval_spin_->setRange(0, 1'000'000);
  eval_spin_->setSpecialValueText(tr("only at the end"));
  eval_spin_->setToolTip(
      tr("Evaluate the held-out pairs every this many steps: eval points on the plots, sampled "
         "length, and the pair inspector."));
  optim_form->addRow(tr("Evaluate every (steps)"), eval_spin_);

  layout->addWidget(data_box);
  layout->addWidget(objective_box);
  layout->addWidget(optim_box);
  layout->addWidget(buildMoreSettings());
  connect(data_edit_, &QLineEdit::textChanged, this, &SettingsPanel::validate);
  connect(data_edit_, &QLineEdit::textChanged, this,
          [this](const QString& text) { Q_EMIT dataPathChanged(text.trimmed()); });
  connect(steps_spin_, &QSpinBox::valueChanged, this, &SettingsPanel::validate);
  connect(eval_spin_, &QSpinBox::valueChanged, this, &SettingsPanel::validate);

  // Settings a run would fail on, named before Start (which stays disabled until they are fixed).
  validation_ = new QLabel(this);
  validation_->setObjectName("settingsProblems");
  validation_->setWordWrap(true);
  validation_->hide();
  layout->addWidget(validation_);

  // The wheel scrolls the panel; it edits a field only once that field has the focus (a click or
  // Tab), never one the pointer merely passes over on its way down the form.
  for (auto* w : findChildren<QWidget*>())
    if (qobject_cast<QAbstractSpinBox*>(w) || qobject_cast<QComboBox*>(w) || qobject_cast<QSlider*>(w)) {
      w->setFocusPolicy(Qt::StrongFocus);
      w->installEventFilter(this);
    }
}

bool SettingsPanel::eventFilter(QObject* watched, QEvent* event) {
  if (event->type() == QEvent::Wheel) {
    auto* w = qobject_cast<QWidget*>(watched);
    if (w && !w->hasFocus()) {
      event->ignore();  // ignored: QApplication hands it on to the parents, i.e. the scroll area
      return true;
    }
  }
  return QWidget::eventFilter(watched, event);
}

void SettingsPanel::setRunConfig(const StudioRunConfig& config) {
  const auto& run = config.run;
  const auto& t = run.trainer;
  data_edit_->setText(QString::fromStdString(run.data_path));
  const int loss_index = loss_combo_->findData(lossName(run));
  loss_combo_->setCurrentIndex(loss_index >= 0 ? loss_index : 0);
  beta_spin_->setValue(t.loss.beta);
  lr_spin_->setValue(t.learning_rate);
  steps_spin_->setValue(static_cast<int>(t.max_steps));
  batch_spin_->setValue(static_cast<int>(t.batch_size));
  eval_spin_->setValue(static_cast<int>(t.eval_every));
  const QString model = QString::fromStdString(run.model_dir),
                reference = QString::fromStdString(run.reference_dir);
  if (model != modelDir()) setModelDir(model);
  if (reference != referenceDir()) setReferenceDir(reference);
  setSftReferenceSteps(config.sft_reference_steps);
  const int device = device_combo_->findData(QString::fromStdString(run.device));
  device_combo_->setCurrentIndex(device >= 0 ? device : 0);
  accum_spin_->setValue(static_cast<int>(t.grad_accumulation));
  processes_spin_->setValue(std::max(1, config.processes));
  seed_spin_->setValue(static_cast<int>(t.seed));
  max_length_spin_->setValue(static_cast<int>(run.tokenize.max_length));
  max_prompt_spin_->setValue(static_cast<int>(run.tokenize.max_prompt_length));
  lora_spin_->setValue(static_cast<int>(run.lora.r));
  lora_alpha_spin_->setValue(run.lora.alpha);
  beta_slider_->setBeta(t.loss.beta);
  updateLossFormula();
  validate();
}

StudioRunConfig SettingsPanel::runConfig() const {
  StudioRunConfig c;
  auto& run = c.run;
  auto& t = run.trainer;
  run.data_path = data_edit_->text().trimmed().toStdString();
  t.loss.type =
      parse_loss_type(loss_combo_->currentData().toString().toStdString()).value_or(LossType::Sigmoid);
  t.loss.beta = beta_spin_->value();
  t.learning_rate = lr_spin_->value();
  t.max_steps = steps_spin_->value();
  t.batch_size = batch_spin_->value();
  t.eval_every = eval_spin_->value();
  run.model_dir = modelDir().toStdString();
  run.reference_dir = referenceDir().toStdString();
  c.sft_reference_steps = sftReferenceSteps();
  run.device = device_combo_->currentData().toString().toStdString();
  t.grad_accumulation = accum_spin_->value();
  c.processes = processes_spin_->value();
  t.seed = static_cast<uint64_t>(seed_spin_->value());
  run.tokenize.max_length = max_length_spin_->value();
  run.tokenize.max_prompt_length = max_prompt_spin_->value();
  run.lora.r = lora_spin_->value();
  run.lora.alpha = lora_alpha_spin_->value();
  return c;
}

void SettingsPanel::updateLossFormula() {
  const QString formula = loss_combo_->currentData(Qt::ToolTipRole).toString();
  loss_formula_->setText(formula);
  loss_formula_->setVisible(!formula.isEmpty());
}

void SettingsPanel::chooseDataFile() {
  const QString path = QFileDialog::getOpenFileName(
      this, tr("Open preference pairs"), data_edit_->text(),
      tr("Preference pairs (*.jsonl *.json *.csv *.tsv *.jsonl.gz *.json.gz *.csv.gz *.tsv.gz *.gz);;"
         "All files (*)"));
  if (!path.isEmpty()) data_edit_->setText(path);
}

void SettingsPanel::setRunState(RunState state) {
  const bool idle = state == RunState::Idle;
  const bool paused = state == RunState::Paused;
  // While paused only β and the learning rate may change; everything else is fixed for the run.
  for (QWidget* w :
       std::initializer_list<QWidget*>{data_edit_, open_button_, loss_combo_, steps_spin_, batch_spin_,
                                       eval_spin_, model_combo_, data_combo_, more_settings_})
    w->setEnabled(idle);
  beta_spin_->setEnabled(idle || paused);
  beta_slider_->setEnabled(idle || paused);
  lr_spin_->setEnabled(idle || paused);
  if (idle) validate();
}

void SettingsPanel::fillPickers() {
  {
    const QSignalBlocker block(model_combo_);
    const QString current = model_combo_->currentData().toString();
    model_combo_->clear();
    model_combo_->addItem(tr("Demo model (built in: SFT on the demo world)"), QString());
    model_combo_->setItemData(
        0, tr("A small Llama trained by the project's own code; its true reward is known"), Qt::ToolTipRole);
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
      data_combo_->setItemData(data_combo_->count() - 1, QString::fromStdString(d.description),
                               Qt::ToolTipRole);
    }
    for (const auto& path : recent_data_) {
      data_combo_->addItem(QFileInfo(path).fileName(), path);
      data_combo_->setItemData(data_combo_->count() - 1, path, Qt::ToolTipRole);
    }
    data_combo_->addItem(tr("Open file…"), kOpenItem);
  }
  syncDataCombo();
}

void SettingsPanel::syncDataCombo() {
  const QSignalBlocker block(data_combo_);
  data_combo_->setCurrentIndex(data_combo_->findData(data_edit_->text().trimmed()));  // -1: a path typed in
}

void SettingsPanel::onModelPicked(int index) {
  if (model_combo_->itemData(index).toString() != kOpenItem) {
    model_index_ = index;
    validate();
    return;
  }
  const QString dir = QFileDialog::getExistingDirectory(
      this, tr("Hugging Face model folder (config.json, model.safetensors, tokenizer)"));
  if (dir.isEmpty()) {
    const QSignalBlocker block(model_combo_);
    model_combo_->setCurrentIndex(model_index_);
    return;
  }
  setModelDir(dir);
}

void SettingsPanel::onDataPicked(int index) {
  const QString path = data_combo_->itemData(index).toString();
  if (path == kOpenItem) {
    chooseDataFile();
    syncDataCombo();
    return;
  }
  data_edit_->setText(path);
}

void SettingsPanel::setModelDir(const QString& dir) {
  if (!dir.isEmpty()) addRecent(recent_models_, dir);
  fillPickers();
  const QSignalBlocker block(model_combo_);
  const int i = model_combo_->findData(dir);
  model_combo_->setCurrentIndex(i >= 0 ? i : 0);
  model_index_ = model_combo_->currentIndex();
  validate();
}

QString SettingsPanel::modelDir() const {
  const QString dir = model_combo_->currentData().toString();
  return dir == kOpenItem ? QString() : dir;
}

void SettingsPanel::addRecent(QStringList& list, const QString& path) {
  if (path.isEmpty() || path.startsWith(QStringLiteral("demo:"))) return;
  list.removeAll(path);
  list.prepend(path);
  while (list.size() > kRecentMax) list.removeLast();
  if (persistent_) saveRecent();
}

void SettingsPanel::saveRecent() const {
  QSettings settings;
  settings.setValue(QStringLiteral("recent/data"), recent_data_);
  settings.setValue(QStringLiteral("recent/models"), recent_models_);
}

void SettingsPanel::rememberUsed(const StudioRunConfig& config) {
  addRecent(recent_data_, QString::fromStdString(config.run.data_path));
  addRecent(recent_models_, QString::fromStdString(config.run.model_dir));
  fillPickers();
  if (persistent_) saveRecent();
}

void SettingsPanel::loadSettings(QSettings& s) {
  recent_data_ = s.value(QStringLiteral("recent/data")).toStringList();
  recent_models_ = s.value(QStringLiteral("recent/models")).toStringList();
  // Files that went away since are dropped rather than offered.
  const auto gone = [](const QString& p) { return !QFileInfo::exists(p); };
  recent_data_.erase(std::remove_if(recent_data_.begin(), recent_data_.end(), gone), recent_data_.end());
  recent_models_.erase(std::remove_if(recent_models_.begin(), recent_models_.end(), gone),
                       recent_models_.end());
  fillPickers();
  if (s.contains(QStringLiteral("run/loss"))) {
    StudioRunConfig c = runConfig();
    auto& t = c.run.trainer;
    const QString file = s.value(QStringLiteral("run/data")).toString();
    const bool missing =
        !file.isEmpty() && !file.startsWith(QStringLiteral("demo:")) && !QFileInfo::exists(file);
    c.run.data_path = missing ? std::string() : file.toStdString();
    const auto loss = parse_loss_type(s.value(QStringLiteral("run/loss")).toString().toStdString());
    if (loss) t.loss.type = *loss;
    t.loss.beta = s.value(QStringLiteral("run/beta"), t.loss.beta).toDouble();
    t.learning_rate = s.value(QStringLiteral("run/learning_rate"), t.learning_rate).toDouble();
    t.max_steps = s.value(QStringLiteral("run/steps"), qint64{t.max_steps}).toLongLong();
    t.batch_size = s.value(QStringLiteral("run/batch_size"), qint64{t.batch_size}).toLongLong();
    t.eval_every = s.value(QStringLiteral("run/eval_every"), qint64{t.eval_every}).toLongLong();
    setRunConfig(c);
    const QString model = s.value(QStringLiteral("run/model")).toString();
    if (!model.isEmpty() && QFileInfo::exists(model)) setModelDir(model);
  }
}

void SettingsPanel::saveSettings(QSettings& s) const {
  const auto run = runConfig().run;
  s.setValue(QStringLiteral("run/data"), QString::fromStdString(run.data_path));
  s.setValue(QStringLiteral("run/model"), QString::fromStdString(run.model_dir));
  s.setValue(QStringLiteral("run/loss"), lossName(run));
  s.setValue(QStringLiteral("run/beta"), run.trainer.loss.beta);
  s.setValue(QStringLiteral("run/learning_rate"), run.trainer.learning_rate);
  s.setValue(QStringLiteral("run/steps"), qint64{run.trainer.max_steps});
  s.setValue(QStringLiteral("run/batch_size"), qint64{run.trainer.batch_size});
  s.setValue(QStringLiteral("run/eval_every"), qint64{run.trainer.eval_every});
  s.setValue(QStringLiteral("recent/data"), recent_data_);
  s.setValue(QStringLiteral("recent/models"), recent_models_);
}

QWidget* SettingsPanel::buildMoreSettings() {
  auto* box = new QGroupBox(tr("Reference, LoRA, limits"), this);
  box->setObjectName("moreSettings");
  more_settings_ = box;
  auto* form = new QFormLayout(box);
  reference_combo_ = new QComboBox(box);
  reference_combo_->setObjectName("referenceCombo");
  reference_combo_->addItem(tr("Frozen copy of the model"), QString());
  reference_combo_->addItem(tr("Another folder…"), kOpenItem);
  reference_combo_->addItem(tr("Fit by SFT on chosen first"), kSftItem);
  reference_combo_->setItemData(
      2,
      tr("SFT on the chosen answers for the steps below, then that model is both the "
         "policy's start and π_ref (saved in the run folder as sft-reference/)"),
      Qt::ToolTipRole);
  reference_combo_->setToolTip(
      tr("π_ref, the policy's anchor. With LoRA the base model (adapters off) is the reference "
         "and no copy is kept. Its log-probs are computed once before training and cached in "
         "~/.cache/dpo-studio/reference, so no training step runs it."));
  connect(reference_combo_, &QComboBox::activated, this, [this](int index) {
    if (reference_combo_->itemData(index).toString() != kOpenItem) {
      validate();
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
  accum_spin_->setToolTip(
      tr("Micro-batches per optimiser step: the effective batch is batch size × this, at the memory "
         "cost of one micro-batch."));
  form->addRow(tr("Grad accumulation"), accum_spin_);
  processes_spin_ = new QSpinBox(box);
  processes_spin_->setObjectName("processesSpin");
  processes_spin_->setRange(1, 64);
  processes_spin_->setToolTip(
      tr("Data-parallel processes on this machine (dpo train --nproc, PyTorch's c10d with Gloo): each "
         "takes the batch size, so a step sees processes × batch pairs. The run cannot pause; each "
         "process's tokens/s shows in the status bar."));
  form->addRow(tr("Processes"), processes_spin_);
  seed_spin_ = new QSpinBox(box);
  seed_spin_->setObjectName("seedSpin");
  seed_spin_->setRange(0, 1'000'000);
  seed_spin_->setToolTip(
      tr("Seed of the data order: the same seed, settings and threads give the same run."));
  form->addRow(tr("Seed"), seed_spin_);
  max_length_spin_ = new QSpinBox(box);
  max_length_spin_->setObjectName("maxLengthSpin");
  max_length_spin_->setRange(16, 131072);
  max_length_spin_->setToolTip(
      tr("Prompt plus the longer completion, in tokens; longer pairs are truncated (counted in "
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
  lora_spin_->setToolTip(
      tr("LoRA rank on the attention projections; the base model with adapters off is then the "
         "reference. The run folder gets adapter/ (PEFT) and final/ (merged)."));
  form->addRow(tr("LoRA rank"), lora_spin_);
  lora_alpha_spin_ = new QDoubleSpinBox(box);
  lora_alpha_spin_->setObjectName("loraAlphaSpin");
  lora_alpha_spin_->setRange(0.0, 4096.0);
  lora_alpha_spin_->setDecimals(1);
  form->addRow(tr("LoRA α"), lora_alpha_spin_);
  for (auto* spin :
       {accum_spin_, processes_spin_, seed_spin_, max_length_spin_, max_prompt_spin_, lora_spin_})
    connect(spin, &QSpinBox::valueChanged, this, &SettingsPanel::validate);
  connect(lora_alpha_spin_, &QDoubleSpinBox::valueChanged, this, &SettingsPanel::validate);
  return box;
}

void SettingsPanel::setReferenceDir(const QString& dir) {
  while (reference_combo_->count() > 3) reference_combo_->removeItem(3);
  if (dir.isEmpty()) {
    reference_combo_->setCurrentIndex(0);
  } else {
    reference_combo_->addItem(QFileInfo(dir).fileName() + QStringLiteral("  —  ") + dir, dir);
    reference_combo_->setCurrentIndex(3);
  }
  validate();
}

QString SettingsPanel::referenceDir() const {
  const QString dir = reference_combo_->currentData().toString();
  return dir == kOpenItem || dir == kSftItem ? QString() : dir;
}

qint64 SettingsPanel::sftReferenceSteps() const {
  return reference_combo_->currentData().toString() == kSftItem ? sft_steps_spin_->value() : 0;
}

void SettingsPanel::setSftReferenceSteps(qint64 steps) {
  if (steps <= 0) {
    if (reference_combo_->currentData().toString() == kSftItem) reference_combo_->setCurrentIndex(0);
    return;
  }
  sft_steps_spin_->setValue(static_cast<int>(steps));
  reference_combo_->setCurrentIndex(2);
}

QStringList SettingsPanel::settingsProblems() const {
  QStringList problems;
  const QString path = data_edit_->text().trimmed();
  if (!path.isEmpty() && !path.startsWith(QStringLiteral("demo:")) && !QFileInfo(path).isFile())
    problems << tr("Data file %1 not found").arg(path);
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
    problems
        << tr("Evaluate every %1 steps is more than the %2 steps of the run (it evaluates only at the end)")
               .arg(eval_spin_->value())
               .arg(steps_spin_->value());
  return problems;
}

bool SettingsPanel::validate() {
  if (!validation_ || !more_settings_) return true;  // still building the form
  const QStringList problems = settingsProblems();
  // The eval cadence is only a warning; everything else would fail at once when the run starts.
  bool blocking = false;
  for (const auto& p : problems)
    if (!p.startsWith(tr("Evaluate every"))) blocking = true;
  validation_->setVisible(!problems.isEmpty());
  validation_->setText(problems.join(QLatin1Char('\n')));
  validation_->setStyleSheet(blocking ? QStringLiteral("color: #cf222e;")
                                      : QStringLiteral("color: #9a6700;"));
  valid_ = !blocking;
  Q_EMIT validityChanged(valid_);
  return valid_;
}

}  // namespace dpo::studio
