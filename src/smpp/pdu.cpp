#include "smpp/pdu.hpp"

#include <algorithm>

namespace herald::smpp {
namespace {

std::string hex32(std::uint32_t v) {
    static constexpr char d[] = "0123456789abcdef";
    std::string s = "0x";
    for (int i = 28; i >= 0; i -= 4) s.push_back(d[(v >> i) & 15]);
    return s;
}

}  // namespace

const tlv* tlv_list::find(std::uint16_t t) const noexcept {
    for (const auto& x : items)
        if (x.tag == t) return &x;
    return nullptr;
}

void tlv_list::set(std::uint16_t t, std::string value) {
    for (auto& x : items)
        if (x.tag == t) {
            x.value = std::move(value);
            return;
        }
    items.push_back({t, std::move(value)});
}

void tlv_list::erase(std::uint16_t t) {
    std::erase_if(items, [t](const tlv& x) { return x.tag == t; });
}

std::optional<std::uint8_t> tlv_list::u8(std::uint16_t t) const {
    const tlv* x = find(t);
    if (!x || x->value.size() != 1) return std::nullopt;
    return std::uint8_t(x->value[0]);
}

std::optional<std::uint16_t> tlv_list::u16(std::uint16_t t) const {
    const tlv* x = find(t);
    if (!x || x->value.size() != 2) return std::nullopt;
    return std::uint16_t(std::uint8_t(x->value[0]) << 8 | std::uint8_t(x->value[1]));
}

std::optional<std::string> tlv_list::cstring(std::uint16_t t) const {
    const tlv* x = find(t);
    if (!x) return std::nullopt;
    std::string v = x->value;
    // Tolerate peers that omit the NUL, and cut at the first one.
    if (auto nul = v.find('\0'); nul != std::string::npos) v.resize(nul);
    return v;
}

std::optional<std::string> tlv_list::octets(std::uint16_t t) const {
    const tlv* x = find(t);
    if (!x) return std::nullopt;
    return x->value;
}

void tlv_list::set_u8(std::uint16_t t, std::uint8_t v) {
    set(t, std::string(1, char(v)));
}

void tlv_list::set_u16(std::uint16_t t, std::uint16_t v) {
    set(t, std::string{char(v >> 8), char(v & 0xFF)});
}

void tlv_list::set_cstring(std::uint16_t t, std::string_view v) {
    std::string s(v);
    s.push_back('\0');
    set(t, std::move(s));
}

std::optional<tlv_list::network_error> tlv_list::network_error_code() const {
    const tlv* x = find(tag::network_error_code);
    if (!x || x->value.size() != 3) return std::nullopt;
    return network_error{std::uint8_t(x->value[0]),
                         std::uint16_t(std::uint8_t(x->value[1]) << 8 | std::uint8_t(x->value[2]))};
}

void tlv_list::set_network_error_code(network_error e) {
    set(tag::network_error_code, std::string{char(e.type), char(e.code >> 8), char(e.code & 0xFF)});
}

std::uint32_t command_id_of(const pdu& p) noexcept {
    return std::visit([](const auto& b) { return std::decay_t<decltype(b)>::command_id; }, p);
}

std::string command_name(std::uint32_t id) {
    switch (id) {
        case bind_transmitter::command_id:
            return "bind_transmitter";
        case bind_transmitter_resp::command_id:
            return "bind_transmitter_resp";
        case bind_receiver::command_id:
            return "bind_receiver";
        case bind_receiver_resp::command_id:
            return "bind_receiver_resp";
        case bind_transceiver::command_id:
            return "bind_transceiver";
        case bind_transceiver_resp::command_id:
            return "bind_transceiver_resp";
        case outbind::command_id:
            return "outbind";
        case unbind::command_id:
            return "unbind";
        case unbind_resp::command_id:
            return "unbind_resp";
        case generic_nack::command_id:
            return "generic_nack";
        case submit_sm::command_id:
            return "submit_sm";
        case submit_sm_resp::command_id:
            return "submit_sm_resp";
        case deliver_sm::command_id:
            return "deliver_sm";
        case deliver_sm_resp::command_id:
            return "deliver_sm_resp";
        case data_sm::command_id:
            return "data_sm";
        case data_sm_resp::command_id:
            return "data_sm_resp";
        case query_sm::command_id:
            return "query_sm";
        case query_sm_resp::command_id:
            return "query_sm_resp";
        case enquire_link::command_id:
            return "enquire_link";
        case enquire_link_resp::command_id:
            return "enquire_link_resp";
        default:
            return hex32(id);
    }
}

std::string status_name(std::uint32_t s) {
    switch (s) {
        case status::ok:
            return "ESME_ROK";
        case status::invalid_msg_length:
            return "ESME_RINVMSGLEN";
        case status::invalid_cmd_length:
            return "ESME_RINVCMDLEN";
        case status::invalid_cmd_id:
            return "ESME_RINVCMDID";
        case status::invalid_bind_status:
            return "ESME_RINVBNDSTS";
        case status::already_bound:
            return "ESME_RALYBND";
        case status::system_error:
            return "ESME_RSYSERR";
        case status::invalid_source:
            return "ESME_RINVSRCADR";
        case status::invalid_destination:
            return "ESME_RINVDSTADR";
        case status::invalid_message_id:
            return "ESME_RINVMSGID";
        case status::bind_failed:
            return "ESME_RBINDFAIL";
        case status::invalid_password:
            return "ESME_RINVPASWD";
        case status::invalid_system_id:
            return "ESME_RINVSYSID";
        case status::message_queue_full:
            return "ESME_RMSGQFUL";
        case status::invalid_esm_class:
            return "ESME_RINVESMCLASS";
        case status::submit_failed:
            return "ESME_RSUBMITFAIL";
        case status::throttled:
            return "ESME_RTHROTTLED";
        case status::invalid_schedule:
            return "ESME_RINVSCHED";
        case status::invalid_expiry:
            return "ESME_RINVEXPIRY";
        case status::invalid_optional_length:
            return "ESME_RINVPARLEN";
        case status::missing_optional:
            return "ESME_RMISSINGOPTPARAM";
        case status::invalid_optional_value:
            return "ESME_RINVOPTPARAMVAL";
        case status::delivery_failure:
            return "ESME_RDELIVERYFAILURE";
        case status::unknown_error:
            return "ESME_RUNKNOWNERR";
        default:
            return hex32(s);
    }
}

}  // namespace herald::smpp
