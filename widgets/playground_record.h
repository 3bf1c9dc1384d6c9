#pragma once
#include <QMetaType>
#include <QString>

#include <cstdint>
#include <limits>

namespace dpo::widgets {

// Which model a Playground answer (or streamed piece) comes from.
enum PlaygroundSource : int { kPlaygroundPolicy = 0, kPlaygroundReference = 1 };

// One Playground answer y to the prompt x, scored by both models over its tokens (one forward pass
// of prompt + answer each): r(y) = β·(log π(y|x) − log π_ref(y|x)), DPO's implicit reward.
struct PlaygroundAnswer {
  QString text;            // the decoded answer (the streamed pieces, concatenated)
  int64_t tokens = 0;      // answer tokens, the stop token included
  QString finish;          // "length", "stop_token", "cancelled"
  bool generated = false;  // false: this model could not answer (no reference model)
  double logp_policy = 0;  // log π(y|x)
  double logp_reference = std::numeric_limits<double>::quiet_NaN();  // log π_ref(y|x); NaN: no reference
  double reward = std::numeric_limits<double>::quiet_NaN();  // β·(logp_policy − logp_reference); NaN: n/a
};

// What the worker answers a Playground request with, after the streamed pieces.
struct PlaygroundResult {
  QString prompt;              // as typed
  int64_t prompt_tokens = 0;   // after the run's prompt encoding (BOS, truncation)
  int64_t step = 0;            // the policy's step when it answered
  double beta = 0;             // the run's β at that step
  bool has_reference = false;  // false: reference-free loss, rewards are n/a
  PlaygroundAnswer policy;     // sampled from π
  PlaygroundAnswer reference;  // sampled from π_ref (same settings and seed)
  QString error;               // non-empty: nothing (or only part) was generated, and why
  const PlaygroundAnswer& answer(int source) const {
    return source == kPlaygroundReference ? reference : policy;
  }
};

}  // namespace dpo::widgets

Q_DECLARE_METATYPE(dpo::widgets::PlaygroundAnswer)
Q_DECLARE_METATYPE(dpo::widgets::PlaygroundResult)
