#pragma once
/// How a text travels as SMS: which encoding it needs and how many segments it takes.
/// GSM-7 fits 160 septets in one SMS, or 153 per part when concatenated (the UDH takes the
/// rest); UCS-2 fits 70 UTF-16 units, or 67 per part.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace herald::text {

/// The air-interface alphabet a message needs.
enum class encoding { gsm7, ucs2 };

std::string_view to_string(encoding e) noexcept;

/// Capacity rules.
inline constexpr std::size_t gsm7_single = 160, gsm7_part = 153;
inline constexpr std::size_t ucs2_single = 70, ucs2_part = 67;

/// The shape of a message: encoding, length in units, and segments.
struct message_shape {
    text::encoding encoding = encoding::gsm7;
    std::size_t characters = 0;  ///< Unicode code points
    std::size_t units = 0;       ///< septets (GSM-7) or UTF-16 code units (UCS-2)
    std::size_t segments = 1;
    std::size_t per_segment = gsm7_single;  ///< capacity of each segment for this length
    std::size_t remaining = gsm7_single;    ///< units still free in the last segment
};

/// The cheapest encoding that represents every character, and the resulting segments.
message_shape analyze(std::u32string_view text);
/// As analyze(), from UTF-8; fails on invalid UTF-8 with the byte offset in the message.
result<message_shape> analyze_utf8(std::string_view utf8);

/// Splits into parts that each fit one segment of `enc`. A GSM escape pair or a UTF-16
/// surrogate pair is never split across parts. One part when the text fits a single SMS.
std::vector<std::u32string> split(std::u32string_view text, encoding enc);

}  // namespace herald::text
