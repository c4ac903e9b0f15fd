#include "db/errc.hpp"

namespace herald::db {
namespace {
constexpr core::error_entry<errc> entries[] = {
    {errc::connection_failed, "db_connection_failed", condition::connection_lost},
    {errc::connection_lost, "db_connection_lost", condition::connection_lost},
    {errc::pool_timeout, "db_pool_timeout", condition::retryable},
    {errc::unique_violation, "duplicate", condition::duplicate},
    {errc::foreign_key_violation, "foreign_key_violation", condition::conflict},
    {errc::check_violation, "check_violation", condition::invalid_input},
    {errc::not_null_violation, "not_null_violation", condition::invalid_input},
    {errc::invalid_data, "invalid_data", condition::invalid_input},
    {errc::serialization_failure, "serialization_failure", condition::retryable},
    {errc::deadlock, "deadlock", condition::retryable},
    {errc::lock_not_available, "lock_not_available", condition::retryable},
    {errc::query_canceled, "query_canceled", condition::retryable},
    {errc::server_shutdown, "db_server_shutdown", condition::connection_lost},
    {errc::too_many_connections, "db_too_many_connections", condition::retryable},
    {errc::expectation_failed, "expectation_failed", condition::conflict},
    {errc::query_failed, "query_failed", condition::internal},
    {errc::migration_failed, "migration_failed", condition::internal},
    {errc::migration_modified, "migration_modified", condition::conflict},
    {errc::migration_unknown, "migration_unknown", condition::conflict},
    {errc::embedded_failed, "embedded_failed", condition::internal},
};
}  // namespace

const std::error_category& db_category() noexcept {
    static const core::table_category<errc, entries> instance("herald.db");
    return instance;
}

errc from_sqlstate(std::string_view s) noexcept {
    if (s == "23505") return errc::unique_violation;
    if (s == "23503") return errc::foreign_key_violation;
    if (s == "23514") return errc::check_violation;
    if (s == "23502") return errc::not_null_violation;
    if (s == "40001") return errc::serialization_failure;
    if (s == "40P01") return errc::deadlock;
    if (s == "55P03") return errc::lock_not_available;
    if (s == "57014") return errc::query_canceled;
    if (s == "57P01" || s == "57P02" || s == "57P03") return errc::server_shutdown;
    if (s == "53300") return errc::too_many_connections;
    if (s == "HR001") return errc::expectation_failed;
    if (s.starts_with("08")) return errc::connection_lost;
    if (s.starts_with("22")) return errc::invalid_data;
    return errc::query_failed;
}

}  // namespace herald::db
