#pragma once
/// Drives a session_fsm over a TCP socket with Asio callbacks. Internal to smpp/.
///
/// All methods run on the connection's strand. Output is coalesced: whatever the state
/// machine produced while handling a batch of input goes out in one write.

#include <functional>
#include <memory>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "smpp/session_fsm.hpp"

namespace herald::smpp::detail {

using strand = boost::asio::strand<boost::asio::io_context::executor_type>;

class connection : public std::enable_shared_from_this<connection> {
  public:
    using event_handler = std::function<void(session_event&&)>;

    /// Runs on `executor`; the owner's state must live on the same strand.
    connection(strand executor, boost::asio::ip::tcp::socket socket, session_options options,
               event_handler on_event);

    /// Starts reading and the tick timer.
    void start();
    /// The state machine, for commands; call flush() afterwards (or use the helpers).
    session_fsm& fsm() noexcept { return fsm_; }
    /// Delivers pending events and writes pending output; call after commanding the fsm.
    void flush();
    /// Closes the socket now (after writing what is pending, if `graceful`).
    void close(bool graceful);
    const strand& executor() const noexcept { return strand_; }
    std::string remote() const;

  private:
    void read();
    void write();
    void arm_timer();
    void pump();

    strand strand_;
    boost::asio::ip::tcp::socket socket_;
    boost::asio::steady_timer timer_;
    session_fsm fsm_;
    event_handler on_event_;
    std::string writing_;
    bool write_in_progress_ = false;
    bool closing_ = false;
    bool socket_closed_ = false;
    bool pumping_ = false;
};

}  // namespace herald::smpp::detail
