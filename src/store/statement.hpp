#pragma once
/// A statement that a caller runs itself (prepared, on a connection of its choosing), for
/// reads that the HTTP lanes pipeline (decision 0012) and writes that go in one round trip
/// (decision 0022).

#include <string>
#include <vector>

#include "core/error.hpp"
#include "db/connection.hpp"
#include "db/param.hpp"

namespace herald::store {

struct statement {
    std::string sql;
    db::params args;
};

/// Runs statements in one round trip (db::connection::exec_pipelined); the first failure
/// among them is the error. Inside a transaction block, a failure leaves the transaction
/// aborted: the caller rolls it back.
result<std::vector<result<db::rows>>> run_together(db::connection& c,
                                                   const std::vector<statement>& statements);

}  // namespace herald::store
