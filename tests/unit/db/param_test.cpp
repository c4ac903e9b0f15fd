#include "db/param.hpp"

#include <gtest/gtest.h>

#include "db/errc.hpp"

namespace herald::db {
namespace {

using namespace std::chrono;

TEST(param, text_forms) {
    EXPECT_EQ(param(42).text(), "42");
    EXPECT_EQ(param(std::int64_t(-7)).text(), "-7");
    EXPECT_EQ(param(true).text(), "t");
    EXPECT_EQ(param("x").text(), "x");
    EXPECT_TRUE(param(nullptr).is_null());
    EXPECT_TRUE(param(std::optional<int>()).is_null());
    EXPECT_EQ(param(std::optional<int>(5)).text(), "5");
    EXPECT_EQ(param(1.5).text(), "1.5");
}

TEST(timestamps, format_is_iso_utc_with_microseconds) {
    auto t =
        sys_days(year(2026) / 11 / 23) + hours(10) + minutes(5) + seconds(7) + microseconds(123456);
    EXPECT_EQ(format_timestamp(t), "2026-11-23T10:05:07.123456Z");
    auto before_epoch = sys_days(year(1969) / 12 / 31) + hours(23) + microseconds(500);
    EXPECT_EQ(format_timestamp(before_epoch), "1969-12-31T23:00:00.000500Z");
}

TEST(timestamps, parse_accepts_postgres_output_with_any_offset) {
    auto t =
        sys_days(year(2026) / 11 / 23) + hours(10) + minutes(5) + seconds(7) + microseconds(120000);
    EXPECT_EQ(parse_timestamp("2026-11-23 10:05:07.12+00"), t);
    EXPECT_EQ(parse_timestamp("2026-11-23 15:35:07.12+05:30"), t);
    EXPECT_EQ(parse_timestamp("2026-11-23 05:05:07.12-05"), t);
    EXPECT_EQ(parse_timestamp("2026-11-23T10:05:07.120000Z"), t);
    EXPECT_EQ(parse_timestamp("2026-11-23 10:05:07+00"), t - microseconds(120000));
    auto rt = parse_timestamp(format_timestamp(t));
    EXPECT_EQ(rt, t);
}

TEST(timestamps, parse_rejects_garbage) {
    for (const char* bad : {"", "2026-11-23", "2026-13-01 00:00:00+00", "2026-02-30 00:00:00+00",
                            "yesterday", "2026-11-23 10:05:07+0x", "2026-11-23 10:05:07 junk"})
        EXPECT_FALSE(parse_timestamp(bad)) << bad;
}

TEST(arrays, literal_escapes_quotes_and_backslashes) {
    EXPECT_EQ(array_literal(std::vector<std::string>{"a", "b\"c", "d\\e", "", "x,y"}),
              R"({"a","b\"c","d\\e","","x,y"})");
    EXPECT_EQ(array_literal(std::vector<std::optional<std::string>>{"a", std::nullopt}),
              R"({"a",NULL})");
    EXPECT_EQ(array_literal(std::vector<std::string>{}), "{}");
}

TEST(sqlstate, maps_to_policy_conditions) {
    auto is = [](const char* state, condition c) {
        return std::error_code(from_sqlstate(state)) == c;
    };
    EXPECT_TRUE(is("23505", condition::duplicate));
    EXPECT_TRUE(is("40001", condition::retryable));
    EXPECT_TRUE(is("40P01", condition::retryable));
    EXPECT_TRUE(is("08006", condition::connection_lost));
    EXPECT_TRUE(is("57P01", condition::connection_lost));
    EXPECT_TRUE(is("22P02", condition::invalid_input));
    EXPECT_TRUE(is("23514", condition::invalid_input));
    EXPECT_TRUE(is("42P01", condition::internal));
    EXPECT_TRUE(is("HR001", condition::conflict));
    EXPECT_EQ(from_sqlstate("HR001"), errc::expectation_failed);
    EXPECT_EQ(std::error_code(errc::unique_violation).message(), "duplicate");
}

}  // namespace
}  // namespace herald::db
