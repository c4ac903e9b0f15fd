#include "smpp/outbound.hpp"

#include <gtest/gtest.h>

#include "smpp/rate_limiter.hpp"
#include "support/smpp_builders.hpp"

namespace herald::smpp {
namespace {

using test::to_hex;

outbound_sms sms(std::string text, std::string to = "+14155550123") {
    return {"Herald", std::move(to), std::move(text), true, "", std::nullopt};
}

std::string repeat(std::string s, int n) {
    std::string out;
    while (n--) out += s;
    return out;
}

TEST(outbound, short_gsm_text_in_the_smsc_default_coding) {
    auto b = build_submits(sms("Hi €5"), {}, 0);
    ASSERT_TRUE(b);
    ASSERT_EQ(b->parts.size(), 1u);
    const auto& p = b->parts[0];
    EXPECT_EQ(p.data_coding, coding::smsc_default);
    EXPECT_EQ(to_hex(p.short_message), "4869201b6535");  // H i space ESC e(=€) 5
    EXPECT_EQ(p.destination_addr, "14155550123");
    EXPECT_EQ(p.dest_addr_ton, 1);
    EXPECT_EQ(p.dest_addr_npi, 1);
    EXPECT_EQ(p.source_addr, "Herald");
    EXPECT_EQ(p.source_addr_ton, 5);
    EXPECT_EQ(p.registered_delivery, 1);
}

TEST(outbound, latin1_connectors_get_latin1_unless_the_text_needs_more) {
    coding_policy latin{default_coding::latin1, long_method::udh};
    auto b = build_submits(sms("Café"), latin, 0);
    EXPECT_EQ(b->parts[0].data_coding, coding::latin1);
    EXPECT_EQ(to_hex(b->parts[0].short_message), "436166e9");
    // Greek capitals are GSM but not Latin-1: UCS-2.
    b = build_submits(sms("ΔΣ"), latin, 0);
    EXPECT_EQ(b->parts[0].data_coding, coding::ucs2);
    EXPECT_EQ(to_hex(b->parts[0].short_message), "039403a3");
}

TEST(outbound, unicode_goes_as_ucs2_big_endian) {
    auto b = build_submits(sms("Hi 😀"), {}, 0);
    EXPECT_EQ(b->parts[0].data_coding, coding::ucs2);
    EXPECT_EQ(to_hex(b->parts[0].short_message), "004800690020d83dde00");
}

TEST(outbound, long_text_with_udh) {
    auto b = build_submits(sms(repeat("a", 200)), {default_coding::gsm7, long_method::udh}, 0x1234);
    ASSERT_TRUE(b);
    ASSERT_EQ(b->parts.size(), 2u);
    EXPECT_EQ(b->segments, 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        const auto& p = b->parts[i];
        EXPECT_EQ(p.esm_class & esm::udhi, esm::udhi);
        // 05 00 03 <ref> <total> <seq>: 8-bit reference (low byte of 0x1234)
        EXPECT_EQ(to_hex(p.short_message.substr(0, 6)),
                  "050003340" + std::string("2") + "0" + std::to_string(i + 1));
    }
    EXPECT_EQ(b->parts[0].short_message.size(), 6u + 153u);
    EXPECT_EQ(b->parts[1].short_message.size(), 6u + 47u);
}

TEST(outbound, long_text_with_sar) {
    auto b =
        build_submits(sms(repeat("中", 100)), {default_coding::gsm7, long_method::sar}, 0x0102);
    ASSERT_EQ(b->parts.size(), 2u);
    EXPECT_EQ(b->parts[0].esm_class & esm::udhi, 0);
    EXPECT_EQ(b->parts[0].tlvs.u16(tag::sar_msg_ref_num), 0x0102);
    EXPECT_EQ(b->parts[0].tlvs.u8(tag::sar_total_segments), 2);
    EXPECT_EQ(b->parts[1].tlvs.u8(tag::sar_segment_seqnum), 2);
    EXPECT_EQ(b->parts[0].short_message.size(), 67u * 2);
    EXPECT_EQ(b->parts[1].short_message.size(), 33u * 2);
}

TEST(outbound, long_text_as_one_message_payload) {
    auto b = build_submits(sms(repeat("b", 400)), {default_coding::gsm7, long_method::payload}, 0);
    ASSERT_EQ(b->parts.size(), 1u);
    EXPECT_EQ(b->segments, 3u);  // still billed as three segments
    EXPECT_TRUE(b->parts[0].short_message.empty());
    EXPECT_EQ(b->parts[0].tlvs.octets(tag::message_payload)->size(), 400u);
}

TEST(outbound, invalid_inputs_are_refused_with_a_reason) {
    std::string why;
    EXPECT_FALSE(build_submits(sms("bad \xFF"), {}, 0, &why));
    EXPECT_NE(why.find("UTF-8"), std::string::npos);
    EXPECT_FALSE(build_submits(sms("hi", "not a number"), {}, 0, &why));
    EXPECT_NE(why.find("destination"), std::string::npos);
    outbound_sms long_sender = sms("hi");
    long_sender.source = std::string(25, 'A');
    EXPECT_FALSE(build_submits(long_sender, {}, 0, &why));
}

TEST(outbound, addresses) {
    EXPECT_EQ(make_address("+447400123456").ton, 1);
    EXPECT_EQ(make_address("+447400123456").value, "447400123456");
    EXPECT_EQ(make_address("12345").ton, 3);
    EXPECT_EQ(make_address("ACME").ton, 5);
    EXPECT_EQ(make_address("ACME").npi, 0);
}

TEST(inbound_text, decodes_every_coding_and_strips_udh) {
    EXPECT_EQ(
        decode_text(coding::smsc_default, 0, test::from_hex("53544f50"), default_coding::gsm7),
        "STOP");
    EXPECT_EQ(
        decode_text(coding::smsc_default, 0, std::string("\x1b\x65", 2), default_coding::gsm7),
        "€");
    EXPECT_EQ(decode_text(coding::smsc_default, 0, "Caf\xe9", default_coding::latin1), "Café");
    EXPECT_EQ(decode_text(coding::latin1, 0, "Caf\xe9", default_coding::gsm7), "Café");
    EXPECT_EQ(decode_text(coding::ucs2, 0, test::from_hex("d83dde00"), default_coding::gsm7), "😀");
    std::optional<concat_info> concat;
    auto t = decode_text(coding::smsc_default, esm::udhi, test::from_hex("050003070201") + "Hello",
                         default_coding::gsm7, &concat);
    EXPECT_EQ(t, "Hello");
    ASSERT_TRUE(concat);
    EXPECT_EQ(concat->reference, 7);
    EXPECT_EQ(concat->total, 2);
    EXPECT_EQ(concat->index, 1);
    // A UDH claiming more than there is: nothing is stripped and nothing crashes.
    EXPECT_EQ(
        decode_text(coding::latin1, esm::udhi, test::from_hex("ff00"), default_coding::gsm7).size(),
        3u);  // "ÿ" (2 octets in UTF-8) and NUL
}

TEST(rate_limiter, fractional_rates_and_bursts) {
    using namespace std::chrono;
    steady_clock::time_point t{};
    rate_limiter half(0.5, 1, t);  // one message every two seconds
    EXPECT_TRUE(half.try_acquire(t));
    EXPECT_FALSE(half.try_acquire(t));
    EXPECT_NEAR(duration<double>(half.wait_time(t)).count(), 2.0, 0.01);
    EXPECT_FALSE(half.try_acquire(t + milliseconds(1999)));
    EXPECT_TRUE(half.try_acquire(t + milliseconds(2000)));

    rate_limiter hundred(100, 10, t);
    int got = 0;
    while (hundred.try_acquire(t)) ++got;
    EXPECT_EQ(got, 10);  // the burst
    int later = 0;
    for (int ms = 1; ms <= 1000; ++ms)
        while (hundred.try_acquire(t + milliseconds(ms))) ++later;
    EXPECT_NEAR(later, 100, 1);  // then the rate

    rate_limiter unlimited(0);
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(unlimited.try_acquire(t));
}

}  // namespace
}  // namespace herald::smpp
