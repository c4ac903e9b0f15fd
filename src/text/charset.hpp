#pragma once
/// Character sets used on the SMS air interface and in SMPP: GSM 03.38 (default alphabet
/// plus extension table), Latin-1 and UCS-2/UTF-16 big-endian.

#include <optional>
#include <string>
#include <string_view>

namespace herald::text {

/// Septets that a code point costs in GSM 03.38: 1 in the default alphabet, 2 in the
/// extension table (escape + char), 0 when it cannot be expressed.
int gsm7_cost(char32_t cp) noexcept;

/// Unpacked GSM 7-bit: one septet per octet, 0x1B before extension characters.
/// nullopt when some character has no GSM form.
std::optional<std::string> to_gsm7_unpacked(std::u32string_view text);
/// Decodes unpacked GSM 7-bit. Unknown escape pairs decode as the base character, per 03.38.
std::u32string from_gsm7_unpacked(std::string_view septets);

/// ISO 8859-1; nullopt when some character is above U+00FF.
std::optional<std::string> to_latin1(std::u32string_view text);
std::u32string from_latin1(std::string_view octets);

/// UTF-16 big-endian (what SMPP calls UCS-2); characters beyond the BMP become surrogate pairs.
std::string to_ucs2be(std::u32string_view text);
/// Decodes UTF-16BE; an odd trailing byte or a lone surrogate becomes U+FFFD.
std::u32string from_ucs2be(std::string_view octets);

/// UTF-16 code units a character takes (2 beyond the BMP).
inline int utf16_units(char32_t cp) noexcept {
    return cp > 0xFFFF ? 2 : 1;
}

}  // namespace herald::text
