#pragma once
/// Wall-clock time for business rules (schedules, quiet hours, expiries). It reads the
/// system clock shifted by an offset that tests and simulations may set, so that "it is
/// 22:00 in New York" can be arranged without waiting.

#include <atomic>
#include <chrono>

namespace herald::core {

using time_point = std::chrono::system_clock::time_point;

/// Current business time.
time_point now() noexcept;

/// Shifts business time; only tests and the simulator use this.
void set_clock_offset(std::chrono::seconds offset) noexcept;

}  // namespace herald::core
