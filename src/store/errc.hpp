#pragma once
/// Error codes of the store: what a repository refuses, in domain terms.

#include <system_error>

#include "core/error.hpp"

namespace herald::store {

enum class errc {
    not_found = 1,         ///< no such row for this tenant
    duplicate,             ///< a unique key (username, phone number, group name) exists
    insufficient_credits,  ///< the balance does not cover the debit
    invalid_credentials,   ///< wrong login or password (deliberately unspecific)
    account_inactive,      ///< the account is suspended or closed
    weak_password,         ///< too short or too long
    invalid_reference,     ///< an id in the request belongs to nobody visible (a group, a contact)
    sender_not_allowed,    ///< the tenant may not send with this sender ID
    no_sender,             ///< no sender ID given and the tenant has no default
    wrong_state,           ///< the record's status forbids the change (cancel a sent message)
};

const std::error_category& store_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), store_category()};
}

/// Maps a database duplicate into store::errc::duplicate with a message and field; passes
/// other errors through.
error translate_duplicate(const error& e, std::string message, std::string field);

}  // namespace herald::store

template <>
struct std::is_error_code_enum<herald::store::errc> : std::true_type {};
