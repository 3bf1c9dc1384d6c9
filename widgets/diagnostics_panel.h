#pragma once
#include <QList>
#include <QSet>
#include <QString>
#include <QWidget>

class QLabel;
class QVBoxLayout;

namespace dpo::widgets {

// One finding as plain data; the app converts the core's findings into these.
struct DiagnosticItem {
  enum class Severity { Info, Warning, Error };
  Severity severity = Severity::Info;
  QString id;  // e.g. "beta_too_high"
  QString title;
  QString evidence;
  QString meaning;
  QString suggestion;
  QString explanation;  // plain-language background, paragraphs separated by blank lines
  qint64 step = 0;

  bool operator==(const DiagnosticItem&) const = default;
};

// The findings as cards coloured by severity (evidence, likely meaning, what to try, and a "What
// does this mean?" link that unfolds the explanation in the card), or an "all clear" line when
// there are none.
class DiagnosticsPanel : public QWidget {
  Q_OBJECT

 public:
  explicit DiagnosticsPanel(QWidget* parent = nullptr);

  // steps_checked = 0: nothing has run yet.
  void setItems(const QList<DiagnosticItem>& items, qint64 steps_checked);
  void setFootnote(const QString& text);  // a grey line under the summary; empty hides it
  void clear();

  const QList<DiagnosticItem>& items() const { return items_; }
  int itemCount() const { return static_cast<int>(items_.size()); }
  QString summary() const;  // the line above the cards
  int rebuildCount() const { return rebuilds_; }

  // Unfolds or folds a finding's explanation, as its link does; kept across refreshes.
  void setExplanationShown(const QString& id, bool shown);
  bool explanationShown(const QString& id) const { return expanded_.contains(id); }

 private:
  QWidget* buildCard(const DiagnosticItem& item);
  static QString explainLink(bool shown);

  QLabel* summary_ = nullptr;
  QLabel* footnote_ = nullptr;
  QWidget* cards_ = nullptr;
  QVBoxLayout* cards_layout_ = nullptr;
  QList<DiagnosticItem> items_;
  QSet<QString> expanded_;  // ids whose explanation is unfolded
  qint64 steps_checked_ = -1;
  int rebuilds_ = 0;
};

}  // namespace dpo::widgets
