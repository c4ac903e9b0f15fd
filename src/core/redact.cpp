#include "core/redact.hpp"

#include <regex>

namespace herald::core {

std::string redact_connection_string(std::string_view conninfo) {
    std::string s(conninfo);
    // URL form: scheme://user:password@host...
    static const std::regex url_password(R"(^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@]*:)[^@]*@)");
    s = std::regex_replace(s, url_password, "$1***@");
    // key=value forms, in the URL query string or in a libpq keyword string.
    static const std::regex kv_password(R"((password\s*=\s*)('[^']*'|[^&\s]*))", std::regex::icase);
    return std::regex_replace(s, kv_password, "$1***");
}

}  // namespace herald::core
