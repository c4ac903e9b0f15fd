// The operator's endpoints: tenants, credits, password resets, prices.

#include "http/detail/api_impl.hpp"
#include "http/views.hpp"
#include "store/accounts.hpp"
#include "store/billing.hpp"
#include "store/campaigns.hpp"
#include "store/errc.hpp"

namespace herald::http::detail {
namespace {

const guard admin_only{.permission = "admin", .tenant_scoped = false};

/// A tenant id from the path; an id that is not a tenant is "not found".
result<store::user> tenant_from(db::connection& conn, const request& req) {
    auto id = id_param(req);
    if (!id) return std::unexpected(id.error());
    auto u = store::get_user(conn, *id);
    // Only a missing user is "not found": a lost connection is not (it is tried again).
    if (!u && !u.error().is(condition::not_found)) return std::unexpected(u.error());
    if (!u || !u->is_tenant_owner()) return fail(store::errc::not_found, "tenant not found");
    return u;
}

/// Account settings an admin may set, with their types.
result<json> settings_patch(const json& v) {
    static const std::map<std::string, json::value_t> known = {
        {"allow_negative_credits", json::value_t::boolean},
        {"refund_failed_messages", json::value_t::boolean},
    };
    if (!v.is_object())
        return fail(std::make_error_code(std::errc::invalid_argument), "settings must be an object",
                    "settings");
    for (const auto& [k, x] : v.items()) {
        if (k == "quiet_hours") {  // null removes them
            if (x.is_null()) continue;
            if (auto q = check_quiet_hours(x, "settings.quiet_hours"); !q)
                return std::unexpected(q.error());
            continue;
        }
        auto it = known.find(k);
        if (it == known.end())
            return fail(std::make_error_code(std::errc::invalid_argument),
                        "unknown setting \"" + k
                            + "\" (allow_negative_credits, refund_failed_messages, quiet_hours)",
                        "settings." + k);
        if (x.type() != it->second)
            return fail(std::make_error_code(std::errc::invalid_argument),
                        "settings." + k + " must be true or false", "settings." + k);
    }
    return v;
}

}  // namespace

void register_admin(impl& api, router& routes) {
    routes.add("GET", "/v1/admin/tenants", api.guarded(admin_only, [&api](call& c) {
        auto p = page_from(c.req);
        if (!p) return error_response(p.error());
        return with_db(api, [&](db::connection& conn) -> result<response> {
            auto tenants = store::list_tenants(conn, *p);
            if (!tenants) return std::unexpected(tenants.error());
            return json_response(200, page_json(*tenants, user_json));
        });
    }));

    routes.add("POST", "/v1/admin/tenants", api.guarded(admin_only, [&api](call& c) {
        auto body = body_object(
            c.req, {"username", "email", "password", "company_name", "phone_number", "credits"});
        if (!body) return error_response(body.error());
        store::new_user nu;
        auto username = required_string(*body, "username", 50);
        if (!username) return error_response(username.error());
        auto email = required_string(*body, "email", 120);
        if (!email) return error_response(email.error());
        auto password = required_string(*body, "password", 256);
        if (!password) return error_response(password.error());
        auto company = optional_string(*body, "company_name", 100, true);
        if (!company) return error_response(company.error());
        auto phone = optional_string(*body, "phone_number", 20, true);
        if (!phone) return error_response(phone.error());
        auto credits = optional_integer(*body, "credits", 0, 100'000'000);
        if (!credits) return error_response(credits.error());
        nu.username = *username;
        nu.email = *email;
        nu.password = *password;
        nu.company_name = *company;
        nu.phone_number = *phone;
        return with_db(api, [&](db::connection& conn) {
            return in_transaction(conn, [&]() -> result<response> {
                auto u = store::create_user(conn, nu);
                if (!u) return std::unexpected(u.error());
                if (*credits && **credits > 0) {
                    auto l = store::credit(conn, {.tenant = u->id,
                                                  .credits = int(**credits),
                                                  .amount = "0",
                                                  .description = "opening balance",
                                                  .by = c.who.user_id,
                                                  .transaction_type = "adjustment"});
                    if (!l) return std::unexpected(l.error());
                }
                auto a = c.audit("tenants.create", "user", u->id.str(),
                                 {{"username", u->username}, {"credits", credits->value_or(0)}});
                a.tenant_id = u->id;
                if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                auto fresh = store::get_user(conn, u->id);
                if (!fresh) return std::unexpected(fresh.error());
                return created(user_json(*fresh));
            });
        });
    }));

    routes.add("GET", "/v1/admin/tenants/{id}", api.guarded(admin_only, [&api](call& c) {
        return with_db(api, [&](db::connection& conn) -> result<response> {
            auto t = tenant_from(conn, c.req);
            if (!t) return std::unexpected(t.error());
            return json_response(200, user_json(*t));
        });
    }));

    routes.add("PATCH", "/v1/admin/tenants/{id}", api.guarded(admin_only, [&api](call& c) {
        auto body = body_object(c.req, {"account_status", "settings"});
        if (!body) return error_response(body.error());
        auto status = optional_string(*body, "account_status", 20);
        if (!status) return error_response(status.error());
        std::optional<json> settings;
        if (auto it = body->find("settings"); it != body->end()) {
            auto s = settings_patch(*it);
            if (!s) return error_response(422, "invalid_value", s.error().message, s.error().field);
            settings = *s;
        }
        return with_db(api, [&](db::connection& conn) {
            return in_transaction(conn, [&]() -> result<response> {
                auto t = tenant_from(conn, c.req);
                if (!t) return std::unexpected(t.error());
                if (*status)
                    if (auto s = store::set_account_status(conn, t->id, **status); !s)
                        return std::unexpected(s.error());
                if (settings)
                    if (auto s = store::update_settings(conn, t->id, settings->dump()); !s)
                        return std::unexpected(s.error());
                auto a = c.audit("tenants.update", "user", t->id.str(), *body);
                a.tenant_id = t->id;
                if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                const core::uuid tid = t->id;
                api.forget_cached([&](const principal& p) { return p.tenant_id == tid; });
                auto fresh = store::get_user(conn, t->id);
                if (!fresh) return std::unexpected(fresh.error());
                return json_response(200, user_json(*fresh));
            });
        });
    }));

    routes.add("POST", "/v1/admin/tenants/{id}/credits", api.guarded(admin_only, [&api](call& c) {
        auto body = body_object(
            c.req, {"credits", "amount", "payment_method", "description", "transaction_type"});
        if (!body) return error_response(body.error());
        auto credits = optional_integer(*body, "credits", 1, 100'000'000);
        if (!credits) return error_response(credits.error());
        if (!*credits)
            return error_response(422, "invalid_value", "credits is required", "credits");
        std::string amount = "0";
        if (auto it = body->find("amount"); it != body->end()) {
            if (it->is_string())
                amount = it->get<std::string>();
            else if (it->is_number())
                amount = it->dump();
            else
                return error_response(422, "invalid_value", "amount must look like 49.99",
                                      "amount");
        }
        auto method = optional_string(*body, "payment_method", 50, true);
        if (!method) return error_response(method.error());
        auto description = optional_string(*body, "description", 500, true);
        if (!description) return error_response(description.error());
        auto type = optional_string(*body, "transaction_type", 50);
        if (!type) return error_response(type.error());
        return with_db(api, [&](db::connection& conn) {
            return in_transaction(conn, [&]() -> result<response> {
                auto t = tenant_from(conn, c.req);
                if (!t) return std::unexpected(t.error());
                auto l =
                    store::credit(conn, {.tenant = t->id,
                                         .credits = int(**credits),
                                         .amount = amount,
                                         .payment_method = method->value_or(""),
                                         .description = description->value_or(""),
                                         .by = c.who.user_id,
                                         .transaction_type = type->value_or("credit_purchase")});
                if (!l) return std::unexpected(l.error());
                // Campaigns that stopped for lack of credits go on.
                auto resumed = store::resume_after_top_up(conn, t->id);
                if (!resumed) return std::unexpected(resumed.error());
                auto a = c.audit("billing.credit", "user", t->id.str(),
                                 {{"credits", l->credits},
                                  {"amount", l->amount},
                                  {"credits_after", l->credits_after}});
                a.tenant_id = t->id;
                if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                return created(ledger_json(*l));
            });
        });
    }));

    routes.add("POST", "/v1/admin/users/{id}/password", api.guarded(admin_only, [&api](call& c) {
        auto id = id_param(c.req);
        if (!id) return error_response(id.error());
        auto body = body_object(c.req, {"password"});
        if (!body) return error_response(body.error());
        auto password = required_string(*body, "password", 256);
        if (!password) return error_response(password.error());
        return with_db(api, [&](db::connection& conn) {
            return in_transaction(conn, [&]() -> result<response> {
                auto u = store::get_user(conn, *id);
                if (!u) return std::unexpected(u.error());
                if (auto s = store::set_password(conn, *id, *password); !s)
                    return std::unexpected(s.error());
                if (auto s = store::revoke_user_sessions(conn, *id); !s)
                    return std::unexpected(s.error());
                auto a = c.audit("users.password_reset", "user", id->str());
                a.tenant_id = u->tenant_id;
                if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                api.forget_cached(
                    [&](const principal& p) { return p.user_id == *id && p.via_session; });
                return no_content();
            });
        });
    }));

    routes.add("PUT", "/v1/admin/prices/{country}", api.guarded(admin_only, [&api](call& c) {
        auto body = body_object(c.req, {"credits_per_segment"});
        if (!body) return error_response(body.error());
        auto credits = optional_integer(*body, "credits_per_segment", 1, 1000);
        if (!credits) return error_response(credits.error());
        if (!*credits)
            return error_response(422, "invalid_value", "credits_per_segment is required",
                                  "credits_per_segment");
        std::string country(c.req.param("country"));
        return with_db(api, [&](db::connection& conn) {
            return in_transaction(conn, [&]() -> result<response> {
                auto p = store::set_price(conn, {country, int(**credits)}, c.who.user_id);
                if (!p) return std::unexpected(p.error());
                if (auto w =
                        store::write_audit(conn, c.audit("prices.set", "price", country,
                                                         {{"credits_per_segment", **credits}}));
                    !w)
                    return std::unexpected(w.error());
                return json_response(200, {{"country_code", p->country_code},
                                           {"credits_per_segment", p->credits_per_segment}});
            });
        });
    }));

    routes.add("DELETE", "/v1/admin/prices/{country}", api.guarded(admin_only, [&api](call& c) {
        std::string country(c.req.param("country"));
        return with_db(api, [&](db::connection& conn) {
            return in_transaction(conn, [&]() -> result<response> {
                if (auto d = store::delete_price(conn, country); !d)
                    return std::unexpected(d.error());
                if (auto w = store::write_audit(conn, c.audit("prices.delete", "price", country));
                    !w)
                    return std::unexpected(w.error());
                return no_content();
            });
        });
    }));
}

}  // namespace herald::http::detail
