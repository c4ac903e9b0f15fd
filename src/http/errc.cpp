#include "http/errc.hpp"

namespace herald::http {
namespace {
constexpr core::error_entry<errc> entries[] = {
    {errc::invalid_json, "invalid_json", condition::invalid_input},
    {errc::unsupported_media_type, "unsupported_media_type", condition::invalid_input},
    {errc::body_too_large, "body_too_large", condition::limit_exceeded},
    {errc::rate_limited, "rate_limited", condition::limit_exceeded},
    // Not retryable: trying again on another connection could do the same change twice.
    {errc::commit_unknown, "commit_unknown", condition::internal},
};
}  // namespace

const std::error_category& http_category() noexcept {
    static const core::table_category<errc, entries> instance("herald.http");
    return instance;
}

}  // namespace herald::http
