// Carrier connectors and routes (admin only), with each connector's health on this node;
// the same health in Prometheus form for /metrics.

#include <algorithm>
#include <cstdio>

#include "http/detail/api_impl.hpp"
#include "store/connectors.hpp"

namespace herald::http::detail {
namespace {

json health_json(const connector_status& h) {
    return {{"bound", h.binds_up > 0},
            {"binds_held", h.binds_held},
            {"binds_up", h.binds_up},
            {"in_flight", h.in_flight},
            {"queued", h.queued},
            {"tps_now", h.tps_now},
            {"submitted", h.submitted},
            {"errors", h.errors},
            {"reconnects", h.reconnects},
            {"last_error", h.last_error.empty() ? json(nullptr) : json(h.last_error)}};
}

json connector_json(const store::connector& k, const std::vector<connector_status>& health) {
    json j = {{"id", k.id.str()},
              {"name", k.name},
              {"host", k.host},
              {"port", k.port},
              {"system_id", k.system_id},
              {"password_set", !k.password.empty()},  // the password itself never leaves
              {"system_type", k.system_type},
              {"bind_mode", k.bind_mode},
              {"binds", k.binds},
              {"tps", k.tps},
              {"window", k.window},
              {"data_coding", k.data_coding},
              {"long_message", k.long_message},
              {"dlr_id_format", k.dlr_id_format},
              {"enabled", k.enabled},
              {"created_at", iso(k.created_at)},
              {"updated_at", iso(k.updated_at)}};
    auto it = std::find_if(health.begin(), health.end(),
                           [&](const connector_status& h) { return h.name == k.name; });
    // This node's view; null when it holds none of the connector's binds.
    j["health"] = it == health.end() ? json(nullptr) : health_json(*it);
    return j;
}

json route_json(const store::route& r) {
    return {{"prefix", r.prefix.empty() ? "default" : r.prefix},
            {"connectors", r.connectors},
            {"updated_at", iso(r.updated_at)}};
}

bool one_of(const std::string& v, std::initializer_list<std::string_view> allowed) {
    return std::find(allowed.begin(), allowed.end(), v) != allowed.end();
}

/// Applies the fields present in `b` to `k`, checking each. `creating` requires the
/// fields a connector cannot do without.
std::optional<response> apply(const json& b, store::connector& k, bool creating) {
    auto bad = [](std::string field, std::string message) {
        return std::optional(error_response(422, "invalid_value", message, field));
    };
    auto text = [&](const char* field, std::size_t max, std::string& out,
                    bool required) -> std::optional<response> {
        auto v = optional_string(b, field, max);
        if (!v) return error_response(v.error());
        if (*v)
            out = **v;
        else if (required && creating)
            return bad(field, std::string(field) + " is required");
        return std::nullopt;
    };
    if (auto r = text("host", 255, k.host, true)) return r;
    if (k.host.empty()) return bad("host", "host must not be empty");
    if (auto r = text("system_id", 15, k.system_id, true)) return r;
    if (k.system_id.empty()) return bad("system_id", "system_id must not be empty");
    if (auto r = text("password", 8, k.password, false)) return r;
    if (auto r = text("system_type", 12, k.system_type, false)) return r;
    if (!std::all_of(k.system_type.begin(), k.system_type.end(),
                     [](char ch) { return ch >= ' ' && ch <= '~'; }))
        return bad("system_type", "system_type must be printable ASCII");
    if (auto r = text("bind_mode", 12, k.bind_mode, false)) return r;
    if (!one_of(k.bind_mode, {"transceiver", "transmitter"}))
        return bad("bind_mode", "bind_mode must be transceiver or transmitter");
    if (auto r = text("data_coding", 10, k.data_coding, false)) return r;
    if (!one_of(k.data_coding, {"gsm7", "latin1"}))
        return bad("data_coding", "data_coding must be gsm7 or latin1 (UCS-2 is used when needed)");
    if (auto r = text("long_message", 10, k.long_message, false)) return r;
    if (!one_of(k.long_message, {"udh", "sar", "payload"}))
        return bad("long_message", "long_message must be udh, sar or payload");
    if (auto r = text("dlr_id_format", 20, k.dlr_id_format, false)) return r;
    if (!one_of(k.dlr_id_format,
                {"exact", "case_insensitive", "hex_in_receipt", "decimal_in_receipt"}))
        return bad("dlr_id_format",
                   "dlr_id_format must be exact, case_insensitive, hex_in_receipt or "
                   "decimal_in_receipt");
    auto integer = [&](const char* field, long long lo, long long hi, int& out,
                       bool required) -> std::optional<response> {
        auto v = optional_integer(b, field, lo, hi);
        if (!v) return error_response(v.error());
        if (*v)
            out = int(**v);
        else if (required && creating)
            return bad(field, std::string(field) + " is required");
        return std::nullopt;
    };
    if (auto r = integer("port", 1, 65535, k.port, true)) return r;
    if (auto r = integer("binds", 1, 64, k.binds, false)) return r;
    if (auto r = integer("window", 1, 10000, k.window, false)) return r;
    if (auto it = b.find("tps"); it != b.end()) {
        if (!it->is_number() || it->get<double>() < 0 || it->get<double>() > 100000)
            return bad("tps", "tps must be a number from 0 (no cap) to 100000");
        k.tps = it->get<double>();
    }
    if (auto it = b.find("enabled"); it != b.end()) {
        if (!it->is_boolean()) return bad("enabled", "enabled must be true or false");
        k.enabled = it->get<bool>();
    }
    return std::nullopt;
}

result<json> connector_body(const request& req) {
    return body_object(
        req, {"name", "host", "port", "system_id", "password", "system_type", "bind_mode", "binds",
              "tps", "window", "data_coding", "long_message", "dlr_id_format", "enabled"});
}

/// A route's prefix from the path: "default" (every destination) or + and digits.
std::optional<std::string> route_prefix(const request& req) {
    std::string p = url_decode(req.param("prefix"), false);
    if (p == "default") return std::string();
    if (p.size() < 2 || p.size() > 16 || p[0] != '+') return std::nullopt;
    for (std::size_t i = 1; i < p.size(); ++i)
        if (p[i] < '0' || p[i] > '9') return std::nullopt;
    return p;
}

}  // namespace

std::string connector_metrics(const std::vector<connector_status>& health) {
    std::string out;
    auto family = [&](const char* name, const char* type, const char* help, auto value) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
        for (const auto& h : health) {
            char buf[64];
            std::snprintf(buf, sizeof buf, "%.6g", double(value(h)));
            out += std::string(name) + "{connector=\"" + h.name + "\"} " + buf + "\n";
        }
    };
    family("herald_connector_bound", "gauge", "1 when at least one bind of the connector is up.",
           [](const connector_status& h) { return h.binds_up > 0 ? 1 : 0; });
    family("herald_connector_binds_up", "gauge", "Binds of the connector up on this node.",
           [](const connector_status& h) { return h.binds_up; });
    family("herald_connector_binds_held", "gauge",
           "Binds of the connector this node holds a lease for.",
           [](const connector_status& h) { return h.binds_held; });
    family("herald_connector_in_flight", "gauge", "submit_sm awaiting their response.",
           [](const connector_status& h) { return h.in_flight; });
    family("herald_connector_tps", "gauge", "submit_sm PDUs per second over the last second.",
           [](const connector_status& h) { return h.tps_now; });
    family("herald_connector_submitted_total", "counter", "Messages handed to the connector.",
           [](const connector_status& h) { return h.submitted; });
    family("herald_connector_errors_total", "counter",
           "Messages refused or failed by the connector.",
           [](const connector_status& h) { return h.errors; });
    family("herald_connector_reconnects_total", "counter", "Binds lost and made again.",
           [](const connector_status& h) { return h.reconnects; });
    return out;
}

void register_connectors(impl& api, router& routes) {
    const guard admin_only{.permission = "admin", .tenant_scoped = false};
    auto health = [&api] {
        return api.options.connector_health ? api.options.connector_health()
                                            : std::vector<connector_status>{};
    };

    routes.add("GET", "/v1/admin/connectors", api.guarded(admin_only, [&api, health](call&) {
        return with_db(api, [&](db::connection& conn) -> result<response> {
            auto list = store::list_connectors(conn);
            if (!list) return std::unexpected(list.error());
            const auto h = health();
            json data = json::array();
            for (const auto& k : *list) data.push_back(connector_json(k, h));
            json body = {{"data", data}};
            // With none configured, everything goes to the fallback connection.
            if (list->empty() && !h.empty())
                body["fallback"] = {{"name", h.front().name}, {"health", health_json(h.front())}};
            return json_response(200, body);
        });
    }));

    routes.add("POST", "/v1/admin/connectors", api.guarded(admin_only, [&api, health](call& c) {
        auto b = connector_body(c.req);
        if (!b) return error_response(b.error());
        auto name = required_string(*b, "name", 50);
        if (!name) return error_response(name.error());
        const bool good_name = !name->empty()
                               && std::all_of(name->begin(), name->end(),
                                              [](char ch) {
                                                  return (ch >= 'a' && ch <= 'z')
                                                         || (ch >= '0' && ch <= '9') || ch == '_'
                                                         || ch == '-';
                                              })
                               && (*name)[0] != '_' && (*name)[0] != '-';
        if (!good_name)
            return error_response(
                422, "invalid_value",
                "name must be lowercase letters, digits, _ and - (starting with a "
                "letter or digit)",
                "name");
        store::connector k;
        k.name = *name;
        if (auto r = apply(*b, k, true)) return std::move(*r);
        return with_db(api, [&](db::connection& conn) {
            return in_transaction(conn, [&]() -> result<response> {
                auto made = store::create_connector(conn, k);
                if (!made) return std::unexpected(made.error());
                auto a =
                    c.audit("connectors.create", "connector", made->name,
                            {{"host", made->host}, {"port", made->port}, {"binds", made->binds}});
                if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                return json_response(201, connector_json(*made, health()));
            });
        });
    }));

    routes.add("GET", "/v1/admin/connectors/{name}",
               api.guarded(admin_only, [&api, health](call& c) {
                   const std::string name = url_decode(c.req.param("name"), false);
                   return with_db(api, [&](db::connection& conn) -> result<response> {
                       auto k = store::get_connector(conn, name);
                       if (!k) return std::unexpected(k.error());
                       return json_response(200, connector_json(*k, health()));
                   });
               }));

    routes.add(
        "PATCH", "/v1/admin/connectors/{name}", api.guarded(admin_only, [&api, health](call& c) {
            const std::string name = url_decode(c.req.param("name"), false);
            auto b = connector_body(c.req);
            if (!b) return error_response(b.error());
            if (b->contains("name"))
                return error_response(422, "invalid_value", "a connector cannot be renamed",
                                      "name");
            return with_db(api, [&](db::connection& conn) {
                return in_transaction(conn, [&]() -> result<response> {
                    auto k = store::get_connector(conn, name);
                    if (!k) return std::unexpected(k.error());
                    if (auto r = apply(*b, *k, false)) return std::move(*r);
                    auto saved = store::update_connector(conn, name, *k);
                    if (!saved) return std::unexpected(saved.error());
                    json changed = json::array();
                    for (const auto& [field, v] : b->items()) {
                        (void)v;
                        changed.push_back(field);
                    }
                    auto a = c.audit("connectors.update", "connector", name, {{"fields", changed}});
                    if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                    return json_response(200, connector_json(*saved, health()));
                });
            });
        }));

    routes.add("DELETE", "/v1/admin/connectors/{name}", api.guarded(admin_only, [&api](call& c) {
        const std::string name = url_decode(c.req.param("name"), false);
        return with_db(api, [&](db::connection& conn) {
            return in_transaction(conn, [&]() -> result<response> {
                if (auto d = store::delete_connector(conn, name); !d)
                    return std::unexpected(d.error());
                auto a = c.audit("connectors.delete", "connector", name);
                if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                return no_content();
            });
        });
    }));

    routes.add("GET", "/v1/admin/routes", api.guarded(admin_only, [&api](call&) {
        return with_db(api, [&](db::connection& conn) -> result<response> {
            auto list = store::list_routes(conn);
            if (!list) return std::unexpected(list.error());
            json data = json::array();
            for (const auto& r : *list) data.push_back(route_json(r));
            return json_response(200, {{"data", data}});
        });
    }));

    routes.add("PUT", "/v1/admin/routes/{prefix}", api.guarded(admin_only, [&api](call& c) {
        auto prefix = route_prefix(c.req);
        if (!prefix)
            return error_response(422, "invalid_value",
                                  "the route's prefix is \"default\" or + and up to 15 digits (a "
                                  "country code or a longer number prefix); write + as %2B",
                                  "prefix");
        auto b = body_object(c.req, {"connectors"});
        if (!b) return error_response(b.error());
        auto it = b->find("connectors");
        if (it == b->end() || !it->is_array() || it->empty() || it->size() > 10)
            return error_response(
                422, "invalid_value",
                "connectors must list 1 to 10 connector names, in the order to try", "connectors");
        std::vector<std::string> names;
        for (const auto& n : *it) {
            if (!n.is_string())
                return error_response(422, "invalid_value", "connectors must be names",
                                      "connectors");
            if (std::find(names.begin(), names.end(), n.get<std::string>()) != names.end())
                return error_response(422, "invalid_value",
                                      "connector \"" + n.get<std::string>() + "\" is listed twice",
                                      "connectors");
            names.push_back(n.get<std::string>());
        }
        return with_db(api, [&](db::connection& conn) {
            return in_transaction(conn, [&]() -> result<response> {
                auto r = store::put_route(conn, *prefix, names);
                if (!r) return std::unexpected(r.error());
                auto a = c.audit("routes.put", "route", prefix->empty() ? "default" : *prefix,
                                 {{"connectors", names}});
                if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                return json_response(200, route_json(*r));
            });
        });
    }));

    routes.add("DELETE", "/v1/admin/routes/{prefix}", api.guarded(admin_only, [&api](call& c) {
        auto prefix = route_prefix(c.req);
        if (!prefix) return error_response(422, "invalid_value", "no such route prefix", "prefix");
        return with_db(api, [&](db::connection& conn) {
            return in_transaction(conn, [&]() -> result<response> {
                if (auto d = store::delete_route(conn, *prefix); !d)
                    return std::unexpected(d.error());
                auto a = c.audit("routes.delete", "route", prefix->empty() ? "default" : *prefix);
                if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                return no_content();
            });
        });
    }));
}

}  // namespace herald::http::detail
