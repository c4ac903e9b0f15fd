#pragma once
/// Herald's error model: each component has an `enum class errc` registered as a
/// std::error_code enum, and every code maps to a policy `condition` that callers test
/// ("is this retryable?") without knowing which component raised it.

#include <expected>
#include <string>
#include <string_view>
#include <system_error>

namespace herald {

/// Policy groups that callers branch on. Compare with `ec == herald::condition::retryable`.
enum class condition {
    invalid_input = 1,  ///< the caller sent something wrong; fix the input, do not retry
    not_found,          ///< the thing asked for does not exist (or is not visible to the caller)
    duplicate,          ///< a unique key already exists
    conflict,           ///< the current state forbids the action
    permission_denied,  ///< authenticated but not allowed
    unauthenticated,    ///< credentials missing, wrong or expired
    retryable,          ///< transient; the same request may succeed later
    connection_lost,    ///< the link to a peer is gone; reconnect before retrying
    limit_exceeded,     ///< a size, rate or balance limit was hit
    internal,           ///< a bug or an unexpected failure
};

}  // namespace herald

template <>
struct std::is_error_condition_enum<herald::condition> : std::true_type {};

namespace herald {

const std::error_category& condition_category() noexcept;
std::error_condition make_error_condition(condition c) noexcept;

/// An error as a value: a code for machines, a message for people, and the field at fault.
struct error {
    std::error_code code;
    std::string message;  ///< human-readable detail, already specific (names values, rows...)
    std::string field;    ///< the input field at fault, when there is one

    /// True when the code belongs to the given policy group.
    bool is(condition c) const noexcept { return code == c; }
    /// True when trying again later may succeed (retryable, or a lost connection).
    bool transient() const noexcept {
        return is(condition::retryable) || is(condition::connection_lost);
    }
    /// "message (field)" for logs and CLI output.
    std::string describe() const;
};

template <class T>
using result = std::expected<T, error>;

/// Shorthand for returning an error from a function that yields result<T>.
inline std::unexpected<error> fail(std::error_code code, std::string message,
                                   std::string field = {}) {
    return std::unexpected(error{code, std::move(message), std::move(field)});
}

namespace core {

/// One row of a component's error table.
template <class Enum>
struct error_entry {
    Enum code;
    std::string_view name;  ///< stable snake_case name, used in API error bodies
    condition group;
};

/// An error_category built from a static table of entries. Its message() is the entry's
/// stable name, so `ec.message()` can go straight into an API error body.
template <class Enum, const auto& Table>
class table_category final : public std::error_category {
  public:
    explicit table_category(const char* name) : name_(name) {}
    const char* name() const noexcept override { return name_; }
    std::string message(int ev) const override { return std::string(entry_name(ev)); }
    std::error_condition default_error_condition(int ev) const noexcept override {
        for (const auto& e : Table)
            if (static_cast<int>(e.code) == ev) return make_error_condition(e.group);
        return make_error_condition(condition::internal);
    }
    static std::string_view entry_name(int ev) noexcept {
        for (const auto& e : Table)
            if (static_cast<int>(e.code) == ev) return e.name;
        return "unknown";
    }

  private:
    const char* name_;
};

}  // namespace core
}  // namespace herald
