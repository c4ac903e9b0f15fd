#include "core/clock.hpp"

namespace herald::core {
namespace {
std::atomic<std::int64_t> offset_seconds{0};
}

time_point now() noexcept {
    return std::chrono::system_clock::now()
           + std::chrono::seconds(offset_seconds.load(std::memory_order_relaxed));
}

void set_clock_offset(std::chrono::seconds offset) noexcept {
    offset_seconds.store(offset.count(), std::memory_order_relaxed);
}

}  // namespace herald::core
