#pragma once
/// Prometheus metrics: request counts and latency histograms by route, plus gauges that
/// other parts of Herald contribute (database pool, connectors). Rendered in the text
/// exposition format at GET /metrics.

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace herald::http {

class metrics {
public:
    /// Records one answered request. `route` is the matched pattern, never the raw path, so
    /// that ids do not explode the label space.
    void observe_request(std::string_view route, std::string_view method, int status, std::chrono::nanoseconds took);
    /// Adds a writer of further metric families (called at each scrape).
    void add_collector(std::function<void(std::string&)> collector);
    /// The whole exposition text.
    std::string render() const;

private:
    struct histogram {
        std::vector<std::uint64_t> buckets;
        std::uint64_t count = 0;
        double sum = 0;
    };
    mutable std::mutex mutex_;
    std::map<std::string, std::uint64_t> requests_;  // route\tmethod\tstatus -> count
    std::map<std::string, histogram> latency_;       // route\tmethod -> histogram
    std::vector<std::function<void(std::string&)>> collectors_;
};

/// Escapes a label value for the exposition format.
std::string label_value(std::string_view v);

}  // namespace herald::http
