#include "db/pool.hpp"

#include <random>
#include <thread>

#include <spdlog/spdlog.h>

#include "db/errc.hpp"

namespace herald::db {

pooled_connection::pooled_connection(pooled_connection&& o) noexcept
    : pool_(std::exchange(o.pool_, nullptr)), conn_(std::move(o.conn_)) {}

pooled_connection::~pooled_connection() {
    if (pool_ && conn_) pool_->release(std::move(conn_));
}

pool::pool(pool_options options) : options_(std::move(options)) {}

pool::~pool() = default;

result<pooled_connection> pool::acquire() {
    std::unique_lock lock(mutex_);
    const auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
    ++waiting_;
    while (idle_.empty() && open_ >= options_.size) {
        if (available_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty()
            && open_ >= options_.size) {
            --waiting_;
            ++timeouts_total_;
            return fail(errc::pool_timeout, "all " + std::to_string(options_.size)
                                                + " database connections stayed busy for "
                                                + std::to_string(options_.acquire_timeout.count())
                                                + "ms");
        }
    }
    --waiting_;
    ++in_use_;
    ++acquired_total_;
    if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        if (c->is_ok()) return pooled_connection(this, std::move(c));
        --open_;  // dead (server restarted): drop it and open a fresh one below
    }
    ++open_;
    lock.unlock();
    auto opened = connection::open({options_.conninfo, options_.connect_timeout,
                                    options_.application_name, options_.generic_plans});
    if (!opened) {
        lock.lock();
        --open_;
        --in_use_;
        available_.notify_one();
        return std::unexpected(opened.error());
    }
    return pooled_connection(this, std::make_unique<connection>(std::move(*opened)));
}

void pool::release(std::unique_ptr<connection> c) {
    // A connection left inside a transaction (an early return without commit) is rolled
    // back here so the next borrower starts clean.
    if (c->is_ok() && !c->is_idle()) {
        c->copy_abort("connection returned to the pool during COPY");
        if (c->in_transaction()) (void)c->exec("ROLLBACK");
    }
    std::lock_guard lock(mutex_);
    --in_use_;
    if (c->is_ok() && c->is_idle()) {
        idle_.push_back(std::move(c));
    } else {
        --open_;
    }
    available_.notify_one();
}

pool_stats pool::stats() const {
    std::lock_guard lock(mutex_);
    return {options_.size, open_, in_use_, waiting_, acquired_total_, timeouts_total_};
}

void pool::backoff(int attempt) {
    thread_local std::minstd_rand rng(std::random_device{}());
    int base = std::min(2000, 50 << std::min(attempt, 6));
    std::this_thread::sleep_for(std::chrono::milliseconds(base / 2 + int(rng() % unsigned(base))));
}

result<connection> pool::open_pipelined(std::string_view role) const {
    auto c = connection::open({options_.conninfo, options_.connect_timeout,
                               options_.application_name + " " + std::string(role),
                               options_.generic_plans});
    if (!c) return c;
    if (auto p = c->enter_pipeline(); !p) return std::unexpected(p.error());
    return c;
}

}  // namespace herald::db
