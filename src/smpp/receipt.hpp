#pragma once
/// Delivery receipts: parsed from the optional parameters (receipted_message_id,
/// message_state, network_error_code) and from the classic text form
///   id:IIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E
///   text:...
/// and matched to submits by a message id normalised per connector.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "smpp/pdu.hpp"

namespace herald::smpp {

/// Where a receipt leaves a message, in Herald's terms.
enum class receipt_outcome {
    delivered,    ///< DELIVRD
    undelivered,  ///< UNDELIV, DELETED, UNKNOWN
    expired,      ///< EXPIRED
    rejected,     ///< REJECTD
    in_progress,  ///< ENROUTE, ACCEPTD: not final
};

std::string_view to_string(receipt_outcome o) noexcept;

struct receipt {
    std::string message_id;  ///< as the SMSC wrote it
    /// message_id came from receipted_message_id, which SMPP 3.4 defines as the id the
    /// submit_sm_resp gave (so it is spelled that way), not from the text's "id:".
    bool id_from_tlv = false;
    std::string stat;  ///< DELIVRD, UNDELIV, ... (upper case)
    receipt_outcome outcome = receipt_outcome::in_progress;
    std::optional<std::string> error;  ///< "err:" field, or network_error_code as "type:code"
    std::optional<int> submitted, delivered;  ///< sub: and dlvrd:
    std::optional<std::chrono::system_clock::time_point> submit_date, done_date;  ///< as UTC
    std::string text;  ///< "text:" (first characters of the message)
    bool final() const noexcept { return outcome != receipt_outcome::in_progress; }
};

/// True when esm_class marks a deliver_sm as a receipt (or intermediate notification).
bool is_receipt(const deliver_sm& d) noexcept;

/// Parses a receipt from a deliver_sm (or data_sm body fields). The TLVs win over the text
/// where both are present. nullopt when it is not a receipt or carries no message id.
std::optional<receipt> parse_receipt(const deliver_sm& d);

/// Parses only the text form; exposed for tests and tolerant of field order and case.
std::optional<receipt> parse_receipt_text(std::string_view text);

/// Maps stat words and message_state values to outcomes.
receipt_outcome outcome_of_stat(std::string_view stat) noexcept;
std::optional<receipt_outcome> outcome_of_state(std::uint8_t message_state) noexcept;
std::string_view stat_of_state(std::uint8_t message_state) noexcept;

/// How a connector's receipts spell the ids its submit_sm_resp gave.
enum class id_format {
    exact,               ///< byte for byte
    case_insensitive,    ///< hex ids whose case differs
    hex_in_receipt,      ///< submit_sm_resp gives decimal, receipts give the same number in hex
    decimal_in_receipt,  ///< submit_sm_resp gives hex, receipts give the same number in decimal
};

std::optional<id_format> parse_id_format(std::string_view s) noexcept;
std::string_view to_string(id_format f) noexcept;

/// The key under which a submit_sm_resp id is stored, and the key a receipt's id is looked up
/// by. For one connector, both give the same key for the same message.
std::string submit_id_key(std::string_view id, id_format f);
std::string receipt_id_key(std::string_view id, id_format f);
/// The key of a parsed receipt: its receipted_message_id is spelled as the submit_sm_resp
/// spelled it, its text's "id:" as the connector's format says.
std::string receipt_key(const receipt& r, id_format f);

}  // namespace herald::smpp
