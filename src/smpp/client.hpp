#pragma once
/// The ESME client: Herald's side of a carrier connection ("connector").
///
/// It holds `binds` sessions to one SMSC, reconnecting each with exponential backoff and
/// jitter, and feeds them from one bounded queue under a token-bucket rate limit. Messages
/// are split and encoded by outbound.hpp; throttling answers pause the bind and retry the
/// part. Receipts and inbound texts are handed to callbacks with an `ack` that answers the
/// deliver_sm, so the caller can answer only once it has stored them.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "smpp/outbound.hpp"
#include "smpp/receipt.hpp"
#include "smpp/session_fsm.hpp"

namespace herald::smpp {

class engine;

struct client_config {
    std::string name = "connector";  ///< for logs and metrics
    std::string host = "127.0.0.1";
    std::uint16_t port = 2775;
    std::string system_id, password, system_type;
    bind_mode mode = bind_mode::transceiver;
    int binds = 1;
    std::uint32_t window = 100;
    double tps = 0;  ///< messages (submit_sm PDUs) per second across all binds; 0 = unlimited
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds bind_timeout{10'000};
    std::chrono::milliseconds response_timeout{30'000};
    std::chrono::milliseconds enquire_link_interval{30'000};
    std::chrono::milliseconds reconnect_min{1'000};
    std::chrono::milliseconds reconnect_max{60'000};
    /// Pause of a bind after ESME_RTHROTTLED or ESME_RMSGQFUL before it retries.
    std::chrono::milliseconds throttle_backoff{1'000};
    int max_throttle_retries = 30;
    coding_policy coding;
    /// How this SMSC's receipts spell message ids.
    id_format receipt_ids = id_format::exact;
    /// Messages waiting for a bind; submit() blocks while it is full.
    std::size_t max_queue = 10'000;
    /// With no bind up for this long, the messages waiting fail as never sent, and so do new
    /// ones until a bind is up again: the caller can take them to another connector.
    std::chrono::milliseconds unbound_grace{2'000};
};

/// What became of a submitted message.
enum class submit_outcome {
    accepted,  ///< every part has an SMSC message id
    rejected,  ///< the SMSC refused it with a permanent error (see command_status)
    failed,    ///< transient: timeout, lost connection, throttled too long; safe to retry
    invalid,   ///< could not be built (bad UTF-8, bad address)
};

std::string_view to_string(submit_outcome o) noexcept;

struct submit_result {
    submit_outcome outcome = submit_outcome::failed;
    std::vector<std::string> message_ids;  ///< one per part the SMSC accepted
    /// message_ids as the connector's receipts name them (submit_id_key): how parts are
    /// stored, so that a receipt's delivery_report::id_key finds its part.
    std::vector<std::string> id_keys;
    std::uint32_t command_status = 0;  ///< the first error status, if any
    std::string error;
    /// failed: no part was ever written to the SMSC, so sending it elsewhere cannot
    /// duplicate it.
    bool unsent = false;
    std::size_t segments = 0;
    std::uint8_t data_coding = 0;
};

/// True for command statuses that mean "try again later" rather than "never".
bool is_transient_status(std::uint32_t command_status) noexcept;

using submit_callback = std::function<void(submit_result&&)>;
/// Answers the deliver_sm: true acknowledges it, false asks the SMSC to send it again later.
using ack_fn = std::function<void(bool accepted)>;

struct delivery_report {
    std::string connector;
    std::string id_key;  ///< normalised with the connector's id_format (see receipt.hpp)
    smpp::receipt receipt;
};

struct inbound_message {
    std::string connector;
    std::string from, to;  ///< as received ("+" added to international numbers)
    std::string text;      ///< UTF-8
    std::uint8_t data_coding = 0;
    std::optional<concat_info> concat;
};

struct client_handlers {
    std::function<void(delivery_report&&, ack_fn)> on_receipt;
    std::function<void(inbound_message&&, ack_fn)> on_inbound;
    /// A bind came up or went down: (binds bound now, why).
    std::function<void(int, const std::string&)> on_state;
};

struct client_stats {
    int binds_configured = 0;
    int binds_bound = 0;
    std::size_t queued = 0;
    std::size_t in_flight = 0;
    std::uint64_t submitted = 0;  ///< messages taken by submit()
    std::uint64_t accepted = 0, rejected = 0, failed = 0;
    std::uint64_t pdus_sent = 0;
    std::uint64_t throttled = 0;
    std::uint64_t receipts = 0, inbound = 0;
    std::uint64_t reconnects = 0;
    double tps_now = 0;  ///< submit_sm PDUs per second over the last second
    std::string last_error;
};

class client {
  public:
    client(engine& eng, client_config config, client_handlers handlers = {});
    /// Stops (see stop()).
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// Starts connecting and binding.
    void start();
    /// Unbinds every session (waiting up to `grace`) and fails what is still queued.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

    /// Queues a message; `done` runs once on an engine thread. Blocks while the queue is full,
    /// up to `wait`; returns false (and does not call `done`) if it stayed full or the client
    /// is stopped. Never call it with a wait from an engine thread.
    bool submit(outbound_sms sms, submit_callback done,
                std::chrono::milliseconds wait = std::chrono::hours(24));

    client_stats stats() const;
    const client_config& config() const noexcept;

  private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace herald::smpp
