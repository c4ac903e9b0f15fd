// Sign-in, sign-out, who am I, password change, self-service sign-up.

#include "http/detail/api_impl.hpp"
#include "http/views.hpp"
#include "store/accounts.hpp"
#include "store/errc.hpp"

namespace herald::http::detail {
namespace {

std::string cookie(const impl& api, std::string_view name, std::string_view value, std::chrono::seconds max_age,
                   bool http_only) {
    std::string c = std::string(name) + "=" + std::string(value) + "; Path=/; SameSite=Strict; Max-Age=" +
                    std::to_string(max_age.count());
    if (http_only) c += "; HttpOnly";
    if (api.options.secure_cookies) c += "; Secure";
    return c;
}

}  // namespace

response impl::login(request& req) {
    std::chrono::seconds retry{};
    if (!per_ip.allow(req.remote_ip, &retry)) {
        auto r = error_response(429, "rate_limited", "too many requests from " + req.remote_ip);
        r.set("retry-after", std::to_string(retry.count()));
        return r;
    }
    auto body = body_object(req, {"login", "password"});
    if (!body) return error_response(body.error());
    auto login_name = required_string(*body, "login", 120);
    if (!login_name) return error_response(login_name.error());
    auto password = required_string(*body, "password", 256);
    if (!password) return error_response(password.error());
    std::string account_key = *login_name;
    for (auto& ch : account_key) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    auto locked = std::max(login_by_account.locked_for(account_key), login_by_ip.locked_for(req.remote_ip));
    if (locked.count() > 0) {
        auto r = error_response(429, "too_many_login_attempts",
                                "too many failed sign-ins; try again in " + std::to_string(locked.count()) + " seconds");
        r.set("retry-after", std::to_string(locked.count()));
        return r;
    }
    return with_db(*this, [&](db::connection& c) -> result<response> {
        auto u = store::authenticate(c, *login_name, *password);
        store::audit_entry a;
        a.ip_address = req.remote_ip;
        a.user_agent = std::string(req.header("user-agent"));
        if (!u) {
            if (!u.error().is(condition::unauthenticated)) return std::unexpected(u.error());
            login_by_account.record_failure(account_key);
            login_by_ip.record_failure(req.remote_ip);
            a.action = "auth.login_failed";
            a.details = json{{"login", login_name->substr(0, 120)}}.dump();
            if (auto known = store::find_user_by_login(c, *login_name)) {
                a.user_id = known->id;
                a.tenant_id = known->tenant_id;
            }
            (void)store::write_audit(c, a);
            return error_response(401, "invalid_credentials", "wrong username or password");
        }
        auto status = store::effective_status(c, *u);
        if (!status) return std::unexpected(status.error());
        if (*status == "closed") return error_response(403, "account_closed", "this account is closed");
        login_by_account.reset(account_key);
        auto s = store::create_session(c, u->id, req.remote_ip, req.header("user-agent"), options.session_ttl);
        if (!s) return std::unexpected(s.error());
        if (auto r = store::record_login(c, u->id); !r) return std::unexpected(r.error());
        a.user_id = u->id;
        a.tenant_id = u->tenant_id;
        a.action = "auth.login";
        a.target_type = "session";
        a.target_id = s->session_id.str();
        if (auto r = store::write_audit(c, a); !r) return std::unexpected(r.error());
        auto resp = json_response(200, {{"user", user_json(*u)},
                                        {"csrf_token", s->csrf},
                                        {"expires_at", iso(s->expires_at)}});
        resp.headers.emplace_back("set-cookie", cookie(*this, "herald_session", s->cookie, options.session_ttl, true));
        resp.headers.emplace_back("set-cookie", cookie(*this, "herald_csrf", s->csrf, options.session_ttl, false));
        return resp;
    });
}

void register_auth(impl& api, router& routes) {
    routes.add("POST", "/v1/auth/login", [&api](request& req) { return api.login(req); });

    routes.add("POST", "/v1/auth/logout", api.guarded({.tenant_scoped = false}, [&api](call& c) {
        return with_db(api, [&](db::connection& conn) -> result<response> {
            if (c.who.session_id)
                if (auto r = store::revoke_session(conn, *c.who.session_id); !r) return std::unexpected(r.error());
            if (auto r = store::write_audit(conn, c.audit("auth.logout")); !r) return std::unexpected(r.error());
            api.forget_cached([&](const principal& p) { return p.session_id && p.session_id == c.who.session_id; });
            auto resp = no_content();
            resp.headers.emplace_back("set-cookie", cookie(api, "herald_session", "", std::chrono::seconds(0), true));
            resp.headers.emplace_back("set-cookie", cookie(api, "herald_csrf", "", std::chrono::seconds(0), false));
            return resp;
        });
    }));

    routes.add("GET", "/v1/auth/me", api.guarded({.tenant_scoped = false}, [&api](call& c) {
        return with_db(api, [&](db::connection& conn) -> result<response> {
            auto u = store::get_user(conn, c.who.user_id);
            if (!u) return std::unexpected(u.error());
            json perms = json::array();
            for (const auto& p : c.who.permissions) perms.push_back(p);
            json j = user_json(*u);
            j["permissions"] = perms;
            j["effective_status"] = c.who.status;
            j["authenticated_by"] = c.who.via_session ? "session" : "token";
            return json_response(200, j);
        });
    }));

    routes.add("POST", "/v1/auth/password", api.guarded({.tenant_scoped = false}, [&api](call& c) {
        auto body = body_object(c.req, {"current_password", "new_password"});
        if (!body) return error_response(body.error());
        auto current = required_string(*body, "current_password", 256);
        if (!current) return error_response(current.error());
        auto fresh = required_string(*body, "new_password", 256);
        if (!fresh) return error_response(fresh.error());
        return with_db(api, [&](db::connection& conn) -> result<response> {
            auto u = store::get_user(conn, c.who.user_id);
            if (!u) return std::unexpected(u.error());
            if (!store::authenticate(conn, u->username, *current))
                return error_response(403, "invalid_credentials", "the current password is wrong", "current_password");
            if (auto r = store::set_password(conn, u->id, *fresh); !r) return error_response(r.error());
            // Other dashboard sessions end; this one stays.
            auto others = conn.exec("UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL "
                                    "AND ($2::uuid IS NULL OR id <> $2)",
                                    {u->id, c.who.session_id});
            if (!others) return std::unexpected(others.error());
            if (auto r = store::write_audit(conn, c.audit("auth.password_change", "user", u->id.str())); !r)
                return std::unexpected(r.error());
            api.forget_cached([&](const principal& p) { return p.user_id == u->id && p.session_id != c.who.session_id; });
            return no_content();
        });
    }));

    routes.add("POST", "/v1/signup", [&api](request& req) {
        if (!api.options.self_signup)
            return error_response(403, "signup_disabled", "self-service sign-up is turned off; ask the operator for an account");
        std::chrono::seconds retry{};
        if (!api.per_ip.allow(req.remote_ip, &retry)) return error_response(429, "rate_limited", "too many requests");
        auto body = body_object(req, {"username", "email", "password", "company_name", "phone_number"});
        if (!body) return error_response(body.error());
        store::new_user nu;
        auto username = required_string(*body, "username", 50);
        auto email = required_string(*body, "email", 120);
        auto password = required_string(*body, "password", 256);
        auto company = optional_string(*body, "company_name", 100, true);
        auto phone = optional_string(*body, "phone_number", 20, true);
        for (const error* e : {username ? nullptr : &username.error(), email ? nullptr : &email.error(),
                               password ? nullptr : &password.error(), company ? nullptr : &company.error(),
                               phone ? nullptr : &phone.error()})
            if (e) return error_response(*e);
        nu.username = *username;
        nu.email = *email;
        nu.password = *password;
        nu.company_name = *company;
        nu.phone_number = *phone;
        return with_db(api, [&](db::connection& conn) -> result<response> {
            auto u = store::create_user(conn, nu);
            if (!u) return std::unexpected(u.error());
            store::audit_entry a;
            a.user_id = u->id;
            a.tenant_id = u->tenant_id;
            a.action = "auth.signup";
            a.ip_address = req.remote_ip;
            a.user_agent = std::string(req.header("user-agent"));
            a.target_type = "user";
            a.target_id = u->id.str();
            if (auto r = store::write_audit(conn, a); !r) return std::unexpected(r.error());
            return created(user_json(*u));
        });
    });
}

}  // namespace herald::http::detail
