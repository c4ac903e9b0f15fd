#include "db/connection.hpp"

#include <bit>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <deque>
#include <limits>
#include <poll.h>
#include <stdexcept>
#include <unordered_map>

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include "core/redact.hpp"
#include "db/errc.hpp"

namespace herald::db {
namespace {

PGresult* as_res(void* p) {
    return static_cast<PGresult*>(p);
}

std::string trim_message(const char* msg) {
    std::string s = msg ? msg : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

void notice_to_log(void*, const char* message) {
    spdlog::debug("postgres: {}", trim_message(message));
}

[[noreturn]] void conversion_error(std::string_view what, std::string_view text) {
    throw std::logic_error("cannot read database value \"" + std::string(text.substr(0, 64))
                           + "\" as " + std::string(what));
}

template <class Int>
Int to_int(std::string_view t) {
    Int v{};
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || p != t.data() + t.size()) conversion_error("an integer", t);
    return v;
}

}  // namespace

// ---- rows ----

rows::rows() = default;
rows::rows(void* pgresult) : res_(pgresult) {}
rows::~rows() {
    if (res_) PQclear(as_res(res_));
}
rows::rows(rows&& o) noexcept : res_(std::exchange(o.res_, nullptr)) {}
rows& rows::operator=(rows&& o) noexcept {
    if (this != &o) {
        if (res_) PQclear(as_res(res_));
        res_ = std::exchange(o.res_, nullptr);
    }
    return *this;
}
int rows::size() const noexcept {
    return res_ ? PQntuples(as_res(res_)) : 0;
}
int rows::columns() const noexcept {
    return res_ ? PQnfields(as_res(res_)) : 0;
}
std::int64_t rows::affected() const noexcept {
    if (!res_) return 0;
    const char* n = PQcmdTuples(as_res(res_));
    std::int64_t v = 0;
    std::from_chars(n, n + std::strlen(n), v);
    return v;
}
std::string_view rows::command_status() const noexcept {
    return res_ ? std::string_view(PQcmdStatus(as_res(res_))) : std::string_view();
}
int rows::column(std::string_view name) const {
    int c = res_ ? PQfnumber(as_res(res_), std::string(name).c_str()) : -1;
    if (c < 0) throw std::logic_error("result has no column \"" + std::string(name) + "\"");
    return c;
}
bool rows::is_null(int r, int c) const noexcept {
    return PQgetisnull(as_res(res_), r, c) == 1;
}
bool rows::binary(int c) const noexcept {
    return PQfformat(as_res(res_), c) == 1;
}
unsigned rows::type(int c) const noexcept {
    return PQftype(as_res(res_), c);
}
std::string_view rows::text(int r, int c) const noexcept {
    return {PQgetvalue(as_res(res_), r, c), std::size_t(PQgetlength(as_res(res_), r, c))};
}

// ---- row ----

bool row::is_null(int c) const {
    return rows_->is_null(index_, c);
}
std::string_view row::text(int c) const {
    return rows_->text(index_, c);
}

namespace detail {

// PostgreSQL type OIDs (pg_type.dat) for the binary formats row::get decodes.
enum : unsigned {
    oid_bool = 16,
    oid_name = 19,
    oid_int8 = 20,
    oid_int2 = 21,
    oid_int4 = 23,
    oid_text = 25,
    oid_json = 114,
    oid_float8 = 701,
    oid_bpchar = 1042,
    oid_varchar = 1043,
    oid_timestamp = 1114,
    oid_timestamptz = 1184,
    oid_uuid = 2950,
    oid_jsonb = 3802,
};

[[noreturn]] void binary_error(const char* wanted, unsigned oid) {
    throw std::logic_error(std::string("cannot read a binary column of type ") + std::to_string(oid)
                           + " as " + wanted);
}

std::uint64_t big_endian(std::string_view b) {
    std::uint64_t v = 0;
    for (char ch : b) v = (v << 8) | static_cast<unsigned char>(ch);
    return v;
}

/// A binary value of a textual type, as its text.
std::string_view binary_text(std::string_view b, unsigned oid) {
    switch (oid) {
        case oid_text:
        case oid_varchar:
        case oid_bpchar:
        case oid_name:
        case oid_json:
            return b;
        case oid_jsonb:
            if (b.empty() || b[0] != 1) binary_error("jsonb version 1", oid);
            return b.substr(1);
        default:
            binary_error("text", oid);
    }
}

template <class I>
I binary_int(std::string_view b, unsigned oid) {
    std::int64_t v = 0;
    switch (oid) {
        case oid_int2:
            v = std::int16_t(big_endian(b));
            break;
        case oid_int4:
            v = std::int32_t(big_endian(b));
            break;
        case oid_int8:
            v = std::int64_t(big_endian(b));
            break;
        default:
            binary_error("an integer", oid);
    }
    if (v < std::numeric_limits<I>::min() || v > std::numeric_limits<I>::max())
        binary_error("a narrower integer", oid);
    return I(v);
}

template <class T>
struct convert;
template <>
struct convert<std::string_view> {
    static std::string_view from(std::string_view t) { return t; }
    static std::string_view from_binary(std::string_view b, unsigned oid) {
        return binary_text(b, oid);
    }
};
template <>
struct convert<std::string> {
    static std::string from(std::string_view t) { return std::string(t); }
    static std::string from_binary(std::string_view b, unsigned oid) {
        return std::string(binary_text(b, oid));
    }
};
template <>
struct convert<std::int64_t> {
    static std::int64_t from(std::string_view t) { return to_int<std::int64_t>(t); }
    static std::int64_t from_binary(std::string_view b, unsigned oid) {
        return binary_int<std::int64_t>(b, oid);
    }
};
template <>
struct convert<int> {
    static int from(std::string_view t) { return to_int<int>(t); }
    static int from_binary(std::string_view b, unsigned oid) { return binary_int<int>(b, oid); }
};
template <>
struct convert<double> {
    static double from(std::string_view t) {
        double v{};
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (ec != std::errc() || p != t.data() + t.size()) conversion_error("a number", t);
        return v;
    }
    static double from_binary(std::string_view b, unsigned oid) {
        if (oid != oid_float8 || b.size() != 8) binary_error("a double", oid);
        return std::bit_cast<double>(big_endian(b));
    }
};
template <>
struct convert<bool> {
    static bool from(std::string_view t) {
        if (t == "t") return true;
        if (t == "f") return false;
        conversion_error("a boolean", t);
    }
    static bool from_binary(std::string_view b, unsigned oid) {
        if (oid != oid_bool || b.size() != 1) binary_error("a boolean", oid);
        return b[0] != 0;
    }
};
template <>
struct convert<core::uuid> {
    static core::uuid from(std::string_view t) {
        auto u = core::uuid::parse(t);
        if (!u) conversion_error("a uuid", t);
        return *u;
    }
    static core::uuid from_binary(std::string_view b, unsigned oid) {
        if (oid != oid_uuid || b.size() != 16) binary_error("a uuid", oid);
        core::uuid u;
        std::memcpy(u.bytes.data(), b.data(), 16);
        return u;
    }
};
template <>
struct convert<std::chrono::system_clock::time_point> {
    static std::chrono::system_clock::time_point from(std::string_view t) {
        auto v = parse_timestamp(t);
        if (!v) conversion_error("a timestamp", t);
        return *v;
    }
    static std::chrono::system_clock::time_point from_binary(std::string_view b, unsigned oid) {
        if ((oid != oid_timestamptz && oid != oid_timestamp) || b.size() != 8)
            binary_error("a timestamp", oid);
        // Microseconds since 2000-01-01 00:00 UTC.
        constexpr auto pg_epoch = std::chrono::sys_days{std::chrono::year{2000} / 1 / 1};
        return std::chrono::system_clock::time_point(pg_epoch)
               + std::chrono::microseconds(std::int64_t(big_endian(b)));
    }
};
template <class T>
struct convert<std::optional<T>> {
    static std::optional<T> from(std::string_view t) { return convert<T>::from(t); }
    static std::optional<T> from_binary(std::string_view b, unsigned oid) {
        return convert<T>::from_binary(b, oid);
    }
};
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
}  // namespace detail

template <class T>
T row::get(int c) const {
    if (rows_->is_null(index_, c)) {
        if constexpr (detail::is_optional<T>::value)
            return std::nullopt;
        else
            throw std::logic_error("unexpected NULL in column " + std::to_string(c));
    }
    if (rows_->binary(c))
        return detail::convert<T>::from_binary(rows_->text(index_, c), rows_->type(c));
    return detail::convert<T>::from(rows_->text(index_, c));
}

template <class T>
T row::get(std::string_view name) const {
    return get<T>(rows_->column(name));
}

#define HERALD_DB_ROW_GET(T)                                         \
    template T row::get<T>(int) const;                               \
    template T row::get<T>(std::string_view) const;                  \
    template std::optional<T> row::get<std::optional<T>>(int) const; \
    template std::optional<T> row::get<std::optional<T>>(std::string_view) const;
HERALD_DB_ROW_GET(std::string_view)
HERALD_DB_ROW_GET(std::string)
HERALD_DB_ROW_GET(std::int64_t)
HERALD_DB_ROW_GET(int)
HERALD_DB_ROW_GET(double)
HERALD_DB_ROW_GET(bool)
HERALD_DB_ROW_GET(core::uuid)
HERALD_DB_ROW_GET(std::chrono::system_clock::time_point)
#undef HERALD_DB_ROW_GET

// ---- connection ----

struct connection::state {
    PGconn* conn = nullptr;
    std::unordered_map<std::string, std::string> prepared;  // sql -> statement name
    int named = 0;  // statement names used so far (a failed prepare's name is not reused)
    bool in_copy = false;
    /// A statement in flight in pipeline mode, and what has come back for it so far.
    struct in_flight {
        std::string sql;
        int commands = 1;    ///< commands whose results are still to come (2 while preparing)
        bool synced = true;  ///< ends at its own sync point, not at its last result
        bool sync = false;   ///< a sync point closing statements sent without one
        std::optional<result<rows>> outcome;
    };
    std::deque<in_flight> pipeline;
    ~state() {
        if (conn) PQfinish(conn);
    }
};

result<connection> connection::open(const connect_options& options) {
    // libpq wants whole seconds, at least 2.
    auto secs = std::max<long long>(2, (options.timeout.count() + 999) / 1000);
    const char* keys[] = {"dbname", "connect_timeout", "application_name", "client_encoding",
                          nullptr};
    std::string timeout = std::to_string(secs);
    const char* values[] = {options.conninfo.c_str(), timeout.c_str(),
                            options.application_name.c_str(), "UTF8", nullptr};
    connection c;
    c.state_ = std::make_unique<state>();
    // expand_dbname=1: the conninfo in "dbname" may be a full URL or key=value string.
    c.state_->conn = PQconnectdbParams(keys, values, 1);
    if (!c.state_->conn) return fail(errc::connection_failed, "out of memory opening a connection");
    if (PQstatus(c.state_->conn) != CONNECTION_OK) {
        return fail(errc::connection_failed,
                    "cannot connect to PostgreSQL ("
                        + core::redact_connection_string(options.conninfo)
                        + "): " + trim_message(PQerrorMessage(c.state_->conn)));
    }
    PQsetNoticeProcessor(c.state_->conn, notice_to_log, nullptr);
    // No JIT: a generic plan's cost is estimated with default selectivities and can pass
    // jit_above_cost on a statement that touches a hundred rows, which then spends ~40 ms
    // compiling at every execution (decision 0017).
    if (auto r = c.exec(options.generic_plans ? "SET TIME ZONE 'UTC'; SET jit = off; "
                                                "SET plan_cache_mode = force_generic_plan"
                                              : "SET TIME ZONE 'UTC'; SET jit = off");
        !r)
        return std::unexpected(r.error());
    return c;
}

connection::connection(connection&&) noexcept = default;
connection& connection::operator=(connection&&) noexcept = default;
connection::~connection() = default;

result<rows> connection::finish(void* pgresult, std::string_view sql) {
    PGresult* res = as_res(pgresult);
    auto status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_COPY_IN
        || status == PGRES_EMPTY_QUERY)
        return rows(res);
    std::string message;
    errc code;
    if (res && PQresultErrorField(res, PG_DIAG_SQLSTATE)) {
        code = from_sqlstate(PQresultErrorField(res, PG_DIAG_SQLSTATE));
        message = trim_message(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        if (const char* detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL))
            message += " (" + trim_message(detail) + ")";
    } else {
        code = PQstatus(state_->conn) == CONNECTION_OK ? errc::query_failed : errc::connection_lost;
        message = trim_message(PQerrorMessage(state_->conn));
    }
    if (res) PQclear(res);
    if (PQstatus(state_->conn) != CONNECTION_OK) code = errc::connection_lost;
    if (code != errc::connection_lost)
        spdlog::debug("query failed: {} -- {}", message, sql.substr(0, 200));
    return fail(code, message);
}

result<rows> connection::exec(std::string_view sql) {
    return finish(PQexec(state_->conn, std::string(sql).c_str()), sql);
}

namespace {
struct bound {
    std::vector<const char*> values;
    explicit bound(const params& args) {
        values.reserve(args.size());
        for (const auto& p : args) values.push_back(p.is_null() ? nullptr : p.text().c_str());
    }
};
}  // namespace

result<rows> connection::exec(std::string_view sql, const params& args) {
    bound b(args);
    return finish(PQexecParams(state_->conn, std::string(sql).c_str(), int(args.size()), nullptr,
                               b.values.data(), nullptr, nullptr, 0),
                  sql);
}

result<rows> connection::exec_prepared(std::string_view sql, const params& args,
                                       bool binary_results) {
    std::string key(sql);
    auto it = state_->prepared.find(key);
    if (it == state_->prepared.end()) {
        std::string name = "h" + std::to_string(++state_->named);
        auto prepared = finish(PQprepare(state_->conn, name.c_str(), key.c_str(), 0, nullptr), sql);
        if (!prepared) return std::unexpected(prepared.error());
        it = state_->prepared.emplace(std::move(key), std::move(name)).first;
    }
    bound b(args);
    return finish(PQexecPrepared(state_->conn, it->second.c_str(), int(args.size()),
                                 b.values.data(), nullptr, nullptr, binary_results ? 1 : 0),
                  sql);
}

result<void> connection::copy_begin(std::string_view copy_sql) {
    auto r = finish(PQexec(state_->conn, std::string(copy_sql).c_str()), copy_sql);
    if (!r) return std::unexpected(r.error());
    state_->in_copy = true;
    return {};
}

result<void> connection::copy_put(std::string_view data) {
    if (PQputCopyData(state_->conn, data.data(), int(data.size())) != 1)
        return fail(errc::connection_lost, trim_message(PQerrorMessage(state_->conn)));
    return {};
}

result<std::int64_t> connection::copy_end() {
    state_->in_copy = false;
    if (PQputCopyEnd(state_->conn, nullptr) != 1)
        return fail(errc::connection_lost, trim_message(PQerrorMessage(state_->conn)));
    std::int64_t copied = 0;
    std::optional<error> err;
    while (PGresult* res = PQgetResult(state_->conn)) {
        auto r = finish(res, "COPY");
        if (!r)
            err = r.error();
        else
            copied += r->affected();
    }
    if (err) return std::unexpected(*err);
    return copied;
}

void connection::copy_abort(std::string_view reason) {
    if (!state_->in_copy) return;
    state_->in_copy = false;
    PQputCopyEnd(state_->conn, std::string(reason).c_str());
    while (PGresult* res = PQgetResult(state_->conn)) PQclear(res);
}

result<std::int64_t> connection::copy_out(std::string_view copy_sql,
                                          const std::function<void(std::string_view)>& sink) {
    PGresult* start = PQexec(state_->conn, std::string(copy_sql).c_str());
    if (!start || PQresultStatus(start) != PGRES_COPY_OUT) {
        auto r = finish(start, copy_sql);
        if (!r) return std::unexpected(r.error());
        return fail(errc::query_failed, "not a COPY ... TO STDOUT statement");
    }
    PQclear(start);
    for (;;) {
        char* buf = nullptr;
        int n = PQgetCopyData(state_->conn, &buf, 0);
        if (n > 0) {
            sink(std::string_view(buf, std::size_t(n)));
            PQfreemem(buf);
            continue;
        }
        if (n == -1) break;  // done
        return fail(errc::connection_lost, trim_message(PQerrorMessage(state_->conn)));
    }
    std::int64_t copied = 0;
    std::optional<error> err;
    while (PGresult* res = PQgetResult(state_->conn)) {
        auto r = finish(res, "COPY");
        if (!r)
            err = r.error();
        else
            copied += r->affected();
    }
    if (err) return std::unexpected(*err);
    return copied;
}

bool connection::is_ok() const noexcept {
    return state_ && state_->conn && PQstatus(state_->conn) == CONNECTION_OK;
}

result<void> connection::enter_pipeline() {
    if (PQsetnonblocking(state_->conn, 1) != 0 || PQenterPipelineMode(state_->conn) != 1)
        return fail(errc::query_failed,
                    "cannot enter pipeline mode: " + trim_message(PQerrorMessage(state_->conn)));
    return {};
}

int connection::socket() const noexcept {
    return PQsocket(state_->conn);
}

result<void> connection::pipeline_send(std::string_view sql, const params& args,
                                       bool binary_results, bool own_sync) {
    auto lost = [this] {
        return fail(errc::connection_lost, trim_message(PQerrorMessage(state_->conn)));
    };
    state::in_flight entry{std::string(sql)};
    entry.synced = own_sync;
    auto it = state_->prepared.find(entry.sql);
    if (it == state_->prepared.end()) {
        std::string name = "h" + std::to_string(++state_->named);
        if (PQsendPrepare(state_->conn, name.c_str(), entry.sql.c_str(), 0, nullptr) != 1)
            return lost();
        // Later statements in the pipeline may use it at once; a failure forgets it again.
        it = state_->prepared.emplace(entry.sql, std::move(name)).first;
        entry.commands = 2;
    }
    bound b(args);
    if (PQsendQueryPrepared(state_->conn, it->second.c_str(), int(args.size()), b.values.data(),
                            nullptr, nullptr, binary_results ? 1 : 0)
            != 1
        || (own_sync && PQpipelineSync(state_->conn) != 1))
        return lost();
    state_->pipeline.push_back(std::move(entry));
    return {};
}

result<void> connection::pipeline_sync() {
    // The answers so far are asked for first: the server sends them before it commits.
    if (PQsendFlushRequest(state_->conn) != 1 || PQpipelineSync(state_->conn) != 1)
        return fail(errc::connection_lost, trim_message(PQerrorMessage(state_->conn)));
    state::in_flight entry;
    entry.sync = true;
    entry.commands = 0;
    state_->pipeline.push_back(std::move(entry));
    return {};
}

result<bool> connection::pipeline_flush() {
    int r = PQflush(state_->conn);
    if (r < 0) return fail(errc::connection_lost, trim_message(PQerrorMessage(state_->conn)));
    return r == 0;
}

result<void> connection::pipeline_receive(const std::function<void(result<rows>)>& sink) {
    if (PQconsumeInput(state_->conn) != 1)
        return fail(errc::connection_lost, trim_message(PQerrorMessage(state_->conn)));
    auto& queue = state_->pipeline;
    // Per statement: [the prepare's result, NULL,] the statement's result, NULL, then the
    // sync's PGRES_PIPELINE_SYNC (with no NULL after it). A statement sent without a sync
    // point of its own ends with its last NULL, and the sync point after it is an entry of
    // its own: its answer is empty rows, or the error of a commit that failed there.
    const auto finished = [&] {
        auto& front = queue.front();
        result<rows> out =
            front.outcome
                ? std::move(*front.outcome)
                : (front.sync ? result<rows>(rows{})
                              : fail(errc::query_failed, "the statement returned nothing"));
        queue.pop_front();
        sink(std::move(out));  // may send more: the queue only grows at its back
    };
    while (!queue.empty() && !PQisBusy(state_->conn)) {
        PGresult* res = PQgetResult(state_->conn);
        auto& front = queue.front();
        if (!res) {
            if (front.commands > 0) --front.commands;
            if (!front.synced && front.commands == 0) finished();
            continue;
        }
        const auto status = PQresultStatus(res);
        if (status == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            finished();
            continue;
        }
        if (front.sync) {  // an error at the sync point: the commit failed
            front.outcome = finish(res, "COMMIT");
            continue;
        }
        const bool preparing = front.commands == 2;
        if (status == PGRES_PIPELINE_ABORTED) {  // the prepare (or a statement) before it failed
            PQclear(res);
            if (preparing) state_->prepared.erase(front.sql);  // skipped, so never prepared
            if (!front.outcome)
                front.outcome = fail(errc::query_failed, "the statement was not run");
            continue;
        }
        if (preparing && status == PGRES_COMMAND_OK) {
            PQclear(res);
            continue;
        }
        if (preparing) state_->prepared.erase(front.sql);
        front.outcome = finish(res, front.sql);
    }
    if (PQstatus(state_->conn) != CONNECTION_OK)
        return fail(errc::connection_lost, trim_message(PQerrorMessage(state_->conn)));
    return {};
}

std::size_t connection::pipeline_pending() const noexcept {
    return state_->pipeline.size();
}

result<std::vector<result<rows>>> connection::exec_pipelined(
    const std::vector<queued_statement>& batch) {
    std::vector<result<rows>> out;
    if (batch.empty()) return out;
    const auto lost = [this](std::string_view why) {
        return fail(errc::connection_lost,
                    std::string(why) + ": " + trim_message(PQerrorMessage(state_->conn)));
    };
    if (auto e = enter_pipeline(); !e) return std::unexpected(e.error());
    // A connection left in pipeline mode must not go back to the pool as an ordinary one:
    // on any failure below it is closed, so that is_ok() is false and the pool drops it.
    struct closer {
        PGconn*& conn;
        bool armed = true;
        ~closer() {
            if (armed && conn) {
                PQfinish(conn);
                conn = nullptr;
            }
        }
    } close_on_failure{state_->conn};
    static const params none;
    for (const auto& q : batch)
        if (auto sent = pipeline_send(q.sql, q.args ? *q.args : none, q.binary_results); !sent)
            return std::unexpected(sent.error());
    const auto sink = [&out](result<rows> r) { out.push_back(std::move(r)); };
    bool flushed = false;
    out.reserve(batch.size());
    while (!flushed || pipeline_pending() > 0) {
        if (!flushed) {
            auto f = pipeline_flush();
            if (!f) return std::unexpected(f.error());
            flushed = *f;
        }
        if (flushed && pipeline_pending() == 0) break;
        // Answers are read while the rest is still going out: a server that cannot write
        // its answers stops reading too.
        pollfd p{.fd = socket(), .events = short(POLLIN | (flushed ? 0 : POLLOUT)), .revents = 0};
        if (::poll(&p, 1, -1) < 0 && errno != EINTR) return lost("waiting for PostgreSQL");
        if (p.revents & (POLLIN | POLLERR | POLLHUP))
            if (auto r = pipeline_receive(sink); !r) return std::unexpected(r.error());
    }
    if (PQexitPipelineMode(state_->conn) != 1 || PQsetnonblocking(state_->conn, 0) != 0)
        return lost("cannot leave pipeline mode");
    close_on_failure.armed = false;
    return out;
}

bool connection::is_idle() const noexcept {
    return is_ok() && PQtransactionStatus(state_->conn) == PQTRANS_IDLE && !state_->in_copy;
}

bool connection::in_transaction() const noexcept {
    if (!is_ok()) return false;
    auto s = PQtransactionStatus(state_->conn);
    return s == PQTRANS_INTRANS || s == PQTRANS_INERROR;
}

int connection::backend_pid() const noexcept {
    return is_ok() ? PQbackendPID(state_->conn) : 0;
}

std::string connection::quote_identifier(std::string_view name) const {
    char* q = PQescapeIdentifier(state_->conn, name.data(), name.size());
    std::string out = q ? q : "";
    PQfreemem(q);
    return out;
}

}  // namespace herald::db
