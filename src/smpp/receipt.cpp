#include "smpp/receipt.hpp"

#include <charconv>
#include <ctime>

namespace herald::smpp {
namespace {

char upper(char c) {
    return c >= 'a' && c <= 'z' ? char(c - 32) : c;
}
char lower(char c) {
    return c >= 'A' && c <= 'Z' ? char(c + 32) : c;
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = lower(c);
    return out;
}

/// Parses `digits` in `base`; nullopt unless every character is a digit of the base and the
/// value fits 64 bits.
std::optional<std::uint64_t> parse_number(std::string_view s, int base) {
    if (s.empty()) return std::nullopt;
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

std::string to_base(std::uint64_t v, int base) {
    char buf[32];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, base);
    return std::string(buf, p);
}

/// YYMMDDhhmm or YYMMDDhhmmss, read as UTC.
std::optional<std::chrono::system_clock::time_point> parse_receipt_date(std::string_view s) {
    if (s.size() != 10 && s.size() != 12) return std::nullopt;
    int f[6] = {0, 0, 0, 0, 0, 0};
    for (std::size_t i = 0; i < s.size() / 2; ++i) {
        auto v = parse_number(s.substr(i * 2, 2), 10);
        if (!v) return std::nullopt;
        f[i] = int(*v);
    }
    using namespace std::chrono;
    year_month_day ymd{year(2000 + f[0]), month(unsigned(f[1])), day(unsigned(f[2]))};
    if (!ymd.ok() || f[3] > 23 || f[4] > 59 || f[5] > 59) return std::nullopt;
    return sys_days(ymd) + hours(f[3]) + minutes(f[4]) + seconds(f[5]);
}

/// Finds `key:` (case-insensitive, at a word start) and returns the value up to the next space.
std::optional<std::string_view> field(std::string_view text, std::string_view key,
                                      bool to_end = false) {
    for (std::size_t i = 0; i + key.size() < text.size(); ++i) {
        if (i > 0 && text[i - 1] != ' ') continue;
        bool match = true;
        for (std::size_t k = 0; k < key.size() && match; ++k) match = lower(text[i + k]) == key[k];
        if (!match || text[i + key.size()] != ':') continue;
        std::size_t b = i + key.size() + 1;
        if (to_end) return text.substr(b);
        std::size_t e = text.find(' ', b);
        return text.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b);
    }
    return std::nullopt;
}

}  // namespace

std::string_view to_string(receipt_outcome o) noexcept {
    switch (o) {
        case receipt_outcome::delivered:
            return "delivered";
        case receipt_outcome::undelivered:
            return "undelivered";
        case receipt_outcome::expired:
            return "expired";
        case receipt_outcome::rejected:
            return "rejected";
        case receipt_outcome::in_progress:
            return "in_progress";
    }
    return "?";
}

receipt_outcome outcome_of_stat(std::string_view stat) noexcept {
    std::string s;
    for (char c : stat) s.push_back(upper(c));
    if (s == "DELIVRD" || s == "DELIVERED") return receipt_outcome::delivered;
    if (s == "EXPIRED") return receipt_outcome::expired;
    if (s == "REJECTD" || s == "REJECTED") return receipt_outcome::rejected;
    if (s == "UNDELIV" || s == "UNDELIVERABLE" || s == "DELETED" || s == "UNKNOWN" || s == "FAILED")
        return receipt_outcome::undelivered;
    return receipt_outcome::in_progress;  // ENROUTE, ACCEPTD, anything unexpected
}

std::optional<receipt_outcome> outcome_of_state(std::uint8_t state) noexcept {
    switch (state) {
        case 1:
            return receipt_outcome::in_progress;  // ENROUTE
        case 2:
            return receipt_outcome::delivered;
        case 3:
            return receipt_outcome::expired;
        case 4:
            return receipt_outcome::undelivered;  // DELETED
        case 5:
            return receipt_outcome::undelivered;
        case 6:
            return receipt_outcome::in_progress;  // ACCEPTED
        case 7:
            return receipt_outcome::undelivered;  // UNKNOWN
        case 8:
            return receipt_outcome::rejected;
        default:
            return std::nullopt;
    }
}

std::string_view stat_of_state(std::uint8_t state) noexcept {
    static constexpr std::string_view names[] = {"SCHEDULED", "ENROUTE", "DELIVRD",
                                                 "EXPIRED",   "DELETED", "UNDELIV",
                                                 "ACCEPTD",   "UNKNOWN", "REJECTD"};
    return state < std::size(names) ? names[state] : "UNKNOWN";
}

bool is_receipt(const deliver_sm& d) noexcept {
    std::uint8_t type = d.esm_class & esm::receipt_mask;
    return type == esm::delivery_receipt || type == esm::intermediate_notification
           || d.tlvs.find(tag::receipted_message_id) != nullptr;
}

std::optional<receipt> parse_receipt_text(std::string_view text) {
    auto id = field(text, "id");
    if (!id || id->empty()) return std::nullopt;
    receipt r;
    r.message_id = std::string(*id);
    if (auto s = field(text, "stat")) {
        for (char c : *s) r.stat.push_back(upper(c));
        r.outcome = outcome_of_stat(r.stat);
    }
    if (auto e = field(text, "err"); e && !e->empty()) r.error = std::string(*e);
    if (auto s = field(text, "sub"))
        r.submitted = parse_number(*s, 10).transform([](auto v) { return int(v); });
    if (auto s = field(text, "dlvrd"))
        r.delivered = parse_number(*s, 10).transform([](auto v) { return int(v); });
    if (auto s = field(text, "submit date")) r.submit_date = parse_receipt_date(*s);
    if (auto s = field(text, "done date")) r.done_date = parse_receipt_date(*s);
    if (auto s = field(text, "text", true)) r.text = std::string(*s);
    return r;
}

std::optional<receipt> parse_receipt(const deliver_sm& d) {
    if (!is_receipt(d)) return std::nullopt;
    std::string_view body = d.short_message;
    std::string payload;
    if (body.empty())
        if (auto p = d.tlvs.octets(tag::message_payload)) body = payload = *p;
    std::optional<receipt> r = parse_receipt_text(body);
    if (!r) r.emplace();
    if (auto id = d.tlvs.cstring(tag::receipted_message_id); id && !id->empty()) {
        r->message_id = *id;
        r->id_from_tlv = true;
    }
    if (auto st = d.tlvs.u8(tag::message_state)) {
        if (auto o = outcome_of_state(*st)) {
            r->outcome = *o;
            r->stat = std::string(stat_of_state(*st));
        }
    }
    if (auto ne = d.tlvs.network_error_code(); ne && ne->code != 0)
        r->error = std::to_string(ne->type) + ":" + std::to_string(ne->code);
    if (r->message_id.empty()) return std::nullopt;
    return r;
}

std::optional<id_format> parse_id_format(std::string_view s) noexcept {
    if (s == "exact") return id_format::exact;
    if (s == "case_insensitive") return id_format::case_insensitive;
    if (s == "hex_in_receipt") return id_format::hex_in_receipt;
    if (s == "decimal_in_receipt") return id_format::decimal_in_receipt;
    return std::nullopt;
}

std::string_view to_string(id_format f) noexcept {
    switch (f) {
        case id_format::exact:
            return "exact";
        case id_format::case_insensitive:
            return "case_insensitive";
        case id_format::hex_in_receipt:
            return "hex_in_receipt";
        case id_format::decimal_in_receipt:
            return "decimal_in_receipt";
    }
    return "?";
}

// Both keys are canonical decimal for the numeric formats (so that leading zeros and case
// never matter), lower case for case_insensitive, and untouched for exact. An id that does not
// parse as a number falls back to lower case, so it can still match itself.
std::string submit_id_key(std::string_view id, id_format f) {
    switch (f) {
        case id_format::exact:
            return std::string(id);
        case id_format::case_insensitive:
            return to_lower(id);
        case id_format::hex_in_receipt:
            if (auto v = parse_number(id, 10)) return to_base(*v, 10);
            return to_lower(id);
        case id_format::decimal_in_receipt:
            if (auto v = parse_number(id, 16)) return to_base(*v, 10);
            return to_lower(id);
    }
    return std::string(id);
}

std::string receipt_key(const receipt& r, id_format f) {
    return r.id_from_tlv ? submit_id_key(r.message_id, f) : receipt_id_key(r.message_id, f);
}

std::string receipt_id_key(std::string_view id, id_format f) {
    switch (f) {
        case id_format::exact:
            return std::string(id);
        case id_format::case_insensitive:
            return to_lower(id);
        case id_format::hex_in_receipt:
            if (auto v = parse_number(id, 16)) return to_base(*v, 10);
            return to_lower(id);
        case id_format::decimal_in_receipt:
            if (auto v = parse_number(id, 10)) return to_base(*v, 10);
            return to_lower(id);
    }
    return std::string(id);
}

}  // namespace herald::smpp
