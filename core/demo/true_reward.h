#pragma once
#include <string>
#include <string_view>

namespace dpo {

// The demo world's ground truth: what a (prompt, answer) is really worth, computed from the text
// alone, so the true quality of sampled answers can be plotted next to DPO's implicit reward.
enum class DemoTask { Arithmetic, Manners, Story, Unknown };

struct TrueReward {
  DemoTask task = DemoTask::Unknown;
  double reward = 0;  // in [0, 1]
};

// The task a prompt belongs to, from its opening word ("Question:", "User:", "Story:").
DemoTask demo_task(std::string_view prompt);
const char* demo_task_name(DemoTask task);

// 1 when the first "= N" of the answer is the sum the prompt asks for, else 0.
double arithmetic_reward(std::string_view prompt, std::string_view answer);
// Politeness lexicon: 0.5·(1 + (polite − rude)/(polite + rude)) over the answer's words; 0.5 with none.
double politeness_reward(std::string_view answer);
// Sentiment lexicon (happy vs sad words), the same formula.
double sentiment_reward(std::string_view answer);

// Dispatch on the prompt's task; Unknown prompts score 0.
TrueReward true_reward(std::string_view prompt, std::string_view answer);

}  // namespace dpo
