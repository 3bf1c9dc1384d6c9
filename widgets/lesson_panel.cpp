#include "widgets/lesson_panel.h"

#include <QComboBox>
#include <QFrame>
#include <QGridLayout>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QVBoxLayout>
#include <QVariant>

namespace dpo::widgets {

namespace {
QLabel* wrapped(QWidget* parent) {
  auto* l = new QLabel(parent);
  l->setWordWrap(true);
  l->setTextInteractionFlags(Qt::TextSelectableByMouse);
  return l;
}
}  // namespace

LessonPanel::LessonPanel(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  list_ = new QListWidget(this);
  list_->setObjectName("lessonList");
  list_->setMaximumHeight(150);
  layout->addWidget(list_);
  open_button_ = new QPushButton(tr("Open lesson file…"), this);
  open_button_->setObjectName("openLessonButton");
  open_button_->setToolTip(
      tr("A lesson JSON file you wrote (resources/lessons/README.md describes the format)"));
  layout->addWidget(open_button_);

  auto* line = new QFrame(this);
  line->setFrameShape(QFrame::HLine);
  line->setFrameShadow(QFrame::Sunken);
  layout->addWidget(line);

  title_ = wrapped(this);
  title_->setObjectName("lessonTitle");
  QFont big = title_->font();
  big.setBold(true);
  big.setPointSizeF(big.pointSizeF() * 1.25);
  title_->setFont(big);
  layout->addWidget(title_);
  question_ = wrapped(this);
  question_->setObjectName("lessonQuestion");
  // Light boxes carry their own dark text, so they stay readable in a dark palette.
  question_->setStyleSheet(
      "QLabel { background: #fff6dd; color: #1f2328; border: 1px solid #e8a33d; border-radius: 4px; padding: "
      "6px; }");
  layout->addWidget(question_);
  plots_ = wrapped(this);
  plots_->setStyleSheet("color: #7d8794;");
  layout->addWidget(plots_);

  run_combo_ = new QComboBox(this);
  run_combo_->setObjectName("lessonRunCombo");
  run_combo_->setToolTip(tr("Which run of the lesson the Run button starts"));
  run_combo_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  run_combo_->setMinimumContentsLength(20);
  layout->addWidget(run_combo_);
  // Two rows, so a narrow dock or a large font never clips a button.
  auto* buttons = new QGridLayout;
  run_button_ = new QPushButton(tr("Run"), this);
  run_button_->setObjectName("lessonRunButton");
  run_button_->setToolTip(tr("Fill the run settings from this run of the lesson and start training"));
  reveal_button_ = new QPushButton(tr("Reveal"), this);
  reveal_button_->setObjectName("lessonRevealButton");
  reveal_button_->setToolTip(tr("Show what to look for and the explanation (after the class has answered)"));
  run_all_button_ = new QPushButton(tr("Run all && check"), this);
  run_all_button_->setObjectName("lessonRunAllButton");
  run_all_button_->setToolTip(
      tr("Run every run of the lesson one after the other, then check the symptom (PASS/FAIL with the "
         "measured values)"));
  reset_button_ = new QPushButton(tr("Reset"), this);
  reset_button_->setObjectName("lessonResetButton");
  reset_button_->setToolTip(
      tr("Back to the lesson's start: the question only, no check, no overlay in Compare, the form on its "
         "first run"));
  buttons->addWidget(run_button_, 0, 0);
  buttons->addWidget(run_all_button_, 0, 1);
  buttons->addWidget(reveal_button_, 1, 0);
  buttons->addWidget(reset_button_, 1, 1);
  layout->addLayout(buttons);
  status_ = wrapped(this);
  status_->setStyleSheet("color: #7d8794;");
  layout->addWidget(status_);
  check_ = wrapped(this);
  check_->setObjectName("lessonCheck");
  check_->setTextFormat(Qt::RichText);
  check_->setVisible(false);
  layout->addWidget(check_);

  explanation_ = wrapped(this);
  explanation_->setObjectName("lessonExplanation");
  explanation_->setTextFormat(Qt::RichText);
  explanation_->setStyleSheet(
      "QLabel { background: #eaf4ea; color: #1f2328; border: 1px solid #6aa86a; border-radius: 4px; padding: "
      "6px; }");
  layout->addWidget(explanation_);
  layout->addStretch(1);

  connect(list_, &QListWidget::currentRowChanged, this, [this](int row) {
    if (row >= 0 && row != current_) {
      showLesson(row);
      Q_EMIT lessonChosen(row);
    }
  });
  connect(open_button_, &QPushButton::clicked, this, &LessonPanel::openFileRequested);
  connect(run_combo_, &QComboBox::currentIndexChanged, this, [this] { updateRunButton(); });
  connect(run_button_, &QPushButton::clicked, this, [this] {
    if (current_ >= 0 && currentRun() >= 0) Q_EMIT runRequested(current_, currentRun());
  });
  connect(run_all_button_, &QPushButton::clicked, this, [this] {
    if (current_ >= 0) Q_EMIT runAllRequested(current_);
  });
  connect(reveal_button_, &QPushButton::clicked, this, &LessonPanel::reveal);
  connect(reset_button_, &QPushButton::clicked, this, [this] {
    if (current_ < 0) return;
    reset();
    Q_EMIT resetRequested(current_);
  });
  showLesson(-1);
}

void LessonPanel::setLessons(const QList<LessonView>& lessons) {
  lessons_.clear();
  list_->clear();
  current_ = -1;
  for (const auto& l : lessons) addLesson(l);
  showLesson(-1);
}

int LessonPanel::addLesson(const LessonView& lesson) {
  lessons_.append(lesson);
  const QString prefix = lesson.number > 0 ? QString::number(lesson.number) + ". " : QString();
  auto* item = new QListWidgetItem(prefix + lesson.title, list_);
  item->setToolTip(lesson.name);
  return static_cast<int>(lessons_.size()) - 1;
}

int LessonPanel::currentRun() const { return run_combo_->currentIndex(); }

void LessonPanel::showLesson(int index) {
  const bool valid = index >= 0 && index < lessons_.size();
  current_ = valid ? index : -1;
  revealed_ = false;
  {
    const QSignalBlocker block(list_);
    list_->setCurrentRow(current_);
  }
  run_combo_->clear();
  explanation_->clear();
  explanation_->setVisible(false);
  status_->clear();
  clearCheck();
  if (!valid) {
    title_->setText(tr("Pick a lesson"));
    question_->setText(
        tr("Each lesson asks the class a question first, then runs, then reveals the answer."));
    plots_->clear();
    run_combo_->setEnabled(false);
    run_button_->setEnabled(false);
    run_all_button_->setEnabled(false);
    reveal_button_->setEnabled(false);
    reset_button_->setEnabled(false);
    return;
  }
  const auto& l = lessons_[index];
  title_->setText(l.number > 0 ? tr("Lesson %1: %2").arg(l.number).arg(l.title) : l.title);
  question_->setText(tr("Ask the class: %1").arg(l.question));
  plots_->setText(tr("Watch: %1").arg(l.plots.join(QStringLiteral(", "))));
  for (const auto& r : l.runs) run_combo_->addItem(r);
  for (int i = 0; i < l.runs.size(); ++i) run_combo_->setItemData(i, l.runs[i], Qt::ToolTipRole);
  run_combo_->setEnabled(l.runs.size() > 1);
  run_combo_->setCurrentIndex(l.runs.isEmpty() ? -1 : 0);
  reveal_button_->setEnabled(true);
  reset_button_->setEnabled(true);
  run_all_button_->setEnabled(!l.runs.isEmpty());
  updateRunButton();
}

void LessonPanel::updateRunButton() {
  const int r = currentRun();
  const bool ok = current_ >= 0 && r >= 0 && r < lessons_[current_].runs.size();
  run_button_->setEnabled(ok);
}

void LessonPanel::reveal() {
  if (current_ < 0) return;
  const auto& l = lessons_[current_];
  revealed_ = true;
  explanation_->setText(
      tr("<b>What to look for:</b> %1<br><br><b>Why:</b> %2<br><br><b>Read more:</b> seed %3")
          .arg(l.symptom.toHtmlEscaped(), l.explanation.toHtmlEscaped(), l.seed_section.toHtmlEscaped()));
  explanation_->setVisible(true);
  if (check_passed_) showCheck();
  Q_EMIT revealedLesson(current_);
}

void LessonPanel::reset() { showLesson(current_); }

void LessonPanel::setStatus(const QString& text) { status_->setText(text); }

void LessonPanel::setCheck(bool passed, const QString& symptom, const QStringList& clauses) {
  check_passed_ = passed;
  check_symptom_ = symptom;
  check_clauses_ = clauses;
  showCheck();
}

void LessonPanel::showCheck() {
  const bool passed = check_passed_.value_or(false);
  QString html = passed ? tr("<span style='color:#1a7f37'><b>PASS</b></span>")
                        : tr("<span style='color:#cf222e'><b>FAIL</b></span>");
  if (!revealed_) {
    // The symptom and the measured clauses are the answer: they wait for Reveal.
    html += tr(": the check is done. Reveal shows what it measured.");
  } else {
    html += passed ? tr(": the symptom showed") : tr(": the symptom did not show");
    html += QStringLiteral("<br><i>%1</i><ul style='margin:2px'>").arg(check_symptom_.toHtmlEscaped());
    for (const auto& c : std::as_const(check_clauses_))
      html += QStringLiteral("<li>%1</li>").arg(c.toHtmlEscaped());
    html += QStringLiteral("</ul>");
  }
  check_->setText(html);
  check_->setProperty("passed", passed);
  check_->setVisible(true);
}

void LessonPanel::clearCheck() {
  check_passed_.reset();
  check_symptom_.clear();
  check_clauses_.clear();
  check_->clear();
  check_->setProperty("passed", QVariant());
  check_->setVisible(false);
}

}  // namespace dpo::widgets
