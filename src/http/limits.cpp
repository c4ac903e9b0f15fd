#include "http/limits.hpp"

#include <algorithm>
#include <cmath>

namespace herald::http {

bool rate_limits::allow(const std::string& key, std::chrono::seconds* retry_after) {
    if (unlimited()) return true;
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    if (buckets_.size() > 100'000) buckets_.clear();  // bound memory under a flood of keys
    auto [it, fresh] = buckets_.try_emplace(key, bucket{burst_, now});
    bucket& b = it->second;
    if (!fresh) {
        b.tokens = std::min(burst_, b.tokens + std::chrono::duration<double>(now - b.last).count() * rate_);
        b.last = now;
    }
    if (b.tokens >= 1.0) {
        b.tokens -= 1.0;
        return true;
    }
    if (retry_after) *retry_after = std::chrono::seconds(std::max(1LL, static_cast<long long>(std::ceil((1.0 - b.tokens) / rate_))));
    return false;
}

std::chrono::seconds failure_window::locked_for(const std::string& key) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return {};
    if (now - it->second.first >= window_) {
        entries_.erase(it);
        return {};
    }
    if (it->second.failures < max_) return {};
    return std::chrono::duration_cast<std::chrono::seconds>(it->second.first + window_ - now) + std::chrono::seconds(1);
}

void failure_window::record_failure(const std::string& key) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    if (entries_.size() > 100'000) entries_.clear();
    auto& e = entries_[key];
    if (e.failures == 0 || now - e.first >= window_) e = {0, now};
    ++e.failures;
}

void failure_window::reset(const std::string& key) {
    std::lock_guard lock(mutex_);
    entries_.erase(key);
}

}  // namespace herald::http
