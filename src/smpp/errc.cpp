#include "smpp/errc.hpp"

namespace herald::smpp {
namespace {
constexpr core::error_entry<errc> entries[] = {
    {errc::not_bound, "smpp_not_bound", condition::retryable},
    {errc::invalid_message, "smpp_invalid_message", condition::invalid_input},
    {errc::listen_failed, "smpp_listen_failed", condition::internal},
};
}  // namespace

const std::error_category& smpp_category() noexcept {
    static const core::table_category<errc, entries> instance("herald.smpp");
    return instance;
}

}  // namespace herald::smpp
