#pragma once
#include <QMap>
#include <QString>

#include "widgets/dataset_panel.h"

namespace dpo::studio {

// Reads a preference file ("" = the embedded demo) the way a studio run reads it: the embedded demo
// tokenizer, message lists rendered with its chat template (ChatML when it has none, as
// `dpo data stats` does), `columns` as LayoutOptions::columns, bad rows an error. Never throws: a
// bad file comes back with `error` set to the core's one-line message. Safe to call off the GUI thread.
widgets::DatasetPreviewData loadDatasetPreview(const QString& path, const QMap<QString, QString>& columns,
                                               int preview_rows = 50);

}  // namespace dpo::studio
