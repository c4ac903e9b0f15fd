#pragma once
/// Error codes of the text component.

#include <system_error>

#include "core/error.hpp"

namespace herald::text {

enum class errc {
    invalid_utf8 = 1,     ///< the input is not valid UTF-8
    unknown_placeholder,  ///< a template names a field that does not exist
    malformed_template,   ///< unclosed or empty placeholder
    template_too_long,    ///< the template exceeds the configured length
    unrepresentable,      ///< a character cannot be expressed in the requested charset
};

const std::error_category& text_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), text_category()};
}

}  // namespace herald::text

template <>
struct std::is_error_code_enum<herald::text::errc> : std::true_type {};
