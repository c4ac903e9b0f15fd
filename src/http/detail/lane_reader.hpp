#pragma once
/// Reads for the hottest GET routes, pipelined per lane (decision 0012). Not part of the
/// public interface.

#include <functional>
#include <string>

#include "core/error.hpp"
#include "db/connection.hpp"
#include "db/pool.hpp"

namespace herald::http::detail {

using read_done = std::function<void(result<db::rows>)>;

/// Runs one read-only statement (prepared, as connection::exec_prepared) and hands its result
/// to `done`. On an HTTP lane the statement joins the lane's own connection in pipeline mode,
/// so that the lane goes on serving its other connections meanwhile and the statements of
/// several requests reach PostgreSQL in one write; `done` then runs later on the same lane.
/// Anywhere else, or while the lane's connection cannot be had, it runs on a connection from
/// `pool` before this returns. A statement whose connection is lost is run again from the
/// pool, so it must be safe to repeat (a read).
void pipelined_read(db::pool& pool, std::string sql, db::params args, bool binary_results,
                    read_done done);

}  // namespace herald::http::detail
