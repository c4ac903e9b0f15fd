#include "dispatch/dispatcher.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "db/transaction.hpp"
#include "smpp/engine.hpp"
#include "store/campaigns.hpp"
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
    smpp::engine engine{1};
    std::unique_ptr<smpp::client> client;

    std::atomic<bool> running{false};
    std::thread claimer, writer;

    // Claim loop wake-ups.
    std::mutex wake_mutex;
    std::condition_variable wake_cv;
    bool woken = false;

    // Results waiting to be written.
    std::mutex out_mutex;
    std::condition_variable out_cv;
    std::vector<store::send_outcome> outcomes;
    std::int64_t outcomes_submitted = 0;  // of `outcomes`, those that went to the SMSC
    std::deque<pending_receipt> receipts;
    // Messages handed to the SMSC whose outcome is not committed yet. Bounded by one window per
    // bind: after a crash, at most that many can go out twice.
    std::atomic<std::int64_t> in_flight{0};

    mutable std::mutex stats_mutex;
    dispatcher_stats counters;

    void count(std::uint64_t dispatcher_stats::*field, std::uint64_t n = 1) {
        std::lock_guard l(stats_mutex);
        counters.*field += n;
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
                              .connector = options.connector.name};
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
        smpp::outbound_sms sms{.source = m.from, .destination = m.to, .text = m.body};
        if (m.validity_seconds) sms.validity_period = relative_validity(*m.validity_seconds);
        ++in_flight;
        const int attempts = m.attempts;
        const int cost = m.charged ? m.cost : 0;
        const bool refund_failed = m.refund_failed;
        bool queued = client->submit(std::move(sms), [this, o, attempts, cost, refund_failed](
                                                         smpp::submit_result&& r) mutable {
            switch (r.outcome) {
                case smpp::submit_outcome::accepted:
                    o.what = kind::sent;
                    o.message_ids = std::move(r.message_ids);
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
                    if (attempts < options.max_attempts) {
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

    void claim_loop() {
        const auto owner = options.node_id;
        clock::time_point last_advance{};
        // At most one window per bind between "handed to the SMSC" and "outcome committed":
        // the bound on duplicates after a crash. The rest stays claimable by other nodes.
        const std::int64_t max_in_flight =
            std::int64_t(options.connector.window) * options.connector.binds;
        while (running) {
            if (in_flight >= max_in_flight) {
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
                continue;
            }
            const int want =
                int(std::min<std::int64_t>(options.claim_batch, max_in_flight - in_flight));
            if (clock::now() - last_advance > std::chrono::milliseconds(200)) {
                // Start due campaigns, write the next part of their audiences, close finished ones.
                auto n = pool.run([&](db::connection& c) {
                    return store::advance_campaigns(c, options.expand_chunk);
                });
                if (!n)
                    spdlog::warn("dispatcher: advancing campaigns failed: {}", n.error().message);
                last_advance = n && *n > 0 ? clock::time_point() : clock::now();
            }
            auto batch = pool.run([&](db::connection& c) {
                return store::claim_and_charge(c, owner, want, options.lease);
            });
            if (!batch) {
                spdlog::warn("dispatcher: claiming failed: {}", batch.error().message);
                wait(std::chrono::seconds(1));
                continue;
            }
            count(&dispatcher_stats::claimed, batch->size());
            for (const auto& m : *batch) handle(m);
            if (int(batch->size()) < want) wait(options.idle_poll);
        }
    }

    void wait(std::chrono::milliseconds d) {
        std::unique_lock l(wake_mutex);
        wake_cv.wait_for(l, d, [this] { return woken || !running; });
        woken = false;
    }

    void write_loop() {
        std::vector<store::send_outcome> batch;
        std::int64_t batch_submitted = 0;
        // Write when half a window's outcomes are waiting: the claimer is held back by them.
        const std::int64_t flush_at = std::max<std::int64_t>(
            32, std::int64_t(options.connector.window) * options.connector.binds / 2);
        std::vector<pending_receipt> waiting;  // receipts whose part is not stored yet
        while (true) {
            std::vector<pending_receipt> fresh;
            {
                std::unique_lock l(out_mutex);
                out_cv.wait_for(l, std::chrono::milliseconds(20), [this, flush_at] {
                    return std::int64_t(outcomes.size()) >= flush_at || receipts.size() >= 1000
                           || !running;
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
                while (!receipts.empty()) {
                    fresh.push_back(std::move(receipts.front()));
                    receipts.pop_front();
                }
            }
            for (auto& r : fresh) waiting.push_back(std::move(r));
            const bool stopping = !running;
            if (batch.empty() && waiting.empty()) {
                if (stopping && in_flight == 0) return;
                continue;
            }
            if (!persist(batch, waiting)) {
                std::this_thread::sleep_for(
                    std::chrono::milliseconds(500));  // keep both; try again
                continue;
            }
            batch.clear();
            in_flight -= batch_submitted;
            batch_submitted = 0;
            if (stopping && in_flight == 0 && waiting.empty()) {
                std::lock_guard l(out_mutex);
                if (outcomes.empty()) return;
            }
        }
    }

    /// Writes outcomes and receipts in one transaction. Receipts that matched are acked;
    /// unmatched ones wait (their part may be in a later batch) for up to a minute.
    bool persist(const std::vector<store::send_outcome>& batch,
                 std::vector<pending_receipt>& waiting) {
        std::vector<store::part_receipt> rs;
        rs.reserve(waiting.size());
        for (const auto& w : waiting) rs.push_back(w.receipt);
        std::vector<bool> matched(waiting.size(), false);  // filled by the transaction
        auto r = pool.run([&](db::connection& c) -> result<int> {
            auto tx = db::transaction::begin(c);
            if (!tx) return std::unexpected(tx.error());
            if (auto o = store::record_outcomes(c, batch); !o) return std::unexpected(o.error());
            auto m = store::record_receipts(c, rs);
            if (!m) return std::unexpected(m.error());
            matched = *m;
            int n = 0;
            for (bool b : matched) n += b;
            if (auto cm = tx->commit(); !cm) return std::unexpected(cm.error());
            return n;
        });
        if (!r) {
            spdlog::warn("dispatcher: writing {} outcomes and {} receipts failed: {}", batch.size(),
                         waiting.size(), r.error().message);
            return false;
        }
        const auto now = clock::now();
        std::vector<pending_receipt> still;
        std::uint64_t acked = 0, dropped = 0;
        for (std::size_t i = 0; i < waiting.size(); ++i) {
            if (matched[i]) {
                waiting[i].ack(true);
                ++acked;
            } else if (now - waiting[i].first_seen > std::chrono::minutes(1) || !running) {
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
        count(&dispatcher_stats::receipts, acked);
        count(&dispatcher_stats::receipts_unmatched, dropped);
        return true;
    }

    void on_receipt(smpp::delivery_report&& d, smpp::ack_fn ack) {
        if (!d.receipt.final()) {
            ack(true);  // intermediate notification: nothing to store
            return;
        }
        pending_receipt p{.receipt = {.connector = options.connector.name,
                                      .message_id = d.id_key,
                                      .status = receipt_status(d.receipt.outcome),
                                      .error_code = d.receipt.error,
                                      .done_at = d.receipt.done_date},
                          .ack = std::move(ack),
                          .first_seen = clock::now()};
        {
            std::lock_guard l(out_mutex);
            receipts.push_back(std::move(p));
        }
        out_cv.notify_one();
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
    smpp::client_handlers h;
    h.on_receipt = [i](smpp::delivery_report&& d, smpp::ack_fn ack) {
        i->on_receipt(std::move(d), std::move(ack));
    };
    h.on_inbound = [](smpp::inbound_message&&, smpp::ack_fn ack) {
        ack(true);
    };  // inbound: a later issue
    h.on_state = [name = i->options.connector.name](int bound, const std::string& why) {
        spdlog::info("connector {}: {} bind(s) up ({})", name, bound, why);
    };
    i->client = std::make_unique<smpp::client>(i->engine, i->options.connector, std::move(h));
    i->client->start();
    i->writer = std::thread([i] { i->write_loop(); });
    i->claimer = std::thread([i] { i->claim_loop(); });
}

void dispatcher::stop(std::chrono::milliseconds grace) {
    auto* i = impl_.get();
    if (!i->running.exchange(false)) return;
    i->wake_cv.notify_all();
    if (i->claimer.joinable()) i->claimer.join();
    // Let answers in flight arrive, then unbind (which fails whatever is left: retried later).
    const auto deadline = clock::now() + grace;
    while (i->in_flight > 0 && clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    i->client->stop(grace);
    i->out_cv.notify_all();
    if (i->writer.joinable()) i->writer.join();
}

void dispatcher::wake() {
    {
        std::lock_guard l(impl_->wake_mutex);
        impl_->woken = true;
    }
    impl_->wake_cv.notify_one();
}

dispatcher_stats dispatcher::stats() const {
    dispatcher_stats s;
    {
        std::lock_guard l(impl_->stats_mutex);
        s = impl_->counters;
    }
    if (impl_->client) s.connector = impl_->client->stats();
    return s;
}

}  // namespace herald::dispatch
