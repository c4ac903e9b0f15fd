#pragma once
/// The dispatcher: takes due messages from the durable send queue, applies the gates at the
/// moment of sending (account active, number not opted out), submits them over SMPP, and
/// persists what the SMSC answered and the receipts that follow, in batches.
///
/// Several nodes may run one each against the same database: claims use FOR UPDATE SKIP
/// LOCKED under an expiring lease, so a message is in one node's hands at a time, and a
/// crashed node's claims come back when their lease runs out.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "db/pool.hpp"
#include "smpp/client.hpp"
#include "store/messages.hpp"

namespace herald::dispatch {

struct dispatcher_options {
    std::string node_id;  ///< lease owner; unique per process
    int claim_batch = 512;
    /// Campaign recipients claimed together (one campaign batch; see claim_batches).
    int campaign_batch = 128;
    /// Campaign recipients written to the delivery log per step.
    int expand_chunk = 5000;
    std::chrono::seconds lease{120};
    std::chrono::milliseconds idle_poll{250};
    /// Transient failures retry with backoff (2^attempt seconds, capped) this many times.
    int max_attempts = 6;
    std::chrono::seconds max_backoff{300};
    /// The carrier connection used while no connector is configured in the database (the
    /// built-in simulator or dispatch.smsc). Its name is recorded with each part.
    smpp::client_config connector;
    /// How long a node holds a connector's binds without renewing (renewed every third).
    std::chrono::seconds bind_lease{15};
    /// How often connectors and routes are read again.
    std::chrono::milliseconds refresh{3000};
    /// Nice value of the dispatcher's threads (decision 0028): when the CPUs are short,
    /// accepting messages comes before sending them.
    int nice = 0;
};

/// One connector as this node sees it.
struct connector_health {
    std::string name;
    int binds_held = 0;  ///< binds this node holds a lease for
    int binds_up = 0;    ///< of those, bound now
    std::size_t in_flight = 0, queued = 0;
    double tps_now = 0;
    std::uint64_t submitted = 0, errors = 0, reconnects = 0;
    std::string last_error;
};

struct dispatcher_stats {
    std::uint64_t claimed = 0, handed = 0, sent = 0, retried = 0, failed = 0, suppressed = 0;
    std::uint64_t receipts = 0, receipts_unmatched = 0;
    std::uint64_t no_route = 0, deferred_no_connector = 0;
    /// Microseconds each loop spent on its work (or, for `room_wait_us`, waiting for
    /// outcomes to commit before it could claim more): where a node's time goes.
    std::uint64_t claim_us = 0, submit_us = 0, room_wait_us = 0, outcome_write_us = 0,
                  receipt_write_us = 0, expand_us = 0;
};

class dispatcher {
  public:
    dispatcher(db::pool& pool, dispatcher_options options);
    ~dispatcher();
    dispatcher(const dispatcher&) = delete;
    dispatcher& operator=(const dispatcher&) = delete;

    /// Binds and starts the claim and write loops.
    void start();
    /// Stops claiming, waits for answers in flight (up to `grace`), persists them, unbinds.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
    /// New work was queued: claim now instead of at the next poll.
    void wake();
    /// Messages leased to this node when they were accepted (store::lease_offer with this
    /// node's id): sent before anything is claimed. One still waiting for room when half its
    /// lease has gone has its lease given back unsent, for a claim to take.
    void hand_over(std::vector<store::claimed_message> messages);
    const std::string& node_id() const noexcept;
    std::chrono::seconds lease() const noexcept;
    dispatcher_stats stats() const;
    /// Every connector this node uses (the fallback one while none is configured).
    std::vector<connector_health> health() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// SMPP relative validity ("000001000000000R" is one day) for a number of seconds.
std::string relative_validity(int seconds);

}  // namespace herald::dispatch
