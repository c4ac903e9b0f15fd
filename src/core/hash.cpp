#include "core/hash.hpp"

#include <cstring>
#include <stdexcept>

#include <sodium.h>

namespace herald::core {
namespace {

void ensure_sodium() {
    static const bool ready = [] { return sodium_init() >= 0; }();
    if (!ready) throw std::runtime_error("libsodium failed to initialise");
}

}  // namespace

std::string to_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 0x0F]);
    }
    return out;
}

std::string sha256_hex(std::string_view data) {
    ensure_sodium();
    unsigned char out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    return to_hex(std::string_view(reinterpret_cast<const char*>(out), sizeof out));
}

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
    ensure_sodium();
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()),
                                key.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(message.data()),
                                  message.size());
    unsigned char out[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_final(&st, out);
    return to_hex(std::string_view(reinterpret_cast<const char*>(out), sizeof out));
}

std::string random_bytes(std::size_t n) {
    ensure_sodium();
    std::string out(n, '\0');
    randombytes_buf(out.data(), n);
    return out;
}

std::string random_token(std::size_t n) {
    std::string raw = random_bytes(n);
    std::string out(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                      raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out.resize(std::strlen(out.c_str()));
    return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace herald::core
