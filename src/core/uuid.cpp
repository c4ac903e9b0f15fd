#include "core/uuid.hpp"

#include <random>

namespace herald::core {
namespace {

/// xoshiro256** seeded from the OS; ids need uniqueness, not secrecy.
class fast_random {
  public:
    fast_random() {
        std::random_device rd;
        for (auto& s : s_) s = (std::uint64_t(rd()) << 32) ^ rd();
    }
    std::uint64_t next() noexcept {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

  private:
    static std::uint64_t rotl(std::uint64_t x, int k) noexcept {
        return (x << k) | (x >> (64 - k));
    }
    std::uint64_t s_[4];
};

fast_random& rng() {
    thread_local fast_random r;
    return r;
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::int64_t unix_ms(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

/// Layout: 48-bit ms | ver(4) | 12-bit counter | var(2) | 62 random bits.
uuid make_v7(std::int64_t ms, std::uint16_t counter) {
    uuid u;
    for (int i = 0; i < 6; ++i) u.bytes[i] = std::uint8_t(ms >> (40 - 8 * i));
    u.bytes[6] = std::uint8_t(0x70 | ((counter >> 8) & 0x0F));
    u.bytes[7] = std::uint8_t(counter);
    std::uint64_t r = rng().next();
    for (int i = 8; i < 16; ++i) u.bytes[i] = std::uint8_t(r >> (8 * (15 - i)));
    u.bytes[8] = std::uint8_t((u.bytes[8] & 0x3F) | 0x80);
    return u;
}

}  // namespace

void uuid::write(char* out) const noexcept {
    static constexpr char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *out++ = '-';
        *out++ = digits[bytes[i] >> 4];
        *out++ = digits[bytes[i] & 0x0F];
    }
}

std::string uuid::str() const {
    std::string out(36, '\0');
    write(out.data());
    return out;
}

std::optional<uuid> uuid::parse(std::string_view text) noexcept {
    if (text.size() != 36) return std::nullopt;
    uuid u;
    std::size_t pos = 0;
    for (int i = 0; i < 16; ++i) {
        if (pos == 8 || pos == 13 || pos == 18 || pos == 23) {
            if (text[pos] != '-') return std::nullopt;
            ++pos;
        }
        int hi = hex_value(text[pos]), lo = hex_value(text[pos + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        u.bytes[i] = std::uint8_t(hi << 4 | lo);
        pos += 2;
    }
    return u;
}

std::chrono::system_clock::time_point uuid::v7_time() const noexcept {
    std::int64_t ms = 0;
    for (int i = 0; i < 6; ++i) ms = (ms << 8) | bytes[i];
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

bool uuid::is_nil() const noexcept {
    for (auto b : bytes)
        if (b != 0) return false;
    return true;
}

uuid uuid_v7() {
    // Per-thread monotonic state: within one millisecond the 12-bit counter increases; when
    // it overflows we borrow the next millisecond rather than go backwards.
    thread_local std::int64_t last_ms = 0;
    thread_local std::uint16_t counter = 0;
    std::int64_t now = unix_ms(std::chrono::system_clock::now());
    if (now > last_ms) {
        last_ms = now;
        counter = std::uint16_t(rng().next() & 0x01FF);  // leave headroom for increments
    } else if (++counter > 0x0FFF) {
        ++last_ms;
        counter = 0;
    }
    return make_v7(last_ms, counter);
}

uuid uuid_v7_at(std::chrono::system_clock::time_point t) {
    return make_v7(unix_ms(t), std::uint16_t(rng().next() & 0x0FFF));
}

uuid uuid_v4() {
    uuid u;
    std::uint64_t a = rng().next(), b = rng().next();
    for (int i = 0; i < 8; ++i) {
        u.bytes[i] = std::uint8_t(a >> (8 * i));
        u.bytes[8 + i] = std::uint8_t(b >> (8 * i));
    }
    u.bytes[6] = std::uint8_t((u.bytes[6] & 0x0F) | 0x40);
    u.bytes[8] = std::uint8_t((u.bytes[8] & 0x3F) | 0x80);
    return u;
}

}  // namespace herald::core
