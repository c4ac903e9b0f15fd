#pragma once
/// Turning a text message into submit_sm PDUs, and inbound PDUs back into text.
///
/// The text core decides the alphabet: GSM-7 texts go out in the connector's default coding
/// (GSM-7 unpacked or Latin-1), anything else as UCS-2 big-endian. Long texts are split into
/// parts that never break an escape or surrogate pair, and joined on the handset by a UDH
/// (8-bit reference), by SAR optional parameters, or sent whole in message_payload.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smpp/pdu.hpp"

namespace herald::smpp {

enum class default_coding { gsm7, latin1 };
enum class long_method { udh, sar, payload };

std::optional<default_coding> parse_default_coding(std::string_view s) noexcept;
std::optional<long_method> parse_long_method(std::string_view s) noexcept;
std::string_view to_string(default_coding c) noexcept;
std::string_view to_string(long_method m) noexcept;

/// A message as Herald holds it.
struct outbound_sms {
    std::string source;       ///< sender id: alphanumeric, short code or E.164
    std::string destination;  ///< E.164, with or without '+'
    std::string text;         ///< UTF-8
    bool request_receipt = true;
    std::string validity_period;  ///< empty, or SMPP absolute/relative 16-character time
    std::optional<std::uint16_t> user_message_reference;
};

struct coding_policy {
    smpp::default_coding default_coding = smpp::default_coding::gsm7;
    smpp::long_method long_method = smpp::long_method::udh;
};

struct built_submits {
    std::vector<submit_sm> parts;  ///< one per segment (a single one for message_payload)
    std::uint8_t data_coding = 0;
    std::size_t segments = 1;  ///< billing segments (also for message_payload)
};

/// Builds the PDUs for a message. `reference` tags the parts of one long message; use a
/// different value for each long message on a connection. Fails (nullopt, `why` set) on
/// invalid UTF-8 or an unusable address.
std::optional<built_submits> build_submits(const outbound_sms& sms, const coding_policy& policy,
                                           std::uint16_t reference, std::string* why = nullptr);

/// TON/NPI and digits for an address: E.164 -> international/ISDN without '+', digits up
/// to 8 -> national short code, anything else -> alphanumeric.
struct address {
    std::uint8_t ton = 0, npi = 0;
    std::string value;
};
address make_address(std::string_view text);

/// A user data header's concatenation info, when present.
struct concat_info {
    std::uint16_t reference = 0;
    std::uint8_t total = 1, index = 1;
};

/// The text of an inbound deliver_sm or data_sm as UTF-8, decoding its data_coding. The UDH
/// (when esm_class says so) is stripped and its concatenation info returned. `smsc_default`
/// says how data_coding 0 is meant on this connector.
std::string decode_text(std::uint8_t data_coding, std::uint8_t esm_class, std::string_view payload,
                        default_coding smsc_default, std::optional<concat_info>* concat = nullptr);

}  // namespace herald::smpp
