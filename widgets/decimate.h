#pragma once
// Min/max decimation of a line for drawing (widgets/metric_plot.cpp): what a plot hands the
// painter stays bounded by its width, not by the points it holds. Qt-free, tested on its own.
#include <cmath>
#include <cstddef>
#include <optional>
#include <vector>

namespace dpo::widgets {

// Indices of the points to draw, ascending, for points at x pixels `pixels` (ascending) with
// `values`: the first and the last point; per bucket of `bucket_pixels` its lowest and highest point
// in their order; points of a flat stretch only where it ends. Every spike stays visible and the
// line keeps its shape at the drawn resolution.
inline std::vector<size_t> decimated_indices(const std::vector<double>& pixels,
                                             const std::vector<double>& values, double bucket_pixels) {
  const size_t n = pixels.size();
  std::vector<size_t> out;
  if (n <= 2) {
    for (size_t i = 0; i < n; ++i) out.push_back(i);
    return out;
  }
  out.push_back(0);
  std::optional<size_t> held;  // the newest point of a flat stretch, drawn once the value changes
  auto add = [&](size_t i) {
    if (values[i] == values[out.back()]) {
      held = i;
      return;
    }
    if (held) out.push_back(*held);
    held.reset();
    out.push_back(i);
  };
  const auto bucket_of = [&](size_t i) {
    return static_cast<long>(std::floor(std::abs(pixels[i] - pixels[0]) / bucket_pixels));
  };
  size_t low = 1, high = 1;
  long bucket = bucket_of(1);
  auto flush = [&] {
    add(low < high ? low : high);
    if (low != high) add(low < high ? high : low);
  };
  for (size_t i = 2; i + 1 < n; ++i) {
    if (const long b = bucket_of(i); b != bucket) {
      flush();
      bucket = b;
      low = high = i;
    } else if (values[i] < values[low]) {
      low = i;
    } else if (values[i] > values[high]) {
      high = i;
    }
  }
  if (low + 1 < n) flush();
  if (held && values[n - 1] != values[*held]) out.push_back(*held);
  out.push_back(n - 1);
  return out;
}

}  // namespace dpo::widgets
