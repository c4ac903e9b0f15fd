#pragma once
/// Password hashing with argon2id (libsodium), and the rules a new password must meet.

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace herald::store {

/// The argon2id hash of a password, in libsodium's self-describing string form.
std::string hash_password(std::string_view password);
/// True when `password` matches `hash`; constant-time and safe with malformed hashes.
bool verify_password(std::string_view hash, std::string_view password);
/// Spends the time of one verification, so that a login for an unknown user takes as long
/// as one for a known user.
void verify_dummy_password(std::string_view password);
/// At least 10 and at most 256 characters.
result<void> check_password(std::string_view password);

}  // namespace herald::store
