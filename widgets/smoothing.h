#pragma once
#include <cmath>
#include <vector>

namespace dpo::widgets {

// TensorBoard's debiased exponential moving average: s_t = w·s_{t−1} + (1−w)·x_t from s_0 = 0,
// shown as s_t / (1 − w^t) so the first points are not dragged toward zero. w = 0 is the raw
// series. A non-finite sample gives NaN (a gap) and leaves the average untouched.
class DebiasedEma {
 public:
  explicit DebiasedEma(double weight = 0.0) : weight_(weight) {}

  double add(double x) {
    if (!std::isfinite(x)) return std::nan("");
    state_ = weight_ * state_ + (1.0 - weight_) * x;
    power_ *= weight_;
    return weight_ > 0 ? state_ / (1.0 - power_) : state_;
  }
  void reset() { state_ = 0.0, power_ = 1.0; }
  double weight() const { return weight_; }

 private:
  double weight_;
  double state_ = 0.0;
  double power_ = 1.0;  // w^t
};

inline std::vector<double> debiased_ema(const std::vector<double>& xs, double weight) {
  DebiasedEma ema(weight);
  std::vector<double> out;
  out.reserve(xs.size());
  for (double x : xs) out.push_back(ema.add(x));
  return out;
}

}  // namespace dpo::widgets
