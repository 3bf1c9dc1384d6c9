#pragma once
// qcustomplot.h for code built with QT_NO_KEYWORDS (the studio, its tests and benchmarks): the header
// uses `signals:` and friends, which that setting turns off (pitfalls §2).
#define signals Q_SIGNALS
#define slots Q_SLOTS
#define foreach Q_FOREACH
#define emit Q_EMIT
#include <qcustomplot.h>
#undef signals
#undef slots
#undef foreach
#undef emit
