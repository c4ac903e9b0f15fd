#include "smpp/detail/connection.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

namespace herald::smpp::detail {
namespace net = boost::asio;

namespace {
constexpr auto tick_interval = std::chrono::milliseconds(100);
}

connection::connection(strand executor, net::ip::tcp::socket socket, session_options options,
                       event_handler on_event)
    : strand_(std::move(executor)),
      socket_(std::move(socket)),
      timer_(strand_),
      fsm_(std::move(options), std::chrono::steady_clock::now()),
      on_event_(std::move(on_event)) {
    net::ip::tcp::no_delay nd(true);
    boost::system::error_code ec;
    socket_.set_option(nd, ec);
}

std::string connection::remote() const {
    boost::system::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    return ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
}

void connection::start() {
    net::dispatch(strand_, [self = shared_from_this()] {
        self->read();
        self->arm_timer();
        self->flush();
    });
}

void connection::read() {
    auto buf = fsm_.read_buffer(64 * 1024);
    socket_.async_read_some(
        net::buffer(buf.data(), buf.size()),
        net::bind_executor(
            strand_, [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                if (ec) {
                    if (!self->socket_closed_)
                        self->fsm_.transport_closed(ec == net::error::eof
                                                        ? "the peer closed the connection"
                                                        : "connection error: " + ec.message());
                    self->flush();
                    return;
                }
                self->fsm_.commit_read(n, std::chrono::steady_clock::now());
                self->flush();
                if (self->fsm_.state() != session_state::closed) self->read();
            }));
}

void connection::arm_timer() {
    timer_.expires_after(tick_interval);
    timer_.async_wait(
        net::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code ec) {
            if (ec || self->socket_closed_) return;
            self->fsm_.tick(std::chrono::steady_clock::now());
            self->flush();
            if (self->fsm_.state() != session_state::closed) self->arm_timer();
        }));
}

void connection::pump() {
    // Handlers may command the fsm, which may raise more events; drain until quiet.
    if (pumping_) return;
    pumping_ = true;
    while (auto e = fsm_.next_event()) on_event_(std::move(*e));
    pumping_ = false;
}

void connection::flush() {
    pump();
    write();
    if (fsm_.state() == session_state::closed && !write_in_progress_ && !fsm_.has_output())
        close(false);
}

void connection::write() {
    if (write_in_progress_ || socket_closed_ || !fsm_.has_output()) return;
    writing_ = fsm_.take_output();
    write_in_progress_ = true;
    net::async_write(socket_, net::buffer(writing_),
                     net::bind_executor(strand_, [self = shared_from_this()](
                                                     boost::system::error_code ec, std::size_t) {
                         self->write_in_progress_ = false;
                         self->writing_.clear();
                         if (ec) {
                             self->fsm_.transport_closed("write failed: " + ec.message());
                             self->pump();
                             self->close(false);
                             return;
                         }
                         if (self->closing_ && !self->fsm_.has_output()) return self->close(false);
                         self->flush();
                     }));
}

void connection::close(bool graceful) {
    if (graceful && (write_in_progress_ || fsm_.has_output())) {
        closing_ = true;
        return;
    }
    if (socket_closed_) return;
    socket_closed_ = true;
    boost::system::error_code ec;
    timer_.cancel();
    socket_.shutdown(net::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    if (fsm_.state() != session_state::closed) {
        fsm_.transport_closed("connection closed locally");
        pump();
    }
}

}  // namespace herald::smpp::detail
