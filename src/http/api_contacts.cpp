// Contacts, contact groups and group membership, and CSV export of a group.

#include "core/errc.hpp"
#include "http/detail/api_impl.hpp"
#include "http/detail/lane_reader.hpp"
#include "http/views.hpp"
#include "phone/number.hpp"
#include "phone/time_zones.hpp"
#include "store/contacts.hpp"
#include "store/errc.hpp"

namespace herald::http::detail {
namespace {

std::size_t characters(std::string_view s) {
    std::size_t n = 0;
    for (char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
    return n;
}

std::unexpected<error> invalid(std::string field, std::string message) {
    return fail(core::errc::invalid_value, std::move(message), std::move(field));
}

/// custom_fields: an object of at most 50 keys (1-64 characters) with string, number,
/// boolean or null values (strings up to 1000 characters). Returned as JSON text.
result<std::string> custom_fields(const json& v) {
    if (!v.is_object()) return invalid("custom_fields", "custom_fields must be an object");
    if (v.size() > 50) return invalid("custom_fields", "custom_fields may hold at most 50 keys");
    for (const auto& [k, x] : v.items()) {
        if (k.empty() || k.size() > 64)
            return invalid("custom_fields", "custom field names must be 1 to 64 characters");
        if (!(x.is_string() || x.is_number() || x.is_boolean() || x.is_null()))
            return invalid("custom_fields." + k,
                           "custom field \"" + k + "\" must be a string, number, boolean or null");
        if (x.is_string() && characters(x.get<std::string>()) > 1000)
            return invalid("custom_fields." + k,
                           "custom field \"" + k + "\" is longer than 1000 characters");
    }
    return v.dump();
}

/// Validates a contact body; `creating` requires the phone number.
result<store::contact_input> contact_input(const json& body, bool creating) {
    store::contact_input in;
    auto region = optional_string(body, "country_code", 2, true);
    if (!region) return std::unexpected(region.error());
    auto phone_text = optional_string(body, "phone_number", 64);
    if (!phone_text) return std::unexpected(phone_text.error());
    if (creating && !*phone_text) return invalid("phone_number", "phone_number is required");
    if (*phone_text) {
        std::string r = region->value_or("");
        for (auto& ch : r) ch = char(std::toupper(static_cast<unsigned char>(ch)));
        auto n = phone::normalize(**phone_text, r, false);
        if (!n) {
            error e = n.error();
            e.field = e.field == "default_region" ? "country_code" : "phone_number";
            return std::unexpected(e);
        }
        in.phone_number = n->e164;
        in.country_code = n->region;
    }
    for (auto [field, max] : {std::pair<const char*, std::size_t>{"first_name", 50},
                              {"last_name", 50},
                              {"email", 120}}) {
        auto v = optional_string(body, field, max, true);
        if (!v) return std::unexpected(v.error());
        if (body.contains(field)) {
            std::optional<std::string> value = *v;
            if (value && value->empty()) value.reset();
            if (std::string_view(field) == "first_name")
                in.first_name = value;
            else if (std::string_view(field) == "last_name")
                in.last_name = value;
            else
                in.email = value;
        }
    }
    if (in.email && *in.email && (*in.email)->find('@') == std::string::npos)
        return invalid("email", "email is not a valid address");
    if (body.contains("time_zone")) {
        auto tz = optional_string(body, "time_zone", 64, true);
        if (!tz) return std::unexpected(tz.error());
        if (*tz && !phone::is_valid_time_zone(**tz))
            return invalid("time_zone",
                           "\"" + **tz + "\" is not an IANA time zone such as America/New_York");
        in.time_zone = *tz;
    }
    if (auto it = body.find("custom_fields"); it != body.end()) {
        auto cf = custom_fields(*it);
        if (!cf) return std::unexpected(cf.error());
        in.custom_fields = *cf;
    }
    if (auto s = optional_string(body, "status", 20); !s) {
        return std::unexpected(s.error());
    } else if (*s) {
        if (**s != "active" && **s != "unsubscribed" && **s != "invalid")
            return invalid("status", "status must be active, unsubscribed or invalid");
        in.status = **s;
    }
    auto groups = uuid_list(body, "groups", 100);
    if (!groups) return std::unexpected(groups.error());
    in.add_to_groups = *groups;
    return in;
}

}  // namespace

void register_contacts(impl& api, router& routes) {
    // ---- groups ----

    routes.add("GET", "/v1/groups", api.guarded({.permission = "contacts:read"}, [&api](call& c) {
        auto p = page_from(c.req);
        if (!p) return error_response(p.error());
        auto q = c.req.query("q");
        return with_db(api, [&](db::connection& conn) -> result<response> {
            auto groups =
                store::list_groups(conn, c.tenant_id(), *p, q && !q->empty() ? q : std::nullopt);
            if (!groups) return std::unexpected(groups.error());
            return json_response(200, page_json(*groups, group_json));
        });
    }));

    routes.add("POST", "/v1/groups", api.guarded({.permission = "contacts:write"}, [&api](call& c) {
        auto body = body_object(c.req, {"name", "description"});
        if (!body) return error_response(body.error());
        store::group_input in;
        auto name = required_string(*body, "name", 100);
        if (!name) return error_response(name.error());
        in.name = *name;
        auto desc = optional_string(*body, "description", 2000, true);
        if (!desc) return error_response(desc.error());
        if (body->contains("description")) in.description = *desc;
        return with_db(api, [&](db::connection& conn) {
            return in_transaction(conn, [&]() -> result<response> {
                auto g = store::create_group(conn, c.tenant_id(), in);
                if (!g) return std::unexpected(g.error());
                if (auto w = store::write_audit(
                        conn, c.audit("groups.create", "group", g->id.str(), {{"name", g->name}}));
                    !w)
                    return std::unexpected(w.error());
                return created(group_json(*g));
            });
        });
    }));

    routes.add("GET", "/v1/groups/{id}",
               api.guarded({.permission = "contacts:read"}, [&api](call& c) {
                   auto id = id_param(c.req);
                   if (!id) return error_response(id.error());
                   return with_db(api, [&](db::connection& conn) -> result<response> {
                       auto g = store::get_group(conn, c.tenant_id(), *id);
                       if (!g) return std::unexpected(g.error());
                       return json_response(200, group_json(*g));
                   });
               }));

    routes.add("PATCH", "/v1/groups/{id}",
               api.guarded({.permission = "contacts:write"}, [&api](call& c) {
                   auto id = id_param(c.req);
                   if (!id) return error_response(id.error());
                   auto body = body_object(c.req, {"name", "description"});
                   if (!body) return error_response(body.error());
                   store::group_input in;
                   auto name = optional_string(*body, "name", 100);
                   if (!name) return error_response(name.error());
                   in.name = *name;
                   auto desc = optional_string(*body, "description", 2000, true);
                   if (!desc) return error_response(desc.error());
                   if (body->contains("description")) in.description = *desc;
                   return with_db(api, [&](db::connection& conn) {
                       return in_transaction(conn, [&]() -> result<response> {
                           auto g = store::update_group(conn, c.tenant_id(), *id, in);
                           if (!g) return std::unexpected(g.error());
                           if (auto w = store::write_audit(
                                   conn, c.audit("groups.update", "group", id->str(), *body));
                               !w)
                               return std::unexpected(w.error());
                           return json_response(200, group_json(*g));
                       });
                   });
               }));

    routes.add(
        "DELETE", "/v1/groups/{id}", api.guarded({.permission = "contacts:write"}, [&api](call& c) {
            auto id = id_param(c.req);
            if (!id) return error_response(id.error());
            return with_db(api, [&](db::connection& conn) {
                return in_transaction(conn, [&]() -> result<response> {
                    if (auto d = store::delete_group(conn, c.tenant_id(), *id); !d)
                        return std::unexpected(d.error());
                    if (auto w =
                            store::write_audit(conn, c.audit("groups.delete", "group", id->str()));
                        !w)
                        return std::unexpected(w.error());
                    return no_content();
                });
            });
        }));

    routes.add("POST", "/v1/groups/{id}/contacts",
               api.guarded({.permission = "contacts:write"}, [&api](call& c) {
                   auto id = id_param(c.req);
                   if (!id) return error_response(id.error());
                   auto body = body_object(c.req, {"contact_ids"});
                   if (!body) return error_response(body.error());
                   auto ids = uuid_list(*body, "contact_ids", 10'000);
                   if (!ids) return error_response(ids.error());
                   if (ids->empty())
                       return error_response(422, "invalid_value", "contact_ids is required",
                                             "contact_ids");
                   return with_db(api, [&](db::connection& conn) {
                       return in_transaction(conn, [&]() -> result<response> {
                           auto added = store::add_members(conn, c.tenant_id(), *id, *ids);
                           if (!added) return std::unexpected(added.error());
                           if (auto w = store::write_audit(
                                   conn, c.audit("groups.add_contacts", "group", id->str(),
                                                 {{"requested", ids->size()}, {"added", *added}}));
                               !w)
                               return std::unexpected(w.error());
                           return json_response(200, {{"added", *added}});
                       });
                   });
               }));

    routes.add("DELETE", "/v1/groups/{id}/contacts/{contact_id}",
               api.guarded({.permission = "contacts:write"}, [&api](call& c) {
                   auto id = id_param(c.req);
                   if (!id) return error_response(id.error());
                   auto contact = id_param(c.req, "contact_id");
                   if (!contact) return error_response(contact.error());
                   return with_db(api, [&](db::connection& conn) {
                       return in_transaction(conn, [&]() -> result<response> {
                           if (auto d = store::remove_member(conn, c.tenant_id(), *id, *contact);
                               !d)
                               return std::unexpected(d.error());
                           if (auto w = store::write_audit(
                                   conn, c.audit("groups.remove_contact", "group", id->str(),
                                                 {{"contact_id", contact->str()}}));
                               !w)
                               return std::unexpected(w.error());
                           return no_content();
                       });
                   });
               }));

    routes.add("GET", "/v1/groups/{id}/export",
               api.guarded({.permission = "contacts:read"}, [&api](call& c) {
                   auto id = id_param(c.req);
                   if (!id) return error_response(id.error());
                   return with_db(api, [&](db::connection& conn) -> result<response> {
                       std::string csv;
                       auto rows = store::export_group_csv(
                           conn, c.tenant_id(), *id,
                           [&](std::string_view chunk) { csv.append(chunk); });
                       if (!rows) return std::unexpected(rows.error());
                       response resp(200, "text/csv; charset=utf-8", std::move(csv));
                       resp.set("content-disposition",
                                "attachment; filename=\"group-" + id->str() + ".csv\"");
                       resp.set("x-row-count", std::to_string(*rows));
                       return resp;
                   });
               }));

    // ---- contacts ----

    // The API's most read answer: its statement joins the lane's pipelined connection
    // (decision 0012), so that waiting on PostgreSQL does not hold up the lane.
    routes.add_async(
        "GET", "/v1/contacts",
        api.guarded_async({.permission = "contacts:read"}, [&api](call& c, responder done) {
            auto p = page_from(c.req);
            if (!p) return done(error_response(p.error()));
            store::contact_filter f;
            if (auto q = c.req.query("q"); q && !q->empty()) {
                if (q->size() > 100)
                    return done(error_response(422, "invalid_value",
                                               "q is longer than 100 characters", "q"));
                f.search = *q;
            }
            if (auto g = c.req.query("group_id"); g && !g->empty()) {
                auto u = core::uuid::parse(*g);
                if (!u)
                    return done(error_response(422, "invalid_value", "group_id must be a group id",
                                               "group_id"));
                f.group_id = *u;
            }
            if (auto s = c.req.query("status"); s && !s->empty()) {
                if (*s != "active" && *s != "unsubscribed" && *s != "invalid")
                    return done(error_response(422, "invalid_value",
                                               "status must be active, unsubscribed or invalid",
                                               "status"));
                f.status = *s;
            }
            auto st = store::list_contacts_statement(c.tenant_id(), f, *p);
            pipelined_read(api.pool, std::move(st.sql), std::move(st.args), /*binary=*/true,
                           [page = *p, done = std::move(done)](result<db::rows> rs) {
                               if (!rs) return done(error_response(rs.error()));
                               done(response(200, "application/json",
                                             contacts_page_body(store::contacts_page(*rs, page))));
                           });
        }));

    routes.add(
        "POST", "/v1/contacts", api.guarded({.permission = "contacts:write"}, [&api](call& c) {
            auto body =
                body_object(c.req, {"phone_number", "country_code", "first_name", "last_name",
                                    "email", "time_zone", "custom_fields", "status", "groups"});
            if (!body) return error_response(body.error());
            auto in = contact_input(*body, true);
            if (!in) return error_response(in.error());
            return with_db(api, [&](db::connection& conn) {
                return in_transaction(conn, [&]() -> result<response> {
                    auto ct = store::create_contact(conn, c.tenant_id(), *in);
                    if (!ct) return std::unexpected(ct.error());
                    if (auto w = store::write_audit(
                            conn, c.audit("contacts.create", "contact", ct->id.str(),
                                          {{"phone_number", ct->phone_number}}));
                        !w)
                        return std::unexpected(w.error());
                    return created(contact_json(*ct, true));
                });
            });
        }));

    routes.add("GET", "/v1/contacts/{id}",
               api.guarded({.permission = "contacts:read"}, [&api](call& c) {
                   auto id = id_param(c.req);
                   if (!id) return error_response(id.error());
                   return with_db(api, [&](db::connection& conn) -> result<response> {
                       auto ct = store::get_contact(conn, c.tenant_id(), *id);
                       if (!ct) return std::unexpected(ct.error());
                       return json_response(200, contact_json(*ct, true));
                   });
               }));

    routes.add("PATCH", "/v1/contacts/{id}",
               api.guarded({.permission = "contacts:write"}, [&api](call& c) {
                   auto id = id_param(c.req);
                   if (!id) return error_response(id.error());
                   auto body = body_object(
                       c.req, {"phone_number", "country_code", "first_name", "last_name", "email",
                               "time_zone", "custom_fields", "status", "groups"});
                   if (!body) return error_response(body.error());
                   auto in = contact_input(*body, false);
                   if (!in) return error_response(in.error());
                   return with_db(api, [&](db::connection& conn) {
                       return in_transaction(conn, [&]() -> result<response> {
                           auto ct = store::update_contact(conn, c.tenant_id(), *id, *in);
                           if (!ct) return std::unexpected(ct.error());
                           json changed = json::array();
                           for (const auto& [k, v] : body->items()) {
                               (void)v;
                               changed.push_back(k);
                           }
                           if (auto w = store::write_audit(
                                   conn, c.audit("contacts.update", "contact", id->str(),
                                                 {{"fields", changed}}));
                               !w)
                               return std::unexpected(w.error());
                           return json_response(200, contact_json(*ct, true));
                       });
                   });
               }));

    routes.add("DELETE", "/v1/contacts/{id}",
               api.guarded({.permission = "contacts:write"}, [&api](call& c) {
                   auto id = id_param(c.req);
                   if (!id) return error_response(id.error());
                   return with_db(api, [&](db::connection& conn) {
                       return in_transaction(conn, [&]() -> result<response> {
                           if (auto d = store::delete_contact(conn, c.tenant_id(), *id); !d)
                               return std::unexpected(d.error());
                           if (auto w = store::write_audit(
                                   conn, c.audit("contacts.delete", "contact", id->str()));
                               !w)
                               return std::unexpected(w.error());
                           return no_content();
                       });
                   });
               }));
}

}  // namespace herald::http::detail
