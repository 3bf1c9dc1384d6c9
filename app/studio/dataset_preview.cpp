#include "app/studio/dataset_preview.h"

#include "app/session/run_setup.h"
#include "app/studio/qt_text.h"

#include <QDir>

#include <exception>
#include <memory>
#include <optional>

#include "core/data/dataset_stats.h"
#include "core/data/layout.h"
#include "core/data/readers.h"
#include "core/data/tokenize.h"
#include "core/runtime/error.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/load_tokenizer.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "resources/demo_assets.h"

namespace dpo::studio {

namespace {

widgets::DatasetPreviewData::Histogram histogram(const LengthSummary& s) {
  widgets::DatasetPreviewData::Histogram h;
  for (size_t b : s.bin_starts) h.bin_starts << static_cast<qint64>(b);
  for (size_t c : s.bin_counts) h.bin_counts << static_cast<qint64>(c);
  h.min = static_cast<qint64>(s.min);
  h.max = static_cast<qint64>(s.max);
  h.mean = s.mean;
  return h;
}

// Keys of the first row (before any column mapping), for the mapping dialog.
QStringList firstRowColumns(const std::string& path) {
  QStringList columns;
  const auto take = [&](RawRow&& row) {
    if (row.value.is_object())
      for (auto it = row.value.begin(); it != row.value.end(); ++it) columns << qstr(it.key());
    return false;
  };
  try {
    if (path.empty())
      parse_rows(resources::demo_preferences_jsonl(), "embedded demo", FileFormat::kJsonl, take);
    else
      read_rows(path, std::nullopt, take, [](size_t, const std::string&) {});
  } catch (const std::exception&) {
  }
  return columns;
}

}  // namespace

widgets::DatasetPreviewData loadDatasetPreview(const QString& qpath, const QMap<QString, QString>& columns,
                                               const QString& model_dir, const TokenizeOptions& limits,
                                               int preview_rows) {
  widgets::DatasetPreviewData out;
  std::string path = qpath.trimmed().toStdString();
  out.source = path.empty() ? QStringLiteral("embedded demo") : qstr(path);
  try {
    path = app::resolve_demo_data(path);
  } catch (const std::exception& e) {
    out.error = QString::fromUtf8(e.what());
    return out;
  }
  out.columns = firstRowColumns(path);
  const std::string model = model_dir.trimmed().toStdString();
  out.tokenizer = model.empty() ? QStringLiteral("the embedded demo model's tokenizer")
                                : QStringLiteral("%1's tokenizer").arg(QDir(model_dir.trimmed()).dirName());
  try {
    // As prepare_run does: the model folder's tokenizer and chat template, else the demo's (no
    // template: ChatML). One tokenizer per call keeps this thread-safe.
    std::unique_ptr<Tokenizer> tokenizer;
    TokenizerConfig config;
    TokenizeOptions options = limits;
    options.add_bos = true;
    if (model.empty()) {
      tokenizer =
          SentencePieceTokenizer::from_bytes(resources::demo_tokenizer_model(), "embedded demo tokenizer");
    } else {
      auto loaded = load_tokenizer(model);
      tokenizer = std::move(loaded.tokenizer);
      config = loaded.config;
      options.add_bos = loaded.add_bos;
    }
    const auto rows = app::make_row_renderer(*tokenizer, config, {}, model);
    const ChatRenderer& renderer = rows->renderer;

    LayoutOptions layout;
    for (auto it = columns.begin(); it != columns.end(); ++it)
      if (!it.value().isEmpty()) layout.columns[it.key().toStdString()] = it.value().toStdString();
    layout.renderer = &renderer;
    layout.on_bad_row = BadRowPolicy::kError;

    const auto dataset = path.empty() ? parse_preference_dataset(resources::demo_preferences_jsonl(),
                                                                 "embedded demo", FileFormat::kJsonl, layout)
                                      : load_preference_dataset(path, layout);
    // Histograms untruncated; what the limits cut counted and named with the form's labels.
    const auto tokenized = tokenize_dataset(*tokenizer, dataset, options, layout.on_bad_row);
    const auto full = tokenize_dataset(*tokenizer, dataset, untruncated(options), BadRowPolicy::kSkip);
    const LimitNames names{.max_length = "Max length",
                           .max_prompt_length = "Max prompt length",
                           .max_completion_length = "max completion length"};
    const auto stats = compute_dataset_stats(dataset, full, &tokenized, &options, names);

    out.explanation = qstr(dataset.explanation);
    out.layout = qstr(to_string(dataset.layout));
    out.pairs = static_cast<qint64>(dataset.pairs.size());
    out.unpaired = static_cast<qint64>(dataset.unpaired.size());
    out.skipped = static_cast<qint64>(dataset.skipped.size() + tokenized.report.skipped.size());
    for (const auto& s : dataset.skipped) out.skipped_messages << qstr(s.message);
    for (const auto& s : tokenized.report.skipped) out.skipped_messages << qstr(s.message);
    for (const auto& p : dataset.pairs) {
      if (out.rows.size() >= preview_rows) break;
      out.rows.push_back({static_cast<qint64>(p.line), qstr(p.prompt), qstr(p.chosen), qstr(p.rejected)});
    }
    for (const auto& u : dataset.unpaired) {
      if (out.rows.size() >= preview_rows) break;
      out.rows.push_back(
          {static_cast<qint64>(u.line), qstr(u.prompt), qstr(u.completion),
           u.label ? QStringLiteral("(label: desirable)") : QStringLiteral("(label: undesirable)")});
    }
    out.prompt = histogram(stats.prompt);
    out.chosen = histogram(stats.chosen);
    out.rejected = histogram(stats.rejected);
    out.chosen_longer = static_cast<qint64>(stats.chosen_longer);
    out.rejected_longer = static_cast<qint64>(stats.rejected_longer);
    out.same_length = static_cast<qint64>(stats.same_length);
    out.chosen_longer_share = stats.chosen_longer_share;
    out.length_bias_warning = stats.length_bias_warning;
    for (const auto& w : stats.warnings) out.warnings << qstr(w);
    if (stats.truncation)
      for (const auto& w : truncation_warnings(*stats.truncation, names)) out.truncation_warnings << qstr(w);
  } catch (const std::exception& e) {
    out.error = qstr(e.what());
  }
  return out;
}

}  // namespace dpo::studio
