#pragma once
/// Routine upkeep of the schema: partitions ahead of time.

#include <chrono>

#include "core/error.hpp"
#include "db/connection.hpp"

namespace herald::store {

/// Makes sure the monthly delivery-log partitions exist from the month of `now` for
/// `months_ahead` months; returns how many were created.
result<int> ensure_partitions(db::connection& conn, std::chrono::system_clock::time_point now,
                              int months_ahead = 3);

}  // namespace herald::store
