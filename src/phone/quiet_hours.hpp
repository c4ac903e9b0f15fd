#pragma once
/// Quiet hours: the local hours in which a recipient must not be texted, and the first
/// moment a message may go when its recipient could be in several time zones.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace herald::phone {

/// Quiet from `start` to `end`, local time, in minutes after midnight. When `end` is
/// earlier than `start` the quiet spans midnight (21:00 to 08:00, the usual case).
struct quiet_hours {
    int start = 21 * 60;
    int end = 8 * 60;
    bool quiet_at(int minute_of_day) const noexcept;
};

/// Parses "HH:MM" times (24-hour). The two must differ.
result<quiet_hours> parse_quiet_hours(std::string_view start, std::string_view end);

/// The first moment at or after `now` that is outside quiet hours in every zone of
/// `zones`, that is, inside the overlap of their sending windows: `now` itself when it
/// already is. Names that are not time zones are ignored; an empty list means nothing is
/// known and the answer is `now`. nullopt when the windows never overlap in the next two
/// days (the zones are too far apart for the window).
std::optional<core::time_point> next_send_time(const quiet_hours& q,
                                               const std::vector<std::string>& zones,
                                               core::time_point now);

}  // namespace herald::phone
