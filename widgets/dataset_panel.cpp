#include "widgets/dataset_panel.h"

#include <qcustomplot.h>

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <map>

namespace dpo::widgets {

namespace {

QString oneLine(QString text, int limit = 400) {
  text.replace(QLatin1Char('\n'), QStringLiteral(" ⏎ "));
  if (text.size() > limit) text = text.left(limit) + QStringLiteral("…");
  return text;
}

QString binLabel(qint64 start, qint64 next) {
  if (next <= start + 1) return QString::number(start);
  return QStringLiteral("%1–%2").arg(start).arg(next - 1);
}

}  // namespace

DatasetPanel::DatasetPanel(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(8, 8, 8, 8);
  layout->setSpacing(6);

  auto* top = new QHBoxLayout;
  title_ = new QLabel(this);
  title_->setObjectName("datasetTitle");
  title_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  QFont bold = title_->font();
  bold.setBold(true);
  title_->setFont(bold);
  columns_button_ = new QPushButton(tr("Columns…"), this);
  columns_button_->setObjectName("datasetColumnsButton");
  columns_button_->setToolTip(tr("Map the file's columns to prompt / chosen / rejected"));
  connect(columns_button_, &QPushButton::clicked, this, &DatasetPanel::editColumns);
  top->addWidget(title_, 1);
  top->addWidget(columns_button_);
  layout->addLayout(top);

  explanation_ = new QLabel(this);
  explanation_->setObjectName("datasetExplanation");
  explanation_->setWordWrap(true);
  explanation_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(explanation_);

  counts_ = new QLabel(this);
  counts_->setObjectName("datasetCounts");
  counts_->setWordWrap(true);  // one long line otherwise sets the window's minimum width
  counts_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(counts_);

  error_ = new QLabel(this);
  error_->setObjectName("datasetError");
  error_->setWordWrap(true);
  error_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  error_->setStyleSheet(QStringLiteral("color: #b00020; font-weight: bold;"));
  error_->hide();
  layout->addWidget(error_);

  tokenizer_ = new QLabel(this);
  tokenizer_->setObjectName("datasetTokenizer");
  tokenizer_->setWordWrap(true);  // a long model folder name must not widen the window
  tokenizer_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  tokenizer_->setToolTip(
      tr("Token counts come from the model chosen in Model (its tokenizer and chat template)"));
  layout->addWidget(tokenizer_);

  truncation_ = new QLabel(this);
  truncation_->setObjectName("datasetTruncation");
  truncation_->setWordWrap(true);
  truncation_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  truncation_->setStyleSheet(QStringLiteral("color: #b35900; font-weight: bold;"));
  truncation_->hide();
  layout->addWidget(truncation_);

  bias_ = new QLabel(this);
  bias_->setObjectName("datasetLengthBias");
  bias_->setWordWrap(true);
  layout->addWidget(bias_);

  auto* splitter = new QSplitter(Qt::Vertical, this);
  table_ = new QTableWidget(0, 4, splitter);
  table_->setObjectName("datasetPreviewTable");
  table_->setHorizontalHeaderLabels({tr("Line"), tr("Prompt"), tr("Chosen"), tr("Rejected")});
  table_->verticalHeader()->hide();
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setWordWrap(false);
  table_->setTextElideMode(Qt::ElideRight);
  table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
  for (int c = 1; c < 4; ++c) table_->horizontalHeader()->setSectionResizeMode(c, QHeaderView::Stretch);

  plot_ = new QCustomPlot(splitter);
  plot_->setObjectName("datasetHistogram");
  plot_->setMinimumHeight(160);
  plot_->legend->setVisible(true);
  plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
  plot_->xAxis->setLabel(tr("tokens"));
  plot_->yAxis->setLabel(tr("rows"));
  plot_->plotLayout()->insertRow(0);
  plot_->plotLayout()->addElement(
      0, 0, new QCPTextElement(plot_, tr("Token lengths"), QFont(font().family(), 10, QFont::Bold)));
  splitter->addWidget(table_);
  splitter->addWidget(plot_);
  splitter->setStretchFactor(0, 1);
  splitter->setStretchFactor(1, 1);
  layout->addWidget(splitter, 1);

  watcher_ = new QFutureWatcher<DatasetPreviewData>(this);
  connect(watcher_, &QFutureWatcher<DatasetPreviewData>::finished, this, [this] {
    loading_ = false;
    if (reload_pending_) {
      reload_pending_ = false;
      startLoad();
      return;
    }
    showPreview(watcher_->result());
  });
  title_->setText(tr("No data loaded"));
}

DatasetPanel::~DatasetPanel() {
  if (watcher_) watcher_->waitForFinished();
}

void DatasetPanel::load(const QString& path) {
  path_ = path;
  if (loading_) {
    reload_pending_ = true;
    return;
  }
  startLoad();
}

void DatasetPanel::setColumns(const QMap<QString, QString>& columns) {
  if (columns == columns_) return;
  columns_ = columns;
  Q_EMIT columnsChanged(columns_);
  load(path_);
}

QString DatasetPanel::columnsText() const {
  QStringList parts;
  for (auto it = columns_.begin(); it != columns_.end(); ++it)
    parts << it.key() + QLatin1Char('=') + it.value();
  return parts.join(QLatin1Char(','));
}

void DatasetPanel::startLoad() {
  if (!loader_) return;
  loading_ = true;
  title_->setText(tr("Loading %1…").arg(path_.isEmpty() ? tr("the embedded demo") : path_));
  auto loader = loader_;
  const QString path = path_;
  const auto columns = columns_;
  watcher_->setFuture(QtConcurrent::run([loader, path, columns] { return loader(path, columns); }));
}

void DatasetPanel::showPreview(const DatasetPreviewData& preview) {
  preview_ = preview;
  const bool failed = !preview.error.isEmpty();
  QString title = preview.source.isEmpty() ? tr("embedded demo") : preview.source;
  if (!columns_.isEmpty()) title += tr("   (columns: %1)").arg(columnsText());
  title_->setText(title);
  error_->setText(preview.error);
  error_->setVisible(failed);
  explanation_->setText(failed ? QString() : preview.explanation);
  explanation_->setVisible(!failed);
  if (failed) {
    counts_->setText(preview.columns.isEmpty()
                         ? QString()
                         : tr("first row's columns: %1").arg(preview.columns.join(QStringLiteral(", "))));
  } else {
    QStringList parts;
    if (preview.unpaired > 0)
      parts << tr("%1 unpaired rows").arg(preview.unpaired);
    else
      parts << tr("%1 pairs").arg(preview.pairs);
    parts << tr("%1 skipped rows").arg(preview.skipped);
    parts << tr("layout: %1").arg(preview.layout);
    parts << tr("prompt %1 / chosen %2 / rejected %3 tokens on average")
                 .arg(preview.prompt.mean, 0, 'f', 1)
                 .arg(preview.chosen.mean, 0, 'f', 1)
                 .arg(preview.rejected.mean, 0, 'f', 1);
    counts_->setText(parts.join(QStringLiteral("  ·  ")));
    counts_->setToolTip(preview.skipped_messages.join(QLatin1Char('\n')));
  }
  tokenizer_->setText(preview.tokenizer.isEmpty() ? QString()
                                                  : tr("tokens counted with: %1").arg(preview.tokenizer));
  tokenizer_->setVisible(!preview.tokenizer.isEmpty());
  truncation_->setText(failed ? QString() : preview.truncation_warnings.join(QLatin1Char('\n')));
  truncation_->setVisible(!failed && !preview.truncation_warnings.isEmpty());
  if (failed || preview.pairs == 0) {
    bias_->clear();
    bias_->hide();
  } else {
    QString text = tr("Chosen longer than rejected in %1% of pairs (%2 longer, %3 shorter, %4 same length).")
                       .arg(100.0 * preview.chosen_longer_share, 0, 'f', 0)
                       .arg(preview.chosen_longer)
                       .arg(preview.rejected_longer)
                       .arg(preview.same_length);
    if (preview.length_bias_warning)
      text +=
          tr(" Length bias: DPO can learn \"longer is better\" from this preview instead of the preference; "
             "watch the chosen/rejected length plot.");
    bias_->setText(text);
    bias_->setStyleSheet(preview.length_bias_warning ? QStringLiteral("color: #b35900; font-weight: bold;")
                                                     : QString());
    bias_->show();
  }

  table_->setRowCount(0);
  table_->setRowCount(static_cast<int>(preview.rows.size()));
  for (int r = 0; r < preview.rows.size(); ++r) {
    const auto& row = preview.rows[r];
    auto* line = new QTableWidgetItem(QString::number(row.line));
    line->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    table_->setItem(r, 0, line);
    const QString texts[3] = {row.prompt, row.chosen, row.rejected};
    for (int c = 0; c < 3; ++c) {
      auto* item = new QTableWidgetItem(oneLine(texts[c]));
      item->setToolTip(texts[c].left(4000));
      item->setData(Qt::UserRole, texts[c]);
      table_->setItem(r, c + 1, item);
    }
  }
  drawHistograms();
  Q_EMIT loaded();
}

void DatasetPanel::drawHistograms() {
  plot_->clearPlottables();
  const auto& d = preview_;
  // Power-of-two bins line up across the three columns: map every bin start to one slot.
  std::map<qint64, int> slot;
  for (const auto* h : {&d.prompt, &d.chosen, &d.rejected})
    for (qint64 s : h->bin_starts) slot.emplace(s, 0);
  int index = 0;
  for (auto& [start, i] : slot) i = index++;
  auto ticker = QSharedPointer<QCPAxisTickerText>(new QCPAxisTickerText);
  for (auto it = slot.begin(); it != slot.end(); ++it) {
    auto next = std::next(it);
    ticker->addTick(it->second, binLabel(it->first, next == slot.end() ? it->first * 2 : next->first));
  }
  plot_->xAxis->setTicker(ticker);
  plot_->xAxis->setTickLabelRotation(slot.size() > 8 ? 30 : 0);

  auto* group = new QCPBarsGroup(plot_);
  group->setSpacingType(QCPBarsGroup::stAbsolute);
  group->setSpacing(1);
  struct Series {
    const DatasetPreviewData::Histogram* h;
    QString name;
    QColor color;
  };
  const bool kto = d.unpaired > 0;
  const Series series[3] = {{&d.prompt, tr("prompt"), QColor(0x60, 0x60, 0x60)},
                            {&d.chosen, kto ? tr("completion") : tr("chosen"), QColor(0x2e, 0x7d, 0x32)},
                            {&d.rejected, tr("rejected"), QColor(0xc6, 0x28, 0x28)}};
  double top = 1;
  for (const auto& s : series) {
    if (s.h->bin_starts.isEmpty()) continue;
    auto* bars = new QCPBars(plot_->xAxis, plot_->yAxis);
    bars->setName(tr("%1 (mean %2)").arg(s.name).arg(s.h->mean, 0, 'f', 1));
    bars->setPen(QPen(s.color.darker(120)));
    bars->setBrush(s.color);
    bars->setWidth(0.27);
    bars->setBarsGroup(group);
    QVector<double> x, y;
    for (int i = 0; i < s.h->bin_starts.size(); ++i) {
      x << slot[s.h->bin_starts[i]];
      y << static_cast<double>(s.h->bin_counts.value(i));
      top = std::max(top, y.back());
    }
    bars->setData(x, y, true);
  }
  plot_->xAxis->setRange(-0.6, std::max<double>(0.6, static_cast<double>(slot.size()) - 0.4));
  plot_->yAxis->setRange(0, top * 1.15);
  plot_->legend->setVisible(plot_->plottableCount() > 0);
  plot_->replot();
}

void DatasetPanel::editColumns() {
  ColumnMappingDialog dialog(preview_.columns, columns_, this);
  if (dialog.exec() == QDialog::Accepted) setColumns(dialog.mapping());
}

ColumnMappingDialog::ColumnMappingDialog(const QStringList& file_columns,
                                         const QMap<QString, QString>& current, QWidget* parent)
    : QDialog(parent) {
  setWindowTitle(tr("Column mapping"));
  auto* layout = new QVBoxLayout(this);
  auto* hint =
      new QLabel(file_columns.isEmpty()
                     ? tr("The file's first row could not be read; type the column names.")
                     : tr("Columns of the file's first row: %1").arg(file_columns.join(QStringLiteral(", "))),
                 this);
  hint->setWordWrap(true);
  layout->addWidget(hint);
  auto* form = new QFormLayout;
  for (const QString& field :
       {QStringLiteral("prompt"), QStringLiteral("chosen"), QStringLiteral("rejected")}) {
    auto* combo = new QComboBox(this);
    combo->setObjectName(field + QStringLiteral("Column"));
    combo->setEditable(true);
    combo->addItem(tr("(as detected)"), QString());
    for (const auto& c : file_columns) combo->addItem(c, c);
    const QString chosen = current.value(field);
    if (!chosen.isEmpty()) {
      const int i = combo->findData(chosen);
      if (i >= 0)
        combo->setCurrentIndex(i);
      else
        combo->setEditText(chosen);
    }
    combos_[field] = combo;
    form->addRow(field + QStringLiteral(" ←"), combo);
  }
  layout->addLayout(form);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  layout->addWidget(buttons);
}

QMap<QString, QString> ColumnMappingDialog::mapping() const {
  QMap<QString, QString> m;
  for (auto it = combos_.begin(); it != combos_.end(); ++it) {
    QComboBox* combo = it.value();
    QString column =
        combo->currentIndex() > 0 && combo->currentText() == combo->itemText(combo->currentIndex())
            ? combo->currentData().toString()
            : combo->currentText().trimmed();
    if (column == tr("(as detected)")) column.clear();
    if (!column.isEmpty() && column != it.key()) m[it.key()] = column;
  }
  return m;
}

}  // namespace dpo::widgets
