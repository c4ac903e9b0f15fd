#include "smpp/server.hpp"

#include <deque>
#include <future>
#include <mutex>
#include <unordered_map>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "smpp/detail/connection.hpp"
#include "smpp/engine.hpp"

namespace herald::smpp {
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

template <class... Fs>
struct overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
overloaded(Fs...) -> overloaded<Fs...>;

const std::string& bind_system_id(const pdu& p) {
    static const std::string none;
    if (auto* b = std::get_if<bind_transmitter>(&p)) return b->system_id;
    if (auto* b = std::get_if<bind_receiver>(&p)) return b->system_id;
    if (auto* b = std::get_if<bind_transceiver>(&p)) return b->system_id;
    return none;
}

const std::string& bind_password(const pdu& p) {
    static const std::string none;
    if (auto* b = std::get_if<bind_transmitter>(&p)) return b->password;
    if (auto* b = std::get_if<bind_receiver>(&p)) return b->password;
    if (auto* b = std::get_if<bind_transceiver>(&p)) return b->password;
    return none;
}

bind_mode requested_mode(const pdu& p) {
    if (std::holds_alternative<bind_transmitter>(p)) return bind_mode::transmitter;
    if (std::holds_alternative<bind_receiver>(p)) return bind_mode::receiver;
    return bind_mode::transceiver;
}

using send_done = std::function<void(std::optional<message>, const std::string&)>;

}  // namespace

/// A session's state; every member is touched only on its strand except the atomics.
class session_impl final : public server_session,
                           public std::enable_shared_from_this<session_impl> {
  public:
    session_impl(std::uint64_t id, detail::strand s, const server_config& cfg,
                 server_handlers& handlers, std::function<void(std::uint64_t)> forget)
        : id_(id),
          strand_(std::move(s)),
          cfg_(cfg),
          handlers_(handlers),
          forget_(std::move(forget)) {}

    void attach(tcp::socket socket) {
        session_options opts;
        opts.role = role::smsc;
        opts.window = cfg_.window;
        opts.response_timeout = cfg_.response_timeout;
        opts.enquire_link_interval = cfg_.enquire_link_interval;
        opts.bind_timeout = cfg_.bind_timeout;
        conn_ = std::make_shared<detail::connection>(strand_, std::move(socket), opts,
                                                     [w = weak_from_this()](session_event&& e) {
                                                         if (auto self = w.lock())
                                                             self->on_event(std::move(e));
                                                     });
        remote_ = conn_->remote();
        conn_->start();
    }

    std::uint64_t id() const noexcept override { return id_; }
    std::string system_id() const override {
        std::lock_guard lock(mutex_);
        return system_id_;
    }
    std::optional<bind_mode> mode() const override {
        std::lock_guard lock(mutex_);
        return mode_;
    }
    std::string remote() const override { return remote_; }
    bool bound() const noexcept override { return bound_.load(); }
    std::size_t backlog() const override { return backlog_.load(); }

    void respond(std::uint32_t sequence, pdu body, std::uint32_t command_status) override {
        net::dispatch(strand_, [self = shared_from_this(), sequence, body = std::move(body),
                                command_status]() mutable {
            if (!self->conn_) return;
            self->conn_->fsm().respond(sequence, std::move(body), command_status);
            self->conn_->flush();
        });
    }

    void send(pdu body, send_done done) override {
        ++backlog_;
        net::dispatch(strand_, [self = shared_from_this(), body = std::move(body),
                                done = std::move(done)]() mutable {
            self->outbox_.push_back({std::move(body), std::move(done)});
            self->pump();
        });
    }

    void drop() override {
        net::dispatch(strand_, [self = shared_from_this()] {
            if (self->conn_) self->conn_->close(false);
        });
    }

    void unbind() override {
        net::dispatch(strand_, [self = shared_from_this()] {
            if (!self->conn_) return;
            self->conn_->fsm().unbind(std::chrono::steady_clock::now());
            self->conn_->flush();
        });
    }

  private:
    struct outgoing {
        pdu body;
        send_done done;
    };

    void pump() {
        if (!conn_) {
            fail_outbox("session closed");
            return;
        }
        auto& fsm = conn_->fsm();
        auto now = std::chrono::steady_clock::now();
        while (!outbox_.empty() && fsm.can_send()) {
            auto o = std::move(outbox_.front());
            outbox_.pop_front();
            --backlog_;
            std::uint64_t token = next_token_++;
            waiting_.emplace(token, std::move(o.done));
            fsm.send(std::move(o.body), token, now);
        }
        conn_->flush();
    }

    void fail_outbox(const std::string& why) {
        while (!outbox_.empty()) {
            auto o = std::move(outbox_.front());
            outbox_.pop_front();
            --backlog_;
            if (o.done) o.done(std::nullopt, why);
        }
    }

    void on_event(session_event&& e) {
        auto self = shared_from_this();
        std::visit(overloaded{
                       [&](event::request& r) {
                           if (std::holds_alternative<bind_transmitter>(r.msg.body)
                               || std::holds_alternative<bind_receiver>(r.msg.body)
                               || std::holds_alternative<bind_transceiver>(r.msg.body)) {
                               std::uint32_t verdict =
                                   cfg_.authenticate ? cfg_.authenticate(bind_system_id(r.msg.body),
                                                                         bind_password(r.msg.body),
                                                                         requested_mode(r.msg.body))
                                                     : status::ok;
                               if (verdict == status::ok) {
                                   conn_->fsm().accept_bind(r.msg, cfg_.system_id);
                               } else {
                                   spdlog::info("smpp server: refused bind of \"{}\" from {}: {}",
                                                bind_system_id(r.msg.body), remote_,
                                                status_name(verdict));
                                   conn_->fsm().reject_bind(r.msg, verdict);
                               }
                               return;
                           }
                           if (handlers_.on_request)
                               handlers_.on_request(self, std::move(r.msg));
                           else
                               conn_->fsm().respond(r.msg.sequence_number, generic_nack{},
                                                    status::invalid_cmd_id);
                       },
                       [&](event::bound& b) {
                           {
                               std::lock_guard lock(mutex_);
                               system_id_ = b.system_id;
                               mode_ = b.mode;
                           }
                           bound_ = true;
                           if (handlers_.on_bound) handlers_.on_bound(self);
                       },
                       [&](event::response& r) {
                           auto it = waiting_.find(r.token);
                           if (it == waiting_.end()) return;
                           auto done = std::move(it->second);
                           waiting_.erase(it);
                           if (done) done(std::move(r.msg), {});
                           pump();
                       },
                       [&](event::failed& f) {
                           auto it = waiting_.find(f.token);
                           if (it == waiting_.end()) return;
                           auto done = std::move(it->second);
                           waiting_.erase(it);
                           if (done) done(std::nullopt, f.reason);
                       },
                       [&](event::bind_failed&) {},
                       [&](event::protocol_error& p) {
                           spdlog::debug("smpp server: {}: {}", remote_, p.what);
                       },
                       [&](event::closed& c) {
                           bound_ = false;
                           conn_.reset();
                           fail_outbox("session closed: " + c.reason);
                           if (handlers_.on_closed) handlers_.on_closed(self, c.reason);
                           forget_(id_);
                       },
                   },
                   e);
    }

    std::uint64_t id_;
    detail::strand strand_;
    const server_config& cfg_;
    server_handlers& handlers_;
    std::function<void(std::uint64_t)> forget_;
    std::shared_ptr<detail::connection> conn_;
    std::string remote_;
    mutable std::mutex mutex_;
    std::string system_id_;
    std::optional<bind_mode> mode_;
    std::atomic<bool> bound_{false};
    std::atomic<std::size_t> backlog_{0};
    std::deque<outgoing> outbox_;
    std::unordered_map<std::uint64_t, send_done> waiting_;
    std::uint64_t next_token_ = 1;
};

struct server::impl : std::enable_shared_from_this<impl> {
    impl(engine& e, server_config c, server_handlers h)
        : eng(e), cfg(std::move(c)), handlers(std::move(h)), acceptor(e.context()) {}

    engine& eng;
    server_config cfg;
    server_handlers handlers;
    tcp::acceptor acceptor;
    std::uint16_t bound_port = 0;
    mutable std::mutex mutex;
    std::unordered_map<std::uint64_t, std::shared_ptr<session_impl>> live;
    std::uint64_t next_id = 1;
    bool stopped = false;

    void accept() {
        acceptor.async_accept(eng.context(), [w = weak_from_this()](boost::system::error_code ec,
                                                                    tcp::socket socket) {
            auto self = w.lock();
            if (!self) return;
            if (ec) {
                if (ec != net::error::operation_aborted && self->acceptor.is_open()) self->accept();
                return;
            }
            std::shared_ptr<session_impl> s;
            {
                std::lock_guard lock(self->mutex);
                if (self->stopped) return;
                std::uint64_t id = self->next_id++;
                s = std::make_shared<session_impl>(id, net::make_strand(self->eng.context()),
                                                   self->cfg, self->handlers,
                                                   [w](std::uint64_t gone) {
                                                       if (auto me = w.lock()) {
                                                           std::lock_guard l(me->mutex);
                                                           me->live.erase(gone);
                                                       }
                                                   });
                self->live.emplace(id, s);
            }
            s->attach(std::move(socket));
            self->accept();
        });
    }
};

server::server(engine& eng, server_config config, server_handlers handlers)
    : impl_(std::make_shared<impl>(eng, std::move(config), std::move(handlers))) {}

server::~server() {
    stop(std::chrono::milliseconds(500));
}

result<void> server::start() {
    auto& i = *impl_;
    boost::system::error_code ec;
    auto address = net::ip::make_address(i.cfg.address, ec);
    if (ec) return fail(ec, "smpp listen address \"" + i.cfg.address + "\" is not an IP address");
    tcp::endpoint ep(address, i.cfg.port);
    i.acceptor.open(ep.protocol(), ec);
    if (!ec) i.acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) i.acceptor.bind(ep, ec);
    if (!ec) i.acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
        return fail(ec, "cannot listen for SMPP on " + i.cfg.address + ":"
                            + std::to_string(i.cfg.port) + ": " + ec.message());
    i.bound_port = i.acceptor.local_endpoint().port();
    net::post(i.acceptor.get_executor(), [self = impl_] { self->accept(); });
    return {};
}

std::uint16_t server::port() const noexcept {
    return impl_->bound_port;
}

void server::stop(std::chrono::milliseconds grace) {
    auto& i = *impl_;
    {
        std::lock_guard lock(i.mutex);
        if (i.stopped) return;
        i.stopped = true;
    }
    std::promise<void> closed;
    net::post(i.acceptor.get_executor(), [&i, &closed] {
        boost::system::error_code ec;
        i.acceptor.close(ec);
        closed.set_value();
    });
    closed.get_future().wait_for(std::chrono::seconds(2));
    for (auto& s : sessions()) s->unbind();
    auto until = std::chrono::steady_clock::now() + grace;
    while (std::chrono::steady_clock::now() < until) {
        {
            std::lock_guard lock(i.mutex);
            if (i.live.empty()) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::vector<std::shared_ptr<session_impl>> rest;
    {
        std::lock_guard lock(i.mutex);
        for (auto& [id, s] : i.live) rest.push_back(s);
    }
    for (auto& s : rest) s->drop();
}

std::vector<server_session_ptr> server::sessions() const {
    std::lock_guard lock(impl_->mutex);
    std::vector<server_session_ptr> out;
    for (auto& [id, s] : impl_->live)
        if (s->bound()) out.push_back(s);
    return out;
}

}  // namespace herald::smpp
