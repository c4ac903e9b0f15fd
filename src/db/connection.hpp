#pragma once
/// A PostgreSQL connection and its query results. libpq stays inside db/: no PGconn or
/// PGresult appears in any header.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/uuid.hpp"
#include "db/param.hpp"

namespace herald::db {

class rows;

/// One row of a result; a cheap view into its `rows`.
class row {
  public:
    row(const rows& r, int index) : rows_(&r), index_(index) {}

    /// Column value converted to T: std::string, std::string_view, std::int64_t, int, double,
    /// bool, core::uuid, time_point, or std::optional of those (NULL becomes nullopt).
    /// A NULL into a non-optional, or text that does not convert, is a programming error and
    /// throws std::logic_error.
    template <class T>
    T get(int column) const;
    template <class T>
    T get(std::string_view column) const;

    bool is_null(int column) const;
    std::string_view text(int column) const;
    int index() const noexcept { return index_; }

  private:
    const rows* rows_;
    int index_;
};

/// The result of one statement. Move-only; owns the libpq result.
class rows {
  public:
    rows();
    ~rows();
    rows(rows&&) noexcept;
    rows& operator=(rows&&) noexcept;

    int size() const noexcept;
    bool empty() const noexcept { return size() == 0; }
    int columns() const noexcept;
    /// Rows the statement inserted, updated, deleted or copied.
    std::int64_t affected() const noexcept;
    /// The command tag, e.g. "INSERT 0 5" or "ROLLBACK".
    std::string_view command_status() const noexcept;
    /// Index of a named column; throws std::logic_error when absent.
    int column(std::string_view name) const;
    row operator[](int i) const { return row(*this, i); }
    row front() const { return row(*this, 0); }

    class iterator {
      public:
        iterator(const rows* r, int i) : r_(r), i_(i) {}
        row operator*() const { return row(*r_, i_); }
        iterator& operator++() {
            ++i_;
            return *this;
        }
        bool operator==(const iterator& o) const { return i_ == o.i_; }

      private:
        const rows* r_;
        int i_;
    };
    iterator begin() const { return {this, 0}; }
    iterator end() const { return {this, size()}; }

    bool is_null(int r, int c) const noexcept;
    /// True when column c came in binary format; type(c) is its PostgreSQL type OID.
    bool binary(int c) const noexcept;
    unsigned type(int c) const noexcept;
    std::string_view text(int r, int c) const noexcept;

  private:
    friend class connection;
    explicit rows(void* pgresult);
    void* res_ = nullptr;
};

/// Options for opening a connection.
struct connect_options {
    std::string conninfo;  ///< URL or key=value string
    std::chrono::milliseconds timeout{5000};
    std::string application_name = "herald";
    /// Plan prepared statements once (plan_cache_mode = force_generic_plan). Herald prepares
    /// one statement per query shape with selective keys (tenant, id), where re-planning on
    /// every execution costs more than the query; see docs/decisions/0005.
    bool generic_plans = false;
};

/// One connection. Not thread-safe: use it from one thread at a time (the pool sees to it).
class connection {
  public:
    /// Opens a connection; the error message is libpq's, with any password redacted.
    static result<connection> open(const connect_options& options);

    connection(connection&&) noexcept;
    connection& operator=(connection&&) noexcept;
    ~connection();

    /// Runs one or more statements without parameters (simple query protocol).
    result<rows> exec(std::string_view sql);
    /// Runs one statement with parameters ($1...), planned afresh.
    result<rows> exec(std::string_view sql, const params& args);
    /// As exec(sql, args), but the statement is prepared once per connection and reused.
    /// For the hot paths. With `binary_results`, columns come in PostgreSQL's binary format,
    /// which is cheaper on both sides for uuid and timestamp columns; row::get decodes text,
    /// varchar, json(b), uuid, timestamp(tz), int2/4/8, float8 and bool (and throws
    /// std::logic_error for other types).
    result<rows> exec_prepared(std::string_view sql, const params& args,
                               bool binary_results = false);

    /// Several statements (each prepared once, as exec_prepared) in one round trip: all go
    /// out, then every answer is read. Each has a sync point of its own, so one that fails
    /// does not stop those after it, except that inside a transaction block they then fail
    /// too (the transaction is aborted). The outer error is for a lost connection only.
    struct queued_statement {
        std::string_view sql;
        const params* args = nullptr;
        bool binary_results = false;
    };
    result<std::vector<result<rows>>> exec_pipelined(const std::vector<queued_statement>& batch);

    /// COPY ... FROM STDIN: begin, feed data in any chunks, then end (returns rows copied).
    result<void> copy_begin(std::string_view copy_sql);
    result<void> copy_put(std::string_view data);
    result<std::int64_t> copy_end();
    /// Aborts a COPY in progress with a reason.
    void copy_abort(std::string_view reason);
    /// COPY ... TO STDOUT: hands each chunk of output to `sink`; returns the rows copied.
    result<std::int64_t> copy_out(std::string_view copy_sql,
                                  const std::function<void(std::string_view)>& sink);

    // ---- pipeline mode ----
    // For one thread that keeps many short reads in flight on one connection (the HTTP lanes'
    // readers): statements go out without waiting for the answers before them, and their
    // answers come back in order. Once in pipeline mode, only the pipeline_* calls below may
    // be used on the connection.

    /// Enters libpq's pipeline mode on a non-blocking socket.
    result<void> enter_pipeline();
    /// The socket, for the caller's wait until readable or writable.
    int socket() const noexcept;
    /// Queues one statement (prepared on first use, as exec_prepared) and a sync point of its
    /// own, so that a failure ends only this statement. Call pipeline_flush to send it.
    /// Without `own_sync`, it joins the statements after it up to the next pipeline_sync():
    /// those make one transaction (unless one is open), and a failure skips the rest.
    result<void> pipeline_send(std::string_view sql, const params& args, bool binary_results,
                               bool own_sync = true);
    /// Closes the statements sent without a sync point: their transaction commits here (or
    /// is rolled back when one failed). Their answers are asked for first, so that they come
    /// back while the commit waits for the disk. Its own answer is empty rows, or the error
    /// of a commit that failed.
    result<void> pipeline_sync();
    /// Writes what is queued: true when all of it went, false when the socket is full (wait
    /// until it is writable and call again).
    result<bool> pipeline_flush();
    /// Reads what has arrived and hands each finished statement's result to `sink`, in the
    /// order they were sent. An error means the connection is lost; the statements still in
    /// flight get no answer from it (see pipeline_pending).
    result<void> pipeline_receive(const std::function<void(result<rows>)>& sink);
    /// Statements sent and not yet answered.
    std::size_t pipeline_pending() const noexcept;

    /// True when the link is up and no transaction is left open.
    bool is_idle() const noexcept;
    /// True when the link is up.
    bool is_ok() const noexcept;
    /// True inside a transaction block (open or failed).
    bool in_transaction() const noexcept;
    /// The server's process id, for diagnostics and tests.
    int backend_pid() const noexcept;
    /// Escapes an identifier ("my table" -> "\"my table\"").
    std::string quote_identifier(std::string_view name) const;

  private:
    connection() = default;
    result<rows> finish(void* pgresult, std::string_view sql);
    struct state;
    std::unique_ptr<state> state_;
};

}  // namespace herald::db
