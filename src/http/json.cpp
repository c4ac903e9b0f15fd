#include "http/json.hpp"

#include <cstdint>
#include <cstring>

#include "http/errc.hpp"
#include "text/utf8.hpp"

namespace herald::http {

response json_response(int status, const json& body) {
    return response(status, "application/json",
                    body.dump(-1, ' ', false, json::error_handler_t::replace));
}

namespace {
result<json> json_result(json j) {
    return j;
}
}  // namespace

result<json> parse_json_object(const request& req) {
    auto ct = req.header("content-type");
    if (!ct.empty() && ct.find("json") == std::string_view::npos)
        return fail(errc::unsupported_media_type,
                    "send the body as application/json (got " + std::string(ct) + ")");
    if (req.body.empty())
        return fail(errc::invalid_json, "the request body is empty; send a JSON object");
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded()) {
        // Re-parse with exceptions on to learn where it broke.
        try {
            json again = json::parse(req.body);
            return again.is_object() ? json_result(std::move(again))
                                     : fail(errc::invalid_json, "the body must be a JSON object");
        } catch (const json::parse_error& e) {
            return fail(errc::invalid_json,
                        "the body is not valid JSON (at byte " + std::to_string(e.byte) + ")");
        }
        return fail(errc::invalid_json, "the body is not valid JSON");
    }
    if (!j.is_object()) return fail(errc::invalid_json, "the body must be a JSON object");
    return j;
}

void json_writer::separate() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!first_.empty()) {
        if (!first_.back()) out_.push_back(',');
        first_.back() = false;
    }
}

json_writer& json_writer::begin_object() {
    separate();
    out_.push_back('{');
    first_.push_back(true);
    return *this;
}

json_writer& json_writer::end_object() {
    out_.push_back('}');
    first_.pop_back();
    return *this;
}

json_writer& json_writer::begin_array() {
    separate();
    out_.push_back('[');
    first_.push_back(true);
    return *this;
}

json_writer& json_writer::end_array() {
    out_.push_back(']');
    first_.pop_back();
    return *this;
}

json_writer& json_writer::key(std::string_view k) {
    value(k);
    out_.push_back(':');
    after_key_ = true;
    return *this;
}

namespace {

/// True when none of the 8 bytes in `v` needs attention in a JSON string: no control
/// character, quote, backslash or non-ASCII byte.
inline bool plain_word(std::uint64_t v) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    const std::uint64_t quote = v ^ (ones * '"'), backslash = v ^ (ones * '\\');
    const std::uint64_t below_space = v - ones * 0x20;  // exact only when no high bit: see `| v`
    return ((below_space | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) | v)
            & highs)
           == 0;
}

/// True when no byte of `s` needs attention (see plain_word); the tail is padded with spaces.
inline bool all_plain(std::string_view s) noexcept {
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t word;
        std::memcpy(&word, s.data() + i, 8);
        if (!plain_word(word)) return false;
    }
    if (i == s.size()) return true;
    std::uint64_t word = 0x2020202020202020ULL;
    std::memcpy(&word, s.data() + i, s.size() - i);
    return plain_word(word);
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
    if (all_plain(s)) {  // the usual case: one copy
        out.push_back('"');
        out.append(s);
        out.push_back('"');
        return;
    }
    out.push_back('"');
    std::size_t plain = 0;  // start of the run of characters that need no escaping
    auto flush = [&](std::size_t i) { out.append(s.data() + plain, i - plain); };
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) continue;
        if (c >= 0x80) {
            // Pass valid UTF-8 through; replace anything else.
            std::size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
            if (n > 0 && i + n <= s.size() && text::is_valid_utf8(s.substr(i, n))) {
                i += n - 1;
                continue;
            }
            flush(i);
            out += "\xEF\xBF\xBD";
            plain = i + 1;
            continue;
        }
        flush(i);
        plain = i + 1;
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default: {
                static constexpr char hex[] = "0123456789abcdef";
                out += "\\u00";
                out.push_back(hex[c >> 4]);
                out.push_back(hex[c & 15]);
            }
        }
    }
    flush(s.size());
    out.push_back('"');
}

json_writer& json_writer::value(std::string_view s) {
    separate();
    append_json_string(out_, s);
    return *this;
}

json_writer& json_writer::value(std::int64_t n) {
    separate();
    out_ += std::to_string(n);
    return *this;
}

json_writer& json_writer::value(bool b) {
    separate();
    out_ += b ? "true" : "false";
    return *this;
}

json_writer& json_writer::null() {
    separate();
    out_ += "null";
    return *this;
}

json_writer& json_writer::raw(std::string_view json_text) {
    separate();
    out_.append(json_text);
    return *this;
}

}  // namespace herald::http
