#pragma once
#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace dpo::studio {

// Measures how late the GUI event loop serves a timer: every `interval_ms` a tick records how far
// past its due time it ran. A training step that blocked the loop shows up as one long lateness.
class LatencyProbe : public QObject {
 public:
  explicit LatencyProbe(int interval_ms = 5, QObject* parent = nullptr)
      : QObject(parent), interval_ms_(interval_ms) {
    timer_.setTimerType(Qt::PreciseTimer);
    timer_.setInterval(interval_ms_);
    QObject::connect(&timer_, &QTimer::timeout, this, [this] {
      const double now = static_cast<double>(clock_.nsecsElapsed()) / 1e6;
      if (last_ms_ >= 0) late_ms_.push_back(std::max(0.0, now - last_ms_ - interval_ms_));
      last_ms_ = now;
    });
  }
  void start() {
    late_ms_.clear();
    last_ms_ = -1;
    clock_.start();
    timer_.start();
  }
  void stop() { timer_.stop(); }
  size_t samples() const { return late_ms_.size(); }
  // q in [0, 1]: 0.5 median, 0.99 the p99 lateness in milliseconds; of the ticks from sample
  // `first` on (a window of a long run: samples() at its start).
  double quantile(double q, size_t first = 0) const {
    if (first >= late_ms_.size()) return 0;
    std::vector<double> v(late_ms_.begin() + static_cast<std::ptrdiff_t>(first), late_ms_.end());
    const auto k = static_cast<size_t>(q * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
  }
  double max(size_t first = 0) const {
    if (first >= late_ms_.size()) return 0;
    return *std::max_element(late_ms_.begin() + static_cast<std::ptrdiff_t>(first), late_ms_.end());
  }

 private:
  int interval_ms_;
  QTimer timer_;
  QElapsedTimer clock_;
  double last_ms_ = -1;
  std::vector<double> late_ms_;
};

}  // namespace dpo::studio
