#include "app/studio/training_worker.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <limits>
#include <optional>

#include "app/session/lesson_run.h"
#include "app/session/run_directory.h"
#include "app/session/run_setup.h"
#include "app/studio/qt_text.h"
#include "app/studio/run_catalog.h"
#include "core/data/tokenize.h"
#include "core/eval/token_scores.h"
#include "core/generate/stream.h"
#include "core/model/lora.h"
#include "core/runtime/error.h"
#include "core/runtime/runtime.h"
#include "core/train/losses.h"
#include "core/train/metrics.h"
#include "resources/demo_assets.h"

namespace dpo::studio {

constexpr size_t kFinalTokenPairs = 256;

struct TrainingWorker::Session {
  app::RunSetup& setup;
  int64_t pad_id = 0;
  double beta = 0;
  int64_t last_eval_step = -1;
  TokenizeOptions tokenize{};            // as prepare_run encoded the training prompts
  app::RunDirectory* run_dir = nullptr;  // where the run's records and checkpoints go
  const app::RunOptions* options = nullptr;
  int64_t last_checkpoint_step = -1;
};

namespace {
// As prepare_run pads (the trainer does not expose it).
int64_t padId(const app::RunSetup& setup) {
  return setup.tokenizer->pad_id().value_or(setup.tokenizer->eos_id().value_or(0));
}
}  // namespace

QString lossName(const app::RunOptions& run) { return qstr(loss_info(run.trainer.loss.type).name); }

TrainingWorker::TrainingWorker(StudioRunConfig config, QObject* parent)
    : QObject(parent), config_(std::move(config)) {
  qRegisterMetaType<StepMetrics>();
  qRegisterMetaType<PreferenceEval>();
  qRegisterMetaType<PairTokenScores>();
  qRegisterMetaType<TrainerEvent>();
  qRegisterMetaType<PlaygroundResult>();
}

TrainingWorker::~TrainingWorker() = default;

void TrainingWorker::requestPause() {
  std::lock_guard lock(mutex_);
  pause_requested_ = true;
}

void TrainingWorker::requestResume() {
  {
    std::lock_guard lock(mutex_);
    pause_requested_ = false;
  }
  wake_.notify_all();
}

void TrainingWorker::requestStop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
}

void TrainingWorker::release() {
  {
    std::lock_guard lock(mutex_);
    release_ = true;
  }
  wake_.notify_all();
}

void TrainingWorker::linger(Session& session) {
  std::unique_lock lock(mutex_);
  stop_ = false;  // a Stop ended the run; it must not also cut the Playground's answers short
  while (!release_) {
    if (requests_.generation || requests_.pair_line) {
      // Only what reads the models: β, learning-rate, evaluation and checkpoint requests belong to
      // a running run and are dropped.
      Requests taken = takeRequests();
      Requests serving;
      serving.generation = taken.generation;
      serving.pair_line = taken.pair_line;
      lock.unlock();
      serve(session, serving);
      lock.lock();
      continue;
    }
    wake_.wait(lock);
  }
}

void TrainingWorker::runPlayground(bool announce) {
  try {
    const auto run = app::RunDirectory::resume(config_.playground_dir.toStdString());
    app::RunOptions options = run.saved_options();
    const auto final_dir = run.path() / "final";
    if (!std::filesystem::exists(final_dir / "config.json"))
      throw ConfigError(final_dir.string() + ": no final model (the run stopped before its first step)");
    // π_ref as the run had it: its reference folder, else the model it started from, else the demo's.
    if (options.reference_dir.empty())
      options.reference_dir =
          !options.model_dir.empty()
              ? options.model_dir
              : resources::unpack_demo_model(options.cache_dir.empty() ? app::default_cache_dir()
                                                                       : options.cache_dir);
    options.model_dir = final_dir.string();
    options.lora.r = 0;  // final/ holds the merged weights
    options.trainer.precompute_reference = false;
    auto setup =
        app::prepare_run(options, [this, announce](const std::string& stage, size_t done, size_t total) {
          if (announce)
            Q_EMIT preparing(QString::fromStdString(stage), static_cast<qint64>(done),
                             static_cast<qint64>(total));
          return !release_.load();
        });
    Session session{setup, padId(setup), options.trainer.loss.beta};
    session.tokenize = options.tokenize;
    session.options = &options;
    linger(session);
  } catch (const std::exception& e) {
    Q_EMIT playgroundFailed(QString::fromStdString(e.what()));
  }
}

void TrainingWorker::requestStep() {
  {
    std::lock_guard lock(mutex_);
    step_requested_ = true;
  }
  wake_.notify_all();
}

void TrainingWorker::requestBeta(double beta) {
  {
    std::lock_guard lock(mutex_);
    requests_.beta = beta;
  }
  wake_.notify_all();
}

void TrainingWorker::requestLearningRate(double learning_rate) {
  {
    std::lock_guard lock(mutex_);
    requests_.learning_rate = learning_rate;
  }
  wake_.notify_all();
}

void TrainingWorker::requestEvaluation() {
  {
    std::lock_guard lock(mutex_);
    requests_.evaluate = true;
  }
  wake_.notify_all();
}

void TrainingWorker::requestPairTokens(qint64 line) {
  {
    std::lock_guard lock(mutex_);
    requests_.pair_line = line;  // only the latest selection matters
  }
  wake_.notify_all();
}

void TrainingWorker::requestGeneration(const QString& prompt, int max_new_tokens, double temperature,
                                       quint64 seed) {
  {
    std::lock_guard lock(mutex_);
    requests_.generation = GenerationRequest{prompt, max_new_tokens, temperature, seed};  // the latest one
  }
  wake_.notify_all();
}

void TrainingWorker::requestCheckpoint() {
  {
    std::lock_guard lock(mutex_);
    requests_.checkpoint = true;
  }
  wake_.notify_all();
}

TrainingWorker::Requests TrainingWorker::takeRequests() {
  Requests r = requests_;
  requests_ = {};
  return r;
}

void TrainingWorker::serve(Session& session, const Requests& requests) {
  auto& trainer = *session.setup.trainer;
  if (requests.beta) {
    const auto change = trainer.set_beta(*requests.beta);
    if (session.run_dir) session.run_dir->append_event(change, *requests.beta);
    session.beta = *requests.beta;
    Q_EMIT eventLogged(change);
  }
  if (requests.learning_rate) {
    const auto change = trainer.set_learning_rate(*requests.learning_rate);
    if (session.run_dir) session.run_dir->append_event(change, *requests.learning_rate);
    Q_EMIT eventLogged(change);
  }
  if (requests.evaluate && session.last_eval_step != trainer.steps_done()) evaluate(session);
  if (requests.checkpoint) saveCheckpoint(session);
  if (requests.pair_line) Q_EMIT pairTokensReady(scoreTokens(session, *requests.pair_line));
  if (requests.generation) Q_EMIT generationFinished(playground(session, *requests.generation));
}

PlaygroundResult TrainingWorker::playground(Session& session, const GenerationRequest& request) {
  auto& trainer = *session.setup.trainer;
  const auto& tokenizer = *session.setup.tokenizer;
  auto& policy = trainer.policy();
  // The trainer's π_ref: a frozen copy or another folder, or with LoRA the policy itself, whose
  // base (adapters off) is then the reference. Null for reference-free losses.
  LlamaForCausalLM* reference = trainer.reference();
  const bool lora_base = reference != nullptr && reference->ptr() == policy.ptr();
  PlaygroundResult result;
  result.prompt = request.prompt;
  result.step = trainer.steps_done();
  result.beta = session.beta;
  result.has_reference = reference != nullptr;
  try {
    // Encoded as a training prompt is (tokenize_pair: BOS once, a leading BOS text becomes the BOS
    // id, max_prompt_length keeps the end). The demo model's chat template renders a user turn as
    // BOS + its text, which is exactly this.
    TokenizeOptions encoding = session.tokenize;
    encoding.max_length = std::numeric_limits<int32_t>::max();
    PreferencePair pair;
    pair.prompt = request.prompt.toStdString();
    pair.chosen = pair.rejected = " ";
    const std::vector<int64_t> prompt = tokenize_pair(tokenizer, pair, encoding).prompt_ids;
    result.prompt_tokens = static_cast<int64_t>(prompt.size());

    GenerationConfig config;
    config.max_new_tokens = std::max(1, request.max_new_tokens);
    config.temperature = request.temperature;
    config.seed = request.seed;
    if (auto eos = tokenizer.eos_id()) config.stop_token_ids.push_back(*eos);
    if (policy->config().eos_token_id >= 0) config.stop_token_ids.push_back(policy->config().eos_token_id);
    for (auto id : policy->config().extra_eos_token_ids) config.stop_token_ids.push_back(id);

    auto answer = [&](LlamaForCausalLM& model, int source, PlaygroundAnswer& out) {
      TextStream text(tokenizer);
      const auto generated = generate_stream(model, prompt, config, [&](int64_t token) {
        const auto piece = text.push(token);
        if (!piece.empty()) Q_EMIT generationToken(source, QString::fromStdString(piece));
        return !stop_.load();
      });
      const auto rest = text.finish();
      if (!rest.empty()) Q_EMIT generationToken(source, QString::fromStdString(rest));
      out.text = QString::fromStdString(text.emitted());
      out.tokens = static_cast<int64_t>(generated.tokens.size());
      out.finish = QString::fromUtf8(finish_reason_name(generated.finish));
      out.generated = true;
      return generated.tokens;
    };
    const auto y_policy = answer(policy, kPlaygroundPolicy, result.policy);
    std::vector<int64_t> y_reference;
    if (reference != nullptr && !stop_) {
      std::optional<AdaptersDisabled> base;
      if (lora_base) base.emplace(policy);
      y_reference = answer(*reference, kPlaygroundReference, result.reference);
    }
    if (stop_) {
      result.error = tr("the run was stopped");
      return result;
    }
    result.policy.logp_policy = answer_logp(policy, prompt, y_policy);
    if (reference != nullptr) {
      result.reference.logp_policy = answer_logp(policy, prompt, y_reference);
      {
        std::optional<AdaptersDisabled> base;
        if (lora_base) base.emplace(policy);
        result.policy.logp_reference = answer_logp(*reference, prompt, y_policy);
        result.reference.logp_reference = answer_logp(*reference, prompt, y_reference);
      }
      for (auto* a : {&result.policy, &result.reference})
        a->reward = session.beta * (a->logp_policy - a->logp_reference);
    }  // else: a reference-free loss; has_reference = false and the rewards stay NaN (n/a)
  } catch (const std::exception& e) {
    result.error = QString::fromStdString(e.what()).section('\n', 0, 0);
  }
  return result;
}

PairTokenScores TrainingWorker::scoreTokens(Session& session, qint64 line) {
  auto& trainer = *session.setup.trainer;
  PairTokenScores record;
  record.line = static_cast<size_t>(line);
  const auto& pairs = trainer.eval_pairs();
  const auto it = std::find_if(pairs.begin(), pairs.end(),
                               [&](const TokenizedPair& p) { return static_cast<qint64>(p.line) == line; });
  if (it != pairs.end()) {
    record = score_pair_tokens(trainer.policy(), trainer.reference(), *it, session.pad_id,
                               *session.setup.tokenizer);
  }
  record.step = trainer.steps_done();
  return record;
}

void TrainingWorker::evaluate(Session& session) {
  auto& trainer = *session.setup.trainer;
  if (trainer.eval_pairs().empty()) return;
  const auto result = trainer.evaluate();
  if (session.run_dir) session.run_dir->append_eval(result);
  Q_EMIT evalFinished(result);
  session.last_eval_step = trainer.steps_done();
}

void TrainingWorker::saveCheckpoint(Session& session) {
  auto& trainer = *session.setup.trainer;
  const qint64 step = trainer.steps_done();
  if (!session.run_dir || !session.options) {
    Q_EMIT checkpointSaved(step, {}, tr("this run has no run directory"));
    return;
  }
  if (session.last_checkpoint_step == step) {  // nothing new since the last one
    Q_EMIT checkpointSaved(
        step, QString::fromStdString(checkpoint_dir(session.run_dir->path(), step).string()), {});
    return;
  }
  try {
    const auto path = session.run_dir->save_checkpoint(trainer, session.setup, *session.options, 3);
    session.last_checkpoint_step = step;
    Q_EMIT checkpointSaved(step, QString::fromStdString(path.string()), {});
  } catch (const std::exception& e) {
    Q_EMIT checkpointSaved(step, {}, QString::fromStdString(e.what()).section('\n', 0, 0));
  }
}

// Serves requests while paused. Returns false when a stop arrived, true to run the next step.
bool TrainingWorker::waitWhilePaused(Session& session) {
  std::unique_lock lock(mutex_);
  bool announced = false;
  for (;;) {
    if (stop_) return false;
    if (requests_.any()) {
      const Requests r = takeRequests();
      lock.unlock();
      serve(session, r);
      lock.lock();
      continue;
    }
    if (!pause_requested_) {
      step_requested_ = false;
      if (announced) Q_EMIT resumed();
      return true;
    }
    if (step_requested_) {
      step_requested_ = false;
      return true;
    }
    if (!announced) {
      Q_EMIT paused(session.setup.trainer->steps_done());
      announced = true;
    }
    wake_.wait(lock);
  }
}

void TrainingWorker::run() {
  if (!config_.playground_dir.isEmpty()) return runPlayground();
  if (config_.processes > 1) return runProcesses();
  qint64 steps_done = 0;
  bool announced = false;  // finished() emitted: the worker lingers for the Playground
  try {
    if (config_.threads > 0) configure_threads(config_.threads);
    app::RunOptions options = config_.run;
    std::optional<LessonRun> lesson = config_.lesson;
    if (lesson) {
      // The lesson's dataset, objective and seeds; what the form shows (filled from the lesson, and
      // perhaps changed by the teacher) for the rest.
      const auto& form = config_.run.trainer;
      lesson->loss = std::string(loss_info(form.loss.type).name);
      lesson->beta = form.loss.beta;
      lesson->learning_rate = form.learning_rate;
      lesson->steps = form.max_steps;
      lesson->batch_size = form.batch_size;
      options = app::lesson_run_options(*lesson, lesson->steps);
      options.trainer.eval_every = form.eval_every;  // plots only: the lesson trains on every pair
    }

    // The run directory: a new one under the runs root, or the one to resume (whose settings win).
    const bool resuming = !config_.resume_dir.isEmpty();
    std::optional<app::RunDirectory> run_dir;
    std::vector<app::ResumeChange> resume_changes;
    if (resuming) {
      run_dir.emplace(app::RunDirectory::resume(config_.resume_dir.toStdString()));
      // Its own settings; edits to its config.json are taken or refused as on the command line.
      options = run_dir->resume_options(nlohmann::json::object(), resume_changes);
      if (run_dir->resuming() && run_dir->resume_step() >= options.trainer.max_steps)
        throw ConfigError(run_dir->path().string() + ": already at step " +
                          std::to_string(run_dir->resume_step()) + " of " +
                          std::to_string(options.trainer.max_steps) +
                          "; nothing to resume (dpo train --resume DIR --steps N goes on)");
    } else {
      const auto root = config_.runs_root.isEmpty() ? app::default_runs_root()
                                                    : std::filesystem::path(config_.runs_root.toStdString());
      run_dir.emplace(app::RunDirectory::create(
          app::new_run_dir(root, std::string(loss_info(options.trainer.loss.type).name),
                           options.trainer.loss.beta),
          false));
    }

    // Throttled to ~20 updates a second; Stop while preparing cancels at the next report.
    auto last_report = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    auto report = [&](const std::string& stage, size_t done, size_t total) {
      if (stop_) return false;
      const auto now = std::chrono::steady_clock::now();
      if (done == 0 || done == total || now - last_report > std::chrono::milliseconds(50)) {
        last_report = now;
        Q_EMIT preparing(QString::fromStdString(stage), static_cast<qint64>(done),
                         static_cast<qint64>(total));
      }
      return true;
    };
    if (config_.sft_reference_steps > 0 && !lesson && !resuming) {
      // "Fit the reference by SFT first": SFT on the chosen answers, saved in the run folder, then
      // the start of both the policy and π_ref (the DPO recipe when the model never saw this data).
      app::RunOptions sft = options;
      sft.trainer.objective = Objective::Sft;
      sft.trainer.max_steps = config_.sft_reference_steps;
      sft.trainer.eval_every = 0;
      sft.lora.r = 0;
      const std::string stage = "fitting the reference: SFT on the chosen answers";
      auto fit = app::prepare_run(sft, report);
      TrainerCallbacks quiet;
      while (!fit.trainer->finished()) {
        if (!report(stage, static_cast<size_t>(fit.trainer->steps_done()),
                    static_cast<size_t>(sft.trainer.max_steps)))
          throw Cancelled("cancelled while " + stage);
        fit.trainer->step(quiet);
      }
      report(stage, static_cast<size_t>(sft.trainer.max_steps), static_cast<size_t>(sft.trainer.max_steps));
      const auto dir = run_dir->path() / "sft-reference";
      std::filesystem::create_directories(run_dir->path());
      app::save_policy(fit, sft, dir.string());
      options.model_dir = dir.string();
      options.reference_dir.clear();
    }
    auto setup = app::prepare_run(options, report);
    Q_EMIT prepared(QString::fromStdString(setup.data_label), static_cast<qint64>(setup.train_pairs),
                    setup.parameter_count, QString::fromStdString(setup.model_label));
    auto& trainer = *setup.trainer;
    Session session{setup, padId(setup), options.trainer.loss.beta};
    qint64 resumed_from = -1;
    const app::RunDirectoryConfig run_config{.run = options,
                                             .checkpoint_every = 0,
                                             .keep_checkpoints = 3,
                                             .model_label = setup.model_label,
                                             .data_label = setup.data_label,
                                             .train_pairs = setup.train_pairs,
                                             .eval_pairs = setup.eval_pairs,
                                             .parameters = setup.parameter_count,
                                             .extra = {{"source", "studio"}}};
    std::vector<TrainerEvent> resume_events;
    if (resuming) {
      resume_events = run_dir->continue_run(trainer, resume_changes, run_config);
      if (run_dir->resuming()) resumed_from = trainer.steps_done();
      session.beta = trainer.config().loss.beta;  // as the checkpoint left it (β may change while paused)
      session.last_checkpoint_step = trainer.steps_done();
    } else {
      run_dir->write_config(run_config);
    }
    run_dir->open_records();
    session.run_dir = &*run_dir;
    session.options = &options;
    steps_done = trainer.steps_done();
    Q_EMIT runDirectoryReady(QString::fromStdString(run_dir->path().string()), resumed_from);
    for (const auto& e : resume_events) Q_EMIT eventLogged(e);
    session.tokenize = options.tokenize;  // the studio's runs use the demo tokenizer, which adds BOS
    TrainerCallbacks callbacks;
    callbacks.on_event = [this, &session](const TrainerEvent& e) {
      session.run_dir->append_event(e);
      Q_EMIT eventLogged(e);
    };
    // The reference pass, before the first step, so Stop can cancel it and the bar can count it.
    callbacks.on_progress = [&](const std::string& stage, size_t done, size_t total) {
      return report(stage, done, total);  // false once Stop is pressed
    };
    trainer.prepare(callbacks);
    callbacks.on_progress = nullptr;
    std::optional<app::LessonProbe> probe;
    if (lesson && !resuming) {
      report("measuring the starting policy (held-out pairs, sampled answers)", 0, 0);
      probe.emplace(setup);
    }
    while (!trainer.finished() && !stop_) {
      if (!waitWhilePaused(session)) break;
      Requests pending;
      {
        std::lock_guard lock(mutex_);
        pending = takeRequests();
      }
      serve(session, pending);
      const StepMetrics m = trainer.step(callbacks);
      steps_done = trainer.steps_done();
      session.run_dir->append_metrics(m);
      if (probe) probe->record(m);
      Q_EMIT stepFinished(m);
      if (trainer.eval_due() && !stop_) evaluate(session);
      if (config_.pause_after > 0 && steps_done == config_.pause_after) {
        std::lock_guard lock(mutex_);
        pause_requested_ = true;
      }
    }
    steps_done = trainer.steps_done();
    // Finished or stopped: the inspector and the eval points end on the model as it is left.
    if (steps_done > 0 && session.last_eval_step != steps_done) evaluate(session);
    if (probe && trainer.finished() && !stop_) {
      QVariantMap values;
      for (const auto& [key, v] : probe->finish(lesson->label, lesson->beta))
        values.insert(QString::fromStdString(key), v);
      Q_EMIT lessonMeasured(QString::fromStdString(lesson->label), values);
    }
    // Stopped or finished: a checkpoint to resume from (or to look at) and the final model.
    if (steps_done > 0) {
      saveCheckpoint(session);
      run_dir->save_final(setup, options);
    }
    // The model goes away with this thread: score the final policy's tokens now, so the inspector
    // can still show them after the run (one small forward pair each; capped for large splits).
    if (trainer.finished() && !stop_) {
      const auto& pairs = trainer.eval_pairs();
      for (size_t i = 0; i < pairs.size() && i < kFinalTokenPairs && !stop_; ++i)
        Q_EMIT pairTokensReady(scoreTokens(session, static_cast<qint64>(pairs[i].line)));
    }
    Q_EMIT finished(steps_done, stop_.load());
    announced = true;
    session.run_dir = nullptr;  // nothing more is written to the run
    linger(session);
  } catch (const Cancelled&) {
    stop_ = true;  // finished(…, stopped): the user ended it
  } catch (const std::exception& e) {
    // dpo::Error carries a one-line user-facing message; anything else (c10::Error, bad_alloc)
    // is still better shown than crashing the studio.
    const bool ours = dynamic_cast<const Error*>(&e) != nullptr;
    QString message = QString::fromStdString(e.what());
    if (!ours)
      message = tr("internal error: %1").arg(message);  // the dialog shows line 1, the rest under details
    if (announced) return Q_EMIT playgroundFailed(message);
    Q_EMIT failed(message);
  }
  if (!announced) Q_EMIT finished(steps_done, stop_.load());
}

}  // namespace dpo::studio
