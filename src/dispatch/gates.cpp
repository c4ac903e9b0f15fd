#include "dispatch/gates.hpp"

#include <algorithm>
#include <ctime>

#include "phone/number.hpp"
#include "phone/time_zones.hpp"

namespace herald::dispatch {
namespace {

using namespace std::chrono_literals;

std::string utc_text(core::time_point t) {
    const std::time_t s = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&s, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/// Zones are cached per explicit zone, or per number prefix: eight characters ("+1212555")
/// settle the country and, for North America, the area code that narrows the zones.
constexpr std::size_t prefix_length = 8;
constexpr std::size_t max_cached_prefixes = 50'000;

}  // namespace

std::optional<store::deferral> send_gates::check(const store::claimed_message& m,
                                                 core::time_point now) {
    if (auto q = quiet(m, now)) return q;
    if (m.campaign_id && m.campaign_tps && *m.campaign_tps > 0)
        return paced(*m.campaign_id, *m.campaign_tps, now);
    return std::nullopt;
}

const std::vector<std::string>& send_gates::zones_for(const store::claimed_message& m) {
    const std::string key =
        m.time_zone.empty() ? m.to.substr(0, prefix_length) : "tz:" + m.time_zone;
    if (auto it = zones_.find(key); it != zones_.end()) return it->second;
    if (zones_.size() >= max_cached_prefixes) zones_.clear();
    std::vector<std::string> zones;
    if (auto number = phone::normalize(m.to, {}, false))
        zones = phone::candidate_time_zones(*number, m.time_zone);
    return zones_.emplace(key, std::move(zones)).first->second;
}

std::optional<store::deferral> send_gates::quiet(const store::claimed_message& m,
                                                 core::time_point now) {
    if (!m.quiet_hours) return std::nullopt;
    auto [w, fresh] = windows_.try_emplace(*m.quiet_hours);
    if (fresh) {
        auto parsed = phone::parse_quiet_hours(m.quiet_hours->first, m.quiet_hours->second);
        if (parsed) w->second = *parsed;
    }
    if (!w->second) return std::nullopt;  // the API refuses malformed windows
    const std::string window = m.quiet_hours->first + "-" + m.quiet_hours->second;
    auto when = phone::next_send_time(*w->second, zones_for(m), now);
    if (!when)
        return store::deferral{.until = now + 24h,
                               .code = "quiet_hours",
                               .message = "no time outside quiet hours " + window
                                          + " is shared by every time zone " + m.to
                                          + " could be in; tried again in a day"};
    if (*when <= now) return std::nullopt;
    return store::deferral{.until = *when,
                           .code = "quiet_hours",
                           .message = "held by quiet hours " + window
                                      + " (recipient's local time) until " + utc_text(*when)};
}

std::optional<store::deferral> send_gates::paced(const core::uuid& campaign, double tps,
                                                 core::time_point now) {
    // A token bucket per campaign, holding up to half a second of sends (claims come in
    // batches). What it cannot take now is spread over the following seconds, after any
    // already spread, so each deferred message is claimed again about once.
    const double rate = tps / live_nodes_;
    const double burst = std::max(1.0, rate / 2);
    if (buckets_.size() > 1000)  // forget campaigns not seen for ten minutes
        std::erase_if(buckets_, [&](const auto& kv) { return now - kv.second.refilled > 10min; });
    auto [it, fresh] = buckets_.try_emplace(campaign.str());
    bucket& b = it->second;
    if (fresh) {
        b.tokens = burst;
        b.refilled = now;
    }
    b.tokens =
        std::min(burst, b.tokens + rate * std::chrono::duration<double>(now - b.refilled).count());
    b.refilled = now;
    if (b.tokens >= 1) {
        b.tokens -= 1;
        return std::nullopt;
    }
    const auto step = std::chrono::duration_cast<core::time_point::duration>(
        std::chrono::duration<double>(1 / rate));
    b.horizon = std::max(b.horizon, now) + step;
    return store::deferral{
        .until = b.horizon, .code = "tps_cap", .message = "paced by the campaign's TPS cap"};
}

}  // namespace herald::dispatch
