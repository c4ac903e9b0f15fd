#include "text/errc.hpp"

namespace herald::text {
namespace {
constexpr core::error_entry<errc> entries[] = {
    {errc::invalid_utf8, "invalid_utf8", condition::invalid_input},
    {errc::unknown_placeholder, "unknown_placeholder", condition::invalid_input},
    {errc::malformed_template, "malformed_template", condition::invalid_input},
    {errc::template_too_long, "template_too_long", condition::limit_exceeded},
    {errc::unrepresentable, "unrepresentable", condition::invalid_input},
};
}  // namespace

const std::error_category& text_category() noexcept {
    static const core::table_category<errc, entries> instance("herald.text");
    return instance;
}

}  // namespace herald::text
