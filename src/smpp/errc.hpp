#pragma once
/// Error codes of the SMPP component's runtime parts (the codec reports decode_error).

#include <system_error>

#include "core/error.hpp"

namespace herald::smpp {

enum class errc {
    not_bound = 1,    ///< no session is bound to carry the request
    invalid_message,  ///< the message cannot be encoded (bad UTF-8, address)
    listen_failed,    ///< the server could not listen
};

const std::error_category& smpp_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), smpp_category()};
}

}  // namespace herald::smpp

template <>
struct std::is_error_code_enum<herald::smpp::errc> : std::true_type {};
