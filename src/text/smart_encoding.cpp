#include "text/smart_encoding.hpp"

#include <algorithm>

#include "text/charset.hpp"

namespace herald::text {
namespace {

struct lookalike {
    char32_t from;
    std::u32string_view to;
};

// Sorted by code point for binary search.
constexpr lookalike table[] = {
    {U'\t', U" "},
    {U'`', U"'"},
    {U'\u00A0', U" "},   // no-break space
    {U'\u00AB', U"\""},  // «
    {U'\u00B4', U"'"},   // acute accent
    {U'\u00BB', U"\""},  // »
    {U'\u00C0', U"A"},
    {U'\u00C1', U"A"},
    {U'\u00C2', U"A"},
    {U'\u00C3', U"A"},
    {U'\u00C8', U"E"},
    {U'\u00CA', U"E"},
    {U'\u00CB', U"E"},
    {U'\u00CC', U"I"},
    {U'\u00CD', U"I"},
    {U'\u00CE', U"I"},
    {U'\u00CF', U"I"},
    {U'\u00D2', U"O"},
    {U'\u00D3', U"O"},
    {U'\u00D4', U"O"},
    {U'\u00D5', U"O"},
    {U'\u00D9', U"U"},
    {U'\u00DA', U"U"},
    {U'\u00DB', U"U"},
    {U'\u00DD', U"Y"},
    {U'\u00E1', U"a"},
    {U'\u00E2', U"a"},
    {U'\u00E3', U"a"},
    {U'\u00E7', U"\u00C7"},  // ç -> Ç, as 3GPP TS 23.038 does
    {U'\u00EA', U"e"},
    {U'\u00EB', U"e"},
    {U'\u00ED', U"i"},
    {U'\u00EE', U"i"},
    {U'\u00EF', U"i"},
    {U'\u00F3', U"o"},
    {U'\u00F4', U"o"},
    {U'\u00F5', U"o"},
    {U'\u00FA', U"u"},
    {U'\u00FB', U"u"},
    {U'\u00FD', U"y"},
    {U'\u00FF', U"y"},
    {U'\u02C6', U"^"},
    {U'\u02DC', U"~"},
    // Greek capitals that look like Latin ones (GSM holds only the distinct ones).
    {U'\u0391', U"A"},
    {U'\u0392', U"B"},
    {U'\u0395', U"E"},
    {U'\u0396', U"Z"},
    {U'\u0397', U"H"},
    {U'\u0399', U"I"},
    {U'\u039A', U"K"},
    {U'\u039C', U"M"},
    {U'\u039D', U"N"},
    {U'\u039F', U"O"},
    {U'\u03A1', U"P"},
    {U'\u03A4', U"T"},
    {U'\u03A5', U"Y"},
    {U'\u03A7', U"X"},
    {U'\u2000', U" "},
    {U'\u2001', U" "},
    {U'\u2002', U" "},
    {U'\u2003', U" "},
    {U'\u2004', U" "},
    {U'\u2005', U" "},
    {U'\u2006', U" "},
    {U'\u2007', U" "},
    {U'\u2008', U" "},
    {U'\u2009', U" "},
    {U'\u200A', U" "},
    {U'\u200B', U""},
    {U'\u200C', U""},
    {U'\u200D', U""},  // zero-width
    {U'\u2010', U"-"},
    {U'\u2011', U"-"},
    {U'\u2012', U"-"},
    {U'\u2013', U"-"},
    {U'\u2014', U"-"},
    {U'\u2015', U"-"},
    {U'\u2018', U"'"},
    {U'\u2019', U"'"},
    {U'\u201A', U"'"},
    {U'\u201B', U"'"},
    {U'\u201C', U"\""},
    {U'\u201D', U"\""},
    {U'\u201E', U"\""},
    {U'\u201F', U"\""},
    {U'\u2022', U"-"},    // bullet
    {U'\u2026', U"..."},  // ellipsis
    {U'\u202F', U" "},
    {U'\u2032', U"'"},
    {U'\u2033', U"\""},
    {U'\u2039', U"<"},
    {U'\u203A', U">"},
    {U'\u205F', U" "},
    {U'\u2060', U""},
    {U'\u2212', U"-"},  // minus sign
    {U'\u3000', U" "},
    {U'\uFEFF', U""},  // byte-order mark / zero-width no-break space
};

static_assert(std::is_sorted(std::begin(table), std::end(table),
                             [](const lookalike& a, const lookalike& b) {
                                 return a.from < b.from;
                             }),
              "the look-alike table must stay sorted for binary search");

const lookalike* find(char32_t cp) {
    auto it = std::lower_bound(std::begin(table), std::end(table), cp,
                               [](const lookalike& l, char32_t c) { return l.from < c; });
    return it != std::end(table) && it->from == cp ? it : nullptr;
}

}  // namespace

smart_result smart_encode(std::u32string_view text) {
    smart_result r;
    std::u32string out;
    out.reserve(text.size());
    for (char32_t cp : text) {
        if (gsm7_cost(cp) > 0) {
            out.push_back(cp);
            continue;
        }
        if (const lookalike* l = find(cp)) {
            out.append(l->to);
            auto it = std::find_if(r.replaced.begin(), r.replaced.end(),
                                   [&](const replacement& x) { return x.from == cp; });
            if (it == r.replaced.end())
                r.replaced.push_back({cp, std::u32string(l->to), 1});
            else
                ++it->count;
            continue;
        }
        if (std::find(r.blocking.begin(), r.blocking.end(), cp) == r.blocking.end())
            r.blocking.push_back(cp);
    }
    if (!r.blocking.empty()) {
        r.text = std::u32string(text);
        r.replaced.clear();
    } else {
        r.text = std::move(out);
    }
    return r;
}

}  // namespace herald::text
