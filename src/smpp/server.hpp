#pragma once
/// The SMSC side of SMPP: accepts TCP connections, checks bind credentials, and hands the
/// bound sessions and their requests to the application. The built-in simulator runs on it;
/// later, customers will bind to Herald through it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "smpp/session_fsm.hpp"

namespace herald::smpp {

class engine;

struct server_config {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;            ///< 0 picks a free port
    std::string system_id = "herald";  ///< ours, sent in bind responses
    std::uint32_t window = 256;
    std::chrono::milliseconds response_timeout{30'000};
    std::chrono::milliseconds enquire_link_interval{30'000};
    std::chrono::milliseconds bind_timeout{10'000};
    /// Decides a bind: status::ok to accept, or an error status such as
    /// status::invalid_password. Unset accepts every bind.
    std::function<std::uint32_t(const std::string& system_id, const std::string& password,
                                bind_mode)>
        authenticate;
};

/// One bound client. Its methods are thread-safe.
class server_session {
  public:
    virtual ~server_session() = default;
    virtual std::uint64_t id() const noexcept = 0;
    virtual std::string system_id() const = 0;
    virtual std::optional<bind_mode> mode() const = 0;
    virtual std::string remote() const = 0;
    /// True while bound and able to take requests.
    virtual bool bound() const noexcept = 0;
    /// Answers a request the application received.
    virtual void respond(std::uint32_t sequence, pdu body,
                         std::uint32_t command_status = status::ok) = 0;
    /// Sends a request (deliver_sm, ...); `done` gets the response, or nullopt and why when
    /// none will come. Requests wait for window room in order.
    virtual void send(pdu body,
                      std::function<void(std::optional<message>, const std::string&)> done) = 0;
    /// Requests waiting for window room.
    virtual std::size_t backlog() const = 0;
    /// Drops the TCP connection at once, without unbind (fault injection).
    virtual void drop() = 0;
    /// Unbinds cleanly.
    virtual void unbind() = 0;
};

using server_session_ptr = std::shared_ptr<server_session>;

struct server_handlers {
    std::function<void(const server_session_ptr&)> on_bound;
    /// submit_sm, data_sm, query_sm: answer each with respond().
    std::function<void(const server_session_ptr&, message&&)> on_request;
    std::function<void(const server_session_ptr&, const std::string& reason)> on_closed;
};

class server {
  public:
    server(engine& eng, server_config config, server_handlers handlers);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds the listening socket and starts accepting.
    result<void> start();
    std::uint16_t port() const noexcept;
    /// Stops accepting and closes every session (unbinding first, up to `grace`).
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(2));
    /// The sessions that are bound now.
    std::vector<server_session_ptr> sessions() const;

  private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace herald::smpp
