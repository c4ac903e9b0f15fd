// The streaming JSON writer and the hand-written contact list agree with nlohmann's output.
#include "http/views.hpp"

#include <gtest/gtest.h>

#include "http/json.hpp"

namespace herald::http {
namespace {

std::string writer_string(std::string_view s) {
    json_writer w;
    w.value(s);
    return w.take();
}

TEST(json_writer, strings_escape_like_nlohmann) {
    const std::vector<std::string> samples = {"",
                                              "plain",
                                              "quote \" and backslash \\",
                                              "tab\tnew\nline\rcr",
                                              std::string("nul\0byte", 8),
                                              "\x01\x1f\x7f",
                                              "Grüße, 日本, emoji 😀",
                                              "€uro"};
    for (const auto& s : samples) {
        std::string mine = writer_string(s);
        EXPECT_EQ(json::parse(mine), json(s)) << mine;
        EXPECT_EQ(mine, json(s).dump()) << "byte-for-byte with nlohmann for " << json(s).dump();
    }
}

TEST(json_writer, escapes_a_special_character_at_every_offset_of_a_long_string) {
    // The writer skips plain text eight bytes at a time; each special byte must still be
    // found wherever it falls in or after a word.
    const std::vector<std::string> specials = {
        "\"", "\\", "\n", std::string(1, '\0'), "\x1f", "\x7f", "é", "日", "😀", " ", "~"};
    for (const auto& special : specials) {
        for (std::size_t at = 0; at <= 24; ++at) {
            std::string s = std::string(at, 'a') + special + std::string(24 - at, 'z');
            EXPECT_EQ(writer_string(s), json(s).dump()) << "at " << at;
        }
    }
    // Invalid UTF-8 after a run of plain words is still replaced.
    std::string bad = std::string(17, 'p') + "\xff" + std::string(9, 'q');
    std::string mine = writer_string(bad);
    EXPECT_EQ(json::parse(mine).get<std::string>(),
              std::string(17, 'p') + "\xEF\xBF\xBD" + std::string(9, 'q'));
}

TEST(json_writer, invalid_utf8_becomes_replacement_characters) {
    for (std::string bad : {std::string("a\xff"
                                        "b"),
                            std::string("\xc3"), std::string("\xe2\x82"),
                            std::string("x\xed\xa0\x80y"), std::string("\xc0\xaf")}) {
        std::string mine = writer_string(bad);
        auto parsed = json::parse(mine, nullptr, false);
        ASSERT_FALSE(parsed.is_discarded()) << mine;
        EXPECT_NE(parsed.get<std::string>().find("\xEF\xBF\xBD"), std::string::npos) << mine;
    }
}

TEST(json_writer, places_commas_in_nested_containers) {
    json_writer w;
    w.begin_object().key("a").value(std::int64_t(1)).key("b").begin_array();
    w.value("x").null().value(true).begin_object().end_object().begin_array().end_array();
    w.end_array()
        .key("c")
        .raw(R"({"k":[1,2]})")
        .key("d")
        .value(std::optional<std::string>{})
        .end_object();
    EXPECT_EQ(json::parse(w.take()),
              json::parse(R"({"a":1,"b":["x",null,true,{},[]],"c":{"k":[1,2]},"d":null})"));
}

store::contact_view view_of(const store::contact& c) {
    return {c.id,        c.phone_number,  c.country_code, c.first_name, c.last_name,  c.email,
            c.time_zone, c.custom_fields, c.status,       c.group_id,   c.created_at, c.updated_at};
}

TEST(contacts_page_body, matches_contact_json_for_every_field) {
    store::page<store::contact_view> p;
    store::contact full;
    full.id = core::uuid_v7();
    full.phone_number = "+14155550100";
    full.country_code = "US";
    full.first_name = "Zoë \"Z\"";
    full.last_name = "O'Brien";
    full.email = "z@example.com";
    full.time_zone = "America/Los_Angeles";
    full.custom_fields = R"({"plan": "gold", "n": 3, "nested": {"a": [1, null]}})";
    full.status = "active";
    full.group_id = core::uuid_v7();
    full.created_at = std::chrono::sys_days{std::chrono::year{2026} / 11 / 23}
                      + std::chrono::microseconds(123456);
    full.updated_at = full.created_at + std::chrono::seconds(5);
    store::contact sparse;
    sparse.id = core::uuid_v7();
    sparse.phone_number = "+447400123456";
    sparse.status = "unsubscribed";
    p.items = {view_of(full), view_of(sparse)};
    p.next = sparse.id;

    json expected = {{"data", {contact_json(full), contact_json(sparse)}},
                     {"next_cursor", sparse.id.str()}};
    EXPECT_EQ(json::parse(contacts_page_body(p)), expected);

    p.next.reset();
    p.items.clear();
    EXPECT_EQ(json::parse(contacts_page_body(p)), json::parse(R"({"data":[],"next_cursor":null})"));
}

}  // namespace
}  // namespace herald::http
