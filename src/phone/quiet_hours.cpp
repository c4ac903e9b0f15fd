#include "phone/quiet_hours.hpp"

#include <algorithm>
#include <charconv>

#include <date/tz.h>

#include "phone/errc.hpp"

namespace herald::phone {

bool quiet_hours::quiet_at(int m) const noexcept {
    return start < end ? (m >= start && m < end) : (m >= start || m < end);
}

namespace {

std::optional<int> parse_clock(std::string_view s) {
    if (s.size() != 5 || s[2] != ':') return std::nullopt;
    int h = 0, m = 0;
    auto digits = [](std::string_view d, int& out) {
        auto [p, ec] = std::from_chars(d.data(), d.data() + d.size(), out);
        return ec == std::errc() && p == d.data() + d.size();
    };
    if (!digits(s.substr(0, 2), h) || !digits(s.substr(3, 2), m) || h > 23 || m > 59)
        return std::nullopt;
    return h * 60 + m;
}

/// Minutes after local midnight in `zone` at `t`.
int minute_of_day(const date::time_zone* zone, core::time_point t) {
    const auto local = zone->to_local(std::chrono::floor<std::chrono::seconds>(t));
    const auto since_midnight = local - date::floor<date::days>(local);
    return int(std::chrono::duration_cast<std::chrono::minutes>(since_midnight).count());
}

}  // namespace

result<quiet_hours> parse_quiet_hours(std::string_view start, std::string_view end) {
    auto s = parse_clock(start), e = parse_clock(end);
    if (!s)
        return fail(std::make_error_code(std::errc::invalid_argument),
                    "quiet hours start \"" + std::string(start) + "\" is not a time like 21:00",
                    "start");
    if (!e)
        return fail(std::make_error_code(std::errc::invalid_argument),
                    "quiet hours end \"" + std::string(end) + "\" is not a time like 08:00", "end");
    if (*s == *e)
        return fail(std::make_error_code(std::errc::invalid_argument),
                    "quiet hours start and end are the same time", "end");
    return quiet_hours{*s, *e};
}

std::optional<core::time_point> next_send_time(const quiet_hours& q,
                                               const std::vector<std::string>& names,
                                               core::time_point now) {
    std::vector<const date::time_zone*> zones;
    for (const auto& n : names) {
        try {
            zones.push_back(date::locate_zone(n));
        } catch (const std::exception&) {
        }
    }
    auto allowed = [&](core::time_point t) {
        return std::none_of(zones.begin(), zones.end(),
                            [&](auto* z) { return q.quiet_at(minute_of_day(z, t)); });
    };
    if (allowed(now)) return now;
    // The overlap opens when the last of the zones leaves quiet hours: try each moment a
    // zone's quiet ends, over the next two days, earliest first.
    std::vector<core::time_point> openings;
    const auto today = date::floor<date::days>(std::chrono::floor<std::chrono::seconds>(now));
    for (auto* z : zones) {
        const auto local_today = date::local_days{} + (today - date::sys_days{});
        for (int d = -1; d <= 2; ++d) {
            const auto at =
                date::local_seconds(local_today + date::days(d)) + std::chrono::minutes(q.end);
            // A time skipped by a DST change maps to the change itself.
            const auto sys = z->to_sys(at, date::choose::earliest);
            if (sys > now) openings.push_back(sys);
        }
    }
    std::sort(openings.begin(), openings.end());
    for (auto t : openings)
        if (t - now <= std::chrono::hours(48) && allowed(t)) return t;
    return std::nullopt;
}

}  // namespace herald::phone
