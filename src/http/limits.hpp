#pragma once
/// In-process rate limits: token buckets per key (token, IP) and failure windows for logins.
/// Each node limits on its own; with N nodes the cluster-wide ceiling is N times higher.

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace herald::http {

/// Token buckets by key: `rate` requests per second with bursts of `burst`.
class rate_limits {
public:
    rate_limits(double rate, double burst) : rate_(rate), burst_(burst > 0 ? burst : rate * 2) {}

    /// True when a request for `key` may proceed now; otherwise `retry_after` says when.
    bool allow(const std::string& key, std::chrono::seconds* retry_after = nullptr);
    bool unlimited() const noexcept { return rate_ <= 0; }

private:
    struct bucket {
        double tokens;
        std::chrono::steady_clock::time_point last;
    };
    double rate_, burst_;
    std::mutex mutex_;
    std::unordered_map<std::string, bucket> buckets_;
};

/// Counts failures per key in a sliding window and locks the key out past a limit.
class failure_window {
public:
    failure_window(int max_failures, std::chrono::seconds window) : max_(max_failures), window_(window) {}

    /// Zero when the key may try; otherwise how long until it may.
    std::chrono::seconds locked_for(const std::string& key);
    void record_failure(const std::string& key);
    void reset(const std::string& key);

private:
    struct entry {
        int failures = 0;
        std::chrono::steady_clock::time_point first;
    };
    int max_;
    std::chrono::seconds window_;
    std::mutex mutex_;
    std::unordered_map<std::string, entry> entries_;
};

}  // namespace herald::http
