#include "store/passwords.hpp"

#include <stdexcept>

#include <sodium.h>

#include "store/errc.hpp"

namespace herald::store {
namespace {

void ensure_sodium() {
    static const bool ready = sodium_init() >= 0;
    if (!ready) throw std::runtime_error("libsodium failed to initialise");
}

}  // namespace

std::string hash_password(std::string_view password) {
    ensure_sodium();
    char out[crypto_pwhash_argon2id_STRBYTES];
    if (crypto_pwhash_argon2id_str(out, password.data(), password.size(),
                                   crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
                                   crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE)
        != 0)
        throw std::runtime_error("out of memory while hashing a password");
    return out;
}

bool verify_password(std::string_view hash, std::string_view password) {
    ensure_sodium();
    std::string h(hash);  // must be NUL-terminated
    if (h.size() >= crypto_pwhash_argon2id_STRBYTES || !h.starts_with("$argon2id$")) return false;
    return crypto_pwhash_argon2id_str_verify(h.c_str(), password.data(), password.size()) == 0;
}

void verify_dummy_password(std::string_view password) {
    static const std::string dummy = hash_password("herald-dummy-password");
    (void)verify_password(dummy, password);
}

result<void> check_password(std::string_view password) {
    if (password.size() < 10)
        return fail(errc::weak_password, "the password must have at least 10 characters",
                    "password");
    if (password.size() > 256)
        return fail(errc::weak_password, "the password must have at most 256 characters",
                    "password");
    return {};
}

}  // namespace herald::store
