#pragma once
/// A statement that a caller runs itself (prepared, on a connection of its choosing), for
/// reads that the HTTP lanes pipeline (decision 0012).

#include <string>

#include "db/param.hpp"

namespace herald::store {

struct statement {
    std::string sql;
    db::params args;
};

}  // namespace herald::store
