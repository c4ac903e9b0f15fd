#include "text/keywords.hpp"

#include <gtest/gtest.h>

namespace herald::text {
namespace {

TEST(keywords, default_lists) {
    for (const char* w :
         {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
        EXPECT_EQ(classify(w), keyword_kind::opt_out) << w;
    for (const char* w : {"START", "YES", "UNSTOP"})
        EXPECT_EQ(classify(w), keyword_kind::opt_in) << w;
    for (const char* w : {"HELP", "INFO"}) EXPECT_EQ(classify(w), keyword_kind::help) << w;
}

TEST(keywords, case_whitespace_and_punctuation_are_ignored) {
    EXPECT_EQ(classify("stop"), keyword_kind::opt_out);
    EXPECT_EQ(classify("  Stop.  "), keyword_kind::opt_out);
    EXPECT_EQ(classify("STOP!!!"), keyword_kind::opt_out);
    EXPECT_EQ(classify("\"stop\""), keyword_kind::opt_out);
    EXPECT_EQ(classify("\t\nStOp\r\n"), keyword_kind::opt_out);
    EXPECT_EQ(classify("¡Stop!"), keyword_kind::opt_out);
    EXPECT_EQ(classify("\u00A0help?\u00A0"), keyword_kind::help);
    EXPECT_EQ(classify("“START”"), keyword_kind::opt_in);
}

TEST(keywords, only_a_single_word_matches) {
    EXPECT_EQ(classify("please stop"), keyword_kind::none);
    EXPECT_EQ(classify("stop texting me"), keyword_kind::none);
    EXPECT_EQ(classify("STOP STOP"), keyword_kind::none);
    EXPECT_EQ(classify("stopp"), keyword_kind::none);
    EXPECT_EQ(classify("nonstop"), keyword_kind::none);
    EXPECT_EQ(classify(""), keyword_kind::none);
    EXPECT_EQ(classify("  ...  "), keyword_kind::none);
    EXPECT_EQ(classify("Yesterday"), keyword_kind::none);
}

TEST(keywords, lists_extend_per_account) {
    keyword_lists lists;
    lists.extend(keyword_kind::opt_out, {"arret", " BASTA ", "", "stop"});
    lists.extend(keyword_kind::opt_in, {"Go"});
    EXPECT_EQ(classify("Arret", lists), keyword_kind::opt_out);
    EXPECT_EQ(classify("basta!", lists), keyword_kind::opt_out);
    EXPECT_EQ(classify("go", lists), keyword_kind::opt_in);
    EXPECT_EQ(classify("arret"), keyword_kind::none);  // defaults unchanged
    EXPECT_EQ(std::count(lists.opt_out.begin(), lists.opt_out.end(), "STOP"), 1);
}

TEST(keywords, invalid_utf8_does_not_match_or_crash) {
    EXPECT_EQ(classify("\xFF\xFE"), keyword_kind::none);
    EXPECT_EQ(classify("ST\xFFOP"), keyword_kind::none);
}

}  // namespace
}  // namespace herald::text
