#pragma once
/// SMPP 3.4 PDUs as plain values. Each body is a struct with its command id and a defaulted
/// operator==; `message` adds the header fields (status, sequence). Field limits follow the
/// specification (C-Octet String sizes include the terminating NUL).
///
/// This header and codec.hpp depend only on the standard library, so the decoder can be built
/// by any compiler (the libFuzzer target uses clang).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace herald::smpp {

/// Command status values used by Herald (SMPP 3.4 section 5.1.3).
namespace status {
inline constexpr std::uint32_t ok = 0x00000000;
inline constexpr std::uint32_t invalid_msg_length = 0x00000001;       // ESME_RINVMSGLEN
inline constexpr std::uint32_t invalid_cmd_length = 0x00000002;       // ESME_RINVCMDLEN
inline constexpr std::uint32_t invalid_cmd_id = 0x00000003;           // ESME_RINVCMDID
inline constexpr std::uint32_t invalid_bind_status = 0x00000004;      // ESME_RINVBNDSTS
inline constexpr std::uint32_t already_bound = 0x00000005;            // ESME_RALYBND
inline constexpr std::uint32_t system_error = 0x00000008;             // ESME_RSYSERR
inline constexpr std::uint32_t invalid_source = 0x0000000A;           // ESME_RINVSRCADR
inline constexpr std::uint32_t invalid_destination = 0x0000000B;      // ESME_RINVDSTADR
inline constexpr std::uint32_t invalid_message_id = 0x0000000C;       // ESME_RINVMSGID
inline constexpr std::uint32_t bind_failed = 0x0000000D;              // ESME_RBINDFAIL
inline constexpr std::uint32_t invalid_password = 0x0000000E;         // ESME_RINVPASWD
inline constexpr std::uint32_t invalid_system_id = 0x0000000F;        // ESME_RINVSYSID
inline constexpr std::uint32_t message_queue_full = 0x00000014;       // ESME_RMSGQFUL
inline constexpr std::uint32_t invalid_esm_class = 0x00000043;        // ESME_RINVESMCLASS
inline constexpr std::uint32_t submit_failed = 0x00000045;            // ESME_RSUBMITFAIL
inline constexpr std::uint32_t throttled = 0x00000058;                // ESME_RTHROTTLED
inline constexpr std::uint32_t invalid_schedule = 0x00000061;         // ESME_RINVSCHED
inline constexpr std::uint32_t invalid_expiry = 0x00000062;           // ESME_RINVEXPIRY
inline constexpr std::uint32_t invalid_optional_length = 0x000000C2;  // ESME_RINVPARLEN
inline constexpr std::uint32_t missing_optional = 0x000000C3;         // ESME_RMISSINGOPTPARAM
inline constexpr std::uint32_t invalid_optional_value = 0x000000C4;   // ESME_RINVOPTPARAMVAL
inline constexpr std::uint32_t delivery_failure = 0x000000FE;         // ESME_RDELIVERYFAILURE
inline constexpr std::uint32_t unknown_error = 0x000000FF;            // ESME_RUNKNOWNERR
}  // namespace status

/// The ESME_R... name of a status, or "0x..." for others.
std::string status_name(std::uint32_t command_status);

/// Tags of the optional parameters Herald reads or writes (others pass through untouched).
namespace tag {
inline constexpr std::uint16_t dest_addr_subunit = 0x0005;
inline constexpr std::uint16_t receipted_message_id = 0x001E;
inline constexpr std::uint16_t user_message_reference = 0x0204;
inline constexpr std::uint16_t source_port = 0x020A;
inline constexpr std::uint16_t destination_port = 0x020B;
inline constexpr std::uint16_t sar_msg_ref_num = 0x020C;
inline constexpr std::uint16_t sar_total_segments = 0x020E;
inline constexpr std::uint16_t sar_segment_seqnum = 0x020F;
inline constexpr std::uint16_t sc_interface_version = 0x0210;
inline constexpr std::uint16_t network_error_code = 0x0423;
inline constexpr std::uint16_t message_payload = 0x0424;
inline constexpr std::uint16_t message_state = 0x0427;
}  // namespace tag

/// One optional parameter, kept as raw bytes so that unknown ones survive unchanged.
struct tlv {
    std::uint16_t tag = 0;
    std::string value;
    bool operator==(const tlv&) const = default;
};

/// The optional parameters of a PDU, in wire order, with typed access to the known ones.
struct tlv_list {
    std::vector<tlv> items;

    const tlv* find(std::uint16_t t) const noexcept;
    /// Replaces the value of `t`, or appends it.
    void set(std::uint16_t t, std::string value);
    void erase(std::uint16_t t);

    std::optional<std::uint8_t> u8(std::uint16_t t) const;
    std::optional<std::uint16_t> u16(std::uint16_t t) const;
    /// A C-Octet String value without its NUL.
    std::optional<std::string> cstring(std::uint16_t t) const;
    std::optional<std::string> octets(std::uint16_t t) const;
    void set_u8(std::uint16_t t, std::uint8_t v);
    void set_u16(std::uint16_t t, std::uint16_t v);
    void set_cstring(std::uint16_t t, std::string_view v);

    /// network_error_code: (type, error) where type 1 = ANSI-136, 2 = IS-95, 3 = GSM.
    struct network_error {
        std::uint8_t type;
        std::uint16_t code;
        bool operator==(const network_error&) const = default;
    };
    std::optional<network_error> network_error_code() const;
    void set_network_error_code(network_error e);

    bool operator==(const tlv_list&) const = default;
};

// ---- session management ----

/// bind_transmitter / bind_receiver / bind_transceiver (and outbind shares the credentials).
template <std::uint32_t Id>
struct basic_bind {
    static constexpr std::uint32_t command_id = Id;
    std::string system_id;    ///< max 15 characters
    std::string password;     ///< max 8 characters
    std::string system_type;  ///< max 12 characters
    std::uint8_t interface_version = 0x34;
    std::uint8_t addr_ton = 0;
    std::uint8_t addr_npi = 0;
    std::string address_range;  ///< max 40 characters
    bool operator==(const basic_bind&) const = default;
};

template <std::uint32_t Id>
struct basic_bind_resp {
    static constexpr std::uint32_t command_id = Id;
    std::string system_id;  ///< max 15 characters; may be absent on errors
    tlv_list tlvs;          ///< sc_interface_version
    bool operator==(const basic_bind_resp&) const = default;
};

using bind_receiver = basic_bind<0x00000001>;
using bind_transmitter = basic_bind<0x00000002>;
using bind_transceiver = basic_bind<0x00000009>;
using bind_receiver_resp = basic_bind_resp<0x80000001>;
using bind_transmitter_resp = basic_bind_resp<0x80000002>;
using bind_transceiver_resp = basic_bind_resp<0x80000009>;

struct outbind {
    static constexpr std::uint32_t command_id = 0x0000000B;
    std::string system_id;
    std::string password;
    bool operator==(const outbind&) const = default;
};

/// PDUs with no body.
template <std::uint32_t Id>
struct empty_pdu {
    static constexpr std::uint32_t command_id = Id;
    bool operator==(const empty_pdu&) const = default;
};
using unbind = empty_pdu<0x00000006>;
using unbind_resp = empty_pdu<0x80000006>;
using enquire_link = empty_pdu<0x00000015>;
using enquire_link_resp = empty_pdu<0x80000015>;
using generic_nack = empty_pdu<0x80000000>;

// ---- messages ----

/// submit_sm and deliver_sm share their layout.
template <std::uint32_t Id>
struct basic_sm {
    static constexpr std::uint32_t command_id = Id;
    std::string service_type;  ///< max 5
    std::uint8_t source_addr_ton = 0;
    std::uint8_t source_addr_npi = 0;
    std::string source_addr;  ///< max 20
    std::uint8_t dest_addr_ton = 0;
    std::uint8_t dest_addr_npi = 0;
    std::string destination_addr;  ///< max 20
    std::uint8_t esm_class = 0;
    std::uint8_t protocol_id = 0;
    std::uint8_t priority_flag = 0;
    std::string schedule_delivery_time;  ///< empty or 16 characters
    std::string validity_period;         ///< empty or 16 characters
    std::uint8_t registered_delivery = 0;
    std::uint8_t replace_if_present_flag = 0;
    std::uint8_t data_coding = 0;
    std::uint8_t sm_default_msg_id = 0;
    std::string short_message;  ///< 0..254 octets
    tlv_list tlvs;
    bool operator==(const basic_sm&) const = default;
};
using submit_sm = basic_sm<0x00000004>;
using deliver_sm = basic_sm<0x00000005>;

template <std::uint32_t Id>
struct basic_sm_resp {
    static constexpr std::uint32_t command_id = Id;
    std::string message_id;  ///< max 64; may be absent on errors
    bool operator==(const basic_sm_resp&) const = default;
};
using submit_sm_resp = basic_sm_resp<0x80000004>;
using deliver_sm_resp = basic_sm_resp<0x80000005>;

struct data_sm {
    static constexpr std::uint32_t command_id = 0x00000103;
    std::string service_type;
    std::uint8_t source_addr_ton = 0;
    std::uint8_t source_addr_npi = 0;
    std::string source_addr;  ///< max 64
    std::uint8_t dest_addr_ton = 0;
    std::uint8_t dest_addr_npi = 0;
    std::string destination_addr;  ///< max 64
    std::uint8_t esm_class = 0;
    std::uint8_t registered_delivery = 0;
    std::uint8_t data_coding = 0;
    tlv_list tlvs;
    bool operator==(const data_sm&) const = default;
};

struct data_sm_resp {
    static constexpr std::uint32_t command_id = 0x80000103;
    std::string message_id;
    tlv_list tlvs;
    bool operator==(const data_sm_resp&) const = default;
};

struct query_sm {
    static constexpr std::uint32_t command_id = 0x00000003;
    std::string message_id;
    std::uint8_t source_addr_ton = 0;
    std::uint8_t source_addr_npi = 0;
    std::string source_addr;
    bool operator==(const query_sm&) const = default;
};

struct query_sm_resp {
    static constexpr std::uint32_t command_id = 0x80000003;
    std::string message_id;
    std::string final_date;  ///< empty or 16 characters
    std::uint8_t message_state = 0;
    std::uint8_t error_code = 0;
    bool operator==(const query_sm_resp&) const = default;
};

/// Every PDU Herald understands.
using pdu =
    std::variant<bind_transmitter, bind_transmitter_resp, bind_receiver, bind_receiver_resp,
                 bind_transceiver, bind_transceiver_resp, outbind, unbind, unbind_resp,
                 generic_nack, submit_sm, submit_sm_resp, deliver_sm, deliver_sm_resp, data_sm,
                 data_sm_resp, query_sm, query_sm_resp, enquire_link, enquire_link_resp>;

/// A PDU with its header: what travels on the wire.
struct message {
    std::uint32_t command_status = status::ok;
    std::uint32_t sequence_number = 0;
    smpp::pdu body;
    bool operator==(const message&) const = default;
};

/// The command_id of a PDU.
std::uint32_t command_id_of(const pdu& p) noexcept;
/// "submit_sm", "bind_transceiver_resp", ... for logs; "0x..." for unknown ids.
std::string command_name(std::uint32_t command_id);
/// True for response PDUs (bit 31 of the command id).
inline constexpr bool is_response(std::uint32_t command_id) noexcept {
    return (command_id & 0x80000000u) != 0;
}

/// esm_class bits.
namespace esm {
inline constexpr std::uint8_t udhi = 0x40;          ///< short_message starts with a UDH
inline constexpr std::uint8_t receipt_mask = 0x3C;  ///< message type bits
inline constexpr std::uint8_t delivery_receipt = 0x04;
inline constexpr std::uint8_t intermediate_notification = 0x20;
}  // namespace esm

/// data_coding values Herald uses.
namespace coding {
inline constexpr std::uint8_t smsc_default = 0x00;  ///< GSM 03.38 unpacked, by convention
inline constexpr std::uint8_t ia5 = 0x01;
inline constexpr std::uint8_t latin1 = 0x03;
inline constexpr std::uint8_t binary = 0x04;
inline constexpr std::uint8_t ucs2 = 0x08;
}  // namespace coding

}  // namespace herald::smpp
