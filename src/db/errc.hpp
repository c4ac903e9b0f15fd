#pragma once
/// Error codes of the db component. SQLSTATEs map onto these, and these onto policy
/// conditions: 23505 is duplicate, 40001/40P01 are retryable, class 08 is connection_lost.

#include <string_view>
#include <system_error>

#include "core/error.hpp"

namespace herald::db {

enum class errc {
    connection_failed = 1,  ///< could not connect
    connection_lost,        ///< the server went away mid-conversation
    pool_timeout,           ///< no pooled connection became free in time
    unique_violation,       ///< 23505
    foreign_key_violation,  ///< 23503
    check_violation,        ///< 23514
    not_null_violation,     ///< 23502
    invalid_data,           ///< class 22: bad value for a column type
    serialization_failure,  ///< 40001
    deadlock,               ///< 40P01
    lock_not_available,     ///< 55P03
    query_canceled,         ///< 57014 (statement timeout, cancel)
    server_shutdown,        ///< 57P01..57P03
    too_many_connections,   ///< 53300
    expectation_failed,     ///< HR001: herald_expect() found its condition false
    query_failed,           ///< any other server error
    migration_failed,       ///< a migration's SQL failed
    migration_modified,     ///< an applied migration was edited afterwards
    migration_unknown,      ///< the database has a migration this build does not know
    embedded_failed,        ///< the embedded cluster could not be set up or started
};

const std::error_category& db_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), db_category()};
}

/// The errc for a five-character SQLSTATE.
errc from_sqlstate(std::string_view sqlstate) noexcept;

}  // namespace herald::db

template <>
struct std::is_error_code_enum<herald::db::errc> : std::true_type {};
