#include "smpp/receipt.hpp"

#include <gtest/gtest.h>

namespace herald::smpp {
namespace {

using namespace std::chrono;

TEST(receipt, classic_text_form) {
    auto r = parse_receipt_text(
        "id:0123456789 sub:001 dlvrd:001 submit date:2611231015 done date:2611231016 stat:DELIVRD "
        "err:000 "
        "text:Your code is 42");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->message_id, "0123456789");
    EXPECT_EQ(r->stat, "DELIVRD");
    EXPECT_EQ(r->outcome, receipt_outcome::delivered);
    EXPECT_EQ(r->submitted, 1);
    EXPECT_EQ(r->delivered, 1);
    EXPECT_EQ(r->error, "000");
    EXPECT_EQ(r->submit_date, sys_days(year(2026) / 11 / 23) + hours(10) + minutes(15));
    EXPECT_EQ(r->done_date, sys_days(year(2026) / 11 / 23) + hours(10) + minutes(16));
    EXPECT_EQ(r->text, "Your code is 42");
    EXPECT_TRUE(r->final());
}

TEST(receipt, tolerant_of_case_order_seconds_and_missing_fields) {
    auto r = parse_receipt_text(
        "STAT:undeliv ID:AbC123 Err:034 Submit Date:261123101530 Done Date:2611231016");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->message_id, "AbC123");
    EXPECT_EQ(r->outcome, receipt_outcome::undelivered);
    EXPECT_EQ(r->error, "034");
    EXPECT_EQ(r->submit_date,
              sys_days(year(2026) / 11 / 23) + hours(10) + minutes(15) + seconds(30));
    EXPECT_FALSE(r->submitted);
    EXPECT_FALSE(parse_receipt_text("sub:001 stat:DELIVRD"));  // no id
    EXPECT_FALSE(parse_receipt_text("hello world"));
    auto bad_date = parse_receipt_text("id:1 submit date:2613451099 stat:DELIVRD");
    ASSERT_TRUE(bad_date);
    EXPECT_FALSE(bad_date->submit_date);
}

TEST(receipt, every_stat_maps_to_an_outcome) {
    EXPECT_EQ(outcome_of_stat("DELIVRD"), receipt_outcome::delivered);
    EXPECT_EQ(outcome_of_stat("EXPIRED"), receipt_outcome::expired);
    EXPECT_EQ(outcome_of_stat("DELETED"), receipt_outcome::undelivered);
    EXPECT_EQ(outcome_of_stat("UNDELIV"), receipt_outcome::undelivered);
    EXPECT_EQ(outcome_of_stat("ACCEPTD"), receipt_outcome::in_progress);
    EXPECT_EQ(outcome_of_stat("UNKNOWN"), receipt_outcome::undelivered);
    EXPECT_EQ(outcome_of_stat("REJECTD"), receipt_outcome::rejected);
    EXPECT_EQ(outcome_of_stat("ENROUTE"), receipt_outcome::in_progress);
    EXPECT_EQ(outcome_of_state(2), receipt_outcome::delivered);
    EXPECT_EQ(outcome_of_state(8), receipt_outcome::rejected);
    EXPECT_FALSE(outcome_of_state(42));
}

TEST(receipt, tlvs_win_over_text) {
    deliver_sm d;
    d.esm_class = esm::delivery_receipt;
    d.short_message =
        "id:1234 sub:001 dlvrd:000 submit date:2611231015 done date:2611231016 stat:ENROUTE "
        "err:000 text:";
    d.tlvs.set_cstring(tag::receipted_message_id, "4d2");
    d.tlvs.set_u8(tag::message_state, 5);
    d.tlvs.set_network_error_code({3, 34});
    auto r = parse_receipt(d);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->message_id, "4d2");
    EXPECT_EQ(r->outcome, receipt_outcome::undelivered);
    EXPECT_EQ(r->stat, "UNDELIV");
    EXPECT_EQ(r->error, "3:34");
}

TEST(receipt, tlv_only_and_payload_forms) {
    deliver_sm d;
    d.esm_class = esm::delivery_receipt;
    d.tlvs.set_cstring(tag::receipted_message_id, "abc");
    d.tlvs.set_u8(tag::message_state, 2);
    auto r = parse_receipt(d);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->message_id, "abc");
    EXPECT_EQ(r->outcome, receipt_outcome::delivered);

    deliver_sm p;
    p.esm_class = esm::delivery_receipt;
    p.tlvs.set(tag::message_payload, "id:77 stat:EXPIRED err:000");
    r = parse_receipt(p);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->message_id, "77");
    EXPECT_EQ(r->outcome, receipt_outcome::expired);

    deliver_sm mo;
    mo.short_message = "id:12 stat:DELIVRD";  // esm_class 0: a person texting, not a receipt
    EXPECT_FALSE(parse_receipt(mo));
    EXPECT_FALSE(is_receipt(mo));
}

TEST(receipt_ids, hex_decimal_and_case_normalise_to_one_key) {
    // exact: only identical ids match.
    EXPECT_EQ(submit_id_key("AbC", id_format::exact), receipt_id_key("AbC", id_format::exact));
    EXPECT_NE(submit_id_key("abc", id_format::exact), receipt_id_key("ABC", id_format::exact));
    // Case differences.
    EXPECT_EQ(submit_id_key("0a1B2c", id_format::case_insensitive),
              receipt_id_key("0A1b2C", id_format::case_insensitive));
    // Hex in submit_sm_resp, decimal in the receipt (and leading zeros).
    EXPECT_EQ(submit_id_key("1A2B3C", id_format::decimal_in_receipt),
              receipt_id_key("1715004", id_format::decimal_in_receipt));
    EXPECT_EQ(submit_id_key("00ff", id_format::decimal_in_receipt),
              receipt_id_key("0255", id_format::decimal_in_receipt));
    // Decimal in submit_sm_resp, hex in the receipt.
    EXPECT_EQ(submit_id_key("1715004", id_format::hex_in_receipt),
              receipt_id_key("1a2b3c", id_format::hex_in_receipt));
    EXPECT_EQ(submit_id_key("1715004", id_format::hex_in_receipt),
              receipt_id_key("1A2B3C", id_format::hex_in_receipt));
    // Values that are not numbers still match themselves.
    EXPECT_EQ(submit_id_key("msg-7", id_format::hex_in_receipt),
              receipt_id_key("MSG-7", id_format::hex_in_receipt));
    EXPECT_EQ(parse_id_format("decimal_in_receipt"), id_format::decimal_in_receipt);
    EXPECT_FALSE(parse_id_format("hexadecimal"));
}

TEST(receipt_ids, receipted_message_id_is_spelled_as_the_submit_answer_and_the_text_as_configured) {
    // A carrier answering submits in decimal and writing receipts' text in hex.
    deliver_sm d;
    d.esm_class = esm::delivery_receipt;
    d.short_message = "id:3039 stat:DELIVRD err:000";
    auto text_only = parse_receipt(d);
    ASSERT_TRUE(text_only);
    EXPECT_FALSE(text_only->id_from_tlv);
    EXPECT_EQ(receipt_key(*text_only, id_format::hex_in_receipt),
              submit_id_key("12345", id_format::hex_in_receipt));
    // The same receipt with receipted_message_id: that one is the submit's own spelling.
    d.tlvs.set_cstring(tag::receipted_message_id, "12345");
    auto with_tlv = parse_receipt(d);
    ASSERT_TRUE(with_tlv);
    EXPECT_TRUE(with_tlv->id_from_tlv);
    EXPECT_EQ(receipt_key(*with_tlv, id_format::hex_in_receipt),
              submit_id_key("12345", id_format::hex_in_receipt));
}

}  // namespace
}  // namespace herald::smpp
