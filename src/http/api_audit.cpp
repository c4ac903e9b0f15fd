// The audit trail: a tenant reads its own, an admin reads everyone's.

#include "db/param.hpp"
#include "http/detail/api_impl.hpp"
#include "http/views.hpp"
#include "store/audit.hpp"

namespace herald::http::detail {
namespace {

/// Filters from ?action=&user_id=&since=&until=.
result<store::audit_filter> filter_from(const request& req) {
    store::audit_filter f;
    if (auto a = req.query("action"); a && !a->empty()) f.action = *a;
    if (auto u = req.query("user_id"); u && !u->empty()) {
        auto id = core::uuid::parse(*u);
        if (!id) return fail(std::make_error_code(std::errc::invalid_argument), "user_id must be a user id", "user_id");
        f.user_id = *id;
    }
    for (auto [name, slot] : {std::pair{"since", &f.since}, std::pair{"until", &f.until}}) {
        if (auto t = req.query(name); t && !t->empty()) {
            auto parsed = db::parse_timestamp(*t);
            if (!parsed)
                return fail(std::make_error_code(std::errc::invalid_argument),
                            std::string(name) + " must be an ISO 8601 time such as 2026-11-01T00:00:00Z", name);
            *slot = *parsed;
        }
    }
    return f;
}

response list(impl& api, call& c, std::optional<core::uuid> tenant) {
    auto p = page_from(c.req);
    if (!p) return error_response(p.error());
    auto f = filter_from(c.req);
    if (!f) return error_response(422, "invalid_value", f.error().message, f.error().field);
    f->tenant_id = tenant;
    if (auto t = c.req.query("tenant_id"); !tenant && t && !t->empty()) {
        auto id = core::uuid::parse(*t);
        if (!id) return error_response(422, "invalid_value", "tenant_id must be a tenant id", "tenant_id");
        f->tenant_id = *id;
    }
    return with_db(api, [&](db::connection& conn) -> result<response> {
        auto rows = store::list_audit(conn, *f, *p);
        if (!rows) return std::unexpected(rows.error());
        return json_response(200, page_json(*rows, audit_json));
    });
}

}  // namespace

void register_audit(impl& api, router& routes) {
    routes.add("GET", "/v1/audit",
          api.guarded({.permission = "audit:read"}, [&api](call& c) { return list(api, c, c.tenant); }));
    routes.add("GET", "/v1/admin/audit", api.guarded({.permission = "admin", .tenant_scoped = false},
                                                [&api](call& c) { return list(api, c, std::nullopt); }));
}

}  // namespace herald::http::detail
