#include "text/message_template.hpp"

#include "text/errc.hpp"
#include "text/utf8.hpp"

namespace herald::text {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool valid_name_char(char c, bool custom) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (custom && c == '-');
}

bool valid_name(std::string_view name) {
    bool custom = name.starts_with("custom.");
    std::string_view body = custom ? name.substr(7) : name;
    if (body.empty()) return false;
    if (!custom && std::isdigit(static_cast<unsigned char>(body.front()))) return false;
    for (char c : body)
        if (!valid_name_char(c, custom)) return false;
    return true;
}

}  // namespace

bool message_template::is_contact_field(std::string_view name) noexcept {
    return name == "first_name" || name == "last_name" || name == "email" || name == "phone_number"
           || name == "country_code";
}

result<message_template> message_template::compile(
    std::string_view source, const std::function<bool(std::string_view)>& known,
    std::size_t max_length) {
    if (source.size() > max_length)
        return fail(errc::template_too_long, "template is " + std::to_string(source.size())
                                                 + " bytes; the limit is "
                                                 + std::to_string(max_length));
    std::size_t bad = 0;
    if (!decode_utf8(source, &bad))
        return fail(errc::invalid_utf8,
                    "template is not valid UTF-8 (bad byte at offset " + std::to_string(bad) + ")");

    message_template t;
    t.source_ = std::string(source);
    std::string literal;
    std::size_t i = 0;
    while (i < source.size()) {
        std::size_t open = source.find("{{", i);
        if (open == std::string_view::npos) {
            literal.append(source.substr(i));
            break;
        }
        literal.append(source.substr(i, open - i));
        std::size_t close = source.find("}}", open + 2);
        std::size_t next_open = source.find("{{", open + 2);
        if (close == std::string_view::npos
            || (next_open != std::string_view::npos && next_open < close))
            return fail(errc::malformed_template, "placeholder opened at character "
                                                      + std::to_string(open + 1)
                                                      + " is not closed with }}");
        std::string_view inner = source.substr(open + 2, close - open - 2);
        std::optional<std::string> fallback;
        if (auto bar = inner.find('|'); bar != std::string_view::npos) {
            fallback = std::string(trim(inner.substr(bar + 1)));
            inner = inner.substr(0, bar);
        }
        std::string_view name = trim(inner);
        if (name.empty())
            return fail(errc::malformed_template,
                        "empty placeholder at character " + std::to_string(open + 1));
        if (!valid_name(name))
            return fail(errc::malformed_template,
                        "\"{{" + std::string(name) + "}}\" is not a valid placeholder name");
        if (!name.starts_with("custom.") && !known(name))
            return fail(errc::unknown_placeholder,
                        "unknown placeholder {{" + std::string(name) + "}}", std::string(name));
        if (!literal.empty()) t.pieces_.push_back({std::move(literal), -1});
        literal.clear();
        t.placeholders_.push_back({std::string(name), std::move(fallback)});
        t.pieces_.push_back({{}, int(t.placeholders_.size() - 1)});
        i = close + 2;
    }
    if (!literal.empty()) t.pieces_.push_back({std::move(literal), -1});
    return t;
}

std::string message_template::render(const lookup& values,
                                     std::vector<std::string>* missing) const {
    std::string out;
    out.reserve(source_.size() + 32);
    for (const auto& p : pieces_) {
        if (p.placeholder < 0) {
            out.append(p.literal);
            continue;
        }
        const placeholder& ph = placeholders_[std::size_t(p.placeholder)];
        auto v = values(ph);
        if (v && !v->empty()) {
            out.append(*v);
        } else if (ph.fallback) {
            out.append(*ph.fallback);
        } else if (missing) {
            missing->push_back(ph.name);
        }
    }
    return out;
}

}  // namespace herald::text
