#pragma once
#include <QMap>
#include <QString>

#include "core/types/run_parts.h"
#include "widgets/dataset_panel.h"

namespace dpo::studio {

// Reads a preference file ("" = the embedded demo) the way a run with the model folder `model_dir`
// ("" = the embedded demo model) reads it: that folder's tokenizer and chat template (ChatML when it
// has none, as training does), `columns` as LayoutOptions::columns, bad rows an error; warns what the
// run's length `limits` would cut. Never throws: a bad file or model comes back with `error` set to
// the core's one-line message. Safe to call off the GUI thread.
widgets::DatasetPreviewData loadDatasetPreview(const QString& path, const QMap<QString, QString>& columns,
                                               const QString& model_dir = {},
                                               const TokenizeOptions& limits = {}, int preview_rows = 50);

}  // namespace dpo::studio
