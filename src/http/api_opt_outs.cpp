// A tenant's opt-out (suppression) list: add, remove (opt back in), look up, page through.

#include <spdlog/spdlog.h>

#include "http/detail/api_impl.hpp"
#include "phone/number.hpp"
#include "store/opt_outs.hpp"

namespace herald::http::detail {
namespace {

json entry_json(const store::opt_out_entry& e) {
    return {{"phone_number", e.phone_number},
            {"source", e.source},
            {"contact_id", e.contact_id ? json(e.contact_id->str()) : json(nullptr)},
            {"created_at", iso(e.created_at)}};
}

json request_json(const store::opt_out_request_row& r) {
    return {{"id", r.id.str()},
            {"action", r.action},
            {"source", r.source},
            {"note", opt(r.note)},
            {"contact_id", opt(r.contact_id)},
            {"requested_at", iso(r.requested_at)}};
}

/// A number from the body or the path, in E.164; `region` reads national forms.
result<std::string> e164(std::string_view text, std::string_view region, const char* field) {
    std::string r(region);
    for (auto& ch : r) ch = char(std::toupper(static_cast<unsigned char>(ch)));
    auto n = phone::normalize(text, r, false);
    if (!n) {
        error e = n.error();
        e.field = e.field == "default_region" ? "default_region" : field;
        return std::unexpected(e);
    }
    return n->e164;
}

/// Who asked: the dashboard (a cookie session), an admin acting for the tenant, or the API.
std::string source_of(const call& c) {
    if (c.who.admin()) return "admin";
    return c.who.via_session ? "dashboard" : "api";
}

/// The number in the path: "+14155550100", "%2B14155550100", or national with ?default_region=.
result<std::string> path_number(const call& c) {
    std::string raw = url_decode(c.req.param("phone_number"), false);
    return e164(raw, c.req.query("default_region").value_or(""), "phone_number");
}

}  // namespace

void register_opt_outs(impl& api, router& routes) {
    routes.add(
        "POST", "/v1/opt-outs", api.guarded({.permission = "contacts:write"}, [&api](call& c) {
            auto body = body_object(c.req, {"phone_number", "default_region", "note"});
            if (!body) return error_response(body.error());
            auto text = required_string(*body, "phone_number", 64);
            if (!text) return error_response(text.error());
            auto region = optional_string(*body, "default_region", 2);
            if (!region) return error_response(region.error());
            auto note = optional_string(*body, "note", 500, true);
            if (!note) return error_response(note.error());
            auto number = e164(*text, region->value_or(""), "phone_number");
            if (!number) return error_response(number.error());
            store::opt_out_change ch{*number, source_of(c), *note};
            return with_db(api, [&](db::connection& conn) -> result<response> {
                auto done = in_transaction(conn, [&]() -> result<response> {
                    auto r = store::opt_out(conn, c.tenant_id(), ch);
                    if (!r) return std::unexpected(r.error());
                    auto a = c.audit("opt_outs.add", "opt_out", *number,
                                     {{"source", ch.source}, {"already_listed", !r->created}});
                    if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                    // Saying STOP twice is not an error: 200 with the existing entry.
                    return json_response(r->created ? 201 : 200, entry_json(r->entry));
                });
                if (!done || done->status >= 300) return done;
                // Answer once nothing already handed to a carrier can still reach the number.
                auto settled = store::wait_for_in_flight(conn, c.tenant_id(), *number,
                                                         std::chrono::seconds(5));
                if (!settled) return std::unexpected(settled.error());
                if (!*settled)
                    spdlog::warn("opt-out: messages to a number were still in flight after 5 s");
                return done;
            });
        }));

    routes.add("GET", "/v1/opt-outs", api.guarded({.permission = "contacts:read"}, [&api](call& c) {
        auto limit = limit_from(c.req);
        if (!limit) return error_response(limit.error());
        std::optional<std::string> after;
        if (auto a = c.req.query("after"); a && !a->empty()) {
            auto n = e164(*a, "", "after");
            if (!n)
                return error_response(422, "invalid_value",
                                      "after must be the next_cursor of the previous page",
                                      "after");
            after = *n;
        }
        return with_db(api, [&](db::connection& conn) -> result<response> {
            auto page = store::list_opt_outs(conn, c.tenant_id(), *limit, after);
            if (!page) return std::unexpected(page.error());
            json data = json::array();
            for (const auto& e : page->items) data.push_back(entry_json(e));
            return json_response(200, {{"data", data}, {"next_cursor", opt(page->next)}});
        });
    }));

    routes.add("GET", "/v1/opt-outs/{phone_number}",
               api.guarded({.permission = "contacts:read"}, [&api](call& c) {
                   auto number = path_number(c);
                   if (!number) return error_response(number.error());
                   return with_db(api, [&](db::connection& conn) -> result<response> {
                       auto history = store::opt_out_history(conn, c.tenant_id(), *number);
                       if (!history) return std::unexpected(history.error());
                       auto entry = store::get_opt_out(conn, c.tenant_id(), *number);
                       if (!entry && !entry.error().is(condition::not_found))
                           return std::unexpected(entry.error());
                       // A number never seen is 404; one that opted back in answers with its
                       // history.
                       if (!entry && history->empty()) return std::unexpected(entry.error());
                       json requests = json::array();
                       for (const auto& r : *history) requests.push_back(request_json(r));
                       json j = entry ? entry_json(*entry) : json{{"phone_number", *number}};
                       j["opted_out"] = bool(entry);
                       j["requests"] = requests;
                       return json_response(200, j);
                   });
               }));

    routes.add("DELETE", "/v1/opt-outs/{phone_number}",
               api.guarded({.permission = "contacts:write"}, [&api](call& c) {
                   auto number = path_number(c);
                   if (!number) return error_response(number.error());
                   std::optional<std::string> note;
                   if (auto n = c.req.query("note")) note = std::string(n->substr(0, 500));
                   store::opt_out_change ch{*number, source_of(c), note};
                   return with_db(api, [&](db::connection& conn) {
                       return in_transaction(conn, [&]() -> result<response> {
                           if (auto r = store::opt_in(conn, c.tenant_id(), ch); !r)
                               return std::unexpected(r.error());
                           auto a = c.audit("opt_outs.remove", "opt_out", *number,
                                            {{"source", ch.source}});
                           if (auto w = store::write_audit(conn, a); !w)
                               return std::unexpected(w.error());
                           return no_content();
                       });
                   });
               }));
}

}  // namespace herald::http::detail
