#pragma once
#include <QList>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <optional>

class QComboBox;
class QLabel;
class QListWidget;
class QPushButton;

namespace dpo::widgets {

// One lesson as plain text (app/studio/lesson_controller converts core lessons).
struct LessonView {
  QString name;
  int number = 0;
  QString title;
  QString question;
  QStringList runs;   // one line per run: "high: loss sigmoid, β 5, dataset clean, ..."
  QStringList plots;  // metric names, e.g. "rewards/margins"
  QString symptom;
  QString explanation;
  QString seed_section;
};

// Lesson mode, predict-then-reveal: a list of lessons, then for the chosen one its title and the
// question (the class answers), a Run button (which run of the lesson), and a Reveal button that
// shows what to look for, the explanation and the seed 002 section. Nothing that gives the answer
// away (the symptom, the check's measured clauses) shows before Reveal. Plain Qt, no torch.
class LessonPanel : public QWidget {
  Q_OBJECT

 public:
  explicit LessonPanel(QWidget* parent = nullptr);

  void setLessons(const QList<LessonView>& lessons);
  int addLesson(const LessonView& lesson);  // a file the teacher opened; returns its index
  int lessonCount() const { return static_cast<int>(lessons_.size()); }
  int currentLesson() const { return current_; }
  int currentRun() const;
  void showLesson(int index);  // question shown, explanation hidden
  void reveal();
  void reset();  // the current lesson back to its start, as showLesson left it
  bool revealed() const { return revealed_; }
  void setStatus(const QString& text);  // one line under the buttons (what Run did)
  // The symptom check after the lesson's runs: PASS/FAIL, the symptom, one line per clause
  // ("dpo.final.loss = 0.31 < 0.5"); before Reveal only the bare PASS/FAIL.
  void setCheck(bool passed, const QString& symptom, const QStringList& clauses);
  void clearCheck();

  QListWidget* lessonList() const { return list_; }
  QLabel* titleLabel() const { return title_; }
  QLabel* questionLabel() const { return question_; }
  QLabel* explanationLabel() const { return explanation_; }
  QComboBox* runCombo() const { return run_combo_; }
  QPushButton* runButton() const { return run_button_; }
  QPushButton* revealButton() const { return reveal_button_; }
  QPushButton* runAllButton() const { return run_all_button_; }
  QLabel* checkLabel() const { return check_; }
  QPushButton* openButton() const { return open_button_; }
  QPushButton* resetButton() const { return reset_button_; }
  QLabel* statusLabel() const { return status_; }

 Q_SIGNALS:
  void lessonChosen(int index);
  void runRequested(int lesson, int run);
  void runAllRequested(int lesson);
  void openFileRequested();
  void revealedLesson(int index);
  void resetRequested(int lesson);  // after the panel reset itself

 private:
  void updateRunButton();
  void showCheck();

  QList<LessonView> lessons_;
  int current_ = -1;
  bool revealed_ = false;
  QListWidget* list_ = nullptr;
  QLabel* title_ = nullptr;
  QLabel* question_ = nullptr;
  QLabel* plots_ = nullptr;
  QComboBox* run_combo_ = nullptr;
  QPushButton* run_button_ = nullptr;
  QPushButton* reveal_button_ = nullptr;
  QPushButton* run_all_button_ = nullptr;
  QPushButton* reset_button_ = nullptr;
  QLabel* check_ = nullptr;
  std::optional<bool> check_passed_;
  QString check_symptom_;
  QStringList check_clauses_;
  QPushButton* open_button_ = nullptr;
  QLabel* status_ = nullptr;
  QLabel* explanation_ = nullptr;
};

}  // namespace dpo::widgets
