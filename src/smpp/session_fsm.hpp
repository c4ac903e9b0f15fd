#pragma once
/// The SMPP session as a sans-I/O state machine.
///
/// The driver feeds it received bytes and the time; it answers with bytes to write and
/// events for the application. It owns binding, the window of outstanding requests (matched
/// by sequence number, each with a deadline), enquire_link in both directions, unbind, and
/// generic_nack for malformed PDUs. It never touches a socket or a clock, so tests script
/// it byte by byte.

#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <variant>

#include "smpp/codec.hpp"
#include "smpp/pdu.hpp"

namespace herald::smpp {

using steady_time = std::chrono::steady_clock::time_point;

enum class role { esme, smsc };
enum class bind_mode { transmitter, receiver, transceiver };
enum class session_state { open, binding, bound, unbinding, closed };

std::string_view to_string(bind_mode m) noexcept;
std::string_view to_string(session_state s) noexcept;

struct session_options {
    smpp::role role = role::esme;
    /// Most requests of ours awaiting a response at once.
    std::uint32_t window = 256;
    /// How long a request may wait for its response.
    std::chrono::milliseconds response_timeout{30'000};
    /// Send enquire_link after this much silence from the peer; zero disables it.
    std::chrono::milliseconds enquire_link_interval{30'000};
    /// ESME: how long a bind may take. SMSC: how long a new connection may stay unbound.
    std::chrono::milliseconds bind_timeout{10'000};
    codec_options codec;
};

/// Credentials and addressing for a bind.
struct bind_credentials {
    std::string system_id, password, system_type;
    std::uint8_t addr_ton = 0, addr_npi = 0;
    std::string address_range;
};

namespace event {
/// A request from the peer that the application must answer with respond() (or, for a bind
/// on the SMSC side, accept_bind()/reject_bind()).
struct request {
    message msg;
};
/// The response to one of our requests (a generic_nack counts).
struct response {
    std::uint64_t token;
    message msg;
};
/// One of our requests will never be answered.
struct failed {
    std::uint64_t token;
    std::uint32_t sequence;
    bool timed_out;  ///< true: deadline passed; false: the session closed first
    std::string reason;
};
/// The session is bound.
struct bound {
    bind_mode mode;
    std::string system_id;  ///< the peer's (ESME: SMSC's id; SMSC: the client's id)
};
struct bind_failed {
    std::uint32_t command_status;
    std::string reason;
};
/// A malformed PDU arrived; a generic_nack was sent (informational).
struct protocol_error {
    std::string what;
};
/// The session is over; the driver should close the connection after writing any output.
struct closed {
    std::string reason;
    bool clean;  ///< ended by unbind
};
}  // namespace event

using session_event = std::variant<event::request, event::response, event::failed, event::bound,
                                   event::bind_failed, event::protocol_error, event::closed>;

class session_fsm {
  public:
    session_fsm(session_options options, steady_time now);

    // ---- input ----
    /// Space for the driver to read into; call commit_read() with the count received.
    std::span<std::uint8_t> read_buffer(std::size_t at_least = 64 * 1024);
    void commit_read(std::size_t n, steady_time now);
    /// Copies and processes bytes (for tests and small inputs).
    void feed(std::span<const std::uint8_t> bytes, steady_time now);
    void feed(std::string_view bytes, steady_time now);
    /// Expires deadlines and sends enquire_link when the link is idle.
    void tick(steady_time now);
    /// The connection is gone: every outstanding request fails.
    void transport_closed(std::string reason);

    // ---- commands ----
    /// ESME: starts a bind.
    void bind(bind_mode mode, const bind_credentials& credentials, steady_time now);
    /// SMSC: answers a bind request event.
    void accept_bind(const message& request, std::string own_system_id);
    void reject_bind(const message& request, std::uint32_t command_status);
    /// True when bound and the window has room.
    bool can_send() const noexcept;
    /// Sends a request; its outcome arrives as a response or failed event carrying `token`.
    /// Precondition: can_send(). Returns the sequence number used.
    std::uint32_t send(pdu body, std::uint64_t token, steady_time now);
    /// Answers a peer request.
    void respond(std::uint32_t sequence, pdu body, std::uint32_t command_status = status::ok);
    /// Starts a clean unbind; the session closes when the peer answers or the deadline passes.
    void unbind(steady_time now);

    // ---- output ----
    bool has_output() const noexcept { return !out_.empty(); }
    /// Bytes to write, in order; the buffer is handed over.
    std::string take_output();
    std::optional<session_event> next_event();
    bool has_events() const noexcept { return !events_.empty(); }
    /// The earliest time tick() has work to do.
    steady_time next_deadline() const noexcept;

    session_state state() const noexcept { return state_; }
    std::size_t in_flight() const noexcept { return user_in_flight_; }
    std::optional<bind_mode> mode() const noexcept { return mode_; }
    const session_options& options() const noexcept { return options_; }

  private:
    enum class kind : std::uint8_t { user, bind_request, enquire, unbind_request };
    using deadline_list = std::list<std::pair<steady_time, std::uint32_t>>;
    struct pending {
        std::uint64_t token;
        kind k;
        deadline_list::iterator due;  ///< its entry in deadlines_, erased with it
    };

    void process(steady_time now);
    void handle(message&& m, steady_time now);
    void handle_request(message&& m);
    void handle_response(message&& m);
    void nack(std::uint32_t sequence, std::uint32_t command_status);
    bool write(const message& m);
    void forget(std::unordered_map<std::uint32_t, pending>::iterator it);
    std::uint32_t next_sequence() noexcept;
    std::uint32_t send_internal(pdu body, kind k, steady_time now,
                                std::chrono::milliseconds timeout);
    void close(std::string reason, bool clean);
    bool peer_may_submit() const noexcept;
    bool peer_may_deliver() const noexcept;

    session_options options_;
    session_state state_ = session_state::open;
    std::optional<bind_mode> mode_;
    std::string in_;
    std::size_t in_used_ = 0;
    std::string out_;
    std::deque<session_event> events_;
    std::unordered_map<std::uint32_t, pending> pending_;
    deadline_list deadlines_;  ///< outstanding requests ordered by deadline
    std::size_t user_in_flight_ = 0;
    std::uint32_t sequence_ = 0;
    steady_time opened_at_;
    steady_time last_received_;
    bool enquire_pending_ = false;
};

}  // namespace herald::smpp
