#pragma once
#include <QMetaType>
#include <QString>
#include <QVector>

#include <cstdint>
#include <limits>

namespace dpo::studio {

// dpo::PairRecord as a torch-free value: one eval pair's standing at one evaluation.
struct PairEvalRecord {
  int64_t step = 0;
  int64_t line = 0;               // the pair's id: its line in the source file
  double logratio_chosen = 0;     // a = log π(y_w) − log π_ref(y_w)
  double logratio_rejected = 0;   // b
  double reward_chosen = 0;       // β·a
  double reward_rejected = 0;     // β·b
  double margin = 0;              // β·(a − b)
  bool misranked = false;         // margin <= 0
  double loss = 0;
  double gradient_weight = 0;     // σ(r_l − r_w) for DPO
  int64_t length_chosen = 0;
  int64_t length_rejected = 0;
  int64_t lengthDifference() const { return length_chosen - length_rejected; }
};

// dpo::PreferenceEval: means over the eval pairs at one step, plus the pairs themselves.
struct EvalRecord {
  int64_t step = 0;
  double loss = 0;
  double rewards_chosen = 0;
  double rewards_rejected = 0;
  double margin = 0;
  double accuracy = 0;
  double length_chosen = 0;
  double length_rejected = 0;
  double sampled_length = std::numeric_limits<double>::quiet_NaN();  // NaN: not measured
  double sampled_kl = std::numeric_limits<double>::quiet_NaN();      // KL(π‖π_ref) on those samples
  double beta = 0;
  QVector<PairEvalRecord> pairs;  // in eval-split order
};

// One response token of dpo::TokenScore.
struct TokenScoreRecord {
  QString text;   // what it adds to the decoded text
  QString piece;  // the tokenizer's piece
  double policy_logp = 0;
  double reference_logp = 0;
  double logratio() const { return policy_logp - reference_logp; }
};

// dpo::PairTokenScores of one eval pair, computed by the worker on request.
struct PairTokensRecord {
  int64_t line = 0;
  int64_t step = 0;  // the policy's step when scored
  QString prompt;
  QVector<TokenScoreRecord> chosen;
  QVector<TokenScoreRecord> rejected;
  bool has_reference = false;
};

// Something the run did besides a step: β or learning-rate change, skipped step, reference sync.
struct RunEventRecord {
  int64_t step = 0;
  QString kind;  // "beta", "learning_rate", "nonfinite", "reference_sync"
  QString message;
  double value = std::numeric_limits<double>::quiet_NaN();  // the new β or learning rate
};

}  // namespace dpo::studio

Q_DECLARE_METATYPE(dpo::studio::PairEvalRecord)
Q_DECLARE_METATYPE(dpo::studio::EvalRecord)
Q_DECLARE_METATYPE(dpo::studio::PairTokensRecord)
Q_DECLARE_METATYPE(dpo::studio::RunEventRecord)
