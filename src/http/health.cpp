#include "http/health.hpp"

#include "http/json.hpp"

namespace herald::http {

void add_health_routes(router& r, db::pool& pool, int expected_schema_version) {
    r.add("GET", "/healthz", [](request&) { return json_response(200, {{"status", "ok"}}); });
    r.add("GET", "/readyz", [&pool, expected_schema_version](request&) {
        auto not_ready = [](std::string reason) {
            return json_response(503, {{"status", "not_ready"}, {"reason", std::move(reason)}});
        };
        auto conn = pool.acquire();
        if (!conn) return not_ready("database: " + conn.error().message);
        auto rs =
            (*conn)->exec_prepared("SELECT coalesce(max(version), 0) FROM schema_migrations", {});
        if (!rs) return not_ready("database: " + rs.error().message);
        int version = rs->front().get<int>(0);
        if (version < expected_schema_version)
            return not_ready("schema version " + std::to_string(version) + " is behind "
                             + std::to_string(expected_schema_version));
        auto stats = pool.stats();
        return json_response(
            200, {{"status", "ready"},
                  {"schema_version", version},
                  {"database_pool",
                   {{"size", stats.size}, {"open", stats.open}, {"in_use", stats.in_use}}}});
    });
}

}  // namespace herald::http
