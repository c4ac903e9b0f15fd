#pragma once
/// A fixed-size, thread-safe pool of connections. A borrowed connection goes back to the
/// pool when its handle is destroyed; a broken one is replaced on the next borrow.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "db/connection.hpp"

namespace herald::db {

struct pool_options {
    std::string conninfo;
    int size = 8;
    std::chrono::milliseconds acquire_timeout{10000};
    std::chrono::milliseconds connect_timeout{5000};
    std::string application_name = "herald";
    bool generic_plans = true;  ///< see connect_options::generic_plans
};

/// Point-in-time pool figures, for /metrics and /readyz.
struct pool_stats {
    int size = 0;     ///< configured maximum
    int open = 0;     ///< connections currently open
    int in_use = 0;   ///< borrowed right now
    int waiting = 0;  ///< callers blocked in acquire()
    std::uint64_t acquired_total = 0;
    std::uint64_t timeouts_total = 0;
};

class pool;

/// A borrowed connection. Returns itself to the pool when destroyed.
class pooled_connection {
  public:
    pooled_connection(pooled_connection&&) noexcept;
    pooled_connection& operator=(pooled_connection&&) = delete;
    ~pooled_connection();
    connection& operator*() noexcept { return *conn_; }
    connection* operator->() noexcept { return conn_.get(); }

  private:
    friend class pool;
    pooled_connection(pool* p, std::unique_ptr<connection> c) : pool_(p), conn_(std::move(c)) {}
    pool* pool_;
    std::unique_ptr<connection> conn_;
};

class pool {
  public:
    explicit pool(pool_options options);
    ~pool();
    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;

    /// Borrows a connection, opening one if the pool has room; waits up to acquire_timeout.
    result<pooled_connection> acquire();

    /// Runs `fn(connection&)` and retries it (up to `attempts` times, with short backoff) when
    /// it fails with a retryable or connection_lost error. `fn` must be safe to repeat: keep
    /// each attempt inside one transaction.
    template <class Fn>
    auto run(Fn&& fn, int attempts = 3) -> decltype(fn(std::declval<connection&>()));

    pool_stats stats() const;
    const pool_options& options() const noexcept { return options_; }

    /// A connection of the caller's own, outside the pool, on the pool's settings, in
    /// pipeline mode; `role` is added to its application_name ("herald lane").
    result<connection> open_pipelined(std::string_view role) const;

  private:
    friend class pooled_connection;
    void release(std::unique_ptr<connection> c);
    static void backoff(int attempt);

    pool_options options_;
    mutable std::mutex mutex_;
    std::condition_variable available_;
    std::vector<std::unique_ptr<connection>> idle_;
    int open_ = 0;
    int in_use_ = 0;
    int waiting_ = 0;
    std::uint64_t acquired_total_ = 0;
    std::uint64_t timeouts_total_ = 0;
};

template <class Fn>
auto pool::run(Fn&& fn, int attempts) -> decltype(fn(std::declval<connection&>())) {
    for (int attempt = 1;; ++attempt) {
        auto conn = acquire();
        if (!conn) {
            if (attempt >= attempts) return std::unexpected(conn.error());
            backoff(attempt);
            continue;
        }
        auto r = fn(**conn);
        if (r || attempt >= attempts || !r.error().transient()) return r;
        backoff(attempt);
    }
}

}  // namespace herald::db
