#include "smpp/simulator.hpp"

#include <atomic>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>
#include <unordered_map>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include "core/errc.hpp"
#include "smpp/engine.hpp"
#include "smpp/errc.hpp"
#include "smpp/outbound.hpp"
#include "smpp/server.hpp"
#include "text/charset.hpp"
#include "text/segments.hpp"
#include "text/utf8.hpp"

namespace herald::smpp {
namespace net = boost::asio;

namespace {

std::string digits_only(std::string_view s) {
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    return std::string(s);
}

std::string format_id(std::uint64_t v, bool hex) {
    char buf[32];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, hex ? 16 : 10);
    return std::string(buf, p);
}

std::string receipt_date(std::chrono::system_clock::time_point t) {
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    // Receipts carry two-digit years (YYMMDDhhmm) by definition.
    std::snprintf(buf, sizeof buf, "%02d%02d%02d%02d%02d", tm.tm_year % 100, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min);
    return buf;
}

struct outcome_info {
    const char* stat;
    const char* err;
    std::uint8_t state;
};

outcome_info info(sim_outcome o) {
    switch (o) {
        case sim_outcome::delivered:
            return {"DELIVRD", "000", 2};
        case sim_outcome::undeliverable:
            return {"UNDELIV", "001", 5};
        case sim_outcome::expired:
            return {"EXPIRED", "002", 3};
        case sim_outcome::rejected:
            return {"REJECTD", "003", 8};
        default:
            return {"UNKNOWN", "000", 7};
    }
}

}  // namespace

std::optional<sim_outcome> parse_sim_outcome(std::string_view s) noexcept {
    if (s == "delivered") return sim_outcome::delivered;
    if (s == "undeliverable" || s == "undelivered") return sim_outcome::undeliverable;
    if (s == "expired") return sim_outcome::expired;
    if (s == "rejected") return sim_outcome::rejected;
    if (s == "refuse") return sim_outcome::refuse;
    if (s == "no_receipt") return sim_outcome::no_receipt;
    return std::nullopt;
}

std::string_view to_string(sim_outcome o) noexcept {
    switch (o) {
        case sim_outcome::delivered:
            return "delivered";
        case sim_outcome::undeliverable:
            return "undeliverable";
        case sim_outcome::expired:
            return "expired";
        case sim_outcome::rejected:
            return "rejected";
        case sim_outcome::refuse:
            return "refuse";
        case sim_outcome::no_receipt:
            return "no_receipt";
    }
    return "?";
}

struct simulator::impl : std::enable_shared_from_this<impl> {
    struct due_receipt {
        std::chrono::steady_clock::time_point at;
        std::string system_id;
        deliver_sm pdu;
    };

    impl(engine& e, simulator_config c)
        : eng(e),
          cfg(std::move(c)),
          strand(net::make_strand(e.context())),
          ticker(strand),
          next_id(std::random_device{}() % 100'000'000 + 1'000'000),
          rng(std::random_device{}()) {}

    engine& eng;
    simulator_config cfg;
    std::unique_ptr<server> srv;
    net::strand<net::io_context::executor_type> strand;
    net::steady_timer ticker;
    bool ticker_armed = false;         // strand only
    std::deque<due_receipt> receipts;  // strand only, ordered by `at`
    /// Receipts waiting in a session for window room before the simulator holds the rest.
    static constexpr std::size_t max_waiting_receipts = 64;
    std::atomic<bool> held{false};  // send_due stopped at full windows

    mutable std::mutex mutex;  // guards everything below
    std::vector<std::weak_ptr<server_session>> bound;
    std::size_t next_receiver = 0;
    struct seen {
        std::uint64_t count = 0;
        std::chrono::system_clock::time_point last{};
    };
    std::unordered_map<std::string, seen> numbers;
    simulator_stats counters;
    std::uint64_t throttle_left = 0;
    std::optional<std::uint64_t> drop_countdown;
    std::atomic<std::uint64_t> next_id;
    std::mt19937_64 rng;

    // ---- receipts ----

    void schedule(due_receipt r) {
        net::post(strand, [self = shared_from_this(), r = std::move(r)]() mutable {
            auto pos = self->receipts.end();
            while (pos != self->receipts.begin() && std::prev(pos)->at > r.at) --pos;
            self->receipts.insert(pos, std::move(r));
            self->arm_ticker();
        });
    }

    void arm_ticker() {
        if (ticker_armed || receipts.empty()) return;
        ticker_armed = true;
        auto when = std::max(receipts.front().at,
                             std::chrono::steady_clock::now() + std::chrono::milliseconds(2));
        ticker.expires_at(when);
        ticker.async_wait(
            net::bind_executor(strand, [w = weak_from_this()](boost::system::error_code ec) {
                auto self = w.lock();
                if (!self) return;
                self->ticker_armed = false;
                if (!ec) self->send_due();
            }));
    }

    /// The bound receiver (or transceiver) of `system_id` with the fewest receipts waiting
    /// for window room; ties go round the binds, as an SMSC spreads its deliver_sm.
    std::shared_ptr<server_session> receiver_for(const std::string& system_id) {
        std::lock_guard lock(mutex);
        std::shared_ptr<server_session> best;
        std::size_t best_backlog = 0;
        const std::size_t n = bound.size();
        for (std::size_t k = 0; k < n; ++k) {
            auto s = bound[(next_receiver + k) % n].lock();
            if (!s || !s->bound() || s->mode() == bind_mode::transmitter) continue;
            if (!system_id.empty() && s->system_id() != system_id) continue;
            const std::size_t b = s->backlog();
            if (!best || b < best_backlog) best = std::move(s), best_backlog = b;
        }
        ++next_receiver;
        return best;
    }

    void send_due() {
        auto now = std::chrono::steady_clock::now();
        while (!receipts.empty() && receipts.front().at <= now) {
            auto session = receiver_for(receipts.front().system_id);
            if (!session) {
                // Nobody to deliver to: keep it, as an SMSC would, and try again shortly.
                due_receipt r = std::move(receipts.front());
                receipts.pop_front();
                r.at = now + std::chrono::milliseconds(100);
                receipts.push_back(std::move(r));
                break;
            }
            if (session->backlog() >= max_waiting_receipts) {
                // Every receiver's window is full and requests queue behind it: keep the rest
                // here until the ESME answers (deliver() wakes this up) instead of piling
                // them into the sessions.
                held = true;
                return;
            }
            due_receipt r = std::move(receipts.front());
            receipts.pop_front();
            deliver(session, std::move(r));
        }
        arm_ticker();
    }

    void deliver(const std::shared_ptr<server_session>& session, due_receipt r) {
        auto copy = r;
        session->send(
            std::move(r.pdu), [w = weak_from_this(), copy = std::move(copy)](
                                  std::optional<message> resp, const std::string&) mutable {
                auto self = w.lock();
                if (!self) return;
                if (resp && resp->command_status == status::ok) {
                    {
                        std::lock_guard lock(self->mutex);
                        ++self->counters.receipts_sent;
                        if (self->counters.receipts_pending > 0) --self->counters.receipts_pending;
                    }
                    // Window room again: deliver what was held back.
                    if (self->held.exchange(false))
                        net::post(self->strand, [self] { self->send_due(); });
                    return;
                }
                // Refused or lost with the connection: deliver it again later.
                copy.at = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
                self->schedule(std::move(copy));
            });
    }

    // ---- submits ----

    sim_outcome choose(const std::string& dest) {
        std::lock_guard lock(mutex);
        std::size_t best = 0;
        std::optional<sim_outcome> ruled;
        for (const auto& [prefix, outcome] : cfg.rules) {
            std::string p = digits_only(prefix);
            if (dest.starts_with(p) && p.size() >= best) best = p.size(), ruled = outcome;
        }
        if (ruled) return *ruled;
        double total = cfg.delivered + cfg.undeliverable + cfg.expired + cfg.rejected;
        if (total <= 0) return sim_outcome::delivered;
        double x = std::uniform_real_distribution<double>(0, total)(rng);
        if ((x -= cfg.delivered) < 0) return sim_outcome::delivered;
        if ((x -= cfg.undeliverable) < 0) return sim_outcome::undeliverable;
        if ((x -= cfg.expired) < 0) return sim_outcome::expired;
        return sim_outcome::rejected;
    }

    std::string receipt_id(const std::string& id, std::uint64_t value) const {
        if (cfg.receipt_id_style == "upper") {
            std::string s = id;
            for (auto& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
            return s;
        }
        if (cfg.receipt_id_style == "decimal") return format_id(value, false);
        if (cfg.receipt_id_style == "hex") return format_id(value, true);
        return id;
    }

    deliver_sm make_receipt(const submit_sm& sm, const std::string& id, std::uint64_t value,
                            sim_outcome o) {
        auto inf = info(o);
        auto now = std::chrono::system_clock::now();
        deliver_sm d;
        d.esm_class = esm::delivery_receipt;
        d.source_addr_ton = sm.dest_addr_ton;
        d.source_addr_npi = sm.dest_addr_npi;
        d.source_addr = sm.destination_addr;
        d.dest_addr_ton = sm.source_addr_ton;
        d.dest_addr_npi = sm.source_addr_npi;
        d.destination_addr = sm.source_addr;
        if (cfg.receipt_text) {
            std::string preview = sm.short_message.substr(0, 20);
            for (auto& c : preview)
                if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E)
                    c = '.';
            d.short_message = "id:" + receipt_id(id, value) + " sub:001 dlvrd:"
                              + (o == sim_outcome::delivered ? "001" : "000") + " submit date:"
                              + receipt_date(now) + " done date:" + receipt_date(now)
                              + " stat:" + inf.stat + " err:" + inf.err + " text:" + preview;
        }
        if (cfg.receipt_tlvs) {
            d.tlvs.set_cstring(tag::receipted_message_id, id);
            d.tlvs.set_u8(tag::message_state, inf.state);
            if (o != sim_outcome::delivered)
                d.tlvs.set_network_error_code({3, std::uint16_t(std::atoi(inf.err))});
        }
        return d;
    }

    void on_request(const server_session_ptr& session, message&& m) {
        auto* sm = std::get_if<submit_sm>(&m.body);
        if (!sm) {
            // data_sm and query_sm are not simulated.
            session->respond(m.sequence_number, generic_nack{}, status::invalid_cmd_id);
            return;
        }
        bool drop_now = false, throttle = false;
        std::chrono::milliseconds delay;
        {
            std::lock_guard lock(mutex);
            ++counters.submits;
            if (cfg.record_numbers) {
                auto& n = numbers[sm->destination_addr];
                ++n.count;
                n.last = std::chrono::system_clock::now();
            }
            if (drop_countdown && (*drop_countdown == 0 || --*drop_countdown == 0)) {
                drop_countdown.reset();
                drop_now = true;
            } else if (throttle_left > 0) {
                --throttle_left;
                throttle = true;
            } else if (cfg.throttle_ratio > 0
                       && std::uniform_real_distribution<double>(0, 1)(rng) < cfg.throttle_ratio) {
                throttle = true;
            }
            if (throttle) ++counters.throttled;
            delay = cfg.response_delay;
        }
        if (drop_now) {
            drop_all();
            return;
        }
        if (throttle)
            return respond(session, m.sequence_number, submit_sm_resp{}, status::throttled, delay);
        sim_outcome o = choose(sm->destination_addr);
        if (o == sim_outcome::refuse) {
            {
                std::lock_guard lock(mutex);
                ++counters.refused;
                ++counters.outcomes[std::string(to_string(o))];
            }
            return respond(session, m.sequence_number, submit_sm_resp{},
                           status::invalid_destination, delay);
        }
        std::uint64_t value = next_id++;
        std::string id = format_id(value, cfg.hex_ids);
        {
            std::lock_guard lock(mutex);
            ++counters.accepted;
            ++counters.outcomes[std::string(to_string(o))];
            if (o != sim_outcome::no_receipt && (sm->registered_delivery & 0x03))
                ++counters.receipts_pending;
        }
        respond(session, m.sequence_number, submit_sm_resp{id}, status::ok, delay);
        if (o == sim_outcome::no_receipt || !(sm->registered_delivery & 0x03)) return;
        std::chrono::milliseconds latency;
        {
            std::lock_guard lock(mutex);
            latency = cfg.receipt_latency;
        }
        schedule({std::chrono::steady_clock::now() + delay + latency, session->system_id(),
                  make_receipt(*sm, id, value, o)});
    }

    void respond(const server_session_ptr& session, std::uint32_t seq, pdu body, std::uint32_t st,
                 std::chrono::milliseconds delay) {
        if (delay.count() <= 0) return session->respond(seq, std::move(body), st);
        auto timer = std::make_shared<net::steady_timer>(eng.context(), delay);
        timer->async_wait(
            [timer, session, seq, body = std::move(body), st](boost::system::error_code) mutable {
                session->respond(seq, std::move(body), st);
            });
    }

    void drop_all() {
        std::vector<std::shared_ptr<server_session>> all;
        {
            std::lock_guard lock(mutex);
            for (auto& w : bound)
                if (auto s = w.lock()) all.push_back(s);
            counters.disconnects += all.size();
        }
        spdlog::info("smsc-sim: dropping {} connection(s) on request", all.size());
        for (auto& s : all) s->drop();
    }
};

simulator::simulator(engine& eng, simulator_config config)
    : impl_(std::make_shared<impl>(eng, std::move(config))) {}

simulator::~simulator() {
    stop();
}

result<void> simulator::start() {
    auto& i = *impl_;
    server_config sc;
    sc.address = i.cfg.address;
    sc.port = i.cfg.port;
    sc.system_id = "herald-sim";
    sc.window = i.cfg.window;
    if (!i.cfg.system_id.empty() || !i.cfg.password.empty()) {
        sc.authenticate = [sid = i.cfg.system_id, pw = i.cfg.password](
                              const std::string& s, const std::string& p, bind_mode) {
            if (!sid.empty() && s != sid) return status::invalid_system_id;
            if (!pw.empty() && p != pw) return status::invalid_password;
            return status::ok;
        };
    }
    std::weak_ptr<impl> w = impl_;
    server_handlers h;
    h.on_bound = [w](const server_session_ptr& s) {
        if (auto self = w.lock()) {
            std::lock_guard lock(self->mutex);
            std::erase_if(self->bound, [](auto& x) { return x.expired(); });
            self->bound.push_back(s);
            ++self->counters.binds_total;
        }
    };
    h.on_request = [w](const server_session_ptr& s, message&& m) {
        if (auto self = w.lock()) self->on_request(s, std::move(m));
    };
    h.on_closed = [w](const server_session_ptr& s, const std::string&) {
        if (auto self = w.lock()) {
            std::lock_guard lock(self->mutex);
            std::erase_if(self->bound, [&](auto& x) {
                auto p = x.lock();
                return !p || p == s;
            });
        }
    };
    i.srv = std::make_unique<server>(i.eng, std::move(sc), std::move(h));
    return i.srv->start();
}

std::uint16_t simulator::port() const noexcept {
    return impl_->srv ? impl_->srv->port() : 0;
}

void simulator::stop() {
    if (impl_->srv) impl_->srv->stop(std::chrono::milliseconds(500));
}

void simulator::throttle_next(std::uint64_t n) {
    std::lock_guard lock(impl_->mutex);
    impl_->throttle_left = n;
}

void simulator::drop_after(std::uint64_t n) {
    if (n == 0) return impl_->drop_all();
    std::lock_guard lock(impl_->mutex);
    impl_->drop_countdown = n;
}

void simulator::set_response_delay(std::chrono::milliseconds d) {
    std::lock_guard lock(impl_->mutex);
    impl_->cfg.response_delay = d;
}

void simulator::set_receipt_latency(std::chrono::milliseconds d) {
    std::lock_guard lock(impl_->mutex);
    impl_->cfg.receipt_latency = d;
}

void simulator::set_rules(std::vector<std::pair<std::string, sim_outcome>> rules) {
    std::lock_guard lock(impl_->mutex);
    impl_->cfg.rules = std::move(rules);
}

result<void> simulator::send_mo(const std::string& from, const std::string& to,
                                const std::string& text) {
    auto session = impl_->receiver_for({});
    if (!session)
        return fail(errc::not_bound, "no receiver or transceiver is bound to the simulator");
    auto cps = text::decode_utf8(text);
    if (!cps) return fail(errc::invalid_message, "the MO text is not valid UTF-8");
    deliver_sm d;
    address src = make_address(from), dst = make_address(to);
    d.source_addr_ton = src.ton;
    d.source_addr_npi = src.npi;
    d.source_addr = src.value;
    d.dest_addr_ton = dst.ton;
    d.dest_addr_npi = dst.npi;
    d.destination_addr = dst.value;
    std::string body;
    if (auto gsm = text::to_gsm7_unpacked(*cps)) {
        d.data_coding = coding::smsc_default;
        body = std::move(*gsm);
    } else {
        d.data_coding = coding::ucs2;
        body = text::to_ucs2be(*cps);
    }
    if (body.size() <= 254)
        d.short_message = std::move(body);
    else
        d.tlvs.set(tag::message_payload, std::move(body));
    std::weak_ptr<impl> w = impl_;
    session->send(std::move(d), [w](std::optional<message> resp, const std::string& why) {
        if (!resp) spdlog::warn("smsc-sim: MO not acknowledged: {}", why);
    });
    std::lock_guard lock(impl_->mutex);
    ++impl_->counters.mo_sent;
    return {};
}

simulator_stats simulator::stats() const {
    std::lock_guard lock(impl_->mutex);
    simulator_stats s = impl_->counters;
    s.binds = 0;
    for (auto& w : impl_->bound)
        if (auto p = w.lock(); p && p->bound()) ++s.binds;
    return s;
}

std::map<std::string, std::uint64_t> simulator::duplicates() const {
    std::lock_guard lock(impl_->mutex);
    std::map<std::string, std::uint64_t> out;
    for (auto& [n, c] : impl_->numbers)
        if (c.count > 1) out.emplace(n, c.count);
    return out;
}

std::vector<std::string> simulator::numbers() const {
    std::lock_guard lock(impl_->mutex);
    std::vector<std::string> out;
    out.reserve(impl_->numbers.size());
    for (auto& [n, c] : impl_->numbers) out.push_back(n);
    return out;
}

std::uint64_t simulator::count_for(const std::string& number) const {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->numbers.find(digits_only(number));
    return it == impl_->numbers.end() ? 0 : it->second.count;
}

std::optional<std::chrono::system_clock::time_point> simulator::last_seen(
    const std::string& number) const {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->numbers.find(digits_only(number));
    if (it == impl_->numbers.end()) return std::nullopt;
    return it->second.last;
}

std::size_t simulator::distinct_numbers() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->numbers.size();
}

void simulator::reset_counters() {
    std::lock_guard lock(impl_->mutex);
    impl_->numbers.clear();
    auto binds_total = impl_->counters.binds_total;
    impl_->counters = {};
    impl_->counters.binds_total = binds_total;
}

result<void> parse_outcome_weights(std::string_view rest, simulator_config& c) {
    auto bad = [](std::string why) { return fail(core::errc::invalid_value, why); };
    double delivered = 0, undeliverable = 0, expired = 0, rejected = 0;
    while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        auto eq = item.find('=');
        if (eq == std::string_view::npos)
            return bad("expected outcome=weight pairs such as delivered=90,undeliverable=10");
        std::string name(item.substr(0, eq));
        double weight = 0;
        try {
            std::size_t used = 0;
            weight = std::stod(std::string(item.substr(eq + 1)), &used);
            if (used != item.size() - eq - 1 || weight < 0) throw std::invalid_argument("bad");
        } catch (const std::exception&) {
            return bad("weight of " + name + " must be a number of 0 or more");
        }
        if (name == "delivered")
            delivered = weight;
        else if (name == "undeliverable")
            undeliverable = weight;
        else if (name == "expired")
            expired = weight;
        else if (name == "rejected")
            rejected = weight;
        else
            return bad("unknown outcome \"" + name
                       + "\" (delivered, undeliverable, expired, rejected)");
    }
    if (delivered + undeliverable + expired + rejected <= 0)
        return bad("at least one weight must be above 0");
    c.delivered = delivered;
    c.undeliverable = undeliverable;
    c.expired = expired;
    c.rejected = rejected;
    return {};
}

result<void> parse_outcome_rules(std::string_view rest, simulator_config& c) {
    while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string r(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        auto eq = r.find('=');
        auto outcome = eq == std::string::npos ? std::nullopt : parse_sim_outcome(r.substr(eq + 1));
        if (!outcome)
            return fail(core::errc::invalid_value, "\"" + r +
                                               "\" must be PREFIX=OUTCOME with OUTCOME one of delivered, "
                                               "undeliverable, expired, rejected, refuse, no_receipt");
        std::string prefix = r.substr(0, eq);
        if (prefix.empty() || prefix.find_first_not_of("+0123456789") != std::string::npos)
            return fail(core::errc::invalid_value,
                        "prefix \"" + prefix + "\" must be digits, optionally after +");
        c.rules.emplace_back(prefix, *outcome);
    }
    return {};
}

}  // namespace herald::smpp
