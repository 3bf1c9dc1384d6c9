#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QPalette>
#include <QPixmap>
#include <QStyleFactory>
#include <QTabWidget>
#include <QTimer>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <thread>

#include "app/session/setup_file.h"
#include "app/studio/diagnostics_feed.h"
#include "app/studio/lesson_controller.h"
#include "app/studio/main_window.h"
#include "app/studio/presentation.h"
#include "app/studio/rank_controller.h"
#include "app/studio/run_panel.h"
#include "app/studio/setup_actions.h"
#include "app/studio/sweep_controller.h"
#include "app/studio/training_plots.h"
#include "core/runtime/error.h"
#include "core/runtime/runtime.h"
#include "core/runtime/version.h"
#include "widgets/app_icon.h"
#include "widgets/beta_explorer_view.h"
#include "widgets/dataset_panel.h"
#include "widgets/metric_plot.h"
#include "widgets/pair_inspector.h"
#include "widgets/rank_view.h"
#include "widgets/sweep_view.h"
#include "widgets/synth_pairs_dialog.h"

namespace {

using dpo::studio::MainWindow;

// The platform must be chosen before QApplication exists, i.e. before the parser runs, so the
// modes that never show a window (and --help on a machine without a display) are spotted in argv.
bool wantsHeadless(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    for (const char* flag : {"--smoke", "--help", "-h", "--help-all", "--version", "-v"})
      if (std::strcmp(argv[i], flag) == 0) return true;
    if (std::strncmp(argv[i], "--screenshot", 12) == 0) return true;
  }
  return false;
}

int fail(const QString& message) {
  std::fprintf(stderr, "dpo-studio: %s\n", qPrintable(message));
  return 2;
}

std::optional<double> parsePositive(const QString& text) {
  bool ok = false;
  const double v = text.toDouble(&ok);
  if (!ok || !(v > 0)) return std::nullopt;
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (wantsHeadless(argc, argv) && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
    qputenv("QT_QPA_PLATFORM", "offscreen");

  QApplication app(argc, argv);
  QApplication::setOrganizationName("dpo-studio");  // QSettings: ~/.config/dpo-studio/dpo-studio.conf
  QApplication::setApplicationName("dpo-studio");
  QApplication::setApplicationDisplayName("DPO Studio");
  // The installed desktop entry (installer/): Wayland shells match the window to it by this name.
  QGuiApplication::setDesktopFileName(DPO_APP_ID);
  QApplication::setWindowIcon(dpo::widgets::appIcon());
  QApplication::setApplicationVersion(QString::fromLatin1(dpo::version()) + ", libtorch " +
                                      dpo::torch_version());
  QApplication::setStyle("Fusion");

  QCommandLineParser parser;
  parser.setApplicationDescription(
      "DPO Studio: train a policy with Direct Preference Optimization and watch it learn.");
  parser.addHelpOption();
  parser.addVersionOption();
  const QCommandLineOption smoke_opt(
      "smoke", "Run a few demo steps headless, check that every plot received points, and exit (0 = ok).");
  const QCommandLineOption screenshot_opt(
      "screenshot", "Run a few demo steps, save the main window to <file> and exit.", "file");
  const QCommandLineOption after_opt(
      "after-steps", "With --screenshot: pause after <n> steps, evaluate, and shoot the paused window.", "n");
  const QCommandLineOption panel_opt(
      "panel",
      "What to show: main (the plots, default), inspector (the pair inspector), "
      "dataset (the data preview), beta (the β explorer), sweep, rank or synth (the Synthetic pairs "
      "dialog, generating with its defaults).",
      "name");
  const QCommandLineOption sweep_opt("sweep", "Open this sweep folder (made by dpo sweep) in the Sweep tab.",
                                     "dir");
  const QCommandLineOption rank_opt("rank", "Open this ranking (dpo rank --out) in the Rank tab.", "dir");
  const QCommandLineOption eval_opt("eval-every",
                                    "Evaluate the held-out pairs every <n> steps (0: only at the end).", "n");
  const QCommandLineOption steps_opt(
      "steps", "Optimiser steps (default: 200; 10 with --smoke; 40 with --screenshot).", "n");
  const QCommandLineOption threads_opt("threads",
                                       "Intra-op threads for torch (default: hardware concurrency).", "n");
  const QCommandLineOption data_opt(
      "data", "Preference JSONL {prompt, chosen, rejected} (default: embedded demo).", "file");
  const QCommandLineOption beta_opt("beta", "DPO temperature β (typical 0.01 - 0.5).", "b");
  const QCommandLineOption setup_opt(
      "setup",
      "Open in the state a setup file (.dposetup, File > Save setup...) describes: its settings in the form, "
      "its lesson and tab. The other options override it.",
      "file");
  const QCommandLineOption start_opt("start", "Start training as soon as the window opens.");
  const QCommandLineOption processes_opt(
      "processes", "Data-parallel processes for the run (dpo train --nproc; default 1).", "n");
  const QCommandLineOption dark_opt("dark",
                                    "A dark palette (Fusion style), e.g. for a projector in a dim room.");
  const QCommandLineOption presentation_opt(
      "presentation",
      "Presentation mode (View > Presentation): larger fonts, the lesson panel large, advanced settings "
      "hidden; for a projector.");
  const QCommandLineOption lesson_opt(
      "lesson", "Open this lesson: its number, its name (dpo lesson list) or a lesson JSON file.", "lesson");
  parser.addOptions({smoke_opt, screenshot_opt, after_opt, panel_opt, sweep_opt, rank_opt, eval_opt,
                     steps_opt, threads_opt, data_opt, beta_opt, setup_opt, start_opt, dark_opt,
                     presentation_opt, lesson_opt, processes_opt});
  parser.process(app);
  if (parser.isSet(dark_opt)) {
    QApplication::setStyle(QStyleFactory::create("Fusion"));
    QPalette p;
    // Fields (and Fusion's check boxes, drawn in Base inside an outline darker than Window) a step
    // lighter than the window: with a darker Base an unticked box vanished into the panel.
    const QColor window(0x2b, 0x2d, 0x31), base(0x3b, 0x3e, 0x44), text(0xe6, 0xe6, 0xe6);
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, QColor(0x34, 0x37, 0x3c));
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, window);
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::ToolTipBase, base);
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::Highlight, QColor(0x3d, 0x7e, 0xc9));
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Mid, QColor(0x5a, 0x5d, 0x63));
    p.setColor(QPalette::PlaceholderText, QColor(0x9a, 0x9d, 0xa3));
    p.setColor(QPalette::Disabled, QPalette::Text, QColor(0x80, 0x80, 0x80));
    p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(0x80, 0x80, 0x80));
    p.setColor(QPalette::Disabled, QPalette::WindowText, QColor(0x80, 0x80, 0x80));
    QApplication::setPalette(p);
  }

  const bool smoke = parser.isSet(smoke_opt);
  const QString screenshot = parser.value(screenshot_opt);
  const bool headless = smoke || !screenshot.isEmpty();

  std::optional<int> threads;
  if (parser.isSet(threads_opt)) {
    bool ok = false;
    const int n = parser.value(threads_opt).toInt(&ok);
    if (!ok || n < 1) return fail("--threads needs a positive integer");
    threads = n;
  }
  const int threads_in_effect = dpo::configure_threads(threads);

  dpo::studio::MainWindow window;
  auto* presentation = window.findChild<dpo::studio::Presentation*>();
  if (!headless) {  // smoke runs and screenshots start from the defaults
    window.enablePersistence();
    presentation->enablePersistence();
  }
  auto config = window.runConfig();
  config.threads = threads_in_effect;
  std::optional<dpo::app::SetupFile> setup;
  if (parser.isSet(setup_opt)) {
    try {
      setup = dpo::app::read_setup_file(parser.value(setup_opt).toStdString());
    } catch (const dpo::Error& e) {
      return fail(QString::fromUtf8(e.what()));
    }
    config.run = setup->run;
  }
  if (smoke)
    config.run.trainer.max_steps = 10;
  else if (!screenshot.isEmpty())
    config.run.trainer.max_steps = 40;
  if (parser.isSet(steps_opt)) {
    bool ok = false;
    const qlonglong n = parser.value(steps_opt).toLongLong(&ok);
    if (!ok || n < 1) return fail("--steps needs a positive integer");
    config.run.trainer.max_steps = n;
  }
  if (parser.isSet(processes_opt)) {
    bool ok = false;
    const int n = parser.value(processes_opt).toInt(&ok);
    if (!ok || n < 1 || n > 64) return fail("--processes needs an integer from 1 to 64");
    config.processes = n;
  }
  qint64 after_steps = 0;
  if (parser.isSet(after_opt)) {
    bool ok = false;
    after_steps = parser.value(after_opt).toLongLong(&ok);
    if (!ok || after_steps < 1) return fail("--after-steps needs a positive integer");
    if (screenshot.isEmpty()) return fail("--after-steps goes with --screenshot");
    config.pause_after = after_steps;
    if (!parser.isSet(steps_opt))
      config.run.trainer.max_steps = std::max<qint64>(config.run.trainer.max_steps, 200);
    if (config.run.trainer.max_steps <= after_steps) return fail("--steps must be larger than --after-steps");
  }
  const QString panel = parser.isSet(panel_opt) ? parser.value(panel_opt) : QStringLiteral("main");
  if (panel != "main" && panel != "inspector" && panel != "dataset" && panel != "beta" && panel != "sweep" &&
      panel != "rank" && panel != "synth")
    return fail("--panel is main, inspector, dataset, beta, sweep, rank or synth");
  if (parser.isSet(eval_opt)) {
    bool ok = false;
    const qlonglong n = parser.value(eval_opt).toLongLong(&ok);
    if (!ok || n < 0) return fail("--eval-every needs a non-negative integer");
    config.run.trainer.eval_every = n;
  }
  if (parser.isSet(data_opt)) config.run.data_path = parser.value(data_opt).toStdString();
  if (parser.isSet(beta_opt)) {
    const auto beta = parsePositive(parser.value(beta_opt));
    if (!beta) return fail("--beta needs a positive number");
    config.run.trainer.loss.beta = *beta;
  }
  window.setRunConfig(config);
  if (setup) {
    setup->run = config.run;  // with the options above over it
    auto* actions = window.findChild<dpo::studio::SetupActions*>();
    if (!actions->applySetup(*setup, parser.value(setup_opt))) return fail(actions->lastError());
  }
  if (parser.isSet(lesson_opt)) {
    auto* lessons = window.findChild<dpo::studio::LessonController*>();
    const QString key = parser.value(lesson_opt);
    int index = lessons->findLesson(key);
    if (index < 0 && key.endsWith(".json", Qt::CaseInsensitive)) {
      index = lessons->openLessonFile(key);
      if (index < 0) return fail(lessons->lastError());
    }
    if (index < 0) return fail(QStringLiteral("--lesson %1: no such lesson (dpo lesson list)").arg(key));
    lessons->openLesson(index);
  }
  if (parser.isSet(presentation_opt)) presentation->setOn(true);
  const QString blas = QString::fromStdString(dpo::blas_description());
  window.facts()->setCompute(
      QStringLiteral("CPU, %1 threads · %2").arg(threads_in_effect).arg(blas.section(' ', 0, 1)), blas);

  if (parser.isSet(sweep_opt)) window.sweep()->open(parser.value(sweep_opt));
  if (parser.isSet(rank_opt)) window.rankView()->setData(dpo::studio::loadRank(parser.value(rank_opt)));
  const auto show_panel = [&] {
    if (parser.isSet(panel_opt) || !setup || setup->tab.empty()) window.showInspector(panel == "inspector");
    if (panel == "dataset") window.tabs()->setCurrentWidget(window.datasetPanel());
    if (panel == "beta") window.tabs()->setCurrentWidget(window.betaExplorer());
    if (panel == "sweep" || (parser.isSet(sweep_opt) && panel == "main"))
      window.tabs()->setCurrentWidget(window.sweepView());
    if (panel == "rank" || (parser.isSet(rank_opt) && panel == "main"))
      window.tabs()->setCurrentWidget(window.rankView());
    if (panel == "synth") {
      window.openSynthDialog();
      QTimer::singleShot(0, window.synthDialog(), &dpo::widgets::SynthPairsDialog::generateRequested);
    }
  };
  if (!headless) {
    show_panel();
    window.show();
    if (parser.isSet(start_opt)) QTimer::singleShot(0, &window, &MainWindow::startTraining);
    return app.exec();
  }

  window.setInteractiveErrors(false);
  if (!screenshot.isEmpty()) window.resize(1920, 1080);  // the most common desktop
  show_panel();
  window.show();
  QElapsedTimer clock;

  const auto save = [&](qint64 steps_done) {
    window.diagnostics()->refresh();  // the once-a-second timer may not have seen the last steps
    window.plots()->flush();
    QApplication::processEvents();
    const QPixmap shot = window.grab();
    if (!shot.save(screenshot)) {
      std::fprintf(stderr, "dpo-studio: cannot write %s\n", qPrintable(screenshot));
      return false;
    }
    std::printf("dpo-studio: %lld steps, %s saved to %s (%dx%d)\n", static_cast<long long>(steps_done),
                panel == "inspector" ? "pair inspector" : "window", qPrintable(screenshot), shot.width(),
                shot.height());
    std::fflush(stdout);
    return true;
  };
  // Paused at N: evaluate there (unless a scheduled eval just did), open the most mis-ranked pair,
  // wait for its token scores, shoot, stop.
  std::function<void()> shoot, open_pair;
  if (after_steps > 0) {
    shoot = [&] {
      QTimer::singleShot(300, &window, [&] {  // queued replots of the inspector land first
        const bool ok = save(window.run()->stepsDone());
        QObject::disconnect(window.run(), &dpo::studio::RunController::runFinished, &app, nullptr);
        QObject::connect(window.run(), &dpo::studio::RunController::runFinished, &app,
                         [ok] { QApplication::exit(ok ? 0 : 1); });
        window.run()->stop();
      });
    };
    open_pair = [&] {
      auto* inspector = window.pairInspector();
      const auto& pairs = window.run()->evals().back().pairs;
      const dpo::PairRecord* pick = nullptr;
      for (const auto& p : pairs)
        if (p.misranked && (!pick || p.margin < pick->margin)) pick = &p;
      if (!pick && !pairs.empty()) pick = &pairs.front();
      if (!pick || panel != "inspector") return shoot();
      QObject::connect(&window, &MainWindow::pairTokensShown, &window, shoot, Qt::SingleShotConnection);
      inspector->selectPair(static_cast<qint64>(pick->line));
    };
    QObject::connect(
        window.run(), &dpo::studio::RunController::paused, &window,
        [&](qint64 steps_done) {
          if (!window.run()->evals().empty() && window.run()->evals().back().step == steps_done)
            return open_pair();
          QObject::connect(window.run(), &dpo::studio::RunController::evalRecorded, &window, open_pair,
                           Qt::SingleShotConnection);
          window.run()->evaluateNow();
        },
        Qt::SingleShotConnection);
  }
  QObject::connect(window.run(), &dpo::studio::RunController::runFinished, &app,
                   [&](qint64 steps_done, bool, bool failed) {
                     window.plots()->flush();
                     QApplication::processEvents();
                     bool ok = !failed && steps_done == config.run.trainer.max_steps;
                     if (failed) std::fprintf(stderr, "dpo-studio: %s\n", qPrintable(window.lastError()));
                     if (smoke) {
                       QStringList counts;
                       for (auto* plot : window.plots()->plots()) {
                         int fewest = INT_MAX;
                         for (int s = 0; s < plot->seriesCount(); ++s)
                           if (!plot->isPointSeries(s)) fewest = std::min(fewest, plot->pointCount(s));
                         ok = ok && fewest > 0 && fewest == steps_done;
                         counts << QStringLiteral("%1 %2").arg(plot->objectName()).arg(fewest);
                       }
                       const auto& rec = window.run()->records();
                       const double seconds = clock.elapsed() / 1000.0;
                       if (!rec.empty()) {
                         std::printf(
                             "dpo-studio smoke: %s, %lld/%lld steps in %.1f s; loss %.4f -> %.4f, margin "
                             "%+.4f, accuracy %.2f; "
                             "points: %s\n",
                             ok ? "ok" : "FAILED", static_cast<long long>(steps_done),
                             static_cast<long long>(config.run.trainer.max_steps), seconds, rec.front().loss,
                             rec.back().loss, rec.back().rewards_margins, rec.back().rewards_accuracies,
                             qPrintable(counts.join(", ")));
                       } else {
                         std::printf("dpo-studio smoke: FAILED, no steps ran\n");
                       }
                     } else {
                       ok = save(steps_done) && ok;
                     }
                     std::fflush(stdout);
                     QApplication::exit(ok ? 0 : 1);
                   });
  QTimer::singleShot(0, &window, [&] {
    clock.start();
    window.startTraining();
  });
  return app.exec();
}
