// The studio's dataset panel (issue 5): files from ../shared/data/preference load off the GUI thread
// with the right layout, counts and first pair; a broken file shows the core's file:line error.
#include <QComboBox>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include "app/studio/dataset_preview.h"
#include "app/studio/diagnostics_feed.h"
#include "app/studio/main_window.h"
#include "app/studio/run_panel.h"
#include "app/studio/runs_browser.h"
#include "app/studio/settings_panel.h"
#include "app/studio/status_bar.h"
#include "app/studio/training_plots.h"
#include "widgets/dataset_panel.h"

using dpo::widgets::DatasetPanel;
using dpo::widgets::DatasetPreviewData;

namespace {

QString shared(const char* relative) { return QStringLiteral(DPO_SHARED_DATA "/") + QLatin1String(relative); }

// Loads through the panel (worker thread) and waits for the result.
const DatasetPreviewData& loadIn(DatasetPanel& panel, const QString& path) {
  QSignalSpy spy(&panel, &DatasetPanel::loaded);
  panel.load(path);
  if (spy.isEmpty()) spy.wait(60000);
  return panel.preview();
}

}  // namespace

class TestDatasetPanel : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void standardPreference() {
    const QString path = shared("preference/trl_zen/standard_preference.jsonl");
    if (!QFile::exists(path)) QSKIP("shared data missing");
    DatasetPanel panel;
    panel.setLoader([](const QString& p, const QMap<QString, QString>& c) {
      return dpo::studio::loadDatasetPreview(p, c);
    });
    const auto& d = loadIn(panel, path);
    QVERIFY2(d.error.isEmpty(), qPrintable(d.error));
    QCOMPARE(d.pairs, qint64(19));
    QCOMPARE(d.skipped, qint64(0));
    QCOMPARE(d.layout, QStringLiteral("standard"));
    QVERIFY(!d.explanation.isEmpty());
    QVERIFY(panel.explanationLabel()->text() == d.explanation);
    QVERIFY(panel.countsLabel()->text().contains(QStringLiteral("19 pairs")));
    QVERIFY(panel.errorLabel()->isHidden());
    QCOMPARE(panel.table()->rowCount(), 19);
    QCOMPARE(panel.table()->item(0, 1)->data(Qt::UserRole).toString(),
             QStringLiteral("Beautiful is better than"));
    QCOMPARE(panel.table()->item(0, 2)->data(Qt::UserRole).toString(), QStringLiteral(" ugly."));
    QCOMPARE(panel.table()->item(0, 3)->data(Qt::UserRole).toString(), QStringLiteral(" the moon."));
    QVERIFY(!d.prompt.bin_starts.isEmpty());
    QVERIFY(!d.chosen.bin_counts.isEmpty());
    qint64 total = 0;
    for (auto c : d.chosen.bin_counts) total += c;
    QCOMPARE(total, qint64(19));
    QCOMPARE(d.chosen_longer + d.rejected_longer + d.same_length, qint64(19));
    QVERIFY(panel.biasLabel()->text().contains(QStringLiteral("% of pairs")));
    QCOMPARE(d.columns, QStringList({"prompt", "chosen", "rejected"}));
  }

  void shareGptDemo() {
    const QString path = shared("preference/llamafactory/dpo_en_demo.json");
    if (!QFile::exists(path)) QSKIP("shared data missing");
    DatasetPanel panel;
    panel.setLoader([](const QString& p, const QMap<QString, QString>& c) {
      return dpo::studio::loadDatasetPreview(p, c);
    });
    const auto& d = loadIn(panel, path);
    QVERIFY2(d.error.isEmpty(), qPrintable(d.error));
    QCOMPARE(d.pairs, qint64(300));
    QCOMPARE(d.layout, QStringLiteral("sharegpt"));
    QCOMPARE(panel.table()->rowCount(), 50);
    // Rendered through the chat template: the prompt ends on the assistant turn's start.
    const QString prompt = panel.table()->item(0, 1)->data(Qt::UserRole).toString();
    QVERIFY2(prompt.contains(QStringLiteral("<|im_start|>user")), qPrintable(prompt.left(200)));
    QVERIFY(prompt.endsWith(QStringLiteral("<|im_start|>assistant\n")));
    QVERIFY(!panel.table()->item(0, 2)->data(Qt::UserRole).toString().isEmpty());
  }

  void brokenFileShowsFileAndLine() {
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("broken.jsonl"));
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(
        "{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"}\n{\"prompt\": \"a\", \"chosen\": \n");
    f.close();
    DatasetPanel panel;
    panel.setLoader([](const QString& p, const QMap<QString, QString>& c) {
      return dpo::studio::loadDatasetPreview(p, c);
    });
    const auto& d = loadIn(panel, path);
    QVERIFY(!d.error.isEmpty());
    QVERIFY2(d.error.contains(QStringLiteral("broken.jsonl:2")), qPrintable(d.error));
    QVERIFY(!d.error.contains(QLatin1Char('\n')));
    QVERIFY(panel.errorLabel()->isVisibleTo(&panel));
    QCOMPARE(panel.errorLabel()->text(), d.error);
    QCOMPARE(panel.table()->rowCount(), 0);
    // A file that does not exist: one line, no crash.
    const auto& missing = loadIn(panel, dir.filePath(QStringLiteral("nope.jsonl")));
    QVERIFY(!missing.error.isEmpty());
  }

  void columnMapping() {
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("odd.jsonl"));
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("{\"question\": \"Why?\", \"good\": \" Because.\", \"bad\": \" No.\"}\n");
    f.close();
    DatasetPanel panel;
    panel.setLoader([](const QString& p, const QMap<QString, QString>& c) {
      return dpo::studio::loadDatasetPreview(p, c);
    });
    auto d = loadIn(panel, path);
    QVERIFY(!d.error.isEmpty());  // nothing detected without a mapping
    QCOMPARE(d.columns, QStringList({"question", "good", "bad"}));
    dpo::widgets::ColumnMappingDialog dialog(d.columns, {});
    auto* prompt = dialog.findChild<QComboBox*>(QStringLiteral("promptColumn"));
    auto* chosen = dialog.findChild<QComboBox*>(QStringLiteral("chosenColumn"));
    auto* rejected = dialog.findChild<QComboBox*>(QStringLiteral("rejectedColumn"));
    QVERIFY(prompt && chosen && rejected);
    prompt->setCurrentIndex(prompt->findData(QStringLiteral("question")));
    chosen->setCurrentIndex(chosen->findData(QStringLiteral("good")));
    rejected->setCurrentIndex(rejected->findData(QStringLiteral("bad")));
    const auto mapping = dialog.mapping();
    QCOMPARE(mapping.value("prompt"), QStringLiteral("question"));
    QSignalSpy spy(&panel, &DatasetPanel::loaded);
    panel.setColumns(mapping);
    QVERIFY(spy.wait(60000));
    d = panel.preview();
    QVERIFY2(d.error.isEmpty(), qPrintable(d.error));
    QCOMPARE(d.pairs, qint64(1));
    QCOMPARE(panel.table()->item(0, 1)->data(Qt::UserRole).toString(), QStringLiteral("Why?"));
    QCOMPARE(panel.columnsText(), QStringLiteral("chosen=good,prompt=question,rejected=bad"));
  }

  void mainWindowPreviewsTheDataField() {
    dpo::studio::MainWindow window;
    window.setInteractiveErrors(false);
    auto* panel = window.datasetPanel();
    QVERIFY(panel);
    QSignalSpy spy(panel, &DatasetPanel::loaded);
    QVERIFY(spy.wait(60000));  // the embedded demo at start-up
    QVERIFY2(panel->preview().error.isEmpty(), qPrintable(panel->preview().error));
    QVERIFY(panel->preview().pairs > 0);
    const QString path = shared("preference/trl_zen/standard_preference.jsonl");
    if (!QFile::exists(path)) QSKIP("shared data missing");
    auto* edit = window.findChild<QLineEdit*>();
    QVERIFY(edit);
    auto config = window.runConfig();
    config.run.data_path = path.toStdString();
    window.setRunConfig(config);
    QTRY_COMPARE_WITH_TIMEOUT(panel->preview().pairs, qint64(19), 60000);
    panel->setColumns({{"prompt", "prompt"}});  // identity mapping is dropped by the dialog, not here
    QTRY_VERIFY_WITH_TIMEOUT(!panel->isLoading(), 60000);
    QCOMPARE(window.runConfig().run.columns, std::string("prompt=prompt"));
  }

  // Issue 18: tokens counted with the selected model's tokenizer, and what the max lengths would cut.
  void countsWithTheModelsTokenizer() {
    const QString phi2 = shared("tokenizers/phi2_gpt2_bpe");
    if (!QFile::exists(phi2 + QStringLiteral("/tokenizer.json"))) QSKIP("shared data missing");
    QTemporaryDir dir;
    const QString path = writePinnedPairs(dir);
    dpo::TokenizeOptions limits;
    limits.max_length = 8;
    limits.max_prompt_length = 4;
    const auto d = dpo::studio::loadDatasetPreview(path, {}, phi2, limits);
    QVERIFY2(d.error.isEmpty(), qPrintable(d.error));
    QCOMPARE(d.tokenizer, QStringLiteral("phi2_gpt2_bpe's tokenizer"));
    // Token ids pinned in tests/core/test_bpe_tokenizer.cpp: prompts 8, 2, 2; answers + EOS.
    QCOMPARE(d.prompt.mean, 4.0);
    QCOMPARE(d.prompt.max, qint64(8));
    QCOMPARE(d.chosen.max, qint64(7));
    QCOMPARE(d.rejected.mean, 3.0);
    QCOMPARE(
        d.truncation_warnings,
        QStringList({"1 of 3 prompts is longer than Max prompt length 4 tokens (it will be cut: keep_end)",
                     "1 of 3 rows is longer than Max length 8 tokens as prompt + longer answer (the "
                     "answers' ends will be cut)",
                     "in all, 2 of 3 rows will be truncated"}));
    // The demo model's tokenizer splits the same texts differently.
    const auto demo = dpo::studio::loadDatasetPreview(path, {}, {}, limits);
    QCOMPARE(demo.tokenizer, QStringLiteral("the embedded demo model's tokenizer"));
    QVERIFY(demo.prompt.mean != d.prompt.mean);

    DatasetPanel panel;
    panel.showPreview(d);
    QCOMPARE(panel.tokenizerLabel()->text(),
             QStringLiteral("tokens counted with: phi2_gpt2_bpe's tokenizer"));
    QVERIFY(panel.truncationLabel()->isVisibleTo(&panel));
    QCOMPARE(panel.truncationLabel()->text(), d.truncation_warnings.join(QLatin1Char('\n')));
    dpo::TokenizeOptions roomy;
    panel.showPreview(dpo::studio::loadDatasetPreview(path, {}, phi2, roomy));
    QVERIFY(!panel.truncationLabel()->isVisibleTo(&panel));
  }

  // The Dataset tab follows the Model box and the max lengths.
  void mainWindowFollowsTheModel() {
    const QString phi2 = shared("tokenizers/phi2_gpt2_bpe");
    if (!QFile::exists(phi2 + QStringLiteral("/tokenizer.json"))) QSKIP("shared data missing");
    QTemporaryDir dir;
    dpo::studio::MainWindow window;
    window.setInteractiveErrors(false);
    auto* panel = window.datasetPanel();
    QTRY_COMPARE_WITH_TIMEOUT(panel->preview().tokenizer,
                              QStringLiteral("the embedded demo model's tokenizer"), 60000);
    auto config = window.runConfig();
    config.run.data_path = writePinnedPairs(dir).toStdString();
    config.run.model_dir = phi2.toStdString();
    window.setRunConfig(config);
    QTRY_COMPARE_WITH_TIMEOUT(panel->preview().tokenizer, QStringLiteral("phi2_gpt2_bpe's tokenizer"), 60000);
    QTRY_VERIFY_WITH_TIMEOUT(!panel->isLoading(), 60000);
    QCOMPARE(panel->preview().prompt.max, qint64(8));
    QVERIFY(panel->preview().truncation_warnings.isEmpty());  // 256 / 128 cut nothing here
    config = window.runConfig();
    config.run.tokenize.max_prompt_length = 4;
    config.run.tokenize.max_length = 16;
    window.setRunConfig(config);
    QTRY_COMPARE_WITH_TIMEOUT(
        panel->preview().truncation_warnings.value(0),
        QStringLiteral("1 of 3 prompts is longer than Max prompt length 4 tokens (it will "
                       "be cut: keep_end)"),
        60000);
  }

 private:
  // Texts whose Phi-2 token ids tests/core/test_bpe_tokenizer.cpp pins.
  static QString writePinnedPairs(const QTemporaryDir& dir) {
    const QString path = dir.filePath(QStringLiteral("pinned.jsonl"));
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly)) return {};
    f.write(R"({"prompt": "Hello, world! It's 2024.", "chosen": "Hello world", "rejected": "return n"})"
            "\n"
            R"({"prompt": "Hello world", "chosen": "I'll we've they're", "rejected": "abc x"})"
            "\n"
            R"({"prompt": "return n", "chosen": "Hello world", "rejected": "abc x"})"
            "\n");
    return path;
  }
};

QTEST_MAIN(TestDatasetPanel)
#include "test_dataset_panel.moc"
