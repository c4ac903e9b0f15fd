#pragma once
/// The webhook sender: claims queued status calls from PostgreSQL under a lease, POSTs each
/// signed with the account's secret, records every attempt, and retries failures with
/// backoff until `give_up_after` has passed since the status change.
///
/// It runs on its own threads and database connections, with a bounded number of calls in
/// flight, so a slow or dead endpoint holds up only its own calls, never dispatch.
///
/// Each call carries:
///   Content-Type: application/json
///   Herald-Event-Id: <delivery id, the same on every retry>
///   Herald-Timestamp: <unix seconds of this attempt>
///   Herald-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "db/pool.hpp"

namespace herald::dispatch {

struct webhook_options {
    std::string node_id;
    int concurrency = 64;  ///< calls in flight at once
    std::chrono::milliseconds timeout{10'000};
    std::chrono::seconds retry_base{30};  ///< first retry; doubles each time
    std::chrono::seconds retry_max{3600};
    std::chrono::seconds give_up_after{24 * 3600};
    std::chrono::seconds lease{120};
    std::chrono::milliseconds idle_poll{500};
};

struct webhook_stats {
    std::uint64_t attempts = 0, delivered = 0, failed_attempts = 0, given_up = 0;
    std::int64_t in_flight = 0;
};

class webhook_sender {
  public:
    webhook_sender(db::pool& pool, webhook_options options);
    ~webhook_sender();
    webhook_sender(const webhook_sender&) = delete;
    webhook_sender& operator=(const webhook_sender&) = delete;

    void start();
    /// Stops claiming; waits up to `grace` for calls in flight and records them.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
    void wake();
    webhook_stats stats() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// The signature header's value for a body sent at `timestamp` (unix seconds).
std::string webhook_signature(std::string_view secret, std::int64_t timestamp,
                              std::string_view body);

}  // namespace herald::dispatch
