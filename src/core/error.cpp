#include "core/error.hpp"

namespace herald {
namespace {

class condition_category_impl final : public std::error_category {
  public:
    const char* name() const noexcept override { return "herald.condition"; }
    std::string message(int ev) const override {
        switch (static_cast<condition>(ev)) {
            case condition::invalid_input:
                return "invalid input";
            case condition::not_found:
                return "not found";
            case condition::duplicate:
                return "duplicate";
            case condition::conflict:
                return "conflict";
            case condition::permission_denied:
                return "permission denied";
            case condition::unauthenticated:
                return "unauthenticated";
            case condition::retryable:
                return "retryable";
            case condition::connection_lost:
                return "connection lost";
            case condition::limit_exceeded:
                return "limit exceeded";
            case condition::internal:
                return "internal error";
        }
        return "unknown condition";
    }
};

}  // namespace

const std::error_category& condition_category() noexcept {
    static const condition_category_impl instance;
    return instance;
}

std::error_condition make_error_condition(condition c) noexcept {
    return {static_cast<int>(c), condition_category()};
}

std::string error::describe() const {
    std::string out = message.empty() ? code.message() : message;
    if (!field.empty()) out += " (" + field + ")";
    return out;
}

}  // namespace herald
