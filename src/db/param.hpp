#pragma once
/// Query parameters in PostgreSQL's text format.

#include <chrono>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/uuid.hpp"

namespace herald::db {

/// One bound parameter ($1, $2, ...): a value in text form, or SQL NULL.
class param {
  public:
    param(std::nullptr_t) : null_(true) {}
    param(std::nullopt_t) : null_(true) {}
    param(std::string_view v) : text_(v) {}
    param(const std::string& v) : text_(v) {}
    param(std::string&& v) : text_(std::move(v)) {}
    param(const char* v) : text_(v), null_(v == nullptr) {}
    param(bool v) : text_(v ? "t" : "f") {}
    template <std::integral I>
    requires(!std::same_as<I, bool> && !std::same_as<I, char>) param(I v)
        : text_(std::to_string(v)) {}
    param(double v);
    param(const core::uuid& v) : text_(v.str()) {}
    param(std::chrono::system_clock::time_point v);
    template <class T>
    param(const std::optional<T>& v) : param(v ? param(*v) : param(nullptr)) {}

    bool is_null() const noexcept { return null_; }
    const std::string& text() const noexcept { return text_; }

  private:
    std::string text_;
    bool null_ = false;
};

using params = std::vector<param>;

/// Formats a time as an ISO 8601 UTC timestamp with microseconds, as PostgreSQL accepts it.
std::string format_timestamp(std::chrono::system_clock::time_point t);
/// The same text written to `out` (at least 40 bytes); returns its length.
std::size_t format_timestamp(std::chrono::system_clock::time_point t, char* out) noexcept;
/// Parses PostgreSQL's ISO output ("2026-11-23 10:00:00.123456+00", any offset).
std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view text);

/// Builds a PostgreSQL array literal ('{"a","b"}') from text values, for `= ANY($1)` and
/// `unnest($1::text[])`. std::nullopt entries become NULL.
std::string array_literal(const std::vector<std::optional<std::string>>& values);
std::string array_literal(const std::vector<std::string>& values);

}  // namespace herald::db
