#pragma once
/// Group commit for POST /v1/messages. Each accepted message must be durable before its
/// 202, and each debits its tenant's balance, whose row lock is held until the commit
/// reaches the disk: one transaction per message serialises a busy tenant on that flush.
/// The batcher gathers the sends that arrive while the previous batch commits and writes
/// them together: per tenant one debit (or, when the balance does not cover them all, one
/// per message in arrival order), one insert, one audit row each, one commit. Usually that
/// is one round trip (decision 0024): the checks, as expectations of what earlier batches
/// read, with the writes and the commit. When the batcher knows nothing yet, or an
/// expectation fails, it takes three (decision 0022): the checks, the debits with the
/// inserts, the commit; a refused debit rolls it all back and the batch is written again
/// the careful way. With a handoff, what it accepted goes to this node's dispatcher as the
/// commit returns.
///
/// The one-round-trip batches go out on a connection of the batcher's own in pipeline mode
/// (decision 0026): the next batch is sent while the one before waits for its commit to
/// reach the disk, so that PostgreSQL starts it as soon as that commit is done instead of
/// waiting for the batcher to wake, read the answers and build it. There a batch has no
/// BEGIN nor COMMIT: its statements share one sync point, where they commit together.

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>

#include "db/pool.hpp"
#include "http/api.hpp"
#include "http/message.hpp"
#include "store/audit.hpp"
#include "store/messages.hpp"

namespace herald::http::detail {

struct send_job {
    store::new_message message;  ///< `from` and `cost` are filled in by the batcher
    std::optional<std::string> requested_from;
    std::string region;  ///< for the price
    std::optional<core::uuid> by;
    store::audit_entry audit;  ///< target and details are filled in once the message exists
};

/// The message as accepted, or the answer to give instead (422, 402, 500).
using send_result = std::variant<store::message, response>;

class send_batcher {
  public:
    send_batcher(db::pool& pool, std::function<void()> on_queued,
                 std::optional<send_handoff> handoff = std::nullopt, std::size_t max_batch = 256);
    ~send_batcher();
    send_batcher(const send_batcher&) = delete;
    send_batcher& operator=(const send_batcher&) = delete;

    /// Queues the send; `done` is called, on the batcher's thread, once the batch it joined
    /// has committed (or failed). The caller's thread does not wait.
    void send(send_job job, std::function<void(send_result)> done);

    /// How a batch's transaction was written, in the order they are tried.
    enum class way : std::uint8_t {
        at_once,        ///< the checks as expectations, the writes and the COMMIT: one round trip
        reading_first,  ///< the checks read, then the writes, then the COMMIT
        carefully,      ///< as reading_first, with one debit per message once one is refused
    };
    /// Batches committed each way since the start (for /metrics).
    std::uint64_t committed(way how) const noexcept {
        return committed_[std::size_t(how)].load(std::memory_order_relaxed);
    }

  private:
    struct pending {
        send_job job;
        std::function<void(send_result)> done;
    };
    void run();
    /// What a write gave: each send's answer, and the messages to hand to the dispatcher.
    struct written {
        std::vector<std::optional<send_result>> out;
        std::vector<store::claimed_message> leased;
        bool queued_any = false;         ///< some were accepted and left for a claim
        std::vector<core::uuid> ids;     ///< of the messages being inserted, in id order
        std::vector<std::size_t> index;  ///< the batch entry of each of `ids`
        bool commit_sent = false;        ///< the last attempt's COMMIT went out
    };
    /// A batch's statements, and where the answers to look at are among them.
    struct plan {
        std::vector<store::statement> writes;
        std::size_t first_debit = 0, debit_count = 0, insert_at = 0;
    };
    /// Writes the batch on a pooled connection, one round trip after another, and answers it.
    void write(std::vector<pending>& batch);
    /// As write, for a pipelined batch whose connection was lost: first whether it committed.
    void write(std::vector<pending>& batch, written w);
    /// Gives each send of the batch its answer (on the answering thread), and hands what was
    /// leased to the dispatcher.
    void deliver(std::vector<pending>& batch, const result<void>& r, written& w);
    /// After a connection was lost with the COMMIT sent: whether the batch was committed,
    /// read on a fresh connection; if it was, its answers are filled in.
    result<bool> committed_before(db::connection& c, written& w);
    /// One transaction for the batch; false when it was rolled back and the next way should
    /// be tried: at_once, when an expectation failed; reading_first, when a debit was refused.
    result<bool> attempt(db::connection& c, std::vector<pending>& batch, way how, written& w);
    /// The statements of an attempt. Reading first runs the checks on `c`, and carefully the
    /// debits too; at once needs no connection (`c` may be null) and ends with the COMMIT,
    /// or, `pipelined`, has neither BEGIN nor COMMIT (the sync point after it commits).
    result<plan> prepare(db::connection* c, std::vector<pending>& batch, way how, written& w,
                         bool pipelined = false);
    /// What the answers to `p` mean: true when the batch committed, false when it was rolled
    /// back and the next way should be tried. Commits (or rolls back) on `c` when the plan
    /// did not; `c` may be null for an at-once plan, which always ends its transaction.
    result<bool> settle(db::connection* c, way how, const plan& p,
                        result<std::vector<result<db::rows>>> done, written& w);

    /// A one-round-trip batch sent on the pipelined connection and not yet settled.
    struct flight {
        std::vector<pending> batch;
        written w;
        plan p;
        std::vector<result<db::rows>> answers;
        /// Every statement has answered, and the sync point after them not yet: PostgreSQL
        /// is committing, waiting for the disk.
        bool committing() const noexcept { return answers.size() >= p.writes.size(); }
        /// The sync point too (its answer last).
        bool answered() const noexcept { return answers.size() == p.writes.size() + 1; }
    };
    /// Opens the pipelined connection if there is none (at most once a second after a
    /// failure); false when there is none to use.
    bool open_pipeline();
    /// Sends the batch on the pipelined connection, or writes it the pooled way when it
    /// cannot go at once.
    void launch(std::vector<pending>& batch, std::deque<flight>& flights);
    /// Reads what has arrived for the flights; false when the connection was lost.
    bool receive(std::deque<flight>& flights);
    /// Settles the flights that have all their answers, in order. A batch that was rolled
    /// back waits for the flights after it and is then written the pooled way.
    void land(std::deque<flight>& flights);
    /// The pipelined connection was lost: each flight is written the pooled way, after
    /// checking whether its COMMIT took effect.
    void lose(std::deque<flight>& flights, const error& e);
    /// Waits until the socket is readable (or writable, when `out`), or until a send is
    /// queued when `sends` is true.
    void wait(bool sends, bool out);

    using sender_key = std::pair<core::uuid, std::optional<std::string>>;
    /// What the last batches read: the sender each (tenant, requested sender) resolves to,
    /// and the price per segment of each region. Only the batcher's thread uses them.
    struct guesses {
        std::map<sender_key, std::string> senders;
        std::map<std::string, int> prices;
        bool cover(const std::vector<pending>& batch) const;
        void learn(const std::map<sender_key, result<std::string>>& read,
                   const std::map<std::string, int>& read_prices);
        void forget() {
            senders.clear();
            prices.clear();
        }
    };
    guesses guesses_;
    std::array<std::atomic<std::uint64_t>, 3> committed_{};

    db::pool& pool_;
    std::function<void()> on_queued_;
    std::optional<send_handoff> handoff_;
    std::size_t max_batch_;
    std::mutex mutex_;
    std::deque<pending> queue_;
    bool stopping_ = false;
    bool sleeping_ = false;  ///< the batcher waits for a send: the next one wakes it
    int wake_fd_ = -1;       ///< an eventfd the batcher waits on with its connection
    std::optional<db::connection> pipelined_;
    std::chrono::steady_clock::time_point reopen_after_{};
    std::thread thread_;
    /// The answers are given on a thread of their own, so that the next batch is written
    /// meanwhile.
    struct answered {
        std::function<void(send_result)> done;
        send_result result;
    };
    void answer();
    std::mutex answers_mutex_;
    std::condition_variable answers_wake_;
    std::vector<answered> answers_;
    bool answers_stopping_ = false;
    std::thread answerer_;
};

}  // namespace herald::http::detail
