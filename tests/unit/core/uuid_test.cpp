#include "core/uuid.hpp"

#include <set>
#include <thread>

#include <gtest/gtest.h>

namespace herald::core {
namespace {

TEST(uuid, v7_layout_and_time) {
    auto before = std::chrono::system_clock::now();
    auto u = uuid_v7();
    auto after = std::chrono::system_clock::now();
    EXPECT_EQ(u.version(), 7);
    EXPECT_EQ(u.bytes[8] & 0xC0, 0x80);  // RFC 9562 variant
    EXPECT_GE(u.v7_time() + std::chrono::milliseconds(1), before);
    EXPECT_LE(u.v7_time(), after);
}

TEST(uuid, v7_is_monotonic_and_unique_within_a_thread) {
    std::vector<uuid> ids;
    for (int i = 0; i < 100'000; ++i) ids.push_back(uuid_v7());
    for (std::size_t i = 1; i < ids.size(); ++i) ASSERT_LT(ids[i - 1], ids[i]) << i;
}

TEST(uuid, v7_unique_across_threads) {
    std::vector<std::vector<uuid>> per(4);
    std::vector<std::thread> ts;
    for (auto& v : per)
        ts.emplace_back([&v] {
            for (int i = 0; i < 20'000; ++i) v.push_back(uuid_v7());
        });
    for (auto& t : ts) t.join();
    std::set<uuid> all;
    for (auto& v : per) all.insert(v.begin(), v.end());
    EXPECT_EQ(all.size(), 80'000u);
}

TEST(uuid, v7_at_carries_the_given_time) {
    auto t =
        std::chrono::sys_days(std::chrono::year(2031) / 5 / 17) + std::chrono::milliseconds(1234);
    EXPECT_EQ(uuid_v7_at(t).v7_time(), t);
}

TEST(uuid, parse_and_format_round_trip) {
    auto u = uuid_v4();
    EXPECT_EQ(u.version(), 4);
    auto back = uuid::parse(u.str());
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, u);
    EXPECT_EQ(uuid::parse("01234567-89AB-CDEF-0123-456789abcdef")->str(),
              "01234567-89ab-cdef-0123-456789abcdef");
}

TEST(uuid, parse_rejects_malformed) {
    for (const char* bad :
         {"", "not-a-uuid", "01234567-89ab-cdef-0123-456789abcde",
          "01234567-89ab-cdef-0123-456789abcdeff", "0123456789ab-cdef-0123-456789abcdef0",
          "01234567-89ab-cdef-0123-456789abcdeg", "01234567_89ab_cdef_0123_456789abcdef"})
        EXPECT_FALSE(uuid::parse(bad)) << bad;
}

}  // namespace
}  // namespace herald::core
