#include "dispatch/webhooks.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/hash.hpp"
#include "core/thread.hpp"
#include "http/client.hpp"
#include "store/webhooks.hpp"

namespace herald::dispatch {

std::string webhook_signature(std::string_view secret, std::int64_t timestamp,
                              std::string_view body) {
    std::string signed_text = std::to_string(timestamp);
    signed_text += '.';
    signed_text += body;
    return "v1=" + core::hmac_sha256_hex(secret, signed_text);
}

struct webhook_sender::impl {
    impl(db::pool& p, webhook_options o) : pool(p), options(std::move(o)) {}

    db::pool& pool;
    webhook_options options;
    std::atomic<bool> running{false};
    std::thread loop;

    std::mutex mutex;
    std::condition_variable cv;
    bool woken = false;
    std::vector<store::webhook_attempt> done;  // waiting to be recorded
    std::atomic<std::int64_t> in_flight{0};

    mutable std::mutex stats_mutex;
    webhook_stats counters;
    // Last, so it goes first: its callbacks use everything above.
    http::client client;

    std::chrono::seconds backoff(int attempt) const {
        const auto s = options.retry_base * (std::int64_t(1) << std::min(attempt - 1, 20));
        return std::min<std::chrono::seconds>(s, options.retry_max);
    }

    void send(store::webhook_job job) {
        const auto now = std::chrono::system_clock::now();
        const std::int64_t ts =
            std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
        http::outgoing_request r{
            .method = "POST",
            .url = job.url,
            .headers = {{"Content-Type", "application/json"},
                        {"Herald-Event-Id", job.id.str()},
                        {"Herald-Timestamp", std::to_string(ts)},
                        {"Herald-Signature", webhook_signature(job.secret, ts, job.payload)}},
            .body = std::move(job.payload),
            .timeout = options.timeout};
        ++in_flight;
        client.send(std::move(r), [this, id = job.id, attempt = job.attempt,
                                   created = job.created_at](http::outgoing_result&& res) {
            store::webhook_attempt a{.id = id,
                                     .attempt = attempt,
                                     .status_code = res.status,
                                     .error = res.error,
                                     .duration_ms = int(res.took.count())};
            const bool ok = res.status >= 200 && res.status < 300;
            if (!ok) {
                if (a.error.empty()) a.error = "HTTP " + std::to_string(res.status);
                const auto next = backoff(attempt);
                if (std::chrono::system_clock::now() + next - created <= options.give_up_after)
                    a.retry_in = next;
            }
            {
                std::lock_guard l(stats_mutex);
                ++counters.attempts;
                if (ok)
                    ++counters.delivered;
                else
                    ++counters.failed_attempts;
                if (!ok && !a.retry_in) ++counters.given_up;
            }
            {
                std::lock_guard l(mutex);
                done.push_back(std::move(a));
            }
            --in_flight;
            cv.notify_one();
        });
    }

    /// Writes finished attempts; kept for the next round if the database is away.
    void flush() {
        std::vector<store::webhook_attempt> batch;
        {
            std::lock_guard l(mutex);
            batch.swap(done);
        }
        if (batch.empty()) return;
        auto r =
            pool.run([&](db::connection& c) { return store::record_webhook_attempts(c, batch); });
        if (!r) {
            spdlog::warn("webhooks: recording {} attempts failed: {}", batch.size(),
                         r.error().message);
            std::lock_guard l(mutex);
            done.insert(done.end(), batch.begin(), batch.end());
        }
    }

    void run() {
        while (running) {
            flush();
            const int room = options.concurrency - int(in_flight);
            int claimed = 0;
            if (room > 0) {
                auto jobs = pool.run([&](db::connection& c) {
                    return store::claim_webhooks(c, options.node_id, room, options.lease);
                });
                if (!jobs)
                    spdlog::warn("webhooks: claiming failed: {}", jobs.error().message);
                else
                    for (auto& j : *jobs) {
                        send(std::move(j));
                        ++claimed;
                    }
            }
            std::unique_lock l(mutex);
            if (claimed == room && room > 0) continue;  // more may be due
            cv.wait_for(l, room > 0 ? options.idle_poll : std::chrono::milliseconds(50),
                        [this] { return woken || !done.empty() || !running; });
            woken = false;
        }
    }
};

webhook_sender::webhook_sender(db::pool& pool, webhook_options options)
    : impl_(std::make_unique<impl>(pool, std::move(options))) {}

webhook_sender::~webhook_sender() {
    stop();
}

void webhook_sender::start() {
    if (impl_->running.exchange(true)) return;
    impl_->loop = core::named_thread("webhooks", [i = impl_.get()] { i->run(); });
}

void webhook_sender::stop(std::chrono::milliseconds grace) {
    auto* i = impl_.get();
    if (!i->running.exchange(false)) return;
    i->cv.notify_all();
    if (i->loop.joinable()) i->loop.join();
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (i->in_flight > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    i->flush();  // what is still in flight is claimed again when its lease runs out
}

void webhook_sender::wake() {
    {
        std::lock_guard l(impl_->mutex);
        impl_->woken = true;
    }
    impl_->cv.notify_one();
}

webhook_stats webhook_sender::stats() const {
    std::lock_guard l(impl_->stats_mutex);
    webhook_stats s = impl_->counters;
    s.in_flight = impl_->in_flight;
    return s;
}

}  // namespace herald::dispatch
