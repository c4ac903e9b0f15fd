#include "text/charset.hpp"

#include <array>
#include <cstdint>

namespace herald::text {
namespace {

constexpr char32_t none = 0xFFFFFFFF;

/// GSM 03.38 default alphabet, septet -> Unicode. 0x1B is the escape to the extension table.
constexpr std::array<char32_t, 128> gsm_default = {
    U'@',      U'\u00A3', U'$',      U'\u00A5', U'\u00E8', U'\u00E9', U'\u00F9', U'\u00EC',
    U'\u00F2', U'\u00C7', U'\n',     U'\u00D8', U'\u00F8', U'\r',     U'\u00C5', U'\u00E5',
    U'\u0394', U'_',      U'\u03A6', U'\u0393', U'\u039B', U'\u03A9', U'\u03A0', U'\u03A8',
    U'\u03A3', U'\u0398', U'\u039E', none,      U'\u00C6', U'\u00E6', U'\u00DF', U'\u00C9',
    U' ',      U'!',      U'"',      U'#',      U'\u00A4', U'%',      U'&',      U'\'',
    U'(',      U')',      U'*',      U'+',      U',',      U'-',      U'.',      U'/',
    U'0',      U'1',      U'2',      U'3',      U'4',      U'5',      U'6',      U'7',
    U'8',      U'9',      U':',      U';',      U'<',      U'=',      U'>',      U'?',
    U'\u00A1', U'A',      U'B',      U'C',      U'D',      U'E',      U'F',      U'G',
    U'H',      U'I',      U'J',      U'K',      U'L',      U'M',      U'N',      U'O',
    U'P',      U'Q',      U'R',      U'S',      U'T',      U'U',      U'V',      U'W',
    U'X',      U'Y',      U'Z',      U'\u00C4', U'\u00D6', U'\u00D1', U'\u00DC', U'\u00A7',
    U'\u00BF', U'a',      U'b',      U'c',      U'd',      U'e',      U'f',      U'g',
    U'h',      U'i',      U'j',      U'k',      U'l',      U'm',      U'n',      U'o',
    U'p',      U'q',      U'r',      U's',      U't',      U'u',      U'v',      U'w',
    U'x',      U'y',      U'z',      U'\u00E4', U'\u00F6', U'\u00F1', U'\u00FC', U'\u00E0',
};

/// The extension table: (septet after ESC, Unicode).
struct ext_entry {
    std::uint8_t septet;
    char32_t cp;
};
constexpr ext_entry gsm_extension[] = {
    {0x0A, U'\f'}, {0x14, U'^'}, {0x28, U'{'}, {0x29, U'}'}, {0x2F, U'\\'},
    {0x3C, U'['},  {0x3D, U'~'}, {0x3E, U']'}, {0x40, U'|'}, {0x65, U'\u20AC'},
};

/// Reverse lookup for code points below 0x400 (Latin and Greek); the euro is handled apart.
struct reverse_tables {
    std::array<std::uint8_t, 0x400> base{};  // septet + 1, 0 = absent
    std::array<std::uint8_t, 0x400> ext{};
    reverse_tables() {
        for (std::size_t s = 0; s < gsm_default.size(); ++s)
            if (gsm_default[s] != none && gsm_default[s] < 0x400)
                base[gsm_default[s]] = std::uint8_t(s + 1);
        for (auto e : gsm_extension)
            if (e.cp < 0x400) ext[e.cp] = std::uint8_t(e.septet + 1);
    }
};

const reverse_tables& tables() {
    static const reverse_tables t;
    return t;
}

}  // namespace

int gsm7_cost(char32_t cp) noexcept {
    if (cp < 0x400) {
        const auto& t = tables();
        if (t.base[cp]) return 1;
        if (t.ext[cp]) return 2;
        return 0;
    }
    return cp == U'\u20AC' ? 2 : 0;
}

std::optional<std::string> to_gsm7_unpacked(std::u32string_view text) {
    const auto& t = tables();
    std::string out;
    out.reserve(text.size());
    for (char32_t cp : text) {
        if (cp < 0x400 && t.base[cp]) {
            out.push_back(char(t.base[cp] - 1));
        } else if (cp < 0x400 && t.ext[cp]) {
            out.push_back('\x1B');
            out.push_back(char(t.ext[cp] - 1));
        } else if (cp == U'\u20AC') {
            out.push_back('\x1B');
            out.push_back('\x65');
        } else {
            return std::nullopt;
        }
    }
    return out;
}

std::u32string from_gsm7_unpacked(std::string_view septets) {
    std::u32string out;
    out.reserve(septets.size());
    for (std::size_t i = 0; i < septets.size(); ++i) {
        auto s = std::uint8_t(septets[i]) & 0x7F;
        if (s == 0x1B) {
            if (i + 1 >= septets.size()) {
                out.push_back(U' ');  // dangling escape: 03.38 says show a space
                continue;
            }
            auto next = std::uint8_t(septets[++i]) & 0x7F;
            char32_t found = none;
            for (auto e : gsm_extension)
                if (e.septet == next) found = e.cp;
            out.push_back(found != none ? found
                                        : (gsm_default[next] != none ? gsm_default[next] : U' '));
        } else {
            out.push_back(gsm_default[s]);
        }
    }
    return out;
}

std::optional<std::string> to_latin1(std::u32string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char32_t cp : text) {
        if (cp > 0xFF) return std::nullopt;
        out.push_back(char(cp));
    }
    return out;
}

std::u32string from_latin1(std::string_view octets) {
    std::u32string out;
    out.reserve(octets.size());
    for (char c : octets) out.push_back(static_cast<unsigned char>(c));
    return out;
}

std::string to_ucs2be(std::u32string_view text) {
    std::string out;
    out.reserve(text.size() * 2);
    auto unit = [&](std::uint16_t u) {
        out.push_back(char(u >> 8));
        out.push_back(char(u & 0xFF));
    };
    for (char32_t cp : text) {
        if (cp > 0xFFFF) {
            char32_t v = cp - 0x10000;
            unit(std::uint16_t(0xD800 | (v >> 10)));
            unit(std::uint16_t(0xDC00 | (v & 0x3FF)));
        } else {
            unit(std::uint16_t(cp));
        }
    }
    return out;
}

std::u32string from_ucs2be(std::string_view octets) {
    std::u32string out;
    out.reserve(octets.size() / 2);
    auto at = [&](std::size_t i) {
        return std::uint16_t((std::uint8_t(octets[i]) << 8) | std::uint8_t(octets[i + 1]));
    };
    std::size_t i = 0;
    for (; i + 1 < octets.size(); i += 2) {
        std::uint16_t u = at(i);
        if (u >= 0xD800 && u <= 0xDBFF && i + 3 < octets.size()) {
            std::uint16_t lo = at(i + 2);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                out.push_back(0x10000 + ((char32_t(u) - 0xD800) << 10) + (lo - 0xDC00));
                i += 2;
                continue;
            }
        }
        out.push_back(u >= 0xD800 && u <= 0xDFFF ? U'\uFFFD' : char32_t(u));
    }
    if (i < octets.size()) out.push_back(U'\uFFFD');
    return out;
}

}  // namespace herald::text
