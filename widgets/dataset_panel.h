#pragma once
#include <QDialog>
#include <QFutureWatcher>
#include <QMap>
#include <QString>
#include <QStringList>
#include <QVector>
#include <QWidget>

#include <functional>

class QComboBox;
class QLabel;
class QPushButton;
class QTableWidget;
class QCustomPlot;

namespace dpo::widgets {

// What the dataset panel shows, as plain data (filled by the studio from the core's loader and stats).
struct DatasetPreviewData {
  QString source;       // file path or "embedded demo"
  QString error;        // the core's one-line error; empty on success
  QString explanation;  // the detected layout, in words
  QString layout;       // layout name (standard, sharegpt, ...)
  QStringList columns;  // keys of the file's first row (for the column mapping)
  qint64 pairs = 0;
  qint64 unpaired = 0;  // KTO rows
  qint64 skipped = 0;   // rows skipped (read or tokenize)
  QStringList skipped_messages;
  struct Row {
    qint64 line = 0;
    QString prompt, chosen, rejected;  // rejected: "(label true/false)" for KTO rows
  };
  QVector<Row> rows;  // the first ~50 pairs
  struct Histogram {
    QVector<qint64> bin_starts;
    QVector<qint64> bin_counts;
    qint64 min = 0, max = 0;
    double mean = 0.0;
  };
  Histogram prompt, chosen, rejected;  // token lengths
  qint64 chosen_longer = 0, rejected_longer = 0, same_length = 0;
  double chosen_longer_share = 0.0;
  bool length_bias_warning = false;
  QStringList warnings;  // the stats' warnings (length bias, duplicates, ...)
  QString tokenizer;  // what counted the tokens: "the embedded demo model's tokenizer", "Qwen2's tokenizer"
  QStringList truncation_warnings;  // what the run's max lengths would cut, one line each
};

// Preview of a preference file: detected layout, counts, the first pairs as text, token-length
// histograms and the length-bias share. Loads through an injected loader on a worker thread, so the
// GUI never waits on a big file.
class DatasetPanel : public QWidget {
  Q_OBJECT

 public:
  using Loader =
      std::function<DatasetPreviewData(const QString& path, const QMap<QString, QString>& columns)>;

  explicit DatasetPanel(QWidget* parent = nullptr);
  ~DatasetPanel() override;

  void setLoader(Loader loader) { loader_ = std::move(loader); }
  // Loads `path` ("" = embedded demo) off the GUI thread; a later load supersedes an earlier one.
  void load(const QString& path);
  void setColumns(const QMap<QString, QString>& columns);  // canonical <- file column; reloads
  QMap<QString, QString> columns() const { return columns_; }
  // "prompt=q,chosen=a,rejected=b" (RunOptions::columns spelling); empty without a mapping.
  QString columnsText() const;

  bool isLoading() const { return loading_; }
  const DatasetPreviewData& preview() const { return preview_; }
  void showPreview(const DatasetPreviewData& data);

  QLabel* explanationLabel() const { return explanation_; }
  QLabel* countsLabel() const { return counts_; }
  QLabel* errorLabel() const { return error_; }
  QLabel* biasLabel() const { return bias_; }
  QLabel* tokenizerLabel() const { return tokenizer_; }
  QLabel* truncationLabel() const { return truncation_; }
  QTableWidget* table() const { return table_; }
  QPushButton* columnsButton() const { return columns_button_; }

 public Q_SLOTS:
  void editColumns();  // opens the column-mapping dialog

 Q_SIGNALS:
  void loaded();  // preview() holds the new data (or its error)
  void columnsChanged(const QMap<QString, QString>& columns);

 private:
  void startLoad();
  void drawHistograms();

  Loader loader_;
  QString path_;
  QMap<QString, QString> columns_;
  DatasetPreviewData preview_;
  bool loading_ = false;
  bool reload_pending_ = false;
  QFutureWatcher<DatasetPreviewData>* watcher_ = nullptr;

  QLabel* title_ = nullptr;
  QLabel* explanation_ = nullptr;
  QLabel* counts_ = nullptr;
  QLabel* error_ = nullptr;
  QLabel* bias_ = nullptr;
  QLabel* tokenizer_ = nullptr;
  QLabel* truncation_ = nullptr;
  QPushButton* columns_button_ = nullptr;
  QTableWidget* table_ = nullptr;
  QCustomPlot* plot_ = nullptr;
};

// prompt / chosen / rejected <- a column of the file (or "(none)").
class ColumnMappingDialog : public QDialog {
  Q_OBJECT

 public:
  ColumnMappingDialog(const QStringList& file_columns, const QMap<QString, QString>& current,
                      QWidget* parent = nullptr);
  QMap<QString, QString> mapping() const;  // only the fields given a column

 private:
  QMap<QString, QComboBox*> combos_;
};

}  // namespace dpo::widgets
