#include "http/detail/lane_reader.hpp"

// Standard headers come before Boost: 1.74's headers need <utility> first under g++ 12.
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <poll.h>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "db/errc.hpp"
#include "http/detail/lane.hpp"

namespace herald::http::detail {
namespace net = boost::asio;

namespace {

result<db::rows> read_from_pool(db::pool& pool, const std::string& sql, const db::params& args,
                                bool binary) {
    return pool.run(
        [&](db::connection& c) -> result<db::rows> { return c.exec_prepared(sql, args, binary); });
}

/// One lane's connection in pipeline mode and the requests waiting on it, in the order their
/// statements went out. Lives as long as its lane's thread, and only ever runs on it.
class lane_reader {
  public:
    lane_reader(net::io_context& ioc, db::pool& pool) : ioc_(ioc), pool_(pool) {}
    lane_reader(const lane_reader&) = delete;
    lane_reader& operator=(const lane_reader&) = delete;

    ~lane_reader() {
        // The lane has stopped; whoever still waits gets an answer from the pool.
        drop_connection();
        fail_over_waiting();
    }

    db::pool& pool() const noexcept { return pool_; }

    void read(std::string sql, db::params args, bool binary, read_done done) {
        if (!open()) {
            done(read_from_pool(pool_, sql, args, binary));
            return;
        }
        if (auto sent = conn_->pipeline_send(sql, args, binary); !sent) {
            lost(sent.error());
            done(read_from_pool(pool_, sql, args, binary));
            return;
        }
        waiting_.push_back({std::move(sql), std::move(args), binary, std::move(done)});
        // Send at the end of this turn of the lane's loop, with whatever else it queues.
        if (!flush_posted_) {
            flush_posted_ = true;
            net::post(ioc_, [this] {
                flush_posted_ = false;
                flush();
            });
        }
    }

  private:
    struct waiter {
        std::string sql;
        db::params args;
        bool binary;
        read_done done;
    };

    bool open() {
        if (conn_) return true;
        if (std::chrono::steady_clock::now() < retry_after_) return false;
        auto c = pool_.open_pipelined("lane");
        if (!c) {
            // Reads go to the pool meanwhile; try again in a second.
            retry_after_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
            spdlog::warn("http lane: no pipelined connection ({}); reading from the pool",
                         c.error().message);
            return false;
        }
        conn_.emplace(std::move(*c));
        socket_ = std::make_unique<net::posix::stream_descriptor>(ioc_, conn_->socket());
        return true;
    }

    void flush() {
        if (!conn_ || writing_) return;
        auto done = conn_->pipeline_flush();
        if (!done) return lost(done.error());
        if (!*done) {
            writing_ = true;
            socket_->async_wait(net::posix::descriptor_base::wait_write,
                                [this, epoch = epoch_](const boost::system::error_code& ec) {
                                    if (ec || epoch != epoch_) return;
                                    writing_ = false;
                                    flush();
                                    // While the socket was full, libpq may have read answers
                                    // into its buffer, where no readiness wait would see them.
                                    receive();
                                });
        }
        wait_readable();
    }

    void wait_readable() {
        if (!conn_ || reading_ || waiting_.empty()) return;
        reading_ = true;
        socket_->async_wait(net::posix::descriptor_base::wait_read,
                            [this, epoch = epoch_](const boost::system::error_code& ec) {
                                if (ec || epoch != epoch_) return;
                                reading_ = false;
                                receive();
                            });
    }

    void receive() {
        for (;;) {
            if (!conn_) return;
            auto got = conn_->pipeline_receive([this](result<db::rows> r) {
                waiter w = std::move(waiting_.front());
                waiting_.pop_front();
                if (!r && r.error().code == db::errc::connection_lost) {
                    w.done(read_from_pool(pool_, w.sql, w.args, w.binary));
                    return;
                }
                w.done(std::move(r));
            });
            if (!got) return lost(got.error());
            // libpq reads at most one buffer at a time, and asio's readiness waits are edge
            // triggered: data left in the socket would never be announced again.
            if (waiting_.empty() || !readable_now()) break;
        }
        wait_readable();
    }

    bool readable_now() const {
        pollfd p{conn_->socket(), POLLIN, 0};
        return ::poll(&p, 1, 0) > 0;
    }

    /// The connection broke: its statements run again from the pool, and the next read opens
    /// a fresh connection.
    void lost(const error& e) {
        spdlog::warn("http lane: pipelined connection lost ({}); {} read(s) go to the pool",
                     e.message, waiting_.size());
        drop_connection();
        fail_over_waiting();
    }

    void drop_connection() {
        if (socket_) {
            boost::system::error_code ignored;
            socket_->cancel(ignored);
            socket_->release();  // libpq owns the descriptor and closes it
            socket_.reset();
        }
        conn_.reset();
        reading_ = writing_ = false;
        ++epoch_;  // waits still queued for the old socket are ignored
    }

    void fail_over_waiting() {
        std::deque<waiter> pending = std::move(waiting_);
        waiting_.clear();
        for (auto& w : pending) w.done(read_from_pool(pool_, w.sql, w.args, w.binary));
    }

    net::io_context& ioc_;
    db::pool& pool_;
    std::optional<db::connection> conn_;
    std::unique_ptr<net::posix::stream_descriptor> socket_;
    std::deque<waiter> waiting_;
    bool flush_posted_ = false, reading_ = false, writing_ = false;
    unsigned epoch_ = 0;  ///< which connection the queued waits belong to
    std::chrono::steady_clock::time_point retry_after_{};
};

thread_local std::unique_ptr<lane_reader> this_lanes_reader;

}  // namespace

void pipelined_read(db::pool& pool, std::string sql, db::params args, bool binary_results,
                    read_done done) {
    net::io_context* lane = this_lane();
    if (!lane) {
        done(read_from_pool(pool, sql, args, binary_results));
        return;
    }
    if (!this_lanes_reader) this_lanes_reader = std::make_unique<lane_reader>(*lane, pool);
    if (&this_lanes_reader->pool() != &pool) {  // a second API on the same lanes: not ours
        done(read_from_pool(pool, sql, args, binary_results));
        return;
    }
    this_lanes_reader->read(std::move(sql), std::move(args), binary_results, std::move(done));
}

}  // namespace herald::http::detail
