#pragma once
/// "Smart encoding": replaces look-alike characters (curly quotes, dashes, ellipsis, odd
/// spaces, accented letters GSM lacks) with GSM 03.38 equivalents, so that a text pasted from
/// a word processor goes out as GSM-7 (160 per SMS) instead of UCS-2 (70 per SMS).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace herald::text {

/// One kind of replacement made, and how often.
struct replacement {
    char32_t from;
    std::u32string to;  ///< may be empty (zero-width characters are dropped)
    std::size_t count;
};

struct smart_result {
    std::u32string text;                ///< the text to send
    std::vector<replacement> replaced;  ///< what was changed, in order of first appearance
    /// Characters with no GSM equivalent. When not empty, the message needs UCS-2 anyway, so
    /// `text` is the original, unchanged, and `replaced` is empty.
    std::vector<char32_t> blocking;
    bool applied() const noexcept { return !replaced.empty(); }
};

/// Applies smart encoding. Leaves the text untouched when it cannot become pure GSM-7.
smart_result smart_encode(std::u32string_view text);

}  // namespace herald::text
