#pragma once
/// Classifies inbound texts as opt-out, opt-in or help requests.
///
/// A text matches only when, after trimming whitespace and punctuation around it, it is a
/// single keyword, compared without regard to case: "Stop." and "  stop!!" match STOP,
/// "please stop texting me" does not.

#include <string>
#include <string_view>
#include <vector>

namespace herald::text {

enum class keyword_kind { none, opt_out, opt_in, help };

std::string_view to_string(keyword_kind k) noexcept;

/// Keyword lists. Defaults follow carrier practice; an account may add its own words.
struct keyword_lists {
    std::vector<std::string> opt_out{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL",
                                     "END",  "QUIT",    "REVOKE",      "OPTOUT"};
    std::vector<std::string> opt_in{"START", "YES", "UNSTOP"};
    std::vector<std::string> help{"HELP", "INFO"};

    /// Adds an account's extra words (upper-cased and trimmed; blanks and repeats ignored).
    void extend(keyword_kind kind, const std::vector<std::string>& words);
};

/// The kind of keyword the text is, or none.
keyword_kind classify(std::string_view utf8_text, const keyword_lists& lists = {});

/// The text with surrounding whitespace and punctuation removed, upper-cased (ASCII letters).
std::string normalize_keyword(std::string_view utf8_text);

}  // namespace herald::text
