#include "text/segments.hpp"

#include "text/charset.hpp"
#include "text/errc.hpp"
#include "text/utf8.hpp"

namespace herald::text {
namespace {

std::size_t cost(char32_t cp, encoding enc) {
    return enc == encoding::gsm7 ? std::size_t(gsm7_cost(cp)) : std::size_t(utf16_units(cp));
}

}  // namespace

std::string_view to_string(encoding e) noexcept {
    return e == encoding::gsm7 ? "gsm7" : "ucs2";
}

message_shape analyze(std::u32string_view text) {
    message_shape s;
    s.characters = text.size();
    std::size_t septets = 0, units = 0;
    bool gsm = true;
    for (char32_t cp : text) {
        int c = gsm7_cost(cp);
        if (c == 0) gsm = false;
        septets += std::size_t(c);
        units += std::size_t(utf16_units(cp));
    }
    s.encoding = gsm ? encoding::gsm7 : encoding::ucs2;
    s.units = gsm ? septets : units;
    const std::size_t single = gsm ? gsm7_single : ucs2_single;
    const std::size_t part = gsm ? gsm7_part : ucs2_part;
    if (s.units <= single) {
        s.segments = 1;
        s.per_segment = single;
        s.remaining = single - s.units;
    } else {
        // Count by actually splitting, so that pairs pushed to the next part are accounted for.
        auto parts = split(text, s.encoding);
        s.segments = parts.size();
        s.per_segment = part;
        std::size_t used = 0;
        for (char32_t cp : parts.back()) used += cost(cp, s.encoding);
        s.remaining = part - used;
    }
    return s;
}

result<message_shape> analyze_utf8(std::string_view utf8) {
    std::size_t bad = 0;
    auto decoded = decode_utf8(utf8, &bad);
    if (!decoded)
        return fail(errc::invalid_utf8,
                    "text is not valid UTF-8 (bad byte at offset " + std::to_string(bad) + ")");
    return analyze(*decoded);
}

std::vector<std::u32string> split(std::u32string_view text, encoding enc) {
    const std::size_t single = enc == encoding::gsm7 ? gsm7_single : ucs2_single;
    const std::size_t part = enc == encoding::gsm7 ? gsm7_part : ucs2_part;
    std::size_t total = 0;
    for (char32_t cp : text) total += cost(cp, enc);
    if (total <= single) return {std::u32string(text)};

    std::vector<std::u32string> parts;
    std::u32string current;
    std::size_t used = 0;
    for (char32_t cp : text) {
        // Unrepresentable characters are the caller's problem; count them as one unit.
        std::size_t c = std::max<std::size_t>(cost(cp, enc), 1);
        if (used + c > part) {
            parts.push_back(std::move(current));
            current.clear();
            used = 0;
        }
        current.push_back(cp);
        used += c;
    }
    if (!current.empty()) parts.push_back(std::move(current));
    return parts;
}

}  // namespace herald::text
