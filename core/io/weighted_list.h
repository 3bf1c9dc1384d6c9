#pragma once
// "name[:weight],name[:weight],..." as the loss mix (--loss sigmoid:1,sppo_hard:0.5) and the scorer
// mix (--scorer length:-0.1,true:1) spell it. Torch-free.
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

struct WeightedItem {
  std::string item;  // "sppo_hard:0.5" as written
  std::string name;  // "sppo_hard"
  double weight = 1;
};

// The items in order; a weight that is not a finite number throws ConfigError
// "<weight_label>"abc" is not a number (in "name:abc")". Names are not checked here.
std::vector<WeightedItem> split_weighted_list(std::string_view spec, std::string_view weight_label = "");

}  // namespace dpo
