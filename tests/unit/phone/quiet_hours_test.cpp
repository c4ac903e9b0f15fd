// Quiet hours across time zones: the sending window is the overlap of every zone a number
// could be in, and a message outside it waits for the window rather than being dropped.

#include "phone/quiet_hours.hpp"

#include <date/date.h>
#include <gtest/gtest.h>

namespace herald::phone {
namespace {

using namespace std::chrono_literals;

core::time_point utc(int y, unsigned mo, unsigned d, int h, int mi) {
    return date::sys_days(date::year(y) / mo / d) + std::chrono::hours(h)
           + std::chrono::minutes(mi);
}

const quiet_hours collections{21 * 60, 8 * 60};  // may text 08:00 to 21:00

TEST(quiet_hours, parses_clock_times_and_refuses_anything_else) {
    auto q = parse_quiet_hours("21:00", "08:30");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->start, 21 * 60);
    EXPECT_EQ(q->end, 8 * 60 + 30);
    for (auto bad : {"9pm", "24:00", "21:60", "2100", "", "21:0", " 21:00", "aa:bb"}) {
        auto r = parse_quiet_hours(bad, "08:00");
        ASSERT_FALSE(r) << bad;
        EXPECT_NE(r.error().message.find("is not a time"), std::string::npos) << bad;
    }
    EXPECT_FALSE(parse_quiet_hours("08:00", "08:00"));
}

TEST(quiet_hours, a_window_may_span_midnight_or_not) {
    EXPECT_TRUE(collections.quiet_at(21 * 60));
    EXPECT_TRUE(collections.quiet_at(3 * 60));
    EXPECT_FALSE(collections.quiet_at(8 * 60));
    EXPECT_FALSE(collections.quiet_at(20 * 60 + 59));
    quiet_hours lunch{12 * 60, 13 * 60};
    EXPECT_TRUE(lunch.quiet_at(12 * 60 + 30));
    EXPECT_FALSE(lunch.quiet_at(13 * 60));
}

TEST(quiet_hours, inside_the_window_a_message_goes_now) {
    const auto now = utc(2026, 11, 23, 15, 0);  // 10:00 in New York
    EXPECT_EQ(next_send_time(collections, {"America/New_York"}, now), now);
    EXPECT_EQ(next_send_time(collections, {}, now), now) << "nothing known: no constraint";
}

TEST(quiet_hours, outside_it_the_message_waits_for_local_eight_oclock) {
    const auto now = utc(2026, 11, 24, 3, 0);  // 22:00 in New York (EST, UTC-5)
    EXPECT_EQ(next_send_time(collections, {"America/New_York"}, now), utc(2026, 11, 24, 13, 0));
    // In July New York is on EDT (UTC-4).
    EXPECT_EQ(next_send_time(collections, {"America/New_York"}, utc(2026, 7, 1, 2, 0)),
              utc(2026, 7, 1, 12, 0));
}

TEST(quiet_hours, several_zones_use_the_overlap_of_their_windows) {
    // Florida spans Eastern and Central time. At 07:30 Central it is 08:30 Eastern, but the
    // Central part is still quiet: wait until 08:00 Central.
    const auto now = utc(2026, 11, 23, 13, 30);
    const std::vector<std::string> florida{"America/New_York", "America/Chicago"};
    EXPECT_EQ(next_send_time(collections, florida, now), utc(2026, 11, 23, 14, 0));
    // At 20:30 Central it is 21:30 Eastern: quiet in the east, so it waits for the next
    // morning in Chicago (08:00 CST = 14:00 UTC).
    EXPECT_EQ(next_send_time(collections, florida, utc(2026, 11, 24, 2, 30)),
              utc(2026, 11, 24, 14, 0));
}

TEST(quiet_hours, zones_too_far_apart_have_no_window) {
    // With a one-hour window, New York and Sydney (15 or 16 hours apart) never share it.
    quiet_hours short_day{10 * 60, 9 * 60};  // may text 09:00 to 10:00 only
    EXPECT_EQ(next_send_time(short_day, {"America/New_York", "Australia/Sydney"},
                             utc(2026, 11, 23, 12, 0)),
              std::nullopt);
}

TEST(quiet_hours, a_daylight_saving_gap_does_not_lose_the_morning) {
    // Quiet until 02:30, a time that does not exist in New York on 2026-03-08.
    quiet_hours q{22 * 60, 2 * 60 + 30};
    const auto now = utc(2026, 3, 8, 6, 0);  // 01:00 EST
    auto t = next_send_time(q, {"America/New_York"}, now);
    ASSERT_TRUE(t);
    EXPECT_EQ(*t, utc(2026, 3, 8, 7, 0));  // 03:00 EDT, the moment the clocks jump
}

TEST(quiet_hours, unknown_zone_names_are_ignored) {
    const auto now = utc(2026, 11, 24, 3, 0);
    EXPECT_EQ(next_send_time(collections, {"Not/AZone", "America/New_York"}, now),
              utc(2026, 11, 24, 13, 0));
}

}  // namespace
}  // namespace herald::phone
