#include "smpp/client.hpp"

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <unordered_map>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "smpp/detail/connection.hpp"
#include "smpp/engine.hpp"
#include "smpp/rate_limiter.hpp"

namespace herald::smpp {
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::uint32_t temporary_app_error = 0x00000064;  // ESME_RX_T_APPN: "try again later"

template <class... Fs>
struct overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
overloaded(Fs...) -> overloaded<Fs...>;

std::string with_plus(const std::string& addr, std::uint8_t ton) {
    return ton == 1 && !addr.empty() && addr.front() != '+' ? "+" + addr : addr;
}

}  // namespace

std::string_view to_string(submit_outcome o) noexcept {
    switch (o) {
        case submit_outcome::accepted:
            return "accepted";
        case submit_outcome::rejected:
            return "rejected";
        case submit_outcome::failed:
            return "failed";
        case submit_outcome::invalid:
            return "invalid";
    }
    return "?";
}

bool is_transient_status(std::uint32_t s) noexcept {
    return s == status::throttled || s == status::message_queue_full || s == status::system_error
           || s == status::submit_failed || s == status::unknown_error || s == temporary_app_error;
}

struct client::impl : std::enable_shared_from_this<impl> {
    struct job {
        std::uint64_t id;
        outbound_sms sms;
        submit_callback done;
        built_submits built;
        std::vector<std::optional<std::string>> ids;  ///< per part, when accepted
        std::size_t next = 0;                         ///< next part to send
        std::size_t answered = 0;
        bool permanent_error = false;
        submit_result result;
    };
    struct part_ref {
        std::uint64_t job_id;
        std::size_t index;
        int retries = 0;
    };
    struct slot {
        explicit slot(int i, detail::strand& s) : index(i), timer(s), pause(s) {}
        int index;
        std::shared_ptr<detail::connection> conn;
        bool bound = false;
        bool connecting = false;
        int failures = 0;
        std::deque<part_ref> retry;
        std::optional<std::uint64_t> current;  ///< job whose parts this bind is sending
        std::chrono::steady_clock::time_point paused_until{};
        std::unordered_map<std::uint64_t, part_ref> in_flight;
        net::steady_timer timer;  ///< reconnect
        net::steady_timer pause;  ///< throttle pause and rate-limit waits
        bool pause_armed = false;
    };

    impl(engine& e, client_config c, client_handlers h)
        : eng(e),
          cfg(std::move(c)),
          handlers(std::move(h)),
          strand(net::make_strand(e.context())),
          limiter(cfg.tps, std::max(1.0, cfg.tps / 20), std::chrono::steady_clock::now()),
          rng(std::random_device{}()),
          down_timer(strand) {
        for (int i = 0; i < std::max(1, cfg.binds); ++i)
            slots.push_back(std::make_unique<slot>(i, strand));
        next_ref = std::uint16_t(rng());
    }

    engine& eng;
    client_config cfg;
    client_handlers handlers;
    detail::strand strand;
    std::vector<std::unique_ptr<slot>> slots;
    std::deque<std::uint64_t> queue;  // strand only
    std::unordered_map<std::uint64_t, std::unique_ptr<job>> jobs;
    rate_limiter limiter;
    std::mt19937_64 rng;
    std::uint64_t next_token = 1;
    std::uint16_t next_ref = 0;
    bool stopping = false;
    /// No bind has been up for unbound_grace: what waits for one fails instead.
    bool down = false;
    bool down_armed = false;
    net::steady_timer down_timer;

    // Cross-thread hand-off.
    std::mutex mutex;
    std::condition_variable space;
    std::deque<std::unique_ptr<job>> inbox;
    std::size_t waiting = 0;  // inbox + queue; guarded by mutex
    bool closed_for_submit = false;
    std::uint64_t next_job = 1;
    bool drain_posted = false;

    // Statistics (read from any thread).
    mutable std::mutex stats_mutex;
    client_stats counters;
    std::int64_t tps_second = 0;
    std::uint64_t tps_count = 0;

    // ---------------------------------------------------------------------------------

    void start() {
        net::dispatch(strand, [self = shared_from_this()] {
            for (auto& s : self->slots) self->connect(*s);
        });
    }

    void note_error(const std::string& e) {
        std::lock_guard lock(stats_mutex);
        counters.last_error = e;
    }

    void report_state(const std::string& why) {
        int bound = 0;
        for (auto& s : slots) bound += s->bound ? 1 : 0;
        {
            std::lock_guard lock(stats_mutex);
            counters.binds_bound = bound;
        }
        if (handlers.on_state) handlers.on_state(bound, why);
    }

    std::chrono::milliseconds backoff(int failures) {
        auto base = cfg.reconnect_min.count() << std::min(failures > 0 ? failures - 1 : 0, 16);
        base = std::min<long long>(base, cfg.reconnect_max.count());
        std::uniform_int_distribution<long long> jitter(base / 2,
                                                        std::max<long long>(base / 2, base));
        return std::chrono::milliseconds(jitter(rng));
    }

    void schedule_reconnect(slot& s) {
        if (stopping) return;
        auto delay = backoff(++s.failures);
        spdlog::debug("smpp {}: bind {} reconnects in {} ms", cfg.name, s.index, delay.count());
        s.timer.expires_after(delay);
        s.timer.async_wait(
            net::bind_executor(strand, [w = weak_from_this(), &s](boost::system::error_code ec) {
                auto self = w.lock();
                if (!self || ec || self->stopping) return;
                {
                    std::lock_guard lock(self->stats_mutex);
                    ++self->counters.reconnects;
                }
                self->connect(s);
            }));
    }

    void connect(slot& s) {
        if (stopping || s.connecting || s.conn) return;
        s.connecting = true;
        auto resolver = std::make_shared<tcp::resolver>(strand);
        auto socket = std::make_shared<tcp::socket>(eng.context());
        auto deadline = std::make_shared<net::steady_timer>(strand);
        deadline->expires_after(cfg.connect_timeout);
        deadline->async_wait(net::bind_executor(strand, [socket](boost::system::error_code ec) {
            if (!ec) socket->close(ec);  // connect took too long
        }));
        resolver->async_resolve(
            cfg.host, std::to_string(cfg.port),
            net::bind_executor(
                strand, [w = weak_from_this(), &s, resolver, socket, deadline](
                            boost::system::error_code ec, tcp::resolver::results_type results) {
                    auto self = w.lock();
                    if (!self) return;
                    if (ec) {
                        deadline->cancel();
                        return self->connect_failed(
                            s, "cannot resolve " + self->cfg.host + ": " + ec.message());
                    }
                    net::async_connect(
                        *socket, results,
                        net::bind_executor(self->strand, [w, &s, socket, deadline](
                                                             boost::system::error_code ec2,
                                                             const tcp::endpoint&) {
                            deadline->cancel();
                            auto me = w.lock();
                            if (!me) return;
                            if (ec2)
                                return me->connect_failed(
                                    s, "cannot connect to " + me->cfg.host + ":"
                                           + std::to_string(me->cfg.port) + ": " + ec2.message());
                            me->connected(s, std::move(*socket));
                        }));
                }));
    }

    void connect_failed(slot& s, const std::string& why) {
        s.connecting = false;
        note_error(why);
        spdlog::warn("smpp {}: {}", cfg.name, why);
        schedule_reconnect(s);
        watch_unbound(why);
    }

    bool any_bound() const {
        for (const auto& s : slots)
            if (s->bound) return true;
        return false;
    }

    /// Starts the grace period after which, with still no bind up, waiting messages fail.
    void watch_unbound(const std::string& why) {
        if (down || down_armed || stopping || any_bound()) return;
        down_armed = true;
        down_timer.expires_after(cfg.unbound_grace);
        down_timer.async_wait(
            net::bind_executor(strand, [w = weak_from_this(), why](boost::system::error_code) {
                auto self = w.lock();
                if (!self) return;
                self->down_armed = false;
                if (self->stopping || self->any_bound()) return;
                self->down = true;
                spdlog::warn("smpp {}: no bind up for {} ms; messages waiting for one fail",
                             self->cfg.name, self->cfg.unbound_grace.count());
                self->fail_waiting("no bind up (" + why + ")");
            }));
    }

    /// Fails every queued message (none of them has been built or sent) as unsent.
    void fail_waiting(const std::string& why) {
        std::size_t n = 0;
        for (auto id : queue) {
            auto it = jobs.find(id);
            if (it == jobs.end()) continue;
            auto done = std::move(it->second->done);
            jobs.erase(it);
            ++n;
            submit_result r;
            r.outcome = submit_outcome::failed;
            r.error = why;
            r.unsent = true;
            finish(done, std::move(r));
        }
        queue.clear();
        if (n == 0) return;
        {
            std::lock_guard lock(mutex);
            waiting -= std::min(waiting, n);
        }
        {
            std::lock_guard lock(stats_mutex);
            counters.failed += n;
        }
        space.notify_all();
    }

    void connected(slot& s, tcp::socket socket) {
        s.connecting = false;
        if (stopping) return;
        session_options opts;
        opts.role = role::esme;
        opts.window = cfg.window;
        opts.response_timeout = cfg.response_timeout;
        opts.enquire_link_interval = cfg.enquire_link_interval;
        opts.bind_timeout = cfg.bind_timeout;
        s.conn = std::make_shared<detail::connection>(
            strand, std::move(socket), opts, [w = weak_from_this(), &s](session_event&& e) {
                if (auto self = w.lock()) self->on_event(s, std::move(e));
            });
        s.conn->start();
        net::dispatch(s.conn->executor(), [w = weak_from_this(), &s, conn = s.conn] {
            auto self = w.lock();
            if (!self || s.conn != conn) return;
            bind_credentials creds{
                self->cfg.system_id, self->cfg.password, self->cfg.system_type, 0, 0, {}};
            conn->fsm().bind(self->cfg.mode, creds, std::chrono::steady_clock::now());
            conn->flush();
        });
    }

    // ---- events from a bind ----

    void on_event(slot& s, session_event&& e) {
        std::visit(
            overloaded{
                [&](event::bound& b) {
                    s.bound = true;
                    s.failures = 0;
                    down = false;
                    spdlog::info("smpp {}: bind {} up ({} to {})", cfg.name, s.index,
                                 to_string(b.mode), b.system_id.empty() ? cfg.host : b.system_id);
                    report_state("bound");
                    pump(s);
                },
                [&](event::bind_failed& f) {
                    note_error(f.reason);
                    spdlog::warn("smpp {}: bind {} failed: {}", cfg.name, s.index, f.reason);
                },
                [&](event::response& r) { on_response(s, r.token, r.msg); },
                [&](event::failed& f) { on_failed(s, f.token, f.reason); },
                [&](event::request& r) { on_request(s, std::move(r.msg)); },
                [&](event::protocol_error& p) {
                    spdlog::debug("smpp {}: bind {} protocol error: {}", cfg.name, s.index, p.what);
                },
                [&](event::closed& c) { on_closed(s, c.reason); },
            },
            e);
    }

    void on_closed(slot& s, const std::string& reason) {
        const bool was_bound = s.bound;
        s.bound = false;
        s.conn.reset();
        if (!reason.empty() && !stopping) {
            note_error(reason);
            spdlog::warn("smpp {}: bind {} closed: {}", cfg.name, s.index, reason);
        }
        // Parts waiting for a throttle retry, and parts of a long message not yet sent, cannot
        // go out on this bind any more.
        while (!s.retry.empty()) {
            part_failed(s.retry.front(), 0, "connection lost before retry: " + reason, false);
            s.retry.pop_front();
        }
        if (s.current) {
            if (auto it = jobs.find(*s.current); it != jobs.end()) {
                job& j = *it->second;
                while (j.next < j.built.parts.size()) {
                    part_failed({j.id, j.next, 0}, 0, "connection lost: " + reason, false);
                    ++j.next;
                }
            }
            s.current.reset();
        }
        s.pause.cancel();
        s.pause_armed = false;
        if (was_bound) report_state(reason);
        schedule_reconnect(s);
        watch_unbound(reason.empty() ? "connection closed" : reason);
    }

    void on_response(slot& s, std::uint64_t token, const message& m) {
        auto it = s.in_flight.find(token);
        if (it == s.in_flight.end()) return;
        part_ref ref = it->second;
        s.in_flight.erase(it);
        const std::uint32_t st = m.command_status;
        if (st == status::ok && std::holds_alternative<submit_sm_resp>(m.body)) {
            part_done(ref, std::get<submit_sm_resp>(m.body).message_id);
        } else if ((st == status::throttled || st == status::message_queue_full)
                   && ref.retries < cfg.max_throttle_retries) {
            {
                std::lock_guard lock(stats_mutex);
                ++counters.throttled;
            }
            ++ref.retries;
            s.retry.push_back(ref);
            s.paused_until = std::chrono::steady_clock::now() + cfg.throttle_backoff;
            spdlog::debug("smpp {}: bind {} throttled ({}); pausing {} ms", cfg.name, s.index,
                          status_name(st), cfg.throttle_backoff.count());
        } else {
            const bool permanent = st != status::ok && !is_transient_status(st);
            part_failed(ref, st == status::ok ? status::system_error : st,
                        std::holds_alternative<generic_nack>(m.body)
                            ? "generic_nack " + status_name(st)
                            : "submit_sm refused with " + status_name(st),
                        permanent);
        }
        pump(s);
    }

    void on_failed(slot& s, std::uint64_t token, const std::string& reason) {
        auto it = s.in_flight.find(token);
        if (it == s.in_flight.end()) return;
        part_ref ref = it->second;
        s.in_flight.erase(it);
        part_failed(ref, 0, reason, false);
        pump(s);
    }

    void part_done(const part_ref& ref, const std::string& message_id) {
        auto it = jobs.find(ref.job_id);
        if (it == jobs.end()) return;
        job& j = *it->second;
        j.ids[ref.index] = message_id;
        if (++j.answered == j.built.parts.size()) complete(j);
    }

    void part_failed(const part_ref& ref, std::uint32_t st, const std::string& why,
                     bool permanent) {
        auto it = jobs.find(ref.job_id);
        if (it == jobs.end()) return;
        job& j = *it->second;
        if (j.result.error.empty()) {
            j.result.error = why;
            j.result.command_status = st;
        }
        j.permanent_error = j.permanent_error || permanent;
        if (++j.answered == j.built.parts.size()) complete(j);
    }

    void complete(job& j) {
        submit_result r = std::move(j.result);
        r.segments = j.built.segments;
        r.data_coding = j.built.data_coding;
        bool all = true;
        for (auto& id : j.ids) {
            if (id) {
                r.id_keys.push_back(submit_id_key(*id, cfg.receipt_ids));
                r.message_ids.push_back(*id);
            } else {
                all = false;
            }
        }
        r.outcome = all                 ? submit_outcome::accepted
                    : j.permanent_error ? submit_outcome::rejected
                                        : submit_outcome::failed;
        {
            std::lock_guard lock(stats_mutex);
            if (r.outcome == submit_outcome::accepted)
                ++counters.accepted;
            else if (r.outcome == submit_outcome::rejected)
                ++counters.rejected;
            else
                ++counters.failed;
        }
        auto done = std::move(j.done);
        jobs.erase(j.id);
        finish(done, std::move(r));
    }

    static void finish(submit_callback& done, submit_result&& r) {
        if (!done) return;
        try {
            done(std::move(r));
        } catch (const std::exception& e) {
            spdlog::error("smpp submit callback threw: {}", e.what());
        }
    }

    // ---- sending ----

    /// Takes the next job off the queue and builds its parts; false when the queue is empty.
    bool take_job(slot& s) {
        while (!queue.empty()) {
            std::uint64_t id = queue.front();
            queue.pop_front();
            {
                std::lock_guard lock(mutex);
                --waiting;
            }
            space.notify_one();
            job& j = *jobs.at(id);
            std::string why;
            auto built = build_submits(j.sms, cfg.coding, next_ref++, &why);
            if (!built) {
                submit_result r;
                r.outcome = submit_outcome::invalid;
                r.error = why;
                auto done = std::move(j.done);
                jobs.erase(id);
                {
                    std::lock_guard lock(stats_mutex);
                    ++counters.failed;
                }
                finish(done, std::move(r));
                continue;
            }
            j.built = std::move(*built);
            j.ids.assign(j.built.parts.size(), std::nullopt);
            s.current = id;
            return true;
        }
        return false;
    }

    void arm_pause(slot& s, std::chrono::steady_clock::time_point until) {
        if (s.pause_armed) return;
        s.pause_armed = true;
        s.pause.expires_at(until);
        s.pause.async_wait(
            net::bind_executor(strand, [w = weak_from_this(), &s](boost::system::error_code ec) {
                auto self = w.lock();
                if (!self) return;
                s.pause_armed = false;
                if (!ec) self->pump(s);
            }));
    }

    void pump(slot& s) {
        if (!s.bound || !s.conn || stopping) return;
        auto now = std::chrono::steady_clock::now();
        if (now < s.paused_until) return arm_pause(s, s.paused_until);
        session_fsm& fsm = s.conn->fsm();
        std::uint64_t sent = 0;
        while (fsm.can_send()) {
            part_ref ref;
            bool from_retry = false;
            if (!s.retry.empty()) {
                ref = s.retry.front();
                from_retry = true;
            } else {
                if (!s.current) {
                    if (!take_job(s)) break;
                }
                job& j = *jobs.at(*s.current);
                if (j.next >= j.built.parts.size()) {
                    s.current.reset();
                    continue;
                }
                ref = {j.id, j.next, 0};
            }
            if (!limiter.try_acquire(now)) {
                arm_pause(s, now + limiter.wait_time(now));
                break;
            }
            if (from_retry)
                s.retry.pop_front();
            else if (++jobs.at(ref.job_id)->next == jobs.at(ref.job_id)->built.parts.size())
                s.current.reset();
            const job& j = *jobs.at(ref.job_id);
            std::uint64_t token = next_token++;
            s.in_flight.emplace(token, ref);
            fsm.send(j.built.parts[ref.index], token, now);
            ++sent;
        }
        if (sent) {
            std::lock_guard lock(stats_mutex);
            counters.pdus_sent += sent;
            auto second =
                std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
            if (second != tps_second) {
                counters.tps_now = second == tps_second + 1 ? double(tps_count) : 0.0;
                tps_second = second;
                tps_count = 0;
            }
            tps_count += sent;
        }
        s.conn->flush();
    }

    void pump_all() {
        for (auto& s : slots) pump(*s);
    }

    void drain_inbox() {
        std::deque<std::unique_ptr<job>> taken;
        {
            std::lock_guard lock(mutex);
            taken.swap(inbox);
            drain_posted = false;
        }
        for (auto& j : taken) {
            queue.push_back(j->id);
            jobs.emplace(j->id, std::move(j));
        }
        if (down && !stopping)
            fail_waiting("no bind up");
        else
            pump_all();
    }

    // ---- inbound ----

    ack_fn make_ack(slot& s, std::uint32_t sequence, pdu response) {
        std::weak_ptr<detail::connection> weak_conn = s.conn;
        return [w = weak_from_this(), weak_conn, sequence,
                response = std::move(response)](bool accepted) {
            auto self = w.lock();
            if (!self) return;
            net::dispatch(self->strand, [weak_conn, sequence, response, accepted] {
                auto conn = weak_conn.lock();
                if (!conn || conn->fsm().state() == session_state::closed) return;
                conn->fsm().respond(sequence, response,
                                    accepted ? status::ok : temporary_app_error);
                conn->flush();
            });
        };
    }

    void on_request(slot& s, message&& m) {
        const std::uint32_t seq = m.sequence_number;
        if (auto* d = std::get_if<deliver_sm>(&m.body)) {
            if (auto r = parse_receipt(*d)) {
                {
                    std::lock_guard lock(stats_mutex);
                    ++counters.receipts;
                }
                delivery_report rep{cfg.name, receipt_key(*r, cfg.receipt_ids), std::move(*r)};
                auto ack = make_ack(s, seq, deliver_sm_resp{});
                if (handlers.on_receipt)
                    handlers.on_receipt(std::move(rep), std::move(ack));
                else
                    ack(true);
                return;
            }
            if (is_receipt(*d)) {
                spdlog::warn("smpp {}: a receipt without a message id was ignored", cfg.name);
                s.conn->fsm().respond(seq, deliver_sm_resp{});
                return;
            }
            std::string payload = d->short_message;
            if (payload.empty())
                if (auto p = d->tlvs.octets(tag::message_payload)) payload = *p;
            inbound_message in;
            in.connector = cfg.name;
            in.from = with_plus(d->source_addr, d->source_addr_ton);
            in.to = with_plus(d->destination_addr, d->dest_addr_ton);
            in.data_coding = d->data_coding;
            in.text = decode_text(d->data_coding, d->esm_class, payload, cfg.coding.default_coding,
                                  &in.concat);
            deliver_inbound(s, std::move(in), make_ack(s, seq, deliver_sm_resp{}));
            return;
        }
        if (auto* d = std::get_if<data_sm>(&m.body)) {
            inbound_message in;
            in.connector = cfg.name;
            in.from = with_plus(d->source_addr, d->source_addr_ton);
            in.to = with_plus(d->destination_addr, d->dest_addr_ton);
            in.data_coding = d->data_coding;
            in.text = decode_text(d->data_coding, d->esm_class,
                                  d->tlvs.octets(tag::message_payload).value_or(""),
                                  cfg.coding.default_coding, &in.concat);
            deliver_inbound(s, std::move(in), make_ack(s, seq, data_sm_resp{}));
            return;
        }
        // outbind and anything else an SMSC might send us: not supported.
        s.conn->fsm().respond(seq, generic_nack{}, status::invalid_cmd_id);
    }

    void deliver_inbound(slot&, inbound_message&& in, ack_fn ack) {
        {
            std::lock_guard lock(stats_mutex);
            ++counters.inbound;
        }
        if (handlers.on_inbound)
            handlers.on_inbound(std::move(in), std::move(ack));
        else
            ack(true);
    }

    // ---- stopping ----

    void stop(std::chrono::milliseconds grace) {
        {
            std::lock_guard lock(mutex);
            if (closed_for_submit && stopping) return;
            closed_for_submit = true;
        }
        space.notify_all();
        auto finished = std::make_shared<std::promise<void>>();
        auto future = finished->get_future();
        net::dispatch(strand, [self = shared_from_this(), grace, finished] {
            self->stopping = true;
            self->down_timer.cancel();
            for (auto& s : self->slots) {
                s->timer.cancel();
                s->pause.cancel();
                if (s->conn) {
                    s->conn->fsm().unbind(std::chrono::steady_clock::now());
                    s->conn->flush();
                }
            }
            self->await_closed(std::chrono::steady_clock::now() + grace, finished);
        });
        future.wait_for(grace + std::chrono::seconds(2));
    }

    void await_closed(std::chrono::steady_clock::time_point until,
                      std::shared_ptr<std::promise<void>> finished) {
        bool open = false;
        for (auto& s : slots) open = open || s->conn != nullptr;
        if (open && std::chrono::steady_clock::now() < until) {
            auto t = std::make_shared<net::steady_timer>(strand, std::chrono::milliseconds(20));
            t->async_wait([self = shared_from_this(), t, until, finished](
                              boost::system::error_code) { self->await_closed(until, finished); });
            return;
        }
        for (auto& s : slots)
            if (s->conn) s->conn->close(false);  // the closed event fails what was in flight
        // Fail whatever never left.
        std::deque<std::unique_ptr<job>> rest;
        {
            std::lock_guard lock(mutex);
            rest.swap(inbox);
            waiting = 0;
        }
        for (auto& j : rest) jobs.emplace(j->id, std::move(j));
        std::vector<std::uint64_t> ids;
        for (auto& [id, j] : jobs) ids.push_back(id);
        for (auto id : ids) {
            // part_failed() completes and erases the job on its last part; look it up afresh.
            for (auto it = jobs.find(id); it != jobs.end(); it = jobs.find(id)) {
                job& j = *it->second;
                if (j.built.parts.empty()) {  // never built: count it as one failed part
                    j.built.parts.resize(1);
                    j.ids.assign(1, std::nullopt);
                }
                part_failed({id, j.answered, 0}, 0, "client stopped", false);
            }
        }
        queue.clear();
        finished->set_value();
    }
};

client::client(engine& eng, client_config config, client_handlers handlers)
    : impl_(std::make_shared<impl>(eng, std::move(config), std::move(handlers))) {
    impl_->counters.binds_configured = int(impl_->slots.size());
}

client::~client() {
    stop(std::chrono::seconds(2));
}

void client::start() {
    impl_->start();
}

void client::stop(std::chrono::milliseconds grace) {
    impl_->stop(grace);
}

bool client::submit(outbound_sms sms, submit_callback done, std::chrono::milliseconds wait) {
    auto& i = *impl_;
    auto j = std::make_unique<impl::job>();
    j->sms = std::move(sms);
    j->done = std::move(done);
    bool post = false;
    {
        std::unique_lock lock(i.mutex);
        if (!i.space.wait_for(lock, wait,
                              [&] { return i.closed_for_submit || i.waiting < i.cfg.max_queue; }))
            return false;
        if (i.closed_for_submit) return false;
        j->id = i.next_job++;
        i.inbox.push_back(std::move(j));
        ++i.waiting;
        if (!i.drain_posted) post = i.drain_posted = true;
    }
    {
        std::lock_guard lock(i.stats_mutex);
        ++i.counters.submitted;
    }
    if (post)
        net::post(i.strand, [w = std::weak_ptr<impl>(impl_)] {
            if (auto self = w.lock()) self->drain_inbox();
        });
    return true;
}

client_stats client::stats() const {
    client_stats s;
    {
        std::lock_guard lock(impl_->stats_mutex);
        s = impl_->counters;
        auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
        if (now > impl_->tps_second + 1) s.tps_now = 0;
    }
    {
        std::lock_guard lock(impl_->mutex);
        s.queued = impl_->waiting;
    }
    std::uint64_t done = s.accepted + s.rejected + s.failed;
    s.in_flight = s.submitted > done + s.queued ? std::size_t(s.submitted - done - s.queued) : 0;
    return s;
}

const client_config& client::config() const noexcept {
    return impl_->cfg;
}

}  // namespace herald::smpp
