#include "core/io/weighted_list.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/runtime/error.h"

namespace dpo {

std::vector<WeightedItem> split_weighted_list(std::string_view spec, std::string_view weight_label) {
  std::vector<WeightedItem> items;
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t end = std::min(spec.find(',', start), spec.size());
    WeightedItem w;
    w.item = std::string(spec.substr(start, end - start));
    const size_t colon = w.item.find(':');
    w.name = w.item.substr(0, colon);
    if (colon != std::string::npos) {
      const std::string number = w.item.substr(colon + 1);
      bool ok = false;
      try {
        size_t used = 0;
        w.weight = std::stod(number, &used);
        ok = used == number.size() && std::isfinite(w.weight);
      } catch (const std::exception&) {
        ok = false;
      }
      if (!ok)
        throw ConfigError(std::string(weight_label) + "\"" + number + "\" is not a number (in \"" + w.item +
                          "\")");
    }
    items.push_back(std::move(w));
    start = end + 1;
  }
  return items;
}

}  // namespace dpo
