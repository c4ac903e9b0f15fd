#include "phone/number.hpp"

#include <gtest/gtest.h>

#include <set>

#include "phone/errc.hpp"
#include "phone/time_zones.hpp"

namespace herald::phone {
namespace {

struct good_case {
    std::string input, region, e164, number_region;
    number_type type;
};

class valid_numbers : public ::testing::TestWithParam<good_case> {};

TEST_P(valid_numbers, normalise_to_e164) {
    const auto& c = GetParam();
    auto n = normalize(c.input, c.region);
    ASSERT_TRUE(n) << c.input << ": " << n.error().message;
    EXPECT_EQ(n->e164, c.e164);
    EXPECT_EQ(n->region, c.number_region);
    EXPECT_EQ(n->type, c.type) << to_string(n->type);
}

INSTANTIATE_TEST_SUITE_P(
    countries, valid_numbers,
    ::testing::Values(
        // United States: national, punctuated, international, with a 1 prefix.
        good_case{"(212) 555-0123", "US", "+12125550123", "US", number_type::fixed_line_or_mobile},
        good_case{"1-415-555-2671", "US", "+14155552671", "US", number_type::fixed_line_or_mobile},
        good_case{"+1 212 555 0123", "", "+12125550123", "US", number_type::fixed_line_or_mobile},
        good_case{"800-555-0123", "us", "+18005550123", "US", number_type::toll_free},
        // United Kingdom: mobile in national form with the trunk 0, and a London landline.
        good_case{"07400 123456", "GB", "+447400123456", "GB", number_type::mobile},
        good_case{"+44 20 7946 0958", "US", "+442079460958", "GB", number_type::fixed_line},
        good_case{"0044 7400 123456", "GB", "+447400123456", "GB", number_type::mobile},
        // Nigeria
        good_case{"0803 123 4567", "NG", "+2348031234567", "NG", number_type::mobile},
        good_case{"+234 1 234 5678", "", "+23412345678", "NG", number_type::fixed_line},
        // India
        good_case{"98765 43210", "IN", "+919876543210", "IN", number_type::mobile},
        good_case{"+91-22-2345-6789", "", "+912223456789", "IN", number_type::fixed_line},
        // Germany
        good_case{"0151 23456789", "DE", "+4915123456789", "DE", number_type::mobile},
        good_case{"+49 30 901820", "", "+4930901820", "DE", number_type::fixed_line}),
    [](const auto& p) { return "case_" + std::to_string(p.index); });

struct bad_case {
    std::string input, region;
    errc code;
    std::string says;
};

class invalid_numbers : public ::testing::TestWithParam<bad_case> {};

TEST_P(invalid_numbers, are_rejected_with_a_reason) {
    const auto& c = GetParam();
    auto n = normalize(c.input, c.region);
    ASSERT_FALSE(n) << c.input << " -> " << n->e164;
    EXPECT_EQ(n.error().code, c.code) << n.error().message;
    EXPECT_NE(n.error().message.find(c.says), std::string::npos) << n.error().message;
    EXPECT_TRUE(n.error().is(condition::invalid_input));
}

INSTANTIATE_TEST_SUITE_P(
    rejects, invalid_numbers,
    ::testing::Values(
        bad_case{"hello", "US", errc::not_a_number, "is not a phone number"},
        bad_case{"", "US", errc::not_a_number, "is not a phone number"},
        bad_case{"12", "US", errc::too_short, "too short"},
        bad_case{"555-0123", "US", errc::too_short, "lacks an area code"},
        bad_case{"+1 212 555 01234567", "", errc::too_long, "too long"},
        bad_case{"+1 099 555 0123", "", errc::invalid_for_region, "not a valid number in US"},
        bad_case{"0803 123 456", "NG", errc::invalid_for_region, ""},
        bad_case{"2125550123", "", errc::invalid_country_code, "no country code"},
        bad_case{"+999 1234 5678", "", errc::invalid_country_code, "unknown country calling code"},
        bad_case{"07400 123456", "XX", errc::unknown_region, "not a supported region"},
        bad_case{std::string(100, '9'), "US", errc::not_a_number, "too long to be a number"}),
    [](const auto& p) { return "case_" + std::to_string(p.index); });

TEST(phone, can_receive_sms_is_false_for_landlines_and_toll_free) {
    EXPECT_TRUE(normalize("07400 123456", "GB")->can_receive_sms());
    EXPECT_FALSE(normalize("+44 20 7946 0958")->can_receive_sms());
    EXPECT_FALSE(normalize("800-555-0123", "US")->can_receive_sms());
}

TEST(time_zones, country_zones_come_from_zone1970) {
    EXPECT_EQ(candidate_time_zones(*normalize("0803 123 4567", "NG")),
              std::vector<std::string>{"Africa/Lagos"});
    EXPECT_EQ(candidate_time_zones(*normalize("98765 43210", "IN")),
              std::vector<std::string>{"Asia/Kolkata"});
    auto de = candidate_time_zones(*normalize("0151 23456789", "DE"));
    EXPECT_NE(std::find(de.begin(), de.end(), "Europe/Berlin"), de.end());
    auto gb = candidate_time_zones(*normalize("+44 20 7946 0958"));
    EXPECT_EQ(gb, std::vector<std::string>{"Europe/London"});
}

TEST(time_zones, us_and_canada_narrow_to_the_area_code_state) {
    EXPECT_EQ(candidate_time_zones(*normalize("+1 212 555 0123")),
              std::vector<std::string>{"America/New_York"});
    EXPECT_EQ(candidate_time_zones(*normalize("+1 310 555 0123")),
              std::vector<std::string>{"America/Los_Angeles"});
    EXPECT_EQ(candidate_time_zones(*normalize("+1 808 555 0123")),
              std::vector<std::string>{"Pacific/Honolulu"});
    auto tx = candidate_time_zones(*normalize("+1 915 555 0123"));  // El Paso area, Texas
    EXPECT_NE(std::find(tx.begin(), tx.end(), "America/Chicago"), tx.end());
    EXPECT_NE(std::find(tx.begin(), tx.end(), "America/Denver"), tx.end());
    EXPECT_EQ(candidate_time_zones(*normalize("+1 416 555 0123"))[0], "America/Toronto");
    // Toll-free numbers have no place: every US zone is possible.
    EXPECT_GT(candidate_time_zones(*normalize("+1 800 555 0123")).size(), 10u);
}

TEST(time_zones, explicit_zone_overrides_and_is_validated) {
    auto n = *normalize("+1 212 555 0123");
    EXPECT_EQ(candidate_time_zones(n, "Europe/Paris"), std::vector<std::string>{"Europe/Paris"});
    EXPECT_EQ(candidate_time_zones(n, "Mars/Olympus"),
              std::vector<std::string>{"America/New_York"});
    EXPECT_TRUE(is_valid_time_zone("America/Los_Angeles"));
    EXPECT_FALSE(is_valid_time_zone("Mars/Olympus"));
    EXPECT_FALSE(is_valid_time_zone(""));
}

TEST(time_zones, every_subdivision_zone_exists_in_tzdata) {
    for (const char* n :
         {"+1 907 555 0123", "+1 928 555 0123", "+1 305 555 0123", "+1 208 555 0123",
          "+1 317 555 0123", "+1 502 555 0123", "+1 906 555 0123", "+1 605 555 0123",
          "+1 604 555 0123", "+1 709 555 0123", "+1 867 555 0123", "+1 306 555 0123"}) {
        for (const auto& z : candidate_time_zones(*normalize(n)))
            EXPECT_TRUE(is_valid_time_zone(z)) << n << " " << z;
    }
}

}  // namespace
}  // namespace herald::phone

// ---- the fast path agrees with libphonenumber's full parser ----

#include <phonenumbers/phonenumberutil.h>

namespace herald::phone {
namespace {

TEST(fast_path, agrees_with_the_full_parser_for_every_region) {
    using i18n::phonenumbers::PhoneNumber;
    using i18n::phonenumbers::PhoneNumberUtil;
    const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
    std::set<std::string> regions;
    util.GetSupportedRegions(&regions);
    std::size_t compared = 0, fast_differs = 0;
    for (const auto& region : regions) {
        for (auto type : {PhoneNumberUtil::MOBILE, PhoneNumberUtil::FIXED_LINE, PhoneNumberUtil::TOLL_FREE}) {
            PhoneNumber example;
            if (!util.GetExampleNumberForType(region, type, &example)) continue;
            std::string e164;
            util.Format(example, PhoneNumberUtil::E164, &e164);
            // The example and variations of its last digits (some valid, some not), in
            // E.164 and in spaced international form.
            for (int v = 0; v < 12; ++v) {
                std::string n = e164;
                if (v > 0) n.back() = char('0' + (v * 7) % 10), n[n.size() - 2] = char('0' + (v * 3) % 10);
                for (const std::string& input : {n, n.substr(0, 3) + " " + n.substr(3)}) {
                    auto fast = normalize(input, "", true);
                    auto slow = normalize_slow(input, "", true);
                    ++compared;
                    ASSERT_EQ(bool(fast), bool(slow)) << input;
                    if (!fast) {
                        EXPECT_EQ(fast.error().code, slow.error().code) << input;
                        continue;
                    }
                    EXPECT_EQ(fast->e164, slow->e164) << input;
                    EXPECT_EQ(fast->country_code, slow->country_code) << input;
                    if (fast->region != slow->region || fast->type != slow->type) ++fast_differs;
                    EXPECT_EQ(fast->region, slow->region) << input;
                    EXPECT_EQ(fast->type, slow->type) << input;
                }
            }
        }
    }
    EXPECT_GT(compared, 5000u);
    EXPECT_EQ(fast_differs, 0u);
}

TEST(fast_path, without_type_skips_only_the_type) {
    auto n = normalize("+447400123456", "", false);
    ASSERT_TRUE(n);
    EXPECT_EQ(n->type, number_type::unknown);
    EXPECT_EQ(n->region, "GB");
    EXPECT_EQ(normalize("+447400123456")->type, number_type::mobile);
}

}  // namespace
}  // namespace herald::phone
