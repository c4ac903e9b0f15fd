// Campaigns: drafts, preview, start/pause/resume/cancel, and live statistics.

#include "db/param.hpp"
#include "http/detail/api_impl.hpp"
#include "store/billing.hpp"
#include "store/campaigns.hpp"
#include "store/messages.hpp"
#include "text/message_template.hpp"
#include "text/segments.hpp"

namespace herald::http::detail {
namespace {

json campaign_json(const store::campaign& c) {
    json groups = json::array();
    for (const auto& g : c.groups) groups.push_back(g.str());
    json settings = json::parse(c.settings, nullptr, false);
    return {{"id", c.id.str()},
            {"name", c.name},
            {"message_template", c.message_template},
            {"sender_id", opt(c.sender_id)},
            {"status", c.status},
            {"status_reason", opt(c.status_reason)},
            {"groups", groups},
            {"settings", settings.is_discarded() ? json::object() : settings},
            {"total_recipients", c.total_recipients},
            {"suppressed", c.suppressed},
            {"scheduled_time", iso_or_null(c.scheduled_time)},
            {"started_at", iso_or_null(c.started_at)},
            {"completed_at", iso_or_null(c.completed_at)},
            {"created_at", iso(c.created_at)},
            {"updated_at", iso(c.updated_at)}};
}

bool template_name_known(std::string_view n) {
    return text::message_template::is_contact_field(n);
}

/// Validates a campaign body; `creating` requires name, message_template and groups.
std::variant<store::campaign_input, response> campaign_input(const json& b, bool creating,
                                                             int max_segments) {
    store::campaign_input in;
    auto bad = [](std::string field, std::string message) {
        return error_response(422, "invalid_value", std::move(message), std::move(field));
    };
    auto name = optional_string(b, "name", 100);
    if (!name) return error_response(name.error());
    if (*name && (*name)->empty()) return bad("name", "name is empty");
    in.name = *name;
    auto tpl = optional_string(b, "message_template", 5000);
    if (!tpl) return error_response(tpl.error());
    if (*tpl) {
        auto compiled = text::message_template::compile(**tpl, template_name_known);
        if (!compiled) {
            error e = compiled.error();
            e.field = "message_template";
            return error_response(e);
        }
        in.message_template = *tpl;
    }
    if (b.contains("sender_id")) {
        auto s = optional_string(b, "sender_id", 20, true);
        if (!s) return error_response(s.error());
        if (*s)
            if (auto f = store::check_sender_id_form(**s); !f) {
                error e = f.error();
                e.field = "sender_id";
                return error_response(e);
            }
        in.sender_id = *s;
    }
    if (b.contains("groups")) {
        auto g = uuid_list(b, "groups", 50);
        if (!g) return error_response(g.error());
        in.groups = *g;
    }
    if (b.contains("scheduled_time")) {
        const auto& v = b["scheduled_time"];
        if (v.is_null())
            in.scheduled_time = std::optional<time_point>{};
        else {
            auto t = v.is_string() ? db::parse_timestamp(v.get<std::string>()) : std::nullopt;
            if (!t)
                return bad("scheduled_time",
                           "scheduled_time must be an RFC 3339 time such as 2026-12-01T09:00:00Z");
            in.scheduled_time = std::optional<time_point>(*t);
        }
    }
    if (auto it = b.find("settings"); it != b.end()) {
        if (!it->is_object()) return bad("settings", "settings must be an object");
        for (const auto& [k, v] : it->items()) {
            const std::string f = "settings." + k;
            if (k == "tps") {
                if (!v.is_number() || v.get<double>() <= 0 || v.get<double>() > 10000)
                    return bad(f, "tps must be a number from 1 to 10000");
            } else if (k == "max_segments") {
                if (!v.is_number_integer() || v.get<int>() < 1 || v.get<int>() > max_segments)
                    return bad(f, "max_segments must be a whole number from 1 to "
                                      + std::to_string(max_segments));
            } else if (k == "validity") {
                if (!v.is_number_integer() || v.get<int>() < 60 || v.get<int>() > 7 * 86400)
                    return bad(f, "validity must be seconds from 60 to 604800");
            } else if (k == "smart_encoding") {
                if (!v.is_boolean()) return bad(f, "smart_encoding must be true or false");
            } else if (k == "opt_out_footer") {
                if (!v.is_string() || v.get<std::string>().size() > 100)
                    return bad(f, "opt_out_footer must be text of at most 100 characters");
            } else if (k == "quiet_hours") {
                if (auto q = check_quiet_hours(v, f); !q) return error_response(q.error());
            } else {
                return bad(f, "unknown setting \"" + k +
                                  "\" (tps, quiet_hours, smart_encoding, max_segments, validity, opt_out_footer)");
            }
        }
        in.settings = it->dump();
    }
    if (creating) {
        if (!in.name) return bad("name", "name is required");
        if (!in.message_template) return bad("message_template", "message_template is required");
    }
    return in;
}

/// Renders a template for one sample recipient.
std::string render_for(const text::message_template& t, const store::audience_summary::sample& s) {
    json custom = json::parse(s.fields.at("custom_fields"), nullptr, false);
    std::string scratch;
    return t.render([&](const text::placeholder& p) -> std::optional<std::string_view> {
        if (p.is_custom()) {
            if (!custom.is_object()) return std::nullopt;
            auto it = custom.find(std::string(p.custom_key()));
            if (it == custom.end()) return std::nullopt;
            scratch = it->is_string() ? it->get<std::string>() : it->dump();
            return std::string_view(scratch);
        }
        auto it = s.fields.find(p.name);
        if (it == s.fields.end()) return std::nullopt;
        return std::string_view(it->second);
    });
}

template <class Fn>
response campaign_action(impl& api, call& c, const char* action, Fn&& fn) {
    auto id = id_param(c.req);
    if (!id) return error_response(id.error());
    auto r = with_db(api, [&](db::connection& conn) {
        return in_transaction(conn, [&]() -> result<response> {
            auto camp = fn(conn, *id);
            if (!camp) return std::unexpected(camp.error());
            auto a = c.audit(std::string("campaigns.") + action, "campaign", id->str(),
                             {{"status", camp->status}});
            if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
            return json_response(200, campaign_json(*camp));
        });
    });
    if (r.status == 200 && api.options.on_queued) api.options.on_queued();
    return r;
}

}  // namespace

void register_campaigns(impl& api, router& routes) {
    routes.add("POST", "/v1/campaigns",
               api.guarded({.permission = "campaigns:write"}, [&api](call& c) {
                   auto body = body_object(c.req, {"name", "message_template", "sender_id",
                                                   "groups", "scheduled_time", "settings"});
                   if (!body) return error_response(body.error());
                   auto in = campaign_input(*body, true, api.options.max_segments);
                   if (auto* r = std::get_if<response>(&in)) return std::move(*r);
                   return with_db(api, [&](db::connection& conn) {
                       return in_transaction(conn, [&]() -> result<response> {
                           auto camp = store::create_campaign(conn, c.tenant_id(),
                                                              std::get<store::campaign_input>(in));
                           if (!camp) return std::unexpected(camp.error());
                           auto a = c.audit("campaigns.create", "campaign", camp->id.str(),
                                            {{"name", camp->name}});
                           if (auto w = store::write_audit(conn, a); !w)
                               return std::unexpected(w.error());
                           return created(campaign_json(*camp));
                       });
                   });
               }));

    routes.add("GET", "/v1/campaigns",
               api.guarded({.permission = "campaigns:read"}, [&api](call& c) {
                   auto p = page_from(c.req);
                   if (!p) return error_response(p.error());
                   std::optional<std::string> status;
                   if (auto s = c.req.query("status"); s && !s->empty()) status = *s;
                   return with_db(api, [&](db::connection& conn) -> result<response> {
                       auto list = store::list_campaigns(conn, c.tenant_id(), status, *p);
                       if (!list) return std::unexpected(list.error());
                       return json_response(200, page_json(*list, campaign_json));
                   });
               }));

    routes.add("GET", "/v1/campaigns/{id}",
               api.guarded({.permission = "campaigns:read"}, [&api](call& c) {
                   auto id = id_param(c.req);
                   if (!id) return error_response(id.error());
                   return with_db(api, [&](db::connection& conn) -> result<response> {
                       auto camp = store::get_campaign(conn, c.tenant_id(), *id);
                       if (!camp) return std::unexpected(camp.error());
                       return json_response(200, campaign_json(*camp));
                   });
               }));

    routes.add("PATCH", "/v1/campaigns/{id}",
               api.guarded({.permission = "campaigns:write"}, [&api](call& c) {
                   auto id = id_param(c.req);
                   if (!id) return error_response(id.error());
                   auto body = body_object(c.req, {"name", "message_template", "sender_id",
                                                   "groups", "scheduled_time", "settings"});
                   if (!body) return error_response(body.error());
                   auto in = campaign_input(*body, false, api.options.max_segments);
                   if (auto* r = std::get_if<response>(&in)) return std::move(*r);
                   return with_db(api, [&](db::connection& conn) {
                       return in_transaction(conn, [&]() -> result<response> {
                           auto camp = store::update_campaign(conn, c.tenant_id(), *id,
                                                              std::get<store::campaign_input>(in));
                           if (!camp) return std::unexpected(camp.error());
                           json changed = json::array();
                           for (const auto& [k, v] : body->items()) changed.push_back(k);
                           auto a = c.audit("campaigns.update", "campaign", id->str(),
                                            {{"fields", changed}});
                           if (auto w = store::write_audit(conn, a); !w)
                               return std::unexpected(w.error());
                           return json_response(200, campaign_json(*camp));
                       });
                   });
               }));

    routes.add("POST", "/v1/campaigns/{id}/preview",
               api.guarded({.permission = "campaigns:read"}, [&api](call& c) {
                   auto id = id_param(c.req);
                   if (!id) return error_response(id.error());
                   return with_db(api, [&](db::connection& conn) -> result<response> {
                       auto camp = store::get_campaign(conn, c.tenant_id(), *id);
                       if (!camp) return std::unexpected(camp.error());
                       auto audience =
                           store::campaign_audience(conn, c.tenant_id(), camp->groups, 3);
                       if (!audience) return std::unexpected(audience.error());
                       auto tpl = text::message_template::compile(camp->message_template,
                                                                  template_name_known);
                       if (!tpl) return std::unexpected(tpl.error());
                       json samples = json::array();
                       int max_segments = 1;
                       // As the recipients will get it: with the opt-out footer.
                       json settings = json::parse(camp->settings, nullptr, false);
                       std::string footer;
                       if (settings.is_object() && settings.contains("opt_out_footer")
                           && settings["opt_out_footer"].is_string())
                           footer = settings["opt_out_footer"].get<std::string>();
                       for (const auto& s : audience->samples) {
                           std::string body = render_for(*tpl, s);
                           if (!footer.empty()) body += " " + footer;
                           auto shape = text::analyze_utf8(body);
                           const int segs = shape ? int(shape->segments) : 1;
                           max_segments = std::max(max_segments, segs);
                           samples.push_back(
                               {{"contact_id", s.contact_id.str()},
                                {"to", s.phone_number},
                                {"body", body},
                                {"encoding",
                                 shape ? std::string(text::to_string(shape->encoding)) : "gsm7"},
                                {"segments", segs}});
                       }
                       long long cost = 0;
                       for (const auto& [country, n] : audience->by_country) {
                           auto price = store::price_for(conn, country);
                           if (!price) return std::unexpected(price.error());
                           cost += static_cast<long long>(n) * *price * max_segments;
                       }
                       auto balance = store::balance(conn, c.tenant_id());
                       if (!balance) return std::unexpected(balance.error());
                       return json_response(200, {{"samples", samples},
                                                  {"recipients", audience->recipients},
                                                  {"suppressed",
                                                   {{"opted_out", audience->opted_out},
                                                    {"unsubscribed", audience->unsubscribed},
                                                    {"invalid", audience->invalid}}},
                                                  {"segments_per_message", max_segments},
                                                  {"estimated_cost", cost},
                                                  {"balance", *balance}});
                   });
               }));

    routes.add(
        "POST", "/v1/campaigns/{id}/start",
        api.guarded({.permission = "campaigns:send", .sends = true}, [&api](call& c) {
            return campaign_action(
                api, c, "start",
                [&](db::connection& conn, const core::uuid& id) -> result<store::campaign> {
                    auto camp = store::get_campaign(conn, c.tenant_id(), id);
                    if (!camp) return std::unexpected(camp.error());
                    auto sender = store::resolve_sender(conn, c.tenant_id(), camp->sender_id);
                    if (!sender) {
                        error e = sender.error();
                        e.field = "sender_id";
                        return std::unexpected(e);
                    }
                    if (!camp->sender_id) {
                        store::campaign_input fix;
                        fix.sender_id = std::optional<std::string>(*sender);
                        if (auto u = store::update_campaign(conn, c.tenant_id(), id, fix); !u)
                            return std::unexpected(u.error());
                    }
                    return store::start_campaign(conn, c.tenant_id(), id);
                });
        }));

    routes.add("POST", "/v1/campaigns/{id}/pause",
               api.guarded({.permission = "campaigns:send"}, [&api](call& c) {
                   return campaign_action(api, c, "pause",
                                          [&](db::connection& conn, const core::uuid& id) {
                                              return store::pause_campaign(conn, c.tenant_id(), id,
                                                                           "paused by the user");
                                          });
               }));

    routes.add("POST", "/v1/campaigns/{id}/resume",
               api.guarded({.permission = "campaigns:send", .sends = true}, [&api](call& c) {
                   return campaign_action(
                       api, c, "resume", [&](db::connection& conn, const core::uuid& id) {
                           return store::resume_campaign(conn, c.tenant_id(), id);
                       });
               }));

    routes.add("POST", "/v1/campaigns/{id}/cancel",
               api.guarded({.permission = "campaigns:send"}, [&api](call& c) {
                   return campaign_action(
                       api, c, "cancel", [&](db::connection& conn, const core::uuid& id) {
                           return store::cancel_campaign(conn, c.tenant_id(), id);
                       });
               }));

    routes.add("GET", "/v1/campaigns/{id}/stats",
               api.guarded({.permission = "campaigns:read"}, [&api](call& c) {
                   auto id = id_param(c.req);
                   if (!id) return error_response(id.error());
                   return with_db(api, [&](db::connection& conn) -> result<response> {
                       auto camp = store::get_campaign(conn, c.tenant_id(), *id);
                       if (!camp) return std::unexpected(camp.error());
                       auto s = store::get_campaign_stats(conn, c.tenant_id(), *id);
                       if (!s) return std::unexpected(s.error());
                       json by_status = json::object();
                       for (const auto& [k, v] : s->by_status) by_status[k] = v;
                       int waiting = 0;
                       for (const char* st : {"queued", "sending", "scheduled"})
                           if (auto it = s->by_status.find(st); it != s->by_status.end())
                               waiting += it->second;
                       json eta = nullptr;
                       if (camp->status == "running" && s->sent_last_minute > 0) {
                           const auto secs = std::chrono::seconds(static_cast<long long>(waiting)
                                                                  * 60 / s->sent_last_minute);
                           eta = iso(std::chrono::system_clock::now() + secs);
                       }
                       return json_response(200, {{"status", camp->status},
                                                  {"status_reason", opt(camp->status_reason)},
                                                  {"total_recipients", camp->total_recipients},
                                                  {"suppressed", camp->suppressed},
                                                  {"by_status", by_status},
                                                  {"cost_so_far", s->cost_so_far},
                                                  {"sent_last_minute", s->sent_last_minute},
                                                  {"estimated_finish", eta}});
                   });
               }));
}

}  // namespace herald::http::detail
