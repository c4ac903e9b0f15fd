#pragma once
/// Error codes raised by the core component (configuration and process plumbing).

#include <system_error>

#include "core/error.hpp"

namespace herald::core {

enum class errc {
    invalid_value =
        1,            ///< a setting or argument has a value that does not parse or is out of range
    unknown_key,      ///< a configuration key that Herald does not know (often a typo)
    unreadable_file,  ///< a file could not be opened or read
    syntax_error,     ///< a file does not parse
    io_failure,       ///< an operating-system call failed
};

const std::error_category& core_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), core_category()};
}

}  // namespace herald::core

template <>
struct std::is_error_code_enum<herald::core::errc> : std::true_type {};
