#pragma once
/// A token bucket: `rate` tokens per second (fractional rates allowed, e.g. 0.5/s), holding
/// at most `burst`. Time is passed in, so tests need no clock.

#include <algorithm>
#include <chrono>

namespace herald::smpp {

class rate_limiter {
  public:
    using time_point = std::chrono::steady_clock::time_point;

    /// rate <= 0 means unlimited.
    explicit rate_limiter(double rate = 0, double burst = 0, time_point now = {})
        : rate_(rate),
          burst_(burst > 0 ? burst : std::max(1.0, rate / 10)),
          tokens_(burst_),
          last_(now) {}

    bool unlimited() const noexcept { return rate_ <= 0; }
    double rate() const noexcept { return rate_; }

    /// Takes one token if available.
    bool try_acquire(time_point now) noexcept {
        if (unlimited()) return true;
        refill(now);
        if (tokens_ < 1.0) return false;
        tokens_ -= 1.0;
        return true;
    }

    /// How long until a token will be available (zero when one is).
    std::chrono::nanoseconds wait_time(time_point now) noexcept {
        if (unlimited()) return {};
        refill(now);
        if (tokens_ >= 1.0) return {};
        return std::chrono::nanoseconds(static_cast<long long>((1.0 - tokens_) / rate_ * 1e9) + 1);
    }

  private:
    void refill(time_point now) noexcept {
        if (now <= last_) return;
        double elapsed = std::chrono::duration<double>(now - last_).count();
        tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
        last_ = now;
    }
    double rate_, burst_, tokens_;
    time_point last_;
};

}  // namespace herald::smpp
