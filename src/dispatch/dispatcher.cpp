#include "dispatch/dispatcher.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/clock.hpp"
#include "core/thread.hpp"
#include "db/transaction.hpp"
#include "dispatch/gates.hpp"
#include "smpp/engine.hpp"
#include "store/campaigns.hpp"
#include "store/connectors.hpp"
#include "store/messages.hpp"

namespace herald::dispatch {

std::string relative_validity(int seconds) {
    seconds = std::clamp(seconds, 60, 99 * 86400);
    const int days = seconds / 86400, h = seconds % 86400 / 3600, m = seconds % 3600 / 60,
              s = seconds % 60;
    char buf[20];
    std::snprintf(buf, sizeof buf, "0000%02d%02d%02d%02d000R", days, h, m, s);
    return buf;
}

namespace {

using clock = std::chrono::steady_clock;
using kind = store::send_outcome::kind;

std::string status_code(std::uint32_t status) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08X", status);
    return buf;
}

const char* receipt_status(smpp::receipt_outcome o) {
    switch (o) {
        case smpp::receipt_outcome::delivered:
            return "delivered";
        case smpp::receipt_outcome::expired:
            return "expired";
        case smpp::receipt_outcome::rejected:
            return "rejected";
        default:
            return "undelivered";
    }
}

/// A carrier connection of this node: a connector's binds that it holds a lease for.
struct link {
    std::string name;
    std::optional<store::connector> config;  ///< none for the fallback connection
    int binds = 0;
    std::int64_t window_total = 0;  ///< window × binds: the most in flight through it
    std::atomic<int> bound{0};
    std::shared_ptr<smpp::client> client;
};

smpp::client_config client_config_for(const store::connector& k, int binds) {
    smpp::client_config c;
    c.name = k.name;
    c.host = k.host;
    c.port = std::uint16_t(k.port);
    c.system_id = k.system_id;
    c.password = k.password;
    c.system_type = k.system_type;
    c.mode =
        k.bind_mode == "transmitter" ? smpp::bind_mode::transmitter : smpp::bind_mode::transceiver;
    c.binds = binds;
    c.window = std::uint32_t(k.window);
    c.tps = k.tps * binds / k.binds;  // this node's share of the connector's cap
    c.coding.default_coding =
        smpp::parse_default_coding(k.data_coding).value_or(smpp::default_coding::gsm7);
    c.coding.long_method = smpp::parse_long_method(k.long_message).value_or(smpp::long_method::udh);
    c.receipt_ids = smpp::parse_id_format(k.dlr_id_format).value_or(smpp::id_format::exact);
    // Notice a dead carrier quickly, so the route's next connector takes over.
    c.reconnect_max = std::chrono::seconds(10);
    return c;
}

struct pending_receipt {
    store::part_receipt receipt;
    smpp::ack_fn ack;
    clock::time_point first_seen;
};

}  // namespace

struct dispatcher::impl {
    impl(db::pool& p, dispatcher_options o) : pool(p), options(std::move(o)) {}

    db::pool& pool;
    dispatcher_options options;
    smpp::engine engine{1, "dispatch-smpp", options.nice};

    // Carrier connections and routes, replaced by refresh().
    mutable std::shared_mutex links_mutex;
    std::map<std::string, std::shared_ptr<link>> links;
    std::vector<store::route> routes;  // longest prefix first
    bool fallback_mode = true;         // no connector configured: everything to the fallback
    std::atomic<std::int64_t> capacity{0};
    std::atomic<int> live_nodes{1};
    std::mutex refresh_mutex;  // refresh() runs on the claimer and the sender
    std::atomic<clock::time_point> last_refresh{};
    send_gates gates;  // claim thread only

    std::atomic<bool> running{false};
    std::thread claimer, sender, writer, receipt_writer, planner;
    std::mutex plan_mutex;
    std::condition_variable plan_cv;

    // Claim loop wake-ups.
    std::mutex wake_mutex;
    std::condition_variable wake_cv;
    bool woken = false;

    // Results waiting to be written.
    std::mutex out_mutex;
    std::condition_variable out_cv, receipt_cv;
    // With room_cv, the sender tells the claimer it took messages (or the writer that it
    // made room); with send_cv, the claimer and the writer tell the sender there are
    // messages to hand out, or room for them.
    std::mutex room_mutex;
    std::condition_variable room_cv, send_cv;
    std::atomic<bool> handing_done{false};      // stopping: nothing more goes to the SMSC
    std::atomic<bool> outcomes_written{false};  // the writer has stopped, nothing left
    std::vector<store::send_outcome> outcomes;
    std::int64_t outcomes_submitted = 0;  // of `outcomes`, those that went to the SMSC
    std::deque<pending_receipt> receipts;
    // Messages handed to the SMSC whose outcome is not committed yet. Bounded by one window per
    // bind: after a crash, at most that many can go out twice.
    std::atomic<std::int64_t> in_flight{0};
    // Campaign batches this node claimed: messages without a committed outcome, per batch;
    // and the batches whose messages all have one, to delete with the next write.
    std::mutex batches_mutex;
    std::map<store::batch_key, int> outstanding;
    std::vector<store::batch_key> finished_batches;
    // Receipts received and not yet persisted. Sending pauses while there are many, so
    // receipts are stored at the pace messages go out and memory stays bounded.
    std::atomic<std::int64_t> receipt_backlog{0};
    // One-part messages whose `sent` this node committed, by connector and receipt key
    // (recent_key): their receipts name the message (store::part_receipt::message) instead
    // of having their part looked up. Forgotten all at once when full; a receipt not found
    // here (another node sent it, or it was forgotten) is matched through its part row.
    using message_ref = std::pair<core::uuid, decltype(store::send_outcome::created_at)>;
    static constexpr std::size_t max_recent = 100'000;
    std::mutex recent_mutex;
    std::unordered_map<std::string, message_ref> recent;

    // Messages the API leased to this node as it accepted them (hand_over), oldest first,
    // with the time each came: sent before anything is claimed. Closed when the node stops;
    // what comes after that has its lease given back at once.
    using handed_message = std::pair<clock::time_point, store::claimed_message>;
    std::mutex handed_mutex;
    std::deque<handed_message> handed;
    bool handed_closed = false;
    std::atomic<std::size_t> handed_waiting{0};

    // Messages claimed (or taken from the hand-over) and not yet handed to the SMSC, oldest
    // first, with the time each was leased: the claimer fills it up to a window ahead while
    // the sender waits for room, so that a claim overlaps the wait for outcomes to commit.
    std::mutex ahead_mutex;
    std::deque<handed_message> ahead;
    std::atomic<std::int64_t> ahead_size{0};

    mutable std::mutex stats_mutex;
    dispatcher_stats counters;

    void count(std::uint64_t dispatcher_stats::*field, std::uint64_t n = 1) {
        std::lock_guard l(stats_mutex);
        counters.*field += n;
    }

    /// Adds the time since `since` to a microsecond counter; returns now.
    clock::time_point spent(std::uint64_t dispatcher_stats::*field, clock::time_point since) {
        const auto now = clock::now();
        count(field,
              std::uint64_t(
                  std::chrono::duration_cast<std::chrono::microseconds>(now - since).count()));
        return now;
    }

    void push(store::send_outcome o, bool submitted = false) {
        {
            std::lock_guard l(out_mutex);
            outcomes.push_back(std::move(o));
            outcomes_submitted += submitted;
        }
        out_cv.notify_one();
    }

    std::chrono::seconds backoff(int attempts) const {
        const auto s = std::chrono::seconds(1LL << std::min(attempts, 16));
        return std::min(s, options.max_backoff);
    }

    void handle(const store::claimed_message& m) {
        store::send_outcome o{.log_id = m.log_id,
                              .created_at = m.created_at,
                              .tenant = m.tenant,
                              .connector = {},
                              .batch = m.batch};
        if (m.account_status.starts_with("final:")) {
            o.what = kind::failed;  // cancelled meanwhile: only the queue row goes
            push(std::move(o));
            return;
        }
        if (m.account_status != "active" || m.opted_out) {
            o.what = kind::failed;
            o.error_code = m.opted_out ? "opted_out" : "account_" + m.account_status;
            o.error_message = m.opted_out ? "the number opted out before the message was sent"
                                          : "the account is " + m.account_status;
            o.refund = m.charged ? m.cost : 0;  // never sent: always refunded
            count(&dispatcher_stats::suppressed);
            push(std::move(o));
            return;
        }
        auto [routed, via] = route(m.to);
        if (!routed && clock::now() - last_refresh.load() > std::chrono::milliseconds(100)) {
            // Routes may have changed since they were read (up to dispatch.refresh ago):
            // read them again before failing a message for want of one.
            refresh();
            std::tie(routed, via) = route(m.to);
        }
        if (!routed) {
            o.what = kind::failed;
            o.error_code = "no_route";
            o.error_message = "no route leads to " + m.to;
            o.refund = m.charged ? m.cost : 0;  // never sent
            count(&dispatcher_stats::no_route);
            push(std::move(o));
            return;
        }
        if (!via || via->bound == 0) {
            // Every connector of the route is down (or bound on other nodes only): wait for
            // one without using up an attempt.
            o.what = kind::retry;
            o.counted = false;
            o.error_code = "no_connector_up";
            o.error_message = "no connector of the route is bound";
            o.retry_after = std::chrono::seconds(2);
            count(&dispatcher_stats::deferred_no_connector);
            push(std::move(o));
            return;
        }
        o.connector = via->name;
        smpp::outbound_sms sms{.source = m.from, .destination = m.to, .text = m.body};
        if (m.validity_seconds) sms.validity_period = relative_validity(*m.validity_seconds);
        ++in_flight;
        const int attempts = m.attempts;
        const int cost = m.charged ? m.cost : 0;
        const bool refund_failed = m.refund_failed;
        bool queued = via->client->submit(std::move(sms), [this, o, attempts, cost, refund_failed](
                                                              smpp::submit_result&& r) mutable {
            switch (r.outcome) {
                case smpp::submit_outcome::accepted:
                    o.what = kind::sent;
                    o.message_ids = std::move(r.message_ids);
                    o.part_keys = std::move(r.id_keys);
                    count(&dispatcher_stats::sent);
                    break;
                case smpp::submit_outcome::rejected:
                    o.what = kind::rejected;
                    o.error_code = status_code(r.command_status);
                    o.error_message = r.error;
                    o.refund = refund_failed ? cost : 0;
                    count(&dispatcher_stats::failed);
                    break;
                case smpp::submit_outcome::invalid:
                    o.what = kind::failed;
                    o.error_code = "invalid_message";
                    o.error_message = r.error;
                    o.refund = cost;
                    count(&dispatcher_stats::failed);
                    break;
                case smpp::submit_outcome::failed:
                    o.error_code = r.command_status ? status_code(r.command_status) : "transient";
                    o.error_message = r.error;
                    if (r.unsent) {
                        // Its connector lost every bind before sending it: another one of
                        // the route takes it, and it costs no attempt.
                        o.what = kind::retry;
                        o.counted = false;
                        o.error_code = "no_connector_up";
                        o.retry_after = std::chrono::seconds(1);
                        count(&dispatcher_stats::deferred_no_connector);
                    } else if (attempts < options.max_attempts) {
                        o.what = kind::retry;
                        o.retry_after = backoff(attempts);
                        count(&dispatcher_stats::retried);
                    } else {
                        o.what = kind::failed;
                        o.refund = refund_failed ? cost : 0;
                        count(&dispatcher_stats::failed);
                    }
                    break;
            }
            push(std::move(o), true);  // in_flight drops once it is committed
        });
        if (!queued) {
            --in_flight;
            o.what = kind::retry;
            o.error_code = "not_sent";
            o.error_message = "the connector is stopping";
            o.retry_after = std::chrono::seconds(1);
            push(std::move(o));
        }
    }

    /// Whether a route leads to `to`, and the first connector of it that is bound (if any).
    std::pair<bool, std::shared_ptr<link>> route(const std::string& to) const {
        std::shared_lock l(links_mutex);
        if (fallback_mode) {
            auto it = links.find(options.connector.name);
            return {true, it != links.end() ? it->second : nullptr};
        }
        for (const auto& r : routes) {
            if (!to.starts_with(r.prefix)) continue;
            for (const auto& name : r.connectors) {  // failover in order
                auto it = links.find(name);
                if (it != links.end() && it->second->bound > 0) return {true, it->second};
            }
            return {true, nullptr};
        }
        return {false, nullptr};
    }

    bool fallback_mode_now() const {
        std::shared_lock l(links_mutex);
        return fallback_mode;
    }

    void claim_loop() {
        const auto owner = options.node_id;
        // When each source is worth asking again: at once while it gives all that was asked
        // for, after the poll interval once it gave less (or at a wake-up).
        auto next_queue = clock::now(), next_batches = clock::now();
        while (running) {
            if (clock::now() - last_refresh.load() >= options.refresh) refresh();
            // The sender keeps at most one window per bind between "handed to the SMSC" and
            // "outcome committed" (the bound on duplicates after a crash); the claimer keeps
            // up to one more window claimed ahead of it, so that the sender finds messages
            // waiting whenever room is made. The rest stays claimable by other nodes.
            const std::int64_t window = std::max<std::int64_t>(capacity, 1);
            const std::int64_t room = 2 * window - in_flight - ahead_size;
            const bool full = room <= 0 || receipt_backlog > 8 * window;
            if (full || !any_bound()) {
                const auto waited = clock::now();
                wait_for_room();
                if (full) spent(&dispatcher_stats::room_wait_us, waited);
                continue;
            }
            // What the API handed over first: it is leased to this node already.
            auto mine = take_handed(room);
            const std::int64_t room_left = room - std::int64_t(mine.size());
            const auto now = clock::now();
            // Campaign batches that fit in the room (one whenever nothing is in flight, so a
            // window smaller than a batch still moves).
            const int batch = std::max(options.campaign_batch, 1);
            int fit = int(std::min<std::int64_t>(room_left / batch, 8));
            if (fit == 0 && in_flight == 0 && ahead_size == 0 && mine.empty()) fit = 1;
            const bool try_queue = room_left > 0 && now >= next_queue,
                       try_batches = fit > 0 && now >= next_batches;
            if (!try_queue && !try_batches && mine.empty()) {
                if (fit == 0 && now >= next_batches)
                    wait_for_room();
                else if (wait(std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::min(next_queue, next_batches) - now)))
                    next_queue = next_batches = clock::now();
                continue;
            }
            gates.set_live_nodes(live_nodes);
            // A power of two: the claim statement comes in those sizes (see claim_due).
            const int want = int(std::bit_floor(std::uint64_t(std::max<std::int64_t>(
                std::min<std::int64_t>(options.claim_batch, room_left), 0))));
            // Two claims, each its own transaction. They are kept out here, so that a retry
            // of the second (after a lost connection) does not claim the first again.
            std::optional<std::vector<store::claimed_message>> queued;
            std::optional<store::batch_claim> batched;
            bool connectors_appeared = false;
            auto defer = [this](const store::claimed_message& m) {
                return gates.check(m, core::now());
            };
            const auto claim_started = clock::now();
            // Handed messages alone need the database only for the fallback check below.
            const bool ask = try_queue || try_batches || fallback_mode_now();
            auto got = !ask ? result<void>{} : pool.run([&](db::connection& c) -> result<void> {
                // Everything goes to the fallback SMSC only while no connector exists. One
                // added since the last refresh must not see messages go to the simulator
                // meanwhile: look before each claim (a read of an almost empty table).
                if (fallback_mode_now()) {
                    auto any = store::any_connector(c);
                    if (!any) return std::unexpected(any.error());
                    if (*any) {
                        connectors_appeared = true;
                        return {};
                    }
                }
                if (try_queue && !queued) {
                    auto q = store::claim_and_charge(c, owner, want, options.lease, defer);
                    if (!q) return std::unexpected(q.error());
                    queued = std::move(*q);
                }
                // What the queue took is not in the room any more (but a window smaller than
                // a batch still takes one when nothing else is in flight).
                const std::int64_t taken = queued ? std::int64_t(queued->size()) : 0;
                const int left =
                    taken == 0 ? fit : int(std::min<std::int64_t>(fit, (room - taken) / batch));
                if (try_batches && left > 0 && !batched) {
                    auto b = store::claim_batches(c, owner, left, options.lease, defer);
                    if (!b) return std::unexpected(b.error());
                    if (b->batches < left) next_batches = clock::now() + options.idle_poll;
                    batched = std::move(*b);
                }
                return {};
            });
            if (connectors_appeared || !got) put_back(mine);  // sent once that is settled
            if (connectors_appeared) {
                refresh();
                continue;
            }
            if (!got) spdlog::warn("dispatcher: claiming failed: {}", got.error().message);
            if (queued)
                next_queue =
                    int(queued->size()) < want ? clock::now() + options.idle_poll : clock::now();
            spent(&dispatcher_stats::claim_us, claim_started);
            std::vector<store::claimed_message> none;
            auto& from_queue = queued ? *queued : none;
            auto& from_batches = batched ? batched->messages : none;
            count(&dispatcher_stats::claimed, from_queue.size() + from_batches.size());
            count(&dispatcher_stats::handed, mine.size());
            if (!from_batches.empty()) {
                // Counted before any of them can have an outcome (see settle()).
                std::lock_guard l(batches_mutex);
                for (const auto& m : from_batches) ++outstanding[*m.batch];
            }
            {
                std::lock_guard l(ahead_mutex);
                for (auto& hm : mine) ahead.push_back(std::move(hm));
                const auto leased = clock::now();
                for (auto& m : from_queue) ahead.emplace_back(leased, std::move(m));
                for (auto& m : from_batches) ahead.emplace_back(leased, std::move(m));
                ahead_size = std::int64_t(ahead.size());
            }
            {
                std::lock_guard l(room_mutex);  // so that the sender cannot miss it
            }
            send_cv.notify_one();
            if (!got) wait(std::chrono::seconds(1));
        }
    }

    void hand_over(std::vector<store::claimed_message> ms) {
        if (ms.empty()) return;
        {
            std::lock_guard l(handed_mutex);
            if (!handed_closed) {
                const auto now = clock::now();
                for (auto& m : ms) handed.emplace_back(now, std::move(m));
                handed_waiting = handed.size();
                ms.clear();
            }
        }
        if (!ms.empty()) {
            release(ms);
            return;
        }
        {
            std::lock_guard l(wake_mutex);  // so that wait() cannot miss it
        }
        wake_cv.notify_one();
    }

    /// Up to `max` handed messages, oldest first, with the time each came: one that waited
    /// half its lease is given back by drain() rather than sent.
    std::vector<handed_message> take_handed(std::int64_t max) {
        std::vector<handed_message> out;
        if (handed_waiting == 0 || max <= 0) return out;
        std::lock_guard l(handed_mutex);
        while (!handed.empty() && std::int64_t(out.size()) < max) {
            out.push_back(std::move(handed.front()));
            handed.pop_front();
        }
        handed_waiting = handed.size();
        return out;
    }

    /// Puts messages taken with take_handed back in front, in their order, with the time
    /// they first came (their lease runs from then).
    void put_back(std::vector<handed_message>& ms) {
        std::lock_guard l(handed_mutex);
        for (auto it = ms.rbegin(); it != ms.rend(); ++it) handed.push_front(std::move(*it));
        handed_waiting = handed.size();
        ms.clear();
    }

    /// Gives back the leases of handed messages this node will not send.
    void release(const std::vector<store::claimed_message>& ms) {
        std::vector<core::uuid> ids;
        for (const auto& m : ms) ids.push_back(m.log_id);
        auto r = pool.run(
            [&](db::connection& c) { return store::release_leases(c, options.node_id, ids); });
        if (!r)
            spdlog::warn(
                "dispatcher: giving back {} leases failed ({}); they run out by themselves",
                ids.size(), r.error().message);
    }

    /// Hands messages waiting in `ahead` to the SMSC, as many as the window has room for, on
    /// the sender's thread (see `ahead`).
    void send_loop() {
        while (true) {
            {
                std::unique_lock l(room_mutex);
                send_cv.wait_for(l, std::chrono::milliseconds(50), [this] {
                    return !running
                           || (ahead_size > 0 && in_flight < std::max<std::int64_t>(capacity, 1));
                });
            }
            if (!running) return;
            drain();
        }
    }

    void drain() {
        std::vector<handed_message> take;
        {
            std::lock_guard l(ahead_mutex);
            std::int64_t room = std::max<std::int64_t>(capacity, 1) - in_flight;
            while (!ahead.empty() && room-- > 0) {
                take.push_back(std::move(ahead.front()));
                ahead.pop_front();
            }
            ahead_size = std::int64_t(ahead.size());
        }
        if (take.empty()) return;
        room_cv.notify_one();  // the claimer may claim again
        const auto started = clock::now();
        // One that waited half its lease is not sent: by the time it reached the SMSC,
        // another node might have claimed it.
        const auto stale = started - options.lease / 2;
        std::vector<store::claimed_message> late;
        for (auto& [at, m] : take)
            if (at < stale)
                late.push_back(std::move(m));
            else
                handle(m);
        spent(&dispatcher_stats::submit_us, started);
        if (!late.empty()) {
            spdlog::warn(
                "dispatcher: {} messages waited too long for room; they go back to the "
                "queue",
                late.size());
            give_back(late, "it waited too long for room on its node");
        }
    }

    /// Gives back claimed messages this node will not send: a campaign batch's message goes
    /// to the send queue (paid for with its batch, no attempt used) through the writer, so
    /// that its batch is finished as usual; a queued one has its lease given back.
    void give_back(std::vector<store::claimed_message>& ms, const std::string& why) {
        std::vector<store::claimed_message> leased;
        for (auto& m : ms) {
            if (!m.batch) {
                leased.push_back(std::move(m));
                continue;
            }
            push(store::send_outcome{.log_id = m.log_id,
                                     .created_at = m.created_at,
                                     .tenant = m.tenant,
                                     .connector = {},
                                     .what = kind::retry,
                                     .error_code = "not_sent",
                                     .error_message = why,
                                     .retry_after = std::chrono::seconds(0),
                                     .counted = false,
                                     .batch = m.batch});
        }
        if (!leased.empty()) release(leased);
        ms.clear();
    }

    /// What the claimer left waiting when the node stops (the sender has stopped).
    void give_back_ahead() {
        std::vector<store::claimed_message> left;
        {
            std::lock_guard l(ahead_mutex);
            for (auto& [at, m] : ahead) left.push_back(std::move(m));
            ahead.clear();
            ahead_size = 0;
        }
        if (!left.empty()) give_back(left, "its node stopped before sending it");
    }

    /// Closes the hand-over and gives back the leases of what is still waiting in it.
    void close_handover() {
        std::vector<store::claimed_message> left;
        {
            std::lock_guard l(handed_mutex);
            handed_closed = true;
            for (auto& [at, m] : handed) left.push_back(std::move(m));
            handed.clear();
            handed_waiting = 0;
        }
        if (!left.empty()) release(left);
    }

    /// Starts due campaigns, writes the next part of their audiences and closes finished
    /// ones, on its own thread so that claiming never waits for it.
    void plan_loop() {
        while (running) {
            const auto started = clock::now();
            auto n = pool.run([&](db::connection& c) {
                return store::advance_campaigns(c, options.expand_chunk,
                                                std::max(options.campaign_batch, 1));
            });
            if (!n) spdlog::warn("dispatcher: advancing campaigns failed: {}", n.error().message);
            if (n && *n > 0) {
                spent(&dispatcher_stats::expand_us, started);
                wake();  // new recipients to claim
                continue;
            }
            std::unique_lock l(plan_mutex);
            plan_cv.wait_for(l, std::chrono::milliseconds(200), [this] { return !running; });
        }
    }

    void wake() {
        {
            std::lock_guard l(wake_mutex);
            woken = true;
        }
        wake_cv.notify_one();
    }

    /// Waits (briefly) for the sender to take messages, or the writer to commit outcomes:
    /// either makes room for more.
    void wait_for_room() {
        std::unique_lock l(room_mutex);
        room_cv.wait_for(l, std::chrono::milliseconds(2));
    }

    /// Waits up to `d` for wake(); says whether it came.
    bool wait(std::chrono::milliseconds d) {
        std::unique_lock l(wake_mutex);
        wake_cv.wait_for(l, d, [this] { return woken || !running || handed_waiting > 0; });
        return std::exchange(woken, false);
    }

    /// An outcome of a message claimed with its campaign batch is committed: the batch is
    /// done when the last one is, and deleted with the next write.
    void settle(const store::send_outcome& o) {
        if (!o.batch) return;
        std::lock_guard l(batches_mutex);
        auto it = outstanding.find(*o.batch);
        if (it == outstanding.end() || --it->second > 0) return;
        outstanding.erase(it);
        finished_batches.push_back(*o.batch);
    }

    /// Writes the outcomes of submits (and deletes finished campaign batches), one
    /// transaction at a time, on its own connection: the claimer waits for these commits
    /// before it hands out more, so they must not queue behind receipts.
    void write_loop() {
        std::vector<store::send_outcome> batch;
        std::int64_t batch_submitted = 0;
        // Write when half a window's outcomes are waiting: the claimer is held back by them.
        auto flush_at = [this] { return std::max<std::int64_t>(32, capacity / 2); };
        std::vector<pending_receipt> none;
        while (true) {
            {
                std::unique_lock l(out_mutex);
                out_cv.wait_for(l, std::chrono::milliseconds(20), [this, flush_at] {
                    return std::int64_t(outcomes.size()) >= flush_at()
                           || (!running && handing_done);
                });
                if (batch.empty())
                    batch.swap(outcomes);
                else {
                    batch.insert(batch.end(), std::make_move_iterator(outcomes.begin()),
                                 std::make_move_iterator(outcomes.end()));
                    outcomes.clear();
                }
                batch_submitted += outcomes_submitted;
                outcomes_submitted = 0;
            }
            // Stopping: once nothing more can come (the claimer and the sender have given
            // back what they held) and nothing is in flight.
            const bool stopping = !running && handing_done;
            if (batch.empty() && !batches_to_finish()) {
                if (stopping && in_flight == 0) break;
                continue;
            }
            const auto started = clock::now();
            if (!persist(batch, none, true)) {
                std::this_thread::sleep_for(std::chrono::milliseconds(500));  // try again
                continue;
            }
            spent(&dispatcher_stats::outcome_write_us, started);
            remember_sent(batch);  // what persist wrote one by one is not in `batch` any more
            batch.clear();
            {
                std::lock_guard l(room_mutex);
                in_flight -= batch_submitted;
            }
            room_cv.notify_one();
            send_cv.notify_one();
            batch_submitted = 0;
            if (stopping && in_flight == 0 && !batches_to_finish()) {
                std::lock_guard l(out_mutex);
                if (outcomes.empty()) break;
            }
        }
        outcomes_written = true;
        receipt_cv.notify_one();
    }

    /// Writes receipts, on a connection of its own. A receipt whose part is not stored yet
    /// (its submit's outcome is still on the way) waits for a later round.
    void receipt_loop() {
        std::vector<store::send_outcome> none;
        std::vector<pending_receipt> waiting;
        while (true) {
            {
                std::unique_lock l(out_mutex);
                receipt_cv.wait_for(l, std::chrono::milliseconds(20), [this] {
                    return receipts.size() >= 1000 || (!running && outcomes_written);
                });
                while (!receipts.empty()) {
                    waiting.push_back(std::move(receipts.front()));
                    receipts.pop_front();
                }
            }
            // Once the outcomes are all written, what is left can be matched one last time.
            const bool last = !running && outcomes_written;
            if (waiting.empty()) {
                if (last) return;
                continue;
            }
            const auto started = clock::now();
            if (!persist(none, waiting, false)) {
                std::this_thread::sleep_for(std::chrono::milliseconds(500));  // try again
                continue;
            }
            spent(&dispatcher_stats::receipt_write_us, started);
            if (last && waiting.empty()) {
                std::lock_guard l(out_mutex);
                if (receipts.empty()) return;
            }
        }
    }

    static std::string recent_key(const std::string& connector, const std::string& id_key) {
        return connector + '\n' + id_key;
    }

    /// Remembers the one-part messages of committed outcomes (see `recent`).
    void remember_sent(const std::vector<store::send_outcome>& batch) {
        std::lock_guard l(recent_mutex);
        for (const auto& o : batch) {
            if (o.what != kind::sent || o.message_ids.size() != 1) continue;
            if (recent.size() >= max_recent) recent.clear();
            const auto& key = o.part_keys.size() == 1 ? o.part_keys[0] : o.message_ids[0];
            recent.insert_or_assign(recent_key(o.connector, key),
                                    message_ref(o.log_id, o.created_at));
        }
    }

    bool batches_to_finish() {
        std::lock_guard l(batches_mutex);
        return !finished_batches.empty();
    }

    /// Writes outcomes and receipts in one transaction, with the deletion of `done` batches;
    /// says for each receipt whether its part was found.
    result<std::vector<bool>> write_together(const std::vector<store::send_outcome>& batch,
                                             const std::vector<store::part_receipt>& rs,
                                             const std::vector<store::batch_key>& done = {}) {
        return pool.run([&](db::connection& c) -> result<std::vector<bool>> {
            // Outcomes that are all `sent` (nearly always) go in one round trip; the rest,
            // or a batch that failed that way, go the careful way below.
            if (rs.empty()) {
                std::vector<store::statement> also;
                if (!done.empty())
                    also.push_back(store::finish_batches_statement(options.node_id, done));
                auto at_once = store::record_sent_at_once(c, batch, std::move(also));
                if (!at_once) return std::unexpected(at_once.error());
                if (*at_once) return std::vector<bool>{};
            }
            auto tx = db::transaction::begin(c);
            if (!tx) return std::unexpected(tx.error());
            if (auto o = store::record_outcomes(c, batch); !o) return std::unexpected(o.error());
            auto m = store::record_receipts(c, rs);
            if (!m) return std::unexpected(m.error());
            if (auto f = store::finish_batches(c, options.node_id, done); !f)
                return std::unexpected(f.error());
            if (auto cm = tx->commit(); !cm) return std::unexpected(cm.error());
            return m;
        });
    }

    /// A batch failed for a reason that will not pass (nothing Herald knows of causes one:
    /// SMSC text is made storable first). Rather than retry it forever while every other
    /// outcome and receipt waits behind it, each item is written alone, and one that still
    /// fails is set aside with an error in the log: an outcome's message stays leased and is
    /// tried again when the lease ends; a receipt is acknowledged and dropped. False when the
    /// database went away meanwhile: what was written is gone from `batch` and `waiting`,
    /// and the rest waits for the next attempt.
    bool persist_one_by_one(std::vector<store::send_outcome>& batch,
                            std::vector<pending_receipt>& waiting, std::vector<bool>& matched,
                            std::vector<bool>& set_aside) {
        for (std::size_t i = 0; i < batch.size(); ++i) {
            auto one = write_together({batch[i]}, {});
            if (!one && one.error().transient()) {
                batch.erase(batch.begin(), batch.begin() + std::ptrdiff_t(i));
                return false;
            }
            if (one)
                settle(batch[i]);
            else
                spdlog::error(
                    "dispatcher: the outcome of message {} cannot be stored and is set aside "
                    "(the message is tried again when its lease ends): {}",
                    batch[i].log_id.str(), one.error().message);
        }
        batch.clear();
        matched.assign(waiting.size(), false);
        set_aside.assign(waiting.size(), false);
        for (std::size_t i = 0; i < waiting.size(); ++i) {
            auto one = write_together({}, {waiting[i].receipt});
            if (!one && one.error().transient()) return false;
            if (one) {
                matched[i] = one->front();
                continue;
            }
            spdlog::error(
                "dispatcher: a receipt for message id {} on {} cannot be stored and is "
                "dropped: {}",
                waiting[i].receipt.message_id, waiting[i].receipt.connector, one.error().message);
            set_aside[i] = true;
        }
        return true;
    }

    /// Writes outcomes or receipts (or both) in one transaction, and with outcomes the batches
    /// that finished before. Receipts that matched are acked;
    /// unmatched ones wait (their part may be in a later batch) for up to a minute.
    bool persist(std::vector<store::send_outcome>& batch, std::vector<pending_receipt>& waiting,
                 bool finish_batches) {
        std::vector<store::part_receipt> rs;
        rs.reserve(waiting.size());
        for (const auto& w : waiting) rs.push_back(w.receipt);
        std::vector<std::string> named;  // keys of receipts that name their message
        if (!rs.empty()) {
            std::lock_guard l(recent_mutex);
            for (auto& r : rs) {
                auto key = recent_key(r.connector, r.message_id);
                if (auto it = recent.find(key); it != recent.end()) {
                    r.message = it->second;
                    named.push_back(std::move(key));
                }
            }
        }
        std::vector<bool> matched, set_aside(waiting.size(), false);
        std::vector<store::batch_key> done;
        if (finish_batches) {
            std::lock_guard l(batches_mutex);
            done = finished_batches;
        }
        auto r = write_together(batch, rs, done);
        if (r) {
            matched = std::move(*r);
            {
                std::lock_guard l(recent_mutex);
                for (const auto& key : named) recent.erase(key);
            }
            {
                std::lock_guard l(batches_mutex);
                finished_batches.erase(finished_batches.begin(),
                                       finished_batches.begin() + std::ptrdiff_t(done.size()));
            }
            for (const auto& o : batch) settle(o);
        } else if (r.error().transient()) {
            spdlog::warn("dispatcher: writing {} outcomes and {} receipts failed: {}", batch.size(),
                         waiting.size(), r.error().message);
            return false;
        } else {
            spdlog::error(
                "dispatcher: writing {} outcomes and {} receipts failed ({}); writing "
                "them one at a time",
                batch.size(), waiting.size(), r.error().message);
            if (!persist_one_by_one(batch, waiting, matched, set_aside)) return false;
        }
        const auto now = clock::now();
        std::vector<pending_receipt> still;
        std::uint64_t acked = 0, dropped = 0;
        for (std::size_t i = 0; i < waiting.size(); ++i) {
            if (matched[i]) {
                waiting[i].ack(true);
                ++acked;
            } else if (set_aside[i]) {
                waiting[i].ack(true);
                ++dropped;
            } else if (now - waiting[i].first_seen > std::chrono::minutes(1) || outcomes_written) {
                // A receipt for nothing Herald sent (or sent long ago and purged).
                spdlog::warn("dispatcher: receipt for unknown message id {} on {}",
                             waiting[i].receipt.message_id, waiting[i].receipt.connector);
                waiting[i].ack(true);
                ++dropped;
            } else {
                still.push_back(std::move(waiting[i]));
            }
        }
        waiting.swap(still);
        receipt_backlog -= std::int64_t(acked + dropped);
        count(&dispatcher_stats::receipts, acked);
        count(&dispatcher_stats::receipts_unmatched, dropped);
        return true;
    }

    std::shared_ptr<link> open_link(std::string name, std::optional<store::connector> k,
                                    smpp::client_config cfg) {
        auto l = std::make_shared<link>();
        l->name = name;
        l->config = std::move(k);
        l->binds = cfg.binds;
        l->window_total = std::int64_t(cfg.window) * cfg.binds;
        smpp::client_handlers h;
        h.on_receipt = [this, name](smpp::delivery_report&& d, smpp::ack_fn ack) {
            on_receipt(name, std::move(d), std::move(ack));
        };
        h.on_inbound = [](smpp::inbound_message&&, smpp::ack_fn ack) {
            ack(true);
        };  // inbound: a later issue
        std::weak_ptr<link> weak = l;
        h.on_state = [weak, name](int bound, const std::string& why) {
            if (auto p = weak.lock()) p->bound = bound;
            spdlog::info("connector {}: {} bind(s) up ({})", name, bound, why);
        };
        l->client = std::make_shared<smpp::client>(engine, std::move(cfg), std::move(h));
        l->client->start();
        return l;
    }

    /// Nothing is claimed while no connection is bound: it would only go back to the queue.
    bool any_bound() const {
        std::shared_lock l(links_mutex);
        for (const auto& [name, k] : links)
            if (k->bound > 0) return true;
        return false;
    }

    /// Reads connectors and routes, renews this node's bind leases, and opens, reopens or
    /// closes connections to match.
    void refresh() {
        std::lock_guard serial(refresh_mutex);
        last_refresh = clock::now();
        struct snapshot {
            std::vector<store::connector> connectors;
            std::vector<store::route> routes;
            std::map<core::uuid, int> held;
            int live_nodes = 1;
        };
        auto snap = pool.run([&](db::connection& c) -> result<snapshot> {
            snapshot s;
            auto k = store::list_connectors(c);
            if (!k) return std::unexpected(k.error());
            s.connectors = std::move(*k);
            auto r = store::list_routes(c);
            if (!r) return std::unexpected(r.error());
            s.routes = std::move(*r);
            if (!s.connectors.empty()) {
                auto h = store::lease_binds(c, options.node_id, options.bind_lease);
                if (!h) return std::unexpected(h.error());
                s.held = std::move(h->held);
                s.live_nodes = h->live_nodes;
            }
            return s;
        });
        if (!snap) {
            // Keep what we have; leases run out by themselves if this lasts.
            spdlog::warn("dispatcher: reading connectors failed: {}", snap.error().message);
            return;
        }
        std::sort(snap->routes.begin(), snap->routes.end(),
                  [](const auto& a, const auto& b) { return a.prefix.size() > b.prefix.size(); });
        std::map<std::string, std::shared_ptr<link>> next;
        std::vector<std::shared_ptr<link>> closing;
        {
            std::shared_lock l(links_mutex);
            if (snap->connectors.empty()) {
                auto it = links.find(options.connector.name);
                next[options.connector.name] =
                    it != links.end() && !it->second->config
                        ? it->second
                        : open_link(options.connector.name, std::nullopt, options.connector);
            } else {
                for (const auto& k : snap->connectors) {
                    const int binds = k.enabled ? snap->held[k.id] : 0;
                    if (binds == 0) continue;
                    auto it = links.find(k.name);
                    if (it != links.end() && it->second->config
                        && it->second->config->updated_at == k.updated_at
                        && it->second->binds == binds) {
                        next[k.name] = it->second;
                        continue;
                    }
                    next[k.name] = open_link(k.name, k, client_config_for(k, binds));
                }
            }
            for (const auto& [name, old] : links) {
                auto it = next.find(name);
                if (it == next.end() || it->second != old) closing.push_back(old);
            }
        }
        std::int64_t cap = 0;
        for (const auto& [name, l] : next) cap += l->window_total;
        {
            std::unique_lock l(links_mutex);
            links = std::move(next);
            routes = std::move(snap->routes);
            fallback_mode = snap->connectors.empty();
        }
        capacity = cap;
        live_nodes = snap->live_nodes;
        // What was in flight through a closed connection fails and is retried.
        for (auto& l : closing) l->client->stop(std::chrono::seconds(5));
    }

    void on_receipt(const std::string& connector, smpp::delivery_report&& d, smpp::ack_fn ack) {
        if (!d.receipt.final()) {
            ack(true);  // intermediate notification: nothing to store
            return;
        }
        pending_receipt p{.receipt = {.connector = connector,
                                      .message_id = d.id_key,
                                      .status = receipt_status(d.receipt.outcome),
                                      .error_code = d.receipt.error,
                                      .done_at = d.receipt.done_date},
                          .ack = std::move(ack),
                          .first_seen = clock::now()};
        {
            std::lock_guard l(out_mutex);
            receipts.push_back(std::move(p));
            ++receipt_backlog;
        }
        receipt_cv.notify_one();
    }
};

dispatcher::dispatcher(db::pool& pool, dispatcher_options options)
    : impl_(std::make_unique<impl>(pool, std::move(options))) {}

dispatcher::~dispatcher() {
    stop();
}

void dispatcher::start() {
    if (impl_->running.exchange(true)) return;
    auto* i = impl_.get();
    i->refresh();
    i->outcomes_written = false;
    i->handing_done = false;
    i->writer = core::named_thread(
        "dispatch-write", [i] { i->write_loop(); }, i->options.nice);
    i->receipt_writer = core::named_thread(
        "dispatch-dlr", [i] { i->receipt_loop(); }, i->options.nice);
    i->claimer = core::named_thread(
        "dispatch-claim", [i] { i->claim_loop(); }, i->options.nice);
    i->sender = core::named_thread(
        "dispatch-send", [i] { i->send_loop(); }, i->options.nice);
    i->planner = core::named_thread(
        "dispatch-plan", [i] { i->plan_loop(); }, i->options.nice);
}

void dispatcher::stop(std::chrono::milliseconds grace) {
    auto* i = impl_.get();
    if (!i->running.exchange(false)) return;
    i->wake_cv.notify_all();
    {
        std::lock_guard l(i->plan_mutex);  // so the planner cannot miss the notification
    }
    i->plan_cv.notify_all();
    if (i->planner.joinable()) i->planner.join();
    if (i->claimer.joinable()) i->claimer.join();
    {
        std::lock_guard l(i->room_mutex);  // so that the sender cannot miss it
    }
    i->send_cv.notify_all();
    if (i->sender.joinable()) i->sender.join();
    i->give_back_ahead();
    i->close_handover();
    {
        std::lock_guard l(i->out_mutex);  // so that the writer cannot miss it
        i->handing_done = true;
    }
    i->out_cv.notify_all();
    // Let answers in flight arrive, then unbind (which fails whatever is left: retried later).
    const auto deadline = clock::now() + grace;
    while (i->in_flight > 0 && clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::map<std::string, std::shared_ptr<link>> links;
    {
        std::unique_lock l(i->links_mutex);
        links.swap(i->links);
    }
    for (auto& [name, l] : links) l->client->stop(grace);
    i->out_cv.notify_all();
    if (i->writer.joinable()) i->writer.join();
    i->receipt_cv.notify_all();
    if (i->receipt_writer.joinable()) i->receipt_writer.join();
    // Give the binds back at once so other nodes need not wait for the leases to end.
    auto r =
        i->pool.run([&](db::connection& c) { return store::release_binds(c, i->options.node_id); });
    if (!r) spdlog::warn("dispatcher: releasing binds failed: {}", r.error().message);
}

void dispatcher::wake() {
    impl_->wake();
}

void dispatcher::hand_over(std::vector<store::claimed_message> messages) {
    impl_->hand_over(std::move(messages));
}

const std::string& dispatcher::node_id() const noexcept {
    return impl_->options.node_id;
}

std::chrono::seconds dispatcher::lease() const noexcept {
    return impl_->options.lease;
}

dispatcher_stats dispatcher::stats() const {
    dispatcher_stats s;
    {
        std::lock_guard l(impl_->stats_mutex);
        s = impl_->counters;
    }
    return s;
}

std::vector<connector_health> dispatcher::health() const {
    std::vector<connector_health> out;
    std::shared_lock l(impl_->links_mutex);
    for (const auto& [name, k] : impl_->links) {
        const auto st = k->client->stats();
        out.push_back({.name = name,
                       .binds_held = k->binds,
                       .binds_up = st.binds_bound,
                       .in_flight = st.in_flight,
                       .queued = st.queued,
                       .tps_now = st.tps_now,
                       .submitted = st.submitted,
                       .errors = st.rejected + st.failed,
                       .reconnects = st.reconnects,
                       .last_error = st.last_error});
    }
    return out;
}

}  // namespace herald::dispatch
