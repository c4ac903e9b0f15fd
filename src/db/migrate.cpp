#include "db/migrate.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include <spdlog/spdlog.h>

#include "core/hash.hpp"
#include "db/errc.hpp"
#include "db/transaction.hpp"

namespace herald::embedded {
extern const std::vector<herald::core::embedded_file> migrations;
}

namespace herald::db {
namespace {

// Any fixed 64-bit number; shared by every Herald process that migrates this database.
constexpr long long migrate_lock_key = 72830001;

struct applied_row {
    std::string file, checksum;
    std::chrono::system_clock::time_point at;
};

/// The applied migrations. With `create`, makes the bookkeeping table first; without, an
/// absent table means nothing is applied.
result<std::map<int, applied_row>> read_applied(connection& conn, bool create) {
    std::map<int, applied_row> out;
    if (!create) {
        auto exists = conn.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
        if (!exists) return std::unexpected(exists.error());
        if (!exists->front().get<bool>(0)) return out;
    }
    auto r = create ? conn.exec(
                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " version integer PRIMARY KEY,"
                 " file text NOT NULL,"
                 " checksum text NOT NULL,"
                 " applied_at timestamptz NOT NULL DEFAULT now(),"
                 " duration_ms integer NOT NULL DEFAULT 0)")
                    : result<rows>();
    if (!r) return std::unexpected(r.error());
    auto rs = conn.exec(
        "SELECT version, file, checksum, applied_at FROM schema_migrations ORDER BY version");
    if (!rs) return std::unexpected(rs.error());
    for (auto row : *rs)
        out[row.get<int>(0)] = {row.get<std::string>(1), row.get<std::string>(2),
                                row.get<std::chrono::system_clock::time_point>(3)};
    return out;
}

result<void> check_applied(const std::map<int, applied_row>& applied,
                           std::span<const migration> migrations) {
    for (const auto& [version, row] : applied) {
        auto it = std::find_if(migrations.begin(), migrations.end(),
                               [&](const migration& m) { return m.version == version; });
        if (it == migrations.end())
            return fail(errc::migration_unknown,
                        "the database has migration " + row.file
                            + ", which this build of Herald does not know; run a newer Herald");
        if (it->checksum != row.checksum)
            return fail(errc::migration_modified,
                        "migration " + it->file +
                            " was modified after it was applied; restore the original file "
                            "and add a new migration instead");
    }
    return {};
}

/// Holds the migration advisory lock for its lifetime.
class migrate_lock {
  public:
    explicit migrate_lock(connection& c) : conn_(c) {}
    result<void> acquire() {
        auto r = conn_.exec("SELECT pg_advisory_lock($1)", {migrate_lock_key});
        if (!r) return std::unexpected(r.error());
        held_ = true;
        return {};
    }
    ~migrate_lock() {
        if (held_ && conn_.is_ok())
            (void)conn_.exec("SELECT pg_advisory_unlock($1)", {migrate_lock_key});
    }

  private:
    connection& conn_;
    bool held_ = false;
};

}  // namespace

std::span<const core::embedded_file> builtin_migrations() {
    return embedded::migrations;
}

result<std::vector<migration>> load_migrations(std::span<const core::embedded_file> files) {
    std::vector<migration> out;
    for (const auto& f : files) {
        std::string_view name = f.name;
        int version = 0;
        auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), version);
        bool ok = ec == std::errc() && version > 0 && p < name.data() + name.size() && *p == '_'
                  && name.ends_with(".sql");
        if (!ok)
            return fail(errc::migration_failed, "migration file name \"" + std::string(name)
                                                    + "\" must look like 0001_description.sql");
        out.push_back({version, std::string(name), std::string(f.text), core::sha256_hex(f.text)});
    }
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.version < b.version; });
    for (std::size_t i = 1; i < out.size(); ++i)
        if (out[i].version == out[i - 1].version)
            return fail(errc::migration_failed, "migrations " + out[i - 1].file + " and "
                                                    + out[i].file + " share a version");
    return out;
}

result<migration_report> migrate(connection& conn, std::span<const migration> migrations) {
    migrate_lock lock(conn);
    if (auto r = lock.acquire(); !r) return std::unexpected(r.error());
    auto applied = read_applied(conn, true);
    if (!applied) return std::unexpected(applied.error());
    if (auto r = check_applied(*applied, migrations); !r) return std::unexpected(r.error());

    migration_report report;
    report.version = applied->empty() ? 0 : applied->rbegin()->first;
    for (const auto& m : migrations) {
        if (applied->contains(m.version)) continue;
        auto started = std::chrono::steady_clock::now();
        auto tx = transaction::begin(conn);
        if (!tx) return std::unexpected(tx.error());
        if (auto r = tx->exec(m.sql); !r)
            return fail(errc::migration_failed,
                        "migration " + m.file + " failed: " + r.error().message);
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - started);
        if (auto r =
                tx->exec("INSERT INTO schema_migrations (version, file, checksum, duration_ms) "
                         "VALUES ($1, $2, $3, $4)",
                         {m.version, m.file, m.checksum, std::int64_t(ms.count())});
            !r)
            return std::unexpected(r.error());
        if (auto r = tx->commit(); !r)
            return fail(errc::migration_failed,
                        "migration " + m.file + " failed: " + r.error().message);
        spdlog::info("applied migration {} in {} ms", m.file, ms.count());
        report.applied.push_back(m.file);
        report.version = m.version;
    }
    return report;
}

result<std::vector<migration_state>> migration_status(connection& conn,
                                                      std::span<const migration> migrations) {
    auto applied = read_applied(conn, false);
    if (!applied) return std::unexpected(applied.error());
    std::vector<migration_state> out;
    for (const auto& m : migrations) {
        migration_state s{.file = m.file};
        if (auto it = applied->find(m.version); it != applied->end()) {
            s.applied = true;
            s.modified = it->second.checksum != m.checksum;
            s.applied_at = it->second.at;
        }
        out.push_back(std::move(s));
    }
    for (const auto& [version, row] : *applied)
        if (std::none_of(migrations.begin(), migrations.end(),
                         [&](auto& m) { return m.version == version; }))
            out.push_back({row.file + " (unknown to this build)", true, false, row.at});
    return out;
}

}  // namespace herald::db
