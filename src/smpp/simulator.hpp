#pragma once
/// The built-in SMSC simulator: accepts binds, answers every submit_sm at once with a unique
/// id, and after a configurable latency sends a delivery receipt whose outcome follows a
/// configured mix or a rule keyed on the number. It can throttle, stall, drop connections
/// and send inbound (MO) messages on request, and counts what it receives.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace herald::smpp {

class engine;

enum class sim_outcome {
    delivered,      ///< receipt DELIVRD
    undeliverable,  ///< receipt UNDELIV
    expired,        ///< receipt EXPIRED
    rejected,       ///< receipt REJECTD
    refuse,         ///< submit_sm_resp ESME_RINVDSTADR, no receipt
    no_receipt,     ///< accepted, but no receipt ever comes
};

std::optional<sim_outcome> parse_sim_outcome(std::string_view s) noexcept;
std::string_view to_string(sim_outcome o) noexcept;

struct simulator_config {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;
    /// When set, binds must use these credentials.
    std::string system_id, password;
    std::uint32_t window = 512;
    /// Delay between the submit_sm_resp and the receipt.
    std::chrono::milliseconds receipt_latency{200};
    /// Delay before each submit_sm_resp (a slow SMSC).
    std::chrono::milliseconds response_delay{0};
    /// Outcome weights when no rule matches (they need not sum to 1).
    double delivered = 1.0, undeliverable = 0.0, expired = 0.0, rejected = 0.0;
    /// Number prefixes (E.164 digits, '+' optional) that force an outcome; longest wins.
    std::vector<std::pair<std::string, sim_outcome>> rules;
    /// Message ids: hexadecimal (lower case) or decimal.
    bool hex_ids = true;
    /// How receipts write the id in their text: "same", "upper", "decimal" or "hex".
    std::string receipt_id_style = "same";
    /// Receipt forms to include: the text body and/or the TLVs.
    bool receipt_text = true, receipt_tlvs = true;
    /// Keep a count per destination number (for duplicate checks; costs memory).
    bool record_numbers = false;
    /// Share of submits answered with ESME_RTHROTTLED at random (0..1).
    double throttle_ratio = 0;
};

struct simulator_stats {
    std::size_t binds = 0;  ///< bound sessions now
    std::uint64_t binds_total = 0;
    std::uint64_t submits = 0;    ///< submit_sm received
    std::uint64_t accepted = 0;   ///< answered with a message id
    std::uint64_t throttled = 0;  ///< answered ESME_RTHROTTLED
    std::uint64_t refused = 0;
    std::uint64_t receipts_sent = 0;  ///< acknowledged by the client
    std::uint64_t receipts_pending = 0;
    std::uint64_t mo_sent = 0;
    std::uint64_t disconnects = 0;  ///< connections dropped on purpose
    std::map<std::string, std::uint64_t> outcomes;
};

/// Sets the outcome weights from "delivered=90,undeliverable=5,expired=3,rejected=2".
result<void> parse_outcome_weights(std::string_view text, simulator_config& c);
/// Adds prefix rules from "PREFIX=OUTCOME[,PREFIX=OUTCOME...]" (see parse_sim_outcome).
result<void> parse_outcome_rules(std::string_view text, simulator_config& c);

class simulator {
  public:
    simulator(engine& eng, simulator_config config);
    ~simulator();
    simulator(const simulator&) = delete;
    simulator& operator=(const simulator&) = delete;

    result<void> start();
    std::uint16_t port() const noexcept;
    void stop();

    /// Answers the next `n` submits with ESME_RTHROTTLED.
    void throttle_next(std::uint64_t n);
    /// Drops every connection once `n` more submits have arrived (0 drops them now).
    void drop_after(std::uint64_t n);
    void set_response_delay(std::chrono::milliseconds d);
    void set_receipt_latency(std::chrono::milliseconds d);
    void set_rules(std::vector<std::pair<std::string, sim_outcome>> rules);

    /// Sends an inbound message from a handset to a bound receiver/transceiver. Fails when
    /// none is bound.
    result<void> send_mo(const std::string& from, const std::string& to, const std::string& text);

    simulator_stats stats() const;
    /// Destination numbers seen more than once, with counts (record_numbers must be on).
    std::map<std::string, std::uint64_t> duplicates() const;
    /// How many times each number was submitted to (record_numbers must be on).
    std::uint64_t count_for(const std::string& number) const;
    /// When the last submit to `number` arrived (record_numbers must be on).
    std::optional<std::chrono::system_clock::time_point> last_seen(const std::string& number) const;
    std::size_t distinct_numbers() const;
    /// Every number submitted to, without '+' (record_numbers must be on).
    std::vector<std::string> numbers() const;
    void reset_counters();

  private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace herald::smpp
