#include "text/smart_encoding.hpp"

#include <gtest/gtest.h>

#include "text/segments.hpp"
#include "text/utf8.hpp"

namespace herald::text {
namespace {

std::u32string u32(std::string_view s) {
    return *decode_utf8(s);
}

TEST(smart_encoding, replaces_word_processor_punctuation) {
    auto r = smart_encode(u32("“Don’t” pay – it’s free…\u00A0ok"));
    EXPECT_EQ(encode_utf8(r.text), "\"Don't\" pay - it's free... ok");
    EXPECT_TRUE(r.applied());
    EXPECT_TRUE(r.blocking.empty());
    EXPECT_EQ(analyze(r.text).encoding, encoding::gsm7);
    // Reports each kind once, with counts.
    auto find = [&](char32_t cp) {
        for (const auto& x : r.replaced)
            if (x.from == cp) return x.count;
        return std::size_t(0);
    };
    EXPECT_EQ(find(U'’'), 2u);
    EXPECT_EQ(find(U'“'), 1u);
    EXPECT_EQ(find(U'…'), 1u);
    EXPECT_EQ(find(U'\u00A0'), 1u);
}

TEST(smart_encoding, drops_zero_width_characters) {
    auto r = smart_encode(u32("pay\u200Bnow\uFEFF"));
    EXPECT_EQ(encode_utf8(r.text), "paynow");
}

TEST(smart_encoding, maps_accented_letters_gsm_lacks) {
    auto r = smart_encode(u32("Olá João, ça va"));
    EXPECT_EQ(encode_utf8(r.text), "Ola Joao, Ça va");
}

TEST(smart_encoding, leaves_text_alone_when_it_must_be_ucs2_anyway) {
    auto r = smart_encode(u32("It’s 😀"));
    EXPECT_EQ(encode_utf8(r.text), "It’s 😀");
    EXPECT_FALSE(r.applied());
    ASSERT_EQ(r.blocking.size(), 1u);
    EXPECT_EQ(r.blocking[0], U'😀');
}

TEST(smart_encoding, plain_gsm_text_is_untouched) {
    auto r = smart_encode(u32("Hello {name} €5"));
    EXPECT_EQ(encode_utf8(r.text), "Hello {name} €5");
    EXPECT_FALSE(r.applied());
}

TEST(smart_encoding, saves_segments) {
    std::string text;
    for (int i = 0; i < 10; ++i) text += "“quoted” ";  // 90 chars: UCS-2 needs 2 segments
    EXPECT_EQ(analyze(u32(text)).segments, 2u);
    EXPECT_EQ(analyze(smart_encode(u32(text)).text).segments, 1u);
}

}  // namespace
}  // namespace herald::text
