#pragma once
/// Hashing, MACs and secure randomness (libsodium behind one door).

#include <cstddef>
#include <string>
#include <string_view>

namespace herald::core {

/// Lowercase hex SHA-256 of the bytes.
std::string sha256_hex(std::string_view data);
/// Lowercase hex HMAC-SHA256 of `message` under `key`.
std::string hmac_sha256_hex(std::string_view key, std::string_view message);
/// `n` cryptographically random bytes.
std::string random_bytes(std::size_t n);
/// URL-safe base64 (no padding) of `n` random bytes: for tokens and session ids.
std::string random_token(std::size_t n);
/// Compares in time independent of where the inputs differ.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;
/// Lowercase hex of arbitrary bytes.
std::string to_hex(std::string_view bytes);

}  // namespace herald::core
