#pragma once
/// Liveness and readiness endpoints.

#include <functional>
#include <string>

#include "db/pool.hpp"
#include "http/router.hpp"

namespace herald::http {

/// GET /healthz: the process answers. GET /readyz: the database answers and the schema is
/// current; 503 with the reason otherwise.
void add_health_routes(router& r, db::pool& pool, int expected_schema_version);

}  // namespace herald::http
