#include "smpp/outbound.hpp"

#include "text/charset.hpp"
#include "text/segments.hpp"
#include "text/utf8.hpp"

namespace herald::smpp {
namespace {

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

/// Encodes one part in the chosen coding.
std::string encode_part(const std::u32string& part, std::uint8_t coding) {
    switch (coding) {
        case coding::ucs2:
            return text::to_ucs2be(part);
        case coding::latin1:
            return *text::to_latin1(part);
        default:
            return *text::to_gsm7_unpacked(part);
    }
}

}  // namespace

std::optional<default_coding> parse_default_coding(std::string_view s) noexcept {
    if (s == "gsm7") return default_coding::gsm7;
    if (s == "latin1") return default_coding::latin1;
    return std::nullopt;
}

std::optional<long_method> parse_long_method(std::string_view s) noexcept {
    if (s == "udh") return long_method::udh;
    if (s == "sar") return long_method::sar;
    if (s == "payload") return long_method::payload;
    return std::nullopt;
}

std::string_view to_string(default_coding c) noexcept {
    return c == default_coding::gsm7 ? "gsm7" : "latin1";
}

std::string_view to_string(long_method m) noexcept {
    return m == long_method::udh ? "udh" : m == long_method::sar ? "sar" : "payload";
}

address make_address(std::string_view t) {
    address a;
    if (!t.empty() && t.front() == '+' && all_digits(t.substr(1))) {
        a = {1, 1, std::string(t.substr(1))};
    } else if (all_digits(t) && t.size() > 8) {
        a = {1, 1, std::string(t)};
    } else if (all_digits(t)) {
        a = {3, 0, std::string(t)};  // national short code
    } else {
        a = {5, 0, std::string(t)};  // alphanumeric
    }
    return a;
}

std::optional<built_submits> build_submits(const outbound_sms& sms, const coding_policy& policy,
                                           std::uint16_t reference, std::string* why) {
    auto set_why = [&](std::string w) {
        if (why) *why = std::move(w);
        return std::nullopt;
    };
    auto cps = text::decode_utf8(sms.text);
    if (!cps) return set_why("message text is not valid UTF-8");
    address src = make_address(sms.source), dst = make_address(sms.destination);
    if (dst.ton != 1 && dst.ton != 3)
        return set_why("destination \"" + sms.destination + "\" is not a number");
    if (src.value.size() > 20 || dst.value.size() > 20)
        return set_why("address longer than 20 characters");

    text::message_shape shape = text::analyze(*cps);
    std::uint8_t dc = coding::ucs2;
    text::encoding split_as = text::encoding::ucs2;
    if (shape.encoding == text::encoding::gsm7) {
        split_as = text::encoding::gsm7;
        if (policy.default_coding == default_coding::gsm7)
            dc = coding::smsc_default;
        else if (text::to_latin1(*cps))
            dc = coding::latin1;
        else
            split_as = text::encoding::ucs2;  // GSM-only letters (Greek, euro) have no Latin-1 form
    }

    submit_sm base;
    base.source_addr_ton = src.ton;
    base.source_addr_npi = src.npi;
    base.source_addr = src.value;
    base.dest_addr_ton = dst.ton;
    base.dest_addr_npi = dst.npi;
    base.destination_addr = dst.value;
    base.registered_delivery = sms.request_receipt ? 1 : 0;
    base.validity_period = sms.validity_period;
    base.data_coding = dc;
    if (sms.user_message_reference)
        base.tlvs.set_u16(tag::user_message_reference, *sms.user_message_reference);

    built_submits out;
    out.data_coding = dc;
    auto parts = text::split(*cps, split_as);
    out.segments = parts.size();
    if (parts.size() == 1) {
        base.short_message = encode_part(parts[0], dc);
        out.parts.push_back(std::move(base));
        return out;
    }
    if (policy.long_method == long_method::payload) {
        std::string whole;
        for (const auto& p : parts) whole += encode_part(p, dc);
        base.tlvs.set(tag::message_payload, std::move(whole));
        out.parts.push_back(std::move(base));
        return out;
    }
    if (parts.size() > 255) return set_why("message needs more than 255 parts");
    const auto total = std::uint8_t(parts.size());
    for (std::size_t i = 0; i < parts.size(); ++i) {
        submit_sm sm = base;
        const auto seq = std::uint8_t(i + 1);
        std::string body = encode_part(parts[i], dc);
        if (policy.long_method == long_method::udh) {
            sm.esm_class |= esm::udhi;
            // IEI 0x00: concatenated message, 8-bit reference.
            sm.short_message =
                std::string{0x05, 0x00, 0x03, char(reference & 0xFF), char(total), char(seq)}
                + body;
        } else {
            sm.tlvs.set_u16(tag::sar_msg_ref_num, reference);
            sm.tlvs.set_u8(tag::sar_total_segments, total);
            sm.tlvs.set_u8(tag::sar_segment_seqnum, seq);
            sm.short_message = std::move(body);
        }
        out.parts.push_back(std::move(sm));
    }
    return out;
}

std::string decode_text(std::uint8_t data_coding, std::uint8_t esm_class, std::string_view payload,
                        default_coding smsc_default, std::optional<concat_info>* concat) {
    if (concat) concat->reset();
    if ((esm_class & esm::udhi) && !payload.empty()) {
        std::size_t udhl = std::uint8_t(payload[0]);
        if (udhl + 1 <= payload.size()) {
            std::string_view udh = payload.substr(1, udhl);
            for (std::size_t i = 0; i + 2 <= udh.size();) {
                auto iei = std::uint8_t(udh[i]), len = std::uint8_t(udh[i + 1]);
                if (i + 2 + len > udh.size()) break;
                std::string_view v = udh.substr(i + 2, len);
                if (concat && iei == 0x00 && len == 3)
                    *concat =
                        concat_info{std::uint8_t(v[0]), std::uint8_t(v[1]), std::uint8_t(v[2])};
                if (concat && iei == 0x08 && len == 4)
                    *concat =
                        concat_info{std::uint16_t(std::uint8_t(v[0]) << 8 | std::uint8_t(v[1])),
                                    std::uint8_t(v[2]), std::uint8_t(v[3])};
                i += 2 + len;
            }
            payload.remove_prefix(udhl + 1);
        }
    }
    std::u32string cps;
    switch (data_coding) {
        case coding::smsc_default:
            cps = smsc_default == default_coding::gsm7 ? text::from_gsm7_unpacked(payload)
                                                       : text::from_latin1(payload);
            break;
        case coding::ia5:
        case coding::latin1:
            cps = text::from_latin1(payload);
            break;
        case coding::ucs2:
            cps = text::from_ucs2be(payload);
            break;
        default:
            // 8-bit binary and unknown codings: keep what is printable as Latin-1.
            cps = text::from_latin1(payload);
            break;
    }
    return text::encode_utf8(cps);
}

}  // namespace herald::smpp
