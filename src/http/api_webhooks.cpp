// Status webhooks: the account's URL and signing secret, and the record of every call.

#include "db/param.hpp"
#include "http/detail/api_impl.hpp"
#include "store/webhooks.hpp"

namespace herald::http::detail {
namespace {

json settings_json(const store::webhook_settings& s) {
    return {{"url", opt(s.url)},
            {"secret", s.secret},
            {"signature",
             "Herald-Signature: v1=hex(HMAC-SHA256(secret, Herald-Timestamp + \".\" + body))"}};
}

json delivery_json(const store::webhook_delivery& d) {
    return {
        {"id", d.id.str()},
        {"message_id", d.message_id.str()},
        {"event", d.event},
        {"status", d.status},
        {"url", d.url},
        {"state", d.state},
        {"attempts", d.attempts},
        {"last_status_code", d.last_status_code ? json(*d.last_status_code) : json(nullptr)},
        {"last_error", opt(d.last_error)},
        {"payload", json::parse(d.payload, nullptr, false)},
        {"created_at", iso(d.created_at)},
        {"next_attempt_at", d.state == "pending" ? json(iso(d.next_attempt_at)) : json(nullptr)},
        {"finished_at", iso_or_null(d.finished_at)}};
}

}  // namespace

void register_webhooks(impl& api, router& routes) {
    const guard owner{.permission = "users:manage"};
    routes.add("GET", "/v1/webhook", api.guarded(owner, [&api](call& c) {
        return with_db(api, [&](db::connection& conn) -> result<response> {
            auto s = store::get_webhook(conn, c.tenant_id());
            if (!s) return std::unexpected(s.error());
            return json_response(200, settings_json(*s));
        });
    }));

    routes.add("PUT", "/v1/webhook", api.guarded(owner, [&api](call& c) {
        auto body = body_object(c.req, {"url"});
        if (!body) return error_response(body.error());
        auto url = optional_string(*body, "url", 2000, true);
        if (!url) return error_response(url.error());
        if (!body->contains("url"))
            return error_response(422, "invalid_value", "url is required (null removes it)", "url");
        if (*url && !(*url)->starts_with("https://") && !(*url)->starts_with("http://"))
            return error_response(422, "invalid_value", "url must be an http:// or https:// URL",
                                  "url");
        return with_db(api, [&](db::connection& conn) {
            return in_transaction(conn, [&]() -> result<response> {
                auto s = store::set_webhook_url(conn, c.tenant_id(), *url);
                if (!s) return std::unexpected(s.error());
                auto a =
                    c.audit("webhook.update", "account", c.tenant_id().str(), {{"url", opt(*url)}});
                if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                return json_response(200, settings_json(*s));
            });
        });
    }));

    routes.add("POST", "/v1/webhook/rotate-secret", api.guarded(owner, [&api](call& c) {
        return with_db(api, [&](db::connection& conn) {
            return in_transaction(conn, [&]() -> result<response> {
                auto s = store::rotate_webhook_secret(conn, c.tenant_id());
                if (!s) return std::unexpected(s.error());
                auto a = c.audit("webhook.rotate_secret", "account", c.tenant_id().str());
                if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                return json_response(200, settings_json(*s));
            });
        });
    }));

    routes.add("GET", "/v1/webhook/deliveries",
               api.guarded({.permission = "messages:send"}, [&api](call& c) {
                   auto p = page_from(c.req);
                   if (!p) return error_response(p.error());
                   store::webhook_filter f;
                   if (auto m = c.req.query("message_id"); m && !m->empty()) {
                       auto u = core::uuid::parse(*m);
                       if (!u)
                           return error_response(422, "invalid_value", "message_id must be a UUID",
                                                 "message_id");
                       f.message_id = *u;
                   }
                   if (auto st = c.req.query("state"); st && !st->empty()) {
                       if (*st != "pending" && *st != "delivered" && *st != "failed")
                           return error_response(422, "invalid_value",
                                                 "state must be pending, delivered or failed",
                                                 "state");
                       f.state = std::string(*st);
                   }
                   return with_db(api, [&](db::connection& conn) -> result<response> {
                       auto page = store::list_webhook_deliveries(conn, c.tenant_id(), f, *p);
                       if (!page) return std::unexpected(page.error());
                       return json_response(200, page_json(*page, delivery_json));
                   });
               }));
}

}  // namespace herald::http::detail
