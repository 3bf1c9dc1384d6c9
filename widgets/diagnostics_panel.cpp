#include "widgets/diagnostics_panel.h"

#include <QFrame>
#include <QHBoxLayout>
#include <QLabel>
#include <QScrollArea>
#include <QVBoxLayout>

namespace dpo::widgets {

namespace {

struct Look {
  const char* word;
  const char* edge;
  const char* tint;
};

Look look(DiagnosticItem::Severity s) {
  switch (s) {
    case DiagnosticItem::Severity::Error:
      return {"Error", "#c0392b", "#fdecea"};
    case DiagnosticItem::Severity::Warning:
      return {"Warning", "#d68910", "#fff5e1"};
    case DiagnosticItem::Severity::Info:
      return {"Note", "#0072b2", "#e9f2fa"};
  }
  return {"Note", "#0072b2", "#e9f2fa"};
}

const char* const kChecks =
    "Checked as the run goes: margin stuck at zero with the loss at ln 2 (β too high) · chosen and rejected "
    "log-ratios both falling at a high price (β too low) · chosen answers losing probability without "
    "benefit · held-out loss rising (overfitting) · loss spikes (learning rate) · accuracy saturating "
    "early · NaN or infinite values · length bias between chosen and rejected.";

const char* const kWhy =
    "Three things tell a DPO run's health: the reward margin (it should rise; stuck near zero means the "
    "run learns nothing), the chosen and rejected log-ratios (both falling fast together means the "
    "policy is drifting away from the reference), and the held-out pairs (their loss should fall; "
    "rising again means memorising).";

// Plain paragraphs (separated by blank lines) as rich text.
QString paragraphs(const QString& text) {
  QString html;
  for (const auto& p : text.split(QStringLiteral("\n\n"), Qt::SkipEmptyParts))
    html += QStringLiteral("<p>%1</p>").arg(p.toHtmlEscaped());
  return html;
}

QLabel* wrapped(const QString& text, QWidget* parent) {
  auto* label = new QLabel(text, parent);
  label->setWordWrap(true);
  label->setTextInteractionFlags(Qt::TextSelectableByMouse);
  return label;
}

}  // namespace

DiagnosticsPanel::DiagnosticsPanel(QWidget* parent) : QWidget(parent) {
  setObjectName("diagnosticsPanel");
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(6, 6, 6, 6);
  layout->setSpacing(6);

  summary_ = wrapped({}, this);
  summary_->setObjectName("diagnosticsSummary");
  layout->addWidget(summary_);
  footnote_ = wrapped({}, this);
  footnote_->setObjectName("diagnosticsFootnote");
  footnote_->setStyleSheet("color: #5f6b7a;");
  footnote_->hide();
  layout->addWidget(footnote_);

  auto* scroll = new QScrollArea(this);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  cards_ = new QWidget(scroll);
  cards_layout_ = new QVBoxLayout(cards_);
  cards_layout_->setContentsMargins(0, 0, 0, 0);
  cards_layout_->setSpacing(8);
  // Layout: the cards, then what is checked, then a stretch.
  auto* checks = wrapped(tr(kChecks), cards_);
  checks->setObjectName("diagnosticsChecks");
  checks->setStyleSheet("color: #7a8594;");
  checks->setToolTip(tr(kWhy));
  cards_layout_->addWidget(checks);
  cards_layout_->addStretch(1);
  scroll->setWidget(cards_);
  layout->addWidget(scroll, 1);
  clear();
}

QString DiagnosticsPanel::explainLink(bool shown) {
  return QStringLiteral("<a href=\"explain\">%1</a>")
      .arg(shown ? tr("Hide the explanation") : tr("What does this mean?"));
}

void DiagnosticsPanel::clear() {
  items_.clear();
  steps_checked_ = -1;
  setFootnote({});
  setItems({}, 0);
}

void DiagnosticsPanel::setExplanationShown(const QString& id, bool shown) {
  if (shown)
    expanded_.insert(id);
  else
    expanded_.remove(id);
  for (auto* card : cards_->findChildren<QFrame*>("diagnosticCard", Qt::FindDirectChildrenOnly)) {
    if (card->property("findingId").toString() != id) continue;
    if (auto* explanation = card->findChild<QLabel*>("findingExplanation")) explanation->setVisible(shown);
    if (auto* link = card->findChild<QLabel*>("findingExplain")) link->setText(explainLink(shown));
  }
}

void DiagnosticsPanel::setFootnote(const QString& text) {
  footnote_->setText(text);
  footnote_->setVisible(!text.isEmpty());
}

QString DiagnosticsPanel::summary() const { return summary_->text(); }

void DiagnosticsPanel::setItems(const QList<DiagnosticItem>& items, qint64 steps_checked) {
  if (steps_checked == 0) {
    summary_->setText(
        tr("Findings about the run appear here once training starts: β too high or too low, "
           "chosen answers losing probability, overfitting, length exploitation, early saturation, "
           "loss spikes, NaNs."));
    summary_->setStyleSheet("color: #5f6b7a;");
  } else if (items.isEmpty()) {
    summary_->setText(tr("✓ All clear so far: no warning sign in %1 steps.").arg(steps_checked));
    summary_->setStyleSheet("color: #1e7a4f; font-weight: bold;");
  } else {
    int problems = 0;
    for (const auto& item : items) problems += item.severity != DiagnosticItem::Severity::Info;
    const QString count = items.size() == 1
                              ? (problems ? tr("1 finding") : tr("1 note"))
                              : (problems ? tr("%1 findings") : tr("%1 notes")).arg(items.size());
    summary_->setText(problems ? tr("%1 after %2 steps:").arg(count).arg(steps_checked)
                               : tr("No problem in %1 steps; %2:").arg(steps_checked).arg(count));
    summary_->setStyleSheet(problems ? "font-weight: bold;" : "color: #1e7a4f; font-weight: bold;");
  }
  steps_checked_ = steps_checked;
  // Recomputed about once a second: rebuild the cards only when a finding changed.
  constexpr int kFixedRows = 2;  // the checks line and the stretch
  if (items == items_ && cards_layout_->count() == items_.size() + kFixedRows) return;
  items_ = items;
  ++rebuilds_;
  while (cards_layout_->count() > kFixedRows) {
    QLayoutItem* old = cards_layout_->takeAt(0);
    delete old->widget();
    delete old;
  }
  for (qsizetype i = 0; i < items_.size(); ++i)
    cards_layout_->insertWidget(static_cast<int>(i), buildCard(items_[i]));
}

QWidget* DiagnosticsPanel::buildCard(const DiagnosticItem& item) {
  const Look l = look(item.severity);
  auto* card = new QFrame(cards_);
  card->setObjectName("diagnosticCard");
  card->setProperty("findingId", item.id);
  // The tints are light in any palette, so the text on them is dark in any palette too.
  card->setStyleSheet(QStringLiteral("QFrame#diagnosticCard { background: %1; border-left: 4px solid %2; "
                                     "border-radius: 3px; } QFrame#diagnosticCard QLabel { color: #1f2328; }")
                          .arg(QString::fromLatin1(l.tint), QString::fromLatin1(l.edge)));
  auto* layout = new QVBoxLayout(card);
  layout->setContentsMargins(10, 6, 8, 6);
  layout->setSpacing(3);

  auto* title = wrapped(QStringLiteral("<span style='color:%1'>%2</span> · %3")
                            .arg(QString::fromLatin1(l.edge), tr(l.word), item.title.toHtmlEscaped()),
                        card);
  title->setObjectName("findingTitle");
  QFont bold = title->font();
  bold.setBold(true);
  title->setFont(bold);
  layout->addWidget(title);

  auto* body = wrapped(QStringLiteral("<b>%1</b> %2<br><b>%3</b> %4<br><b>%5</b> %6")
                           .arg(tr("Evidence:"), item.evidence.toHtmlEscaped(), tr("Likely meaning:"),
                                item.meaning.toHtmlEscaped(), tr("Try:"), item.suggestion.toHtmlEscaped()),
                       card);
  body->setObjectName("findingBody");
  layout->addWidget(body);

  auto* footer = new QHBoxLayout;
  footer->setContentsMargins(0, 0, 0, 0);
  QLabel* explanation = nullptr;
  if (!item.explanation.isEmpty()) {
    const bool shown = expanded_.contains(item.id);
    auto* link = new QLabel(card);
    link->setObjectName("findingExplain");
    link->setTextFormat(Qt::RichText);
    link->setTextInteractionFlags(Qt::LinksAccessibleByMouse | Qt::LinksAccessibleByKeyboard);
    link->setFocusPolicy(Qt::TabFocus);
    link->setText(explainLink(shown));
    footer->addWidget(link);
    explanation = wrapped(paragraphs(item.explanation), card);
    explanation->setObjectName("findingExplanation");
    explanation->setTextFormat(Qt::RichText);
    explanation->setVisible(shown);
    const QString id = item.id;
    connect(link, &QLabel::linkActivated, this,
            [this, id] { setExplanationShown(id, !expanded_.contains(id)); });
  }
  footer->addStretch(1);
  if (item.step > 0) {
    auto* step = new QLabel(tr("at step %1").arg(item.step), card);
    step->setObjectName("findingStep");
    step->setStyleSheet("QLabel { color: #5f6b7a; }");
    footer->addWidget(step);
  }
  layout->addLayout(footer);
  if (explanation) layout->addWidget(explanation);
  return card;
}

}  // namespace dpo::widgets
