#pragma once
/// Error codes of the phone component: why a number was rejected.

#include <system_error>

#include "core/error.hpp"

namespace herald::phone {

enum class errc {
    not_a_number = 1,      ///< the text does not look like a phone number at all
    too_short,             ///< too few digits for its country
    too_long,              ///< too many digits for its country
    invalid_country_code,  ///< no such country calling code, or no region to assume
    invalid_for_region,    ///< right length, but not a number its country assigns
    unknown_region,        ///< a region code that is not ISO 3166 alpha-2 / not supported
    unknown_time_zone,     ///< not an IANA time zone name
};

const std::error_category& phone_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), phone_category()};
}

}  // namespace herald::phone

template <>
struct std::is_error_code_enum<herald::phone::errc> : std::true_type {};
