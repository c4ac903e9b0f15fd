#pragma once
/// UUID values and time-ordered UUIDv7 generation (RFC 9562).

#include <array>
#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace herald::core {

/// A 128-bit UUID held as 16 bytes in network order.
struct uuid {
    std::array<std::uint8_t, 16> bytes{};

    /// Canonical lowercase 8-4-4-4-12 form.
    std::string str() const;
    /// Writes the canonical form (36 characters, no terminator) to `out`.
    void write(char* out) const noexcept;
    /// Parses the canonical form (either case); nullopt for anything else.
    static std::optional<uuid> parse(std::string_view text) noexcept;
    /// For a v7 UUID, the Unix-millisecond time it carries.
    std::chrono::system_clock::time_point v7_time() const noexcept;
    int version() const noexcept { return bytes[6] >> 4; }
    bool is_nil() const noexcept;

    auto operator<=>(const uuid&) const = default;
};

/// A new UUIDv7 for "now". Monotonic within a thread: a later call never sorts before an
/// earlier one, even within one millisecond.
uuid uuid_v7();
/// A UUIDv7 stamped with the given time (random bits still unique); used where a row's id must
/// carry a partition key's time.
uuid uuid_v7_at(std::chrono::system_clock::time_point t);
/// A random (v4) UUID.
uuid uuid_v4();

}  // namespace herald::core

template <>
struct std::hash<herald::core::uuid> {
    std::size_t operator()(const herald::core::uuid& u) const noexcept {
        std::uint64_t a = 0, b = 0;
        for (int i = 0; i < 8; ++i) a = (a << 8) | u.bytes[i];
        for (int i = 8; i < 16; ++i) b = (b << 8) | u.bytes[i];
        return a ^ (b * 0x9E3779B97F4A7C15ULL);
    }
};
