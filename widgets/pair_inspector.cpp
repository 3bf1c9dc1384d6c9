#include "widgets/pair_inspector.h"

#include <qcustomplot.h>

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QScrollArea>
#include <QSplitter>
#include <QStandardItemModel>
#include <QTableView>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "widgets/quadrant_scatter.h"
#include "widgets/token_heatmap.h"

namespace dpo::widgets {

using dpo::PairRecord;
using dpo::PreferenceEval;

namespace {
constexpr int kLineRole = Qt::UserRole + 1;
const QColor kChosen(0x00, 0x72, 0xB2);
const QColor kRejected(0xD5, 0x5E, 0x00);
const QColor kMargin(0x00, 0x9E, 0x73);

enum Column {
  kLine,
  kStatus,
  kMarginCol,
  kRewardChosen,
  kRewardRejected,
  kA,
  kB,
  kLengthDiff,
  kWeight,
  kColumns
};

QStandardItem* numberItem(double value, int decimals) {
  auto* item = new QStandardItem(QString::number(value, 'f', decimals));
  item->setData(value, Qt::UserRole);
  item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
  item->setEditable(false);
  return item;
}

std::unordered_map<qint64, const PairRecord*> byLine(const std::vector<PairRecord>& pairs) {
  std::unordered_map<qint64, const PairRecord*> out;
  for (const auto& p : pairs) out[p.line] = &p;
  return out;
}

QLabel* heading(const QString& text, QWidget* parent) {
  auto* l = new QLabel(text, parent);
  QFont f = l->font();
  f.setBold(true);
  l->setFont(f);
  l->setWordWrap(true);  // two lines on a narrow screen rather than a wider window
  return l;
}
}  // namespace

QList<qint64> filterPairs(const std::vector<PairRecord>& latest, const std::vector<PairRecord>& before,
                          PairFilter filter) {
  QList<qint64> out;
  if (filter == PairFilter::LargestMargin) {
    QVector<const PairRecord*> order;
    for (const auto& p : latest) order.push_back(&p);
    std::stable_sort(order.begin(), order.end(),
                     [](auto* x, auto* y) { return std::abs(x->margin) > std::abs(y->margin); });
    order.resize(std::min<qsizetype>(order.size(), kLargestMarginCount));
    for (const auto& p : latest)
      if (std::find(order.begin(), order.end(), &p) != order.end()) out.push_back(p.line);
    return out;
  }
  const auto previous = byLine(before);
  for (const auto& p : latest) {
    const auto it = previous.find(p.line);
    const PairRecord* was = it == previous.end() ? nullptr : it->second;
    bool keep = true;
    switch (filter) {
      case PairFilter::All:
        break;
      case PairFilter::MisrankedNow:
        keep = p.misranked;
        break;
      case PairFilter::BecameMisranked:
        keep = p.misranked && was && !was->misranked;
        break;
      case PairFilter::FlippedToCorrect:
        keep = !p.misranked && was && was->misranked;
        break;
      case PairFilter::LargestMargin:
        break;
    }
    if (keep) out.push_back(p.line);
  }
  return out;
}

PairInspector::PairInspector(QWidget* parent) : QWidget(parent) {
  auto* outer = new QVBoxLayout(this);
  outer->setContentsMargins(6, 6, 6, 6);

  auto* bar = new QHBoxLayout;
  bar->addWidget(new QLabel(tr("Show"), this));
  filter_combo_ = new QComboBox(this);
  filter_combo_->setObjectName("pairFilter");
  filter_combo_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  filter_combo_->setMinimumContentsLength(16);
  filter_combo_->addItem(tr("all eval pairs"), static_cast<int>(PairFilter::All));
  filter_combo_->addItem(tr("mis-ranked now"), static_cast<int>(PairFilter::MisrankedNow));
  filter_combo_->addItem(tr("became mis-ranked since the last eval"),
                         static_cast<int>(PairFilter::BecameMisranked));
  filter_combo_->addItem(tr("flipped to correct since the last eval"),
                         static_cast<int>(PairFilter::FlippedToCorrect));
  filter_combo_->addItem(tr("largest |margin| (top %1)").arg(kLargestMarginCount),
                         static_cast<int>(PairFilter::LargestMargin));
  connect(filter_combo_, &QComboBox::currentIndexChanged, this, [this] { rebuildTable(); });
  bar->addWidget(filter_combo_);
  count_label_ = new QLabel(this);
  bar->addWidget(count_label_);
  bar->addStretch(1);
  outer->addLayout(bar);
  auto* hint = new QLabel(tr("Click a row or a point to see which tokens drove the pair."), this);
  hint->setObjectName("pairInspectorHint");
  hint->setStyleSheet("color: #7a8594;");
  hint->setWordWrap(true);  // its own line, wrapped: never cut on a narrow screen
  outer->addWidget(hint);

  auto* split = new QSplitter(Qt::Horizontal, this);
  outer->addWidget(split, 1);

  // Left: the table over the scatter and the histogram.
  auto* left = new QSplitter(Qt::Vertical, split);
  model_ = new QStandardItemModel(0, kColumns, this);
  model_->setHorizontalHeaderLabels({tr("line"), tr("status"), tr("margin"), tr("reward y_w"),
                                     tr("reward y_l"), tr("a"), tr("b"), tr("len Δ"), tr("grad w")});
  const QString tips[kColumns] = {
      tr("The pair's line in the data file"),
      tr("At the latest evaluation, compared with the one before"),
      tr("Reward margin β·(a − b); ≤ 0 means mis-ranked"),
      tr("Implicit reward of the chosen answer, β·a"),
      tr("Implicit reward of the rejected answer, β·b"),
      tr("a = log π(y_w) − log π_ref(y_w)  [nats]"),
      tr("b = log π(y_l) − log π_ref(y_l)  [nats]"),
      tr("Chosen minus rejected response length  [tokens]"),
      tr("DPO gradient weight σ(r_l − r_w): how hard the next steps push on this pair")};
  for (int c = 0; c < kColumns; ++c) model_->horizontalHeaderItem(c)->setToolTip(tips[c]);
  model_->setSortRole(Qt::UserRole);
  table_ = new QTableView(left);
  table_->setObjectName("pairTable");
  table_->setModel(model_);
  table_->setSortingEnabled(true);
  table_->sortByColumn(kMarginCol, Qt::AscendingOrder);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->verticalHeader()->setVisible(false);
  table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 6);
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->setAlternatingRowColors(true);
  connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& current) {
            if (rebuilding_ || !current.isValid()) return;
            selectPair(model_->item(current.row(), kLine)->data(kLineRole).toLongLong());
          });
  auto* charts = new QWidget(left);
  auto* charts_row = new QHBoxLayout(charts);
  charts_row->setContentsMargins(0, 0, 0, 0);
  auto* scatter_box = new QWidget(charts);
  auto* scatter_layout = new QVBoxLayout(scatter_box);
  scatter_layout->setContentsMargins(0, 0, 0, 0);
  scatter_layout->addWidget(
      heading(tr("Why did chosen go down? Δlog π(chosen) vs Δlog π(rejected)"), scatter_box));
  scatter_ = new QuadrantScatter(scatter_box);
  scatter_layout->addWidget(scatter_, 1);
  auto* hist_box = new QWidget(charts);
  auto* hist_layout = new QVBoxLayout(hist_box);
  hist_layout->setContentsMargins(0, 0, 0, 0);
  hist_layout->addWidget(heading(tr("Margin histogram (latest eval)"), hist_box));
  histogram_ = new MarginHistogram(hist_box);
  hist_layout->addWidget(histogram_, 1);
  charts_row->addWidget(scatter_box, 1);
  charts_row->addWidget(hist_box, 1);
  connect(scatter_, &QuadrantScatter::pairClicked, this, &PairInspector::selectPair);
  left->addWidget(table_);
  left->addWidget(charts);
  left->setStretchFactor(0, 1);
  left->setStretchFactor(1, 1);

  // Right: the selected pair.
  auto* scroll = new QScrollArea(split);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  auto* detail = new QWidget;
  auto* d = new QVBoxLayout(detail);
  d->setContentsMargins(8, 0, 4, 0);
  details_ = new QLabel(tr("No pair selected. Pairs appear after the first evaluation."), detail);
  details_->setObjectName("pairDetails");
  details_->setWordWrap(true);
  details_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  d->addWidget(details_);
  d->addWidget(heading(tr("Prompt"), detail));
  prompt_ = new QLabel(detail);
  prompt_->setWordWrap(true);
  prompt_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  d->addWidget(prompt_);
  tokens_state_ = new QLabel(detail);
  tokens_state_->setWordWrap(true);
  tokens_state_->setStyleSheet("color: #7a8594;");
  d->addWidget(tokens_state_);
  d->addWidget(heading(tr("Chosen y_w, coloured by log π − log π_ref per token"), detail));
  chosen_map_ = new TokenHeatmap(detail);
  chosen_map_->setObjectName("chosenHeatmap");
  d->addWidget(chosen_map_);
  d->addWidget(heading(tr("Rejected y_l"), detail));
  rejected_map_ = new TokenHeatmap(detail);
  rejected_map_->setObjectName("rejectedHeatmap");
  d->addWidget(rejected_map_);
  legend_ = new LogRatioLegend(detail);
  d->addWidget(legend_);
  d->addWidget(heading(tr("This pair over the evaluations"), detail));
  history_plot_ = new QCustomPlot(detail);
  history_plot_->setMinimumHeight(260);
  history_plot_->xAxis->setLabel(tr("step"));
  history_plot_->yAxis->setLabel(tr("reward  [nats]"));
  for (auto [name, colour] : {std::pair{tr("margin"), kMargin}, std::pair{tr("reward y_w"), kChosen},
                              std::pair{tr("reward y_l"), kRejected}}) {
    auto* g = history_plot_->addGraph();
    g->setName(name);
    g->setPen(QPen(colour, 2));
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, colour, 6));
  }
  history_plot_->legend->setVisible(true);
  history_plot_->legend->setBrush(QColor(255, 255, 255, 210));
  // Legend in a row under the axes, so it never hides the few points.
  history_plot_->legend->setFillOrder(QCPLegend::foColumnsFirst);
  history_plot_->legend->setBorderPen(Qt::NoPen);
  auto* legend_row = new QCPLayoutGrid;
  history_plot_->plotLayout()->addElement(1, 0, legend_row);
  legend_row->setMargins(QMargins(6, 0, 6, 4));
  legend_row->addElement(0, 0, history_plot_->legend);
  history_plot_->plotLayout()->setRowStretchFactor(1, 0.001);
  auto* zero = new QCPItemStraightLine(history_plot_);
  zero->setPen(QPen(QColor(0x90, 0x90, 0x90), 1, Qt::DashLine));
  zero->point1->setCoords(0, 0);
  zero->point2->setCoords(1, 0);
  d->addWidget(history_plot_);
  d->addStretch(1);
  scroll->setWidget(detail);

  split->addWidget(left);
  split->addWidget(scroll);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  split->setSizes({600, 400});
  split->setCollapsible(0, false);
  split->setCollapsible(1, false);
  scroll->setMinimumWidth(220);
  setTokensAvailable(false);
}

PairInspector::~PairInspector() = default;

void PairInspector::addEval(const PreferenceEval& eval) {
  evals_.push_back(eval);
  scatter_->setPairs(eval.pairs);
  QVector<double> margins;
  for (const auto& p : eval.pairs) margins.push_back(p.margin);
  histogram_->setMargins(margins);
  rebuildTable();
  if (selected_)
    showPair(*selected_);  // new numbers, and the tokens are stale: ask again
  else if (!eval.pairs.empty() && !visibleLines().isEmpty())
    selectPair(visibleLines().front());
}

void PairInspector::clear() {
  evals_.clear();
  tokens_.clear();
  selected_.reset();
  scatter_->setPairs({});
  scatter_->setSelectedLine(std::nullopt);
  histogram_->setMargins({});
  histogram_->setMarked(std::nullopt);
  chosen_map_->clear();
  rejected_map_->clear();
  prompt_->clear();
  details_->setText(tr("No pair selected. Pairs appear after the first evaluation."));
  for (int g = 0; g < history_plot_->graphCount(); ++g) history_plot_->graph(g)->data()->clear();
  history_plot_->replot(QCustomPlot::rpQueuedReplot);
  rebuildTable();
}

void PairInspector::setTokensAvailable(bool available) {
  tokens_available_ = available;
  if (!available && chosen_map_->tokens().empty())
    tokens_state_->setText(
        tr("Per-token scores are computed by the running model: start a run (or pause one) and "
           "select a pair."));
}

PairFilter PairInspector::filter() const {
  return static_cast<PairFilter>(filter_combo_->currentData().toInt());
}

void PairInspector::setFilter(PairFilter filter) {
  filter_combo_->setCurrentIndex(filter_combo_->findData(static_cast<int>(filter)));
}

QList<qint64> PairInspector::visibleLines() const {
  QList<qint64> out;
  for (int r = 0; r < model_->rowCount(); ++r)
    out.push_back(model_->item(r, kLine)->data(kLineRole).toLongLong());
  return out;
}

const PairRecord* PairInspector::latestRecord(qint64 line) const {
  if (evals_.isEmpty()) return nullptr;
  for (const auto& p : evals_.back().pairs)
    if (static_cast<qint64>(p.line) == line) return &p;
  return nullptr;
}

QString PairInspector::statusOf(const PairRecord& now) const {
  const PairRecord* was = nullptr;
  if (evals_.size() >= 2)
    for (const auto& p : evals_[evals_.size() - 2].pairs)
      if (p.line == now.line) was = &p;
  if (now.misranked) return was && !was->misranked ? tr("became mis-ranked") : tr("mis-ranked");
  return was && was->misranked ? tr("flipped to correct") : tr("right");
}

void PairInspector::rebuildTable() {
  rebuilding_ = true;
  model_->removeRows(0, model_->rowCount());
  if (!evals_.isEmpty()) {
    const auto& latest = evals_.back().pairs;
    const std::vector<PairRecord> none;
    const auto& before = evals_.size() >= 2 ? evals_[evals_.size() - 2].pairs : none;
    const auto keep = filterPairs(latest, before, filter());
    for (const auto& p : latest) {
      if (!keep.contains(static_cast<qint64>(p.line))) continue;
      QList<QStandardItem*> row(kColumns);
      row[kLine] = new QStandardItem(QString::number(static_cast<qlonglong>(p.line)));
      row[kLine]->setData(static_cast<qlonglong>(p.line), Qt::UserRole);
      row[kLine]->setData(static_cast<qlonglong>(p.line), kLineRole);
      row[kLine]->setEditable(false);
      const QString status = statusOf(p);
      row[kStatus] = new QStandardItem(status);
      row[kStatus]->setData(status, Qt::UserRole);
      row[kStatus]->setEditable(false);
      if (p.misranked) row[kStatus]->setForeground(QColor(0xB2, 0x3A, 0x00));
      row[kMarginCol] = numberItem(p.margin, 4);
      row[kRewardChosen] = numberItem(p.reward_chosen, 4);
      row[kRewardRejected] = numberItem(p.reward_rejected, 4);
      row[kA] = numberItem(p.logratio_chosen, 3);
      row[kB] = numberItem(p.logratio_rejected, 3);
      row[kLengthDiff] = numberItem(static_cast<double>(p.length_difference()), 0);
      row[kWeight] = numberItem(p.gradient_weight, 3);
      model_->appendRow(row);
    }
    const int column = table_->horizontalHeader()->sortIndicatorSection();
    model_->sort(column, table_->horizontalHeader()->sortIndicatorOrder());
  }
  const int total = evals_.isEmpty() ? 0 : static_cast<int>(evals_.back().pairs.size());
  count_label_->setText(evals_.isEmpty() ? tr("no evaluation yet")
                                         : tr("%1 of %2 pairs · eval at step %3")
                                               .arg(model_->rowCount())
                                               .arg(total)
                                               .arg(evals_.back().step));
  if (selected_) {
    for (int r = 0; r < model_->rowCount(); ++r)
      if (model_->item(r, kLine)->data(kLineRole).toLongLong() == *selected_)
        table_->selectionModel()->setCurrentIndex(
            model_->index(r, 0), QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
  }
  rebuilding_ = false;
}

void PairInspector::selectPair(qint64 line) {
  if (!latestRecord(line)) return;
  selected_ = line;
  rebuilding_ = true;
  for (int r = 0; r < model_->rowCount(); ++r)
    if (model_->item(r, kLine)->data(kLineRole).toLongLong() == line) {
      table_->selectionModel()->setCurrentIndex(
          model_->index(r, 0), QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
      table_->scrollTo(model_->index(r, 0));
    }
  rebuilding_ = false;
  showPair(line);
}

QString PairInspector::detailsText() const { return details_->text(); }

void PairInspector::showPair(qint64 line) {
  const PairRecord* p = latestRecord(line);
  if (!p) return;
  scatter_->setSelectedLine(line);
  histogram_->setMarked(p->margin);
  details_->setText(
      tr("<b>Pair from line %1</b> — %2 at step %3<br>margin β·(a − b) = %4 · a = %5 · b = %6<br>"
         "DPO gradient weight σ(r_l − r_w) now = <b>%7</b> · lengths %8 / %9 tokens · loss %10")
          .arg(line)
          .arg(statusOf(*p))
          .arg(p->step)
          .arg(p->margin, 0, 'f', 4)
          .arg(p->logratio_chosen, 0, 'f', 3)
          .arg(p->logratio_rejected, 0, 'f', 3)
          .arg(p->gradient_weight, 0, 'f', 3)
          .arg(p->length_chosen)
          .arg(p->length_rejected)
          .arg(p->loss, 0, 'f', 4));
  updateHistory(line);
  // Scores of the policy as it is now are reused; older ones are asked for again.
  const bool current =
      tokens_.contains(line) && !evals_.empty() && tokens_.value(line).step == evals_.back().step;
  if (tokens_available_ && !current) {
    tokens_state_->setText(tr("Scoring the tokens of this pair…"));
    Q_EMIT pairTokensRequested(line);
  } else if (tokens_.contains(line)) {
    showTokens(tokens_.value(line));
  } else {
    chosen_map_->clear();
    rejected_map_->clear();
    prompt_->clear();
    tokens_state_->setText(tr("Per-token scores need a live run (running or paused)."));
  }
}

int PairInspector::historyPointCount() const { return history_plot_->graph(0)->dataCount(); }

std::vector<PairRecord> PairInspector::history(qint64 line) const {
  std::vector<PairRecord> out;
  for (const auto& e : evals_)
    for (const auto& p : e.pairs)
      if (static_cast<qint64>(p.line) == line) out.push_back(p);
  return out;
}

void PairInspector::updateHistory(qint64 line) {
  QVector<double> x, margin, chosen, rejected;
  for (const auto& p : history(line)) {
    x.push_back(static_cast<double>(p.step));
    margin.push_back(p.margin);
    chosen.push_back(p.reward_chosen);
    rejected.push_back(p.reward_rejected);
  }
  history_plot_->graph(0)->setData(x, margin);
  history_plot_->graph(1)->setData(x, chosen);
  history_plot_->graph(2)->setData(x, rejected);
  history_plot_->rescaleAxes();
  QCPRange xr = history_plot_->xAxis->range();
  history_plot_->xAxis->setRange(std::min(0.0, xr.lower), std::max(xr.upper, 1.0) * 1.05);
  QCPRange yr = history_plot_->yAxis->range();
  yr.expand(0.0);
  const double pad = std::max(yr.size() * 0.1, 1e-3);
  history_plot_->yAxis->setRange(yr.lower - pad, yr.upper + pad);
  history_plot_->replot(QCustomPlot::rpQueuedReplot);
}

void PairInspector::setPairTokens(const dpo::PairTokenScores& tokens) {
  tokens_.insert(static_cast<qint64>(tokens.line), tokens);
  if (selected_ && static_cast<qint64>(tokens.line) == *selected_)
    showTokens(tokens);  // else an answer to an older selection
}

void PairInspector::showTokens(const dpo::PairTokenScores& tokens) {
  double scale = 0.0;
  for (const auto* list : {&tokens.chosen, &tokens.rejected})
    for (const auto& t : *list)
      if (std::isfinite(t.logratio())) scale = std::max(scale, std::abs(t.logratio()));
  scale = std::max(scale, 0.01);
  prompt_->setText(QString::fromStdString(tokens.prompt));
  chosen_map_->setTokens(tokens.chosen, scale);
  rejected_map_->setTokens(tokens.rejected, scale);
  legend_->setScale(scale);
  double a = 0, b = 0;
  for (const auto& t : tokens.chosen) a += t.logratio();
  for (const auto& t : tokens.rejected) b += t.logratio();
  tokens_state_->setText(
      tokens.chosen.empty() && tokens.rejected.empty()
          ? tr("This pair is not in the run's eval split.")
          : tr("Policy at step %1%2. Token sums: a = %3, b = %4 nats. Hover a token for its log-probs.")
                .arg(tokens.step)
                .arg(tokens.has_reference ? QString() : tr(" (no reference model: log π_ref taken as 0)"))
                .arg(a, 0, 'f', 3)
                .arg(b, 0, 'f', 3));
}

}  // namespace dpo::widgets
