#include "widgets/synth_pairs_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace dpo::widgets {

SynthPairsDialog::SynthPairsDialog(QWidget* parent) : QDialog(parent) {
  setWindowTitle(tr("Synthetic preference pairs"));
  auto* layout = new QVBoxLayout(this);
  auto* intro =
      new QLabel(tr("The model answers each prompt k times; a scorer rates every answer; a strategy "
                    "turns the ratings into (chosen, rejected) pairs you can train on."),
                 this);
  intro->setWordWrap(true);
  layout->addWidget(intro);
  auto* form = new QFormLayout;
  auto* prompts_row = new QHBoxLayout;
  prompts_ = new QLineEdit(this);
  prompts_->setPlaceholderText(tr("the demo's prompts"));
  auto* browse = new QPushButton(tr("Open…"), this);
  prompts_row->addWidget(prompts_, 1);
  prompts_row->addWidget(browse);
  form->addRow(tr("Prompts"), prompts_row);
  max_prompts_ = new QSpinBox(this);
  max_prompts_->setRange(0, 1000000);
  max_prompts_->setSpecialValueText(tr("all"));
  form->addRow(tr("At most"), max_prompts_);
  k_ = new QSpinBox(this);
  k_->setRange(2, 256);
  k_->setValue(4);
  form->addRow(tr("Answers per prompt (k)"), k_);
  scorer_ = new QLineEdit("true", this);
  scorer_->setToolTip(
      tr("Weighted scorers: length, regex, keyword, true (the demo world's reward), cmd, "
         "logprob, implicit — e.g. true:1,length:-0.01"));
  form->addRow(tr("Scorer"), scorer_);
  strategy_ = new QComboBox(this);
  for (const char* s : {"best-vs-worst", "best-vs-random", "random", "all-above-margin"})
    strategy_->addItem(s);
  form->addRow(tr("Strategy"), strategy_);
  min_margin_ = new QDoubleSpinBox(this);
  min_margin_->setRange(0, 1e6);
  min_margin_->setDecimals(3);
  form->addRow(tr("Minimum score margin"), min_margin_);
  temperature_ = new QDoubleSpinBox(this);
  temperature_->setRange(0, 5);
  temperature_->setValue(1.0);
  form->addRow(tr("Temperature"), temperature_);
  max_new_tokens_ = new QSpinBox(this);
  max_new_tokens_->setRange(1, 4096);
  max_new_tokens_->setValue(32);
  form->addRow(tr("Longest answer (tokens)"), max_new_tokens_);
  seed_ = new QSpinBox(this);
  seed_->setRange(0, 1 << 30);
  form->addRow(tr("Seed"), seed_);
  from_last_run_ = new QCheckBox(tr("Sample from the last run's trained model (the next round)"), this);
  from_last_run_->setObjectName("synthFromLastRun");
  from_last_run_->setEnabled(false);
  from_last_run_->setToolTip(
      tr("Iterative DPO: the model the last run trained answers, is scored and paired, "
         "and the next run starts from it"));
  form->addRow(from_last_run_);
  for (auto* w : findChildren<QAbstractSpinBox*>()) w->setFocusPolicy(Qt::StrongFocus);
  layout->addLayout(form);

  auto* buttons = new QHBoxLayout;
  generate_ = new QPushButton(tr("Generate"), this);
  train_ = new QPushButton(tr("Train on these"), this);
  train_->setEnabled(false);
  train_->setToolTip(tr("Use the pairs file as the window's dataset"));
  buttons->addWidget(generate_);
  buttons->addWidget(train_);
  buttons->addStretch(1);
  layout->addLayout(buttons);
  status_ = new QLabel(this);
  status_->setWordWrap(true);
  layout->addWidget(status_);
  report_ = new QLabel(this);
  report_->setObjectName("synthReport");
  report_->setWordWrap(true);
  report_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(report_);
  preview_ = new QTreeWidget(this);
  preview_->setColumnCount(3);
  preview_->setHeaderLabels({tr("prompt / answer"), tr("score"), tr("became")});
  preview_->header()->setSectionResizeMode(0, QHeaderView::Stretch);
  preview_->header()->setStretchLastSection(false);
  preview_->setMinimumHeight(220);
  layout->addWidget(preview_, 1);
  resize(760, 640);

  connect(browse, &QPushButton::clicked, this, [this] {
    const QString file = QFileDialog::getOpenFileName(
        this, tr("Prompts"), {}, tr("Prompts (*.jsonl *.json *.csv *.tsv *.txt *.gz);;All files (*)"));
    if (!file.isEmpty()) prompts_->setText(file);
  });
  connect(generate_, &QPushButton::clicked, this, &SynthPairsDialog::generateRequested);
  connect(train_, &QPushButton::clicked, this, [this] { Q_EMIT trainRequested(pairs_file_); });
}

QStringList SynthPairsDialog::arguments() const {
  QStringList a = {"pairs",
                   "--k",
                   QString::number(k_->value()),
                   "--scorer",
                   scorer_->text().trimmed(),
                   "--strategy",
                   strategy_->currentText(),
                   "--min-margin",
                   QString::number(min_margin_->value(), 'g', 10),
                   "--temperature",
                   QString::number(temperature_->value(), 'g', 10),
                   "--max-new-tokens",
                   QString::number(max_new_tokens_->value()),
                   "--seed",
                   QString::number(seed_->value())};
  if (!prompts_->text().trimmed().isEmpty()) a << "--prompts" << prompts_->text().trimmed();
  if (max_prompts_->value() > 0) a << "--max-prompts" << QString::number(max_prompts_->value());
  return a;
}

bool SynthPairsDialog::fromLastRun() const {
  return from_last_run_->isEnabled() && from_last_run_->isChecked();
}

void SynthPairsDialog::setLastRunAvailable(bool available) {
  from_last_run_->setEnabled(available);
  if (!available) from_last_run_->setChecked(false);
}

void SynthPairsDialog::setRunning(bool running) {
  generate_->setEnabled(!running);
  if (running) train_->setEnabled(false);
}

void SynthPairsDialog::setStatus(const QString& text) { status_->setText(text); }

void SynthPairsDialog::setResult(const QVector<SynthPreviewPrompt>& prompts, const QString& report,
                                 const QString& pairs_file) {
  pairs_file_ = pairs_file;
  report_->setText(report);
  train_->setEnabled(!pairs_file.isEmpty());
  preview_->clear();
  for (const auto& p : prompts) {
    auto* top = new QTreeWidgetItem(preview_, {p.prompt.simplified()});
    int paired = 0;
    for (const auto& a : p.answers) {
      auto* child =
          new QTreeWidgetItem(top, {a.text.simplified().isEmpty() ? tr("(empty)") : a.text.simplified(),
                                    QString::number(a.score, 'g', 4), a.role});
      child->setToolTip(0, a.text);
      if (a.role == "chosen") child->setForeground(2, QColor(0x2e, 0x7d, 0x32));
      if (a.role == "rejected") child->setForeground(2, QColor(0xc6, 0x28, 0x28));
      paired += !a.role.isEmpty();
    }
    top->setText(2, paired > 0 ? tr("%1 paired").arg(paired) : tr("dropped"));
    top->setExpanded(true);
  }
}

}  // namespace dpo::widgets
