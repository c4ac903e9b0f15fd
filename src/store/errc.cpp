#include "store/errc.hpp"

namespace herald::store {
namespace {
constexpr core::error_entry<errc> entries[] = {
    {errc::not_found, "not_found", condition::not_found},
    {errc::duplicate, "duplicate", condition::duplicate},
    {errc::insufficient_credits, "insufficient_credits", condition::limit_exceeded},
    {errc::invalid_credentials, "invalid_credentials", condition::unauthenticated},
    {errc::account_inactive, "account_inactive", condition::permission_denied},
    {errc::weak_password, "weak_password", condition::invalid_input},
    // An id the caller cannot see does not exist for it, also when it arrives in a body.
    {errc::invalid_reference, "not_found", condition::not_found},
    {errc::sender_not_allowed, "sender_not_allowed", condition::invalid_input},
    {errc::no_sender, "no_sender", condition::invalid_input},
    {errc::wrong_state, "wrong_state", condition::conflict},
};
}  // namespace

const std::error_category& store_category() noexcept {
    static const core::table_category<errc, entries> instance("herald.store");
    return instance;
}

error translate_duplicate(const error& e, std::string message, std::string field) {
    if (!e.is(condition::duplicate)) return e;
    return {make_error_code(errc::duplicate), std::move(message), std::move(field)};
}

}  // namespace herald::store
