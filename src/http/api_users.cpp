// A tenant's sub-users with their named roles, and API tokens.

#include "core/errc.hpp"
#include "db/param.hpp"
#include "http/detail/api_impl.hpp"
#include "http/views.hpp"
#include "store/accounts.hpp"
#include "store/errc.hpp"
#include "store/tokens.hpp"

namespace herald::http::detail {
namespace {

/// Permissions a caller may hand on: only those it has itself.
std::optional<response> check_grantable(const principal& who, const std::vector<std::string>& perms,
                                        std::string_view field) {
    for (const auto& p : perms) {
        if (!store::is_permission(p) && !(p == "admin" && who.admin()))
            return error_response(422, "invalid_value", "unknown permission \"" + p + "\"", field);
        if (!who.can(p))
            return error_response(403, "forbidden",
                                  "you cannot grant " + p + ", which you do not have", field);
    }
    return std::nullopt;
}

result<std::optional<time_point>> optional_time(const json& j, std::string_view field) {
    auto s = optional_string(j, field, 40, true);
    if (!s) return std::unexpected(s.error());
    if (!*s) return std::optional<time_point>();
    auto t = db::parse_timestamp(**s);
    if (!t)
        return fail(core::errc::invalid_value,
                    std::string(field) + " must be an ISO 8601 time such as 2027-01-31T00:00:00Z",
                    std::string(field));
    return std::optional<time_point>(*t);
}

}  // namespace

void register_users(impl& api, router& routes) {
    routes.add("GET", "/v1/users", api.guarded({.permission = "users:manage"}, [&api](call& c) {
        auto p = page_from(c.req);
        if (!p) return error_response(p.error());
        return with_db(api, [&](db::connection& conn) -> result<response> {
            auto users = store::list_users(conn, c.tenant, *p);
            if (!users) return std::unexpected(users.error());
            return json_response(200, page_json(*users, user_json));
        });
    }));

    routes.add("POST", "/v1/users", api.guarded({.permission = "users:manage"}, [&api](call& c) {
        auto body = body_object(c.req, {"username", "email", "password", "roles"});
        if (!body) return error_response(body.error());
        store::new_user nu;
        auto username = required_string(*body, "username", 50);
        if (!username) return error_response(username.error());
        auto email = required_string(*body, "email", 120);
        if (!email) return error_response(email.error());
        auto password = required_string(*body, "password", 256);
        if (!password) return error_response(password.error());
        nu.username = *username;
        nu.email = *email;
        nu.password = *password;
        nu.tenant_id = c.tenant;
        std::vector<std::pair<std::string, std::vector<std::string>>> roles;
        if (auto it = body->find("roles"); it != body->end()) {
            if (!it->is_array())
                return error_response(422, "invalid_value", "roles must be a list", "roles");
            for (const auto& role : *it) {
                if (!role.is_object())
                    return error_response(422, "invalid_value", "each role is an object", "roles");
                auto name = required_string(role, "role_name", 50);
                if (!name) return error_response(name.error());
                auto perms = string_list(role, "permissions", 20);
                if (!perms) return error_response(perms.error());
                if (auto refused = check_grantable(c.who, *perms, "roles")) return *refused;
                roles.emplace_back(*name, *perms);
            }
        }
        return with_db(api, [&](db::connection& conn) {
            return in_transaction(conn, [&]() -> result<response> {
                auto u = store::create_user(conn, nu);
                if (!u) return std::unexpected(u.error());
                json granted = json::array();
                for (const auto& [name, perms] : roles) {
                    auto g = store::grant_role(conn, c.tenant_id(), u->id, name, perms);
                    if (!g) return std::unexpected(g.error());
                    granted.push_back(role_json(*g));
                }
                auto a = c.audit("users.create", "user", u->id.str(),
                                 {{"username", u->username}, {"roles", granted}});
                if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                json j = user_json(*u);
                j["roles"] = granted;
                return created(j);
            });
        });
    }));

    routes.add("GET", "/v1/users/{id}",
               api.guarded({.permission = "users:manage"}, [&api](call& c) {
                   auto id = id_param(c.req);
                   if (!id) return error_response(id.error());
                   return with_db(api, [&](db::connection& conn) -> result<response> {
                       auto u = store::get_user(conn, *id);
                       if (!u && !u.error().is(condition::not_found))
                           return std::unexpected(u.error());
                       if (!u || u->tenant_id != c.tenant)
                           return error_response(404, "not_found", "user not found");
                       auto roles = store::list_roles(conn, c.tenant_id(), *id);
                       if (!roles) return std::unexpected(roles.error());
                       json j = user_json(*u);
                       j["roles"] = json::array();
                       for (const auto& g : *roles) j["roles"].push_back(role_json(g));
                       return json_response(200, j);
                   });
               }));

    routes.add(
        "PATCH", "/v1/users/{id}", api.guarded({.permission = "users:manage"}, [&api](call& c) {
            auto id = id_param(c.req);
            if (!id) return error_response(id.error());
            auto body = body_object(c.req, {"account_status"});
            if (!body) return error_response(body.error());
            auto status = required_string(*body, "account_status", 20);
            if (!status) return error_response(status.error());
            if (*id == c.tenant_id())
                return error_response(
                    403, "forbidden",
                    "a tenant cannot change its own account status; ask the operator");
            return with_db(api, [&](db::connection& conn) {
                return in_transaction(conn, [&]() -> result<response> {
                    auto u = store::get_user(conn, *id);
                    if (!u && !u.error().is(condition::not_found))
                        return std::unexpected(u.error());
                    if (!u || u->tenant_id != c.tenant)
                        return error_response(404, "not_found", "user not found");
                    if (auto s = store::set_account_status(conn, *id, *status); !s)
                        return std::unexpected(s.error());
                    if (auto w = store::write_audit(conn, c.audit("users.update", "user", id->str(),
                                                                  {{"account_status", *status}}));
                        !w)
                        return std::unexpected(w.error());
                    api.forget_cached([&](const principal& p) { return p.user_id == *id; });
                    auto fresh = store::get_user(conn, *id);
                    if (!fresh) return std::unexpected(fresh.error());
                    return json_response(200, user_json(*fresh));
                });
            });
        }));

    routes.add("PUT", "/v1/users/{id}/roles/{role}",
               api.guarded({.permission = "users:manage"}, [&api](call& c) {
                   auto id = id_param(c.req);
                   if (!id) return error_response(id.error());
                   auto body = body_object(c.req, {"permissions"});
                   if (!body) return error_response(body.error());
                   auto perms = string_list(*body, "permissions", 20);
                   if (!perms) return error_response(perms.error());
                   if (auto refused = check_grantable(c.who, *perms, "permissions"))
                       return *refused;
                   std::string role(c.req.param("role"));
                   return with_db(api, [&](db::connection& conn) {
                       return in_transaction(conn, [&]() -> result<response> {
                           auto g = store::grant_role(conn, c.tenant_id(), *id, role, *perms);
                           if (!g) return std::unexpected(g.error());
                           if (auto w = store::write_audit(
                                   conn, c.audit("users.grant_role", "user", id->str(),
                                                 {{"role_name", role}, {"permissions", *perms}}));
                               !w)
                               return std::unexpected(w.error());
                           api.forget_cached([&](const principal& p) { return p.user_id == *id; });
                           return json_response(200, role_json(*g));
                       });
                   });
               }));

    routes.add("DELETE", "/v1/users/{id}/roles/{role}",
               api.guarded({.permission = "users:manage"}, [&api](call& c) {
                   auto id = id_param(c.req);
                   if (!id) return error_response(id.error());
                   std::string role(c.req.param("role"));
                   return with_db(api, [&](db::connection& conn) {
                       return in_transaction(conn, [&]() -> result<response> {
                           if (auto g = store::revoke_role(conn, c.tenant_id(), *id, role); !g)
                               return std::unexpected(g.error());
                           if (auto w = store::write_audit(
                                   conn, c.audit("users.revoke_role", "user", id->str(),
                                                 {{"role_name", role}}));
                               !w)
                               return std::unexpected(w.error());
                           api.forget_cached([&](const principal& p) { return p.user_id == *id; });
                           return no_content();
                       });
                   });
               }));

    // ---- tokens: a client's belong to its tenant; an admin's to nobody ----

    routes.add(
        "GET", "/v1/tokens",
        api.guarded({.permission = "tokens:manage", .tenant_scoped = false}, [&api](call& c) {
            auto p = page_from(c.req);
            if (!p) return error_response(p.error());
            return with_db(api, [&](db::connection& conn) -> result<response> {
                auto tokens = store::list_tokens(conn, c.who.tenant_id, *p);
                if (!tokens) return std::unexpected(tokens.error());
                return json_response(200, page_json(*tokens, token_json));
            });
        }));

    routes.add(
        "POST", "/v1/tokens",
        api.guarded({.permission = "tokens:manage", .tenant_scoped = false}, [&api](call& c) {
            auto body = body_object(c.req, {"name", "permissions", "expires_at"});
            if (!body) return error_response(body.error());
            auto name = required_string(*body, "name", 100);
            if (!name) return error_response(name.error());
            auto perms = string_list(*body, "permissions", 20);
            if (!perms) return error_response(perms.error());
            if (auto refused = check_grantable(c.who, *perms, "permissions")) return *refused;
            if (perms->empty()) perms->assign(c.who.permissions.begin(), c.who.permissions.end());
            auto expires = optional_time(*body, "expires_at");
            if (!expires) return error_response(expires.error());
            return with_db(api, [&](db::connection& conn) {
                return in_transaction(conn, [&]() -> result<response> {
                    auto t = store::create_token(conn, c.who.user_id, c.who.tenant_id, *name,
                                                 *perms, *expires);
                    if (!t) return std::unexpected(t.error());
                    auto a = c.audit("tokens.create", "api_token", t->record.id.str(),
                                     {{"name", t->record.name},
                                      {"prefix", t->record.prefix},
                                      {"permissions", *perms}});
                    if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                    json j = token_json(t->record);
                    j["token"] = t->secret;  // shown this once only
                    return created(j);
                });
            });
        }));

    routes.add(
        "DELETE", "/v1/tokens/{id}",
        api.guarded({.permission = "tokens:manage", .tenant_scoped = false}, [&api](call& c) {
            auto id = id_param(c.req);
            if (!id) return error_response(id.error());
            return with_db(api, [&](db::connection& conn) {
                return in_transaction(conn, [&]() -> result<response> {
                    auto t = store::revoke_token(conn, c.who.tenant_id, *id);
                    if (!t) return std::unexpected(t.error());
                    if (auto w =
                            store::write_audit(conn, c.audit("tokens.revoke", "api_token",
                                                             id->str(), {{"prefix", t->prefix}}));
                        !w)
                        return std::unexpected(w.error());
                    api.forget_cached([&](const principal& p) { return p.token_id == *id; });
                    return no_content();
                });
            });
        }));
}

}  // namespace herald::http::detail
