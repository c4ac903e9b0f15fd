#pragma once
/// UTF-8 decoding and encoding of Unicode code points.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::text {

/// Decodes strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
/// Returns nullopt and the byte offset of the first bad sequence on failure.
std::optional<std::u32string> decode_utf8(std::string_view in, std::size_t* bad_offset = nullptr);

/// True when `in` is strict UTF-8 (as decode_utf8 accepts), without allocating.
bool is_valid_utf8(std::string_view in, std::size_t* bad_offset = nullptr) noexcept;

/// Decodes UTF-8, turning every bad sequence into U+FFFD; for text from outside (SMPP peers).
std::u32string decode_utf8_lossy(std::string_view in);

/// Appends the UTF-8 form of one code point.
void append_utf8(std::string& out, char32_t cp);

/// The UTF-8 form of a code-point string.
std::string encode_utf8(std::u32string_view in);

}  // namespace herald::text
