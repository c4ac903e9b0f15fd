#include "http/metrics.hpp"

#include <cstdio>

namespace herald::http {
namespace {

constexpr double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

}  // namespace

std::string label_value(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out.push_back('\\');
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out.push_back(c);
    }
    return out;
}

void metrics::observe_request(std::string_view route, std::string_view method, int status, std::chrono::nanoseconds took) {
    const double secs = std::chrono::duration<double>(took).count();
    std::string key(route);
    key.push_back('\t');
    key.append(method);
    std::lock_guard lock(mutex_);
    ++requests_[key + "\t" + std::to_string(status)];
    auto& h = latency_[key];
    if (h.buckets.empty()) h.buckets.assign(std::size(bounds), 0);
    for (std::size_t i = 0; i < std::size(bounds); ++i)
        if (secs <= bounds[i]) ++h.buckets[i];
    ++h.count;
    h.sum += secs;
}

void metrics::add_collector(std::function<void(std::string&)> collector) {
    std::lock_guard lock(mutex_);
    collectors_.push_back(std::move(collector));
}

std::string metrics::render() const {
    std::string out;
    std::vector<std::function<void(std::string&)>> collectors;
    {
        std::lock_guard lock(mutex_);
        out += "# HELP herald_http_requests_total HTTP requests answered, by route pattern, method and status.\n"
               "# TYPE herald_http_requests_total counter\n";
        for (const auto& [key, count] : requests_) {
            auto t1 = key.find('\t'), t2 = key.find('\t', t1 + 1);
            out += "herald_http_requests_total{route=\"" + label_value(key.substr(0, t1)) + "\",method=\"" +
                   key.substr(t1 + 1, t2 - t1 - 1) + "\",status=\"" + key.substr(t2 + 1) + "\"} " +
                   std::to_string(count) + "\n";
        }
        out += "# HELP herald_http_request_duration_seconds Time from request received to response ready.\n"
               "# TYPE herald_http_request_duration_seconds histogram\n";
        for (const auto& [key, h] : latency_) {
            auto t1 = key.find('\t');
            std::string labels = "route=\"" + label_value(key.substr(0, t1)) + "\",method=\"" + key.substr(t1 + 1) + "\"";
            for (std::size_t i = 0; i < std::size(bounds); ++i)
                out += "herald_http_request_duration_seconds_bucket{" + labels + ",le=\"" + number(bounds[i]) + "\"} " +
                       std::to_string(h.buckets[i]) + "\n";
            out += "herald_http_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
            out += "herald_http_request_duration_seconds_sum{" + labels + "} " + number(h.sum) + "\n";
            out += "herald_http_request_duration_seconds_count{" + labels + "} " + std::to_string(h.count) + "\n";
        }
        collectors = collectors_;
    }
    for (const auto& c : collectors) c(out);
    return out;
}

}  // namespace herald::http
