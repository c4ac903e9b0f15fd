#include <gtest/gtest.h>

#include "text/csv.hpp"

namespace herald::text {
namespace {

std::vector<csv_record> read_all(std::string_view input, csv_options opts = {}, std::size_t chunk = 0) {
    csv_reader r(opts);
    std::vector<csv_record> out;
    if (chunk == 0) chunk = input.size() + 1;
    for (std::size_t i = 0; i < input.size(); i += chunk) {
        r.feed(input.substr(i, chunk));
        while (auto rec = r.next()) out.push_back(std::move(*rec));
    }
    r.finish();
    while (auto rec = r.next()) out.push_back(std::move(*rec));
    return out;
}

TEST(csv, plain_quoted_crlf_and_bom) {
    std::string in = "\xEF\xBB\xBFphone,name,note\r\n+14155550123,\"Smith, Ann\",\"said \"\"hi\"\"\"\r\n+14155550124,Bo,\r\n";
    for (std::size_t chunk : {std::size_t(0), std::size_t(1), std::size_t(3), std::size_t(7)}) {
        auto recs = read_all(in, {}, chunk);
        ASSERT_EQ(recs.size(), 3u) << "chunk " << chunk;
        EXPECT_EQ(recs[0].fields, (std::vector<std::string>{"phone", "name", "note"}));
        EXPECT_EQ(recs[1].fields, (std::vector<std::string>{"+14155550123", "Smith, Ann", "said \"hi\""}));
        EXPECT_EQ(recs[2].fields, (std::vector<std::string>{"+14155550124", "Bo", ""}));
        EXPECT_EQ(recs[2].line, 3u);
        EXPECT_TRUE(recs[1].error.empty());
    }
}

TEST(csv, quoted_line_breaks_and_missing_final_newline) {
    auto recs = read_all("a,b\n\"line1\nline2\",x\nlast,row");
    ASSERT_EQ(recs.size(), 3u);
    EXPECT_EQ(recs[1].fields[0], "line1\nline2");
    EXPECT_EQ(recs[1].line, 2u);
    EXPECT_EQ(recs[2].line, 4u);  // the quoted break counted as a line
    EXPECT_EQ(recs[2].fields, (std::vector<std::string>{"last", "row"}));
}

TEST(csv, blank_lines_are_skipped) {
    auto recs = read_all("a\n\n\nb\n\n");
    ASSERT_EQ(recs.size(), 2u);
    EXPECT_EQ(recs[1].line, 4u);
}

TEST(csv, an_unclosed_quote_costs_only_its_own_line) {
    std::string in = "phone,name\n+14155550001,ok\n+14155550002,\"broken\n";
    for (int i = 3; i <= 20; ++i) in += "+141555500" + std::to_string(i < 10 ? 0 : 0) + std::to_string(i) + ",fine\n";
    auto recs = read_all(in, {}, 5);
    ASSERT_EQ(recs.size(), 2u + 1 + 18);
    EXPECT_EQ(recs[2].line, 3u);
    EXPECT_NE(recs[2].error.find("quote opened at column 2 is never closed"), std::string::npos) << recs[2].error;
    EXPECT_EQ(recs[2].raw, "+14155550002,\"broken");
    EXPECT_EQ(recs[3].fields[1], "fine");  // reading resumed on the next line
    EXPECT_EQ(recs[3].line, 4u);
    // An unclosed quote at the very end of the input.
    auto tail = read_all("a\n\"oops");
    ASSERT_EQ(tail.size(), 2u);
    EXPECT_FALSE(tail[1].error.empty());
}

TEST(csv, a_huge_line_is_rejected_without_being_buffered) {
    csv_options opts;
    opts.max_record_bytes = 1000;
    std::string in = "phone\n+14155550001\n" + std::string(10 * 1024 * 1024, 'x') + "\n+14155550002\n";
    csv_reader r(opts);
    std::vector<csv_record> recs;
    std::size_t peak = 0;
    for (std::size_t i = 0; i < in.size(); i += 65536) {
        r.feed(std::string_view(in).substr(i, 65536));
        while (auto rec = r.next()) recs.push_back(std::move(*rec));
        peak = std::max(peak, r.bytes_consumed());
    }
    r.finish();
    while (auto rec = r.next()) recs.push_back(std::move(*rec));
    ASSERT_EQ(recs.size(), 4u);
    EXPECT_EQ(recs[2].line, 3u);
    EXPECT_EQ(recs[2].error, "line is longer than 1000 bytes");
    EXPECT_EQ(recs[2].raw.size(), 1024u);
    EXPECT_EQ(recs[3].fields[0], "+14155550002");
    EXPECT_EQ(recs[3].line, 4u);
    EXPECT_EQ(r.bytes_consumed(), in.size());
}

TEST(csv, delimiters_and_escaping) {
    EXPECT_EQ(csv_reader::detect_delimiter("phone;name;\"a,b\""), ';');
    EXPECT_EQ(csv_reader::detect_delimiter("phone\tname"), '\t');
    EXPECT_EQ(csv_reader::detect_delimiter("phone,name"), ',');
    auto recs = read_all("a;b\n1;2\n", {.delimiter = ';'});
    EXPECT_EQ(recs[1].fields, (std::vector<std::string>{"1", "2"}));
    EXPECT_EQ(csv_escape("plain"), "plain");
    EXPECT_EQ(csv_escape("a,b"), "\"a,b\"");
    EXPECT_EQ(csv_escape("say \"x\""), "\"say \"\"x\"\"\"");
    EXPECT_EQ(csv_escape("two\nlines"), "\"two\nlines\"");
}

TEST(csv, lone_cr_ends_a_record_and_stray_quotes_are_literal) {
    auto recs = read_all("a,b\r1,2\r");
    ASSERT_EQ(recs.size(), 2u);
    recs = read_all("5\" screen,x\n");
    EXPECT_EQ(recs[0].fields[0], "5\" screen");
}

}  // namespace
}  // namespace herald::text
