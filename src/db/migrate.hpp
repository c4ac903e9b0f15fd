#pragma once
/// Schema migrations: numbered SQL files ("0001_core.sql"), each applied once, in order, in
/// its own transaction, recorded with a SHA-256 checksum. A migration edited after it was
/// applied stops Herald with the file's name. Concurrent migrators serialise on an advisory
/// lock.

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/embedded_file.hpp"
#include "core/error.hpp"
#include "db/connection.hpp"

namespace herald::db {

struct migration {
    int version = 0;
    std::string file;  ///< "0001_core.sql"
    std::string sql;
    std::string checksum;  ///< hex SHA-256 of sql
};

/// Reads migration files; names must be NNNN_words.sql with distinct versions.
result<std::vector<migration>> load_migrations(std::span<const core::embedded_file> files);

/// The migrations compiled into this build (from migrations/).
std::span<const core::embedded_file> builtin_migrations();

struct migration_report {
    std::vector<std::string> applied;  ///< files applied by this call, in order
    int version = 0;                   ///< schema version afterwards
};

/// Brings the database up to date. Fails, changing nothing, when an applied migration was
/// modified or the database knows a migration this build does not.
result<migration_report> migrate(connection& conn, std::span<const migration> migrations);

struct migration_state {
    std::string file;
    bool applied = false;
    bool modified = false;
    std::optional<std::chrono::system_clock::time_point> applied_at;
};

/// What is applied, pending and modified, without changing anything.
result<std::vector<migration_state>> migration_status(connection& conn,
                                                      std::span<const migration> migrations);

}  // namespace herald::db
