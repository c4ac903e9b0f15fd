#pragma once
/// Error codes raised by the HTTP layer itself (bodies, limits, auth plumbing).

#include <system_error>

#include "core/error.hpp"

namespace herald::http {

enum class errc {
    invalid_json = 1,
    unsupported_media_type,
    body_too_large,
    rate_limited,
    commit_unknown,  ///< the connection was lost with the COMMIT sent: it may have taken effect
};

const std::error_category& http_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), http_category()};
}

}  // namespace herald::http

template <>
struct std::is_error_code_enum<herald::http::errc> : std::true_type {};
