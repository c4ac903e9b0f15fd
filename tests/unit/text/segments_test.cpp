#include "text/segments.hpp"

#include <gtest/gtest.h>

#include "text/charset.hpp"
#include "text/utf8.hpp"

namespace herald::text {
namespace {

std::u32string u32(std::string_view utf8) {
    return *decode_utf8(utf8);
}

std::string repeat(std::string_view s, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += s;
    return out;
}

struct shape_case {
    std::string name;
    std::string text;
    encoding enc;
    std::size_t units;
    std::size_t segments;
};

class shape_table : public ::testing::TestWithParam<shape_case> {};

TEST_P(shape_table, analyses_encoding_units_and_segments) {
    const auto& c = GetParam();
    auto s = analyze_utf8(c.text);
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->encoding, c.enc) << c.name;
    EXPECT_EQ(s->units, c.units) << c.name;
    EXPECT_EQ(s->segments, c.segments) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    real_cases, shape_table,
    ::testing::Values(
        shape_case{"empty", "", encoding::gsm7, 0, 1},
        shape_case{"plain ascii", "Your code is 123456", encoding::gsm7, 19, 1},
        shape_case{"gsm accents", "Café à Zürich, Ñandù", encoding::gsm7, 20, 1},
        shape_case{"one non-gsm accent", "ñandú", encoding::ucs2, 5, 1},
        shape_case{"exactly 160", repeat("a", 160), encoding::gsm7, 160, 1},
        shape_case{"161 needs two", repeat("a", 161), encoding::gsm7, 161, 2},
        shape_case{"exactly 306 is two parts", repeat("a", 306), encoding::gsm7, 306, 2},
        shape_case{"307 is three parts", repeat("a", 307), encoding::gsm7, 307, 3},
        shape_case{"euro counts two septets", "Pay €5", encoding::gsm7, 7, 1},
        shape_case{"every extension char", "€[]{}^~|\\", encoding::gsm7, 18, 1},
        shape_case{"80 braces fill 160 septets", repeat("{", 80), encoding::gsm7, 160, 1},
        shape_case{"81 braces overflow", repeat("{", 81), encoding::gsm7, 162, 2},
        shape_case{"greek capitals in gsm", "ΔΦΓΛΩΠΨΣΘΞ", encoding::gsm7, 10, 1},
        shape_case{"emoji forces ucs2, two units", "Hi 😀", encoding::ucs2, 5, 1},
        shape_case{"arabic", "مرحبا بك", encoding::ucs2, 8, 1},
        shape_case{"chinese 70", repeat("中", 70), encoding::ucs2, 70, 1},
        shape_case{"chinese 71", repeat("中", 71), encoding::ucs2, 71, 2},
        shape_case{"ucs2 134 is two", repeat("中", 134), encoding::ucs2, 134, 2},
        shape_case{"ucs2 135 is three", repeat("中", 135), encoding::ucs2, 135, 3},
        shape_case{"35 emoji are 70 units", repeat("😀", 35), encoding::ucs2, 70, 1},
        shape_case{"36 emoji overflow", repeat("😀", 36), encoding::ucs2, 72, 2},
        shape_case{"curly quote forces ucs2", "It’s here", encoding::ucs2, 9, 1}),
    [](const auto& p) {
        std::string n = p.param.name;
        for (auto& ch : n)
            if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
        return n;
    });

TEST(segments, invalid_utf8_is_an_error_with_offset) {
    auto s = analyze_utf8("ok\xC3(");
    ASSERT_FALSE(s.has_value());
    EXPECT_NE(s.error().message.find("offset 2"), std::string::npos);
}

TEST(segments, gsm_split_never_breaks_an_escape_pair) {
    // 152 plain septets then a euro (2 septets) would straddle the 153 boundary.
    std::u32string text = u32(repeat("a", 152) + "€" + repeat("b", 10));
    auto parts = split(text, encoding::gsm7);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0].size(), 152u);  // the euro moved whole to part two
    EXPECT_EQ(parts[1].front(), U'€');
    for (const auto& p : parts) {
        std::size_t septets = 0;
        for (char32_t c : p) septets += std::size_t(gsm7_cost(c));
        EXPECT_LE(septets, gsm7_part);
    }
    EXPECT_EQ(analyze(text).segments, 2u);
}

TEST(segments, ucs2_split_never_breaks_a_surrogate_pair) {
    std::u32string text = u32(repeat("x", 66) + "😀" + repeat("y", 10) + "中");
    auto parts = split(text, encoding::ucs2);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0].size(), 66u);
    EXPECT_EQ(parts[1].front(), U'😀');
    std::u32string joined = parts[0] + parts[1];
    EXPECT_EQ(joined, text);
}

TEST(segments, split_parts_reassemble_the_text) {
    std::u32string text = u32(repeat("Hello {world} ", 40));
    auto parts = split(text, encoding::gsm7);
    std::u32string joined;
    for (auto& p : parts) joined += p;
    EXPECT_EQ(joined, text);
    EXPECT_EQ(parts.size(), analyze(text).segments);
}

TEST(segments, remaining_counts_free_units) {
    auto s = analyze(u32("hello"));
    EXPECT_EQ(s.remaining, 155u);
    auto t = analyze(u32(repeat("a", 170)));
    EXPECT_EQ(t.per_segment, 153u);
    EXPECT_EQ(t.remaining, 153u - 17u);
}

TEST(charset, gsm_round_trip_including_extension_table) {
    std::u32string text = u32(
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./09:;<=>?¡AZÄÖÑÜ§¿azäöñüà€[]{}^~|\\\f");
    auto encoded = to_gsm7_unpacked(text);
    ASSERT_TRUE(encoded.has_value());
    EXPECT_EQ(from_gsm7_unpacked(*encoded), text);
    EXPECT_EQ((*to_gsm7_unpacked(U"€")), std::string("\x1B\x65", 2));
    EXPECT_EQ((*to_gsm7_unpacked(U"@")), std::string("\x00", 1));
    EXPECT_FALSE(to_gsm7_unpacked(U"😀").has_value());
}

TEST(charset, dangling_escape_decodes_as_space) {
    EXPECT_EQ(from_gsm7_unpacked(std::string("A\x1B", 2)), U"A ");
}

TEST(charset, ucs2_round_trip_with_surrogates) {
    std::u32string text = u32("Zürich 中文 😀 مرحبا");
    std::string be = to_ucs2be(text);
    EXPECT_EQ(from_ucs2be(be), text);
    EXPECT_EQ(to_ucs2be(U"😀"), std::string("\xD8\x3D\xDE\x00", 4));
}

TEST(charset, broken_ucs2_becomes_replacement_characters) {
    EXPECT_EQ(from_ucs2be(std::string("\xD8\x3D\x00\x41", 4)), U"\uFFFDA");  // lone high surrogate
    EXPECT_EQ(from_ucs2be(std::string("\x00\x41\x00", 3)), U"A\uFFFD");      // odd length
}

TEST(charset, latin1) {
    EXPECT_EQ(*to_latin1(U"Café"), "Caf\xE9");
    EXPECT_FALSE(to_latin1(U"€").has_value());
    EXPECT_EQ(from_latin1("Caf\xE9"), U"Café");
}

TEST(utf8, rejects_overlongs_surrogates_and_truncation) {
    std::size_t bad = 99;
    EXPECT_FALSE(decode_utf8("\xC0\xAF", &bad));  // overlong '/'
    EXPECT_EQ(bad, 0u);
    EXPECT_FALSE(decode_utf8("ab\xED\xA0\x80"));    // UTF-16 surrogate
    EXPECT_FALSE(decode_utf8("\xF4\x90\x80\x80"));  // beyond U+10FFFF
    EXPECT_FALSE(decode_utf8("\xE2\x82"));          // truncated
    EXPECT_EQ(decode_utf8_lossy("a\xFF"
                                "b"),
              U"a\uFFFDb");
    EXPECT_EQ(encode_utf8(U"€😀"), "€😀");
}

}  // namespace
}  // namespace herald::text
