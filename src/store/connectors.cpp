#include "store/connectors.hpp"

#include "db/param.hpp"
#include "db/transaction.hpp"
#include "store/errc.hpp"

namespace herald::store {
namespace {

constexpr const char* columns =
    "id, name, host, port, system_id, password, system_type, bind_mode, binds, tps::float8, "
    "window_size, data_coding, long_message, dlr_id_format, enabled, created_at, updated_at";

connector read(const db::row& r) {
    using tp = std::chrono::system_clock::time_point;
    return {.id = r.get<core::uuid>(0),
            .name = r.get<std::string>(1),
            .host = r.get<std::string>(2),
            .port = r.get<int>(3),
            .system_id = r.get<std::string>(4),
            .password = r.get<std::string>(5),
            .system_type = r.get<std::string>(6),
            .bind_mode = r.get<std::string>(7),
            .binds = r.get<int>(8),
            .tps = r.get<double>(9),
            .window = r.get<int>(10),
            .data_coding = r.get<std::string>(11),
            .long_message = r.get<std::string>(12),
            .dlr_id_format = r.get<std::string>(13),
            .enabled = r.get<bool>(14),
            .created_at = r.get<tp>(15),
            .updated_at = r.get<tp>(16)};
}

db::params fields(const connector& k) {
    return {k.host,        k.port,        k.system_id,    k.password,
            k.system_type, k.bind_mode,   k.binds,        std::to_string(k.tps),
            k.window,      k.data_coding, k.long_message, k.dlr_id_format,
            k.enabled};
}

/// Connector names hold no commas (see the CHECK on smpp_connectors.name).
std::vector<std::string> split_names(const std::string& joined) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at <= joined.size()) {
        const auto comma = joined.find(',', at);
        out.push_back(
            joined.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
        if (comma == std::string::npos) break;
        at = comma + 1;
    }
    return out;
}

route read_route(const db::row& r) {
    return {.prefix = r.get<std::string>(0),
            .connectors = split_names(r.get<std::string>(1)),
            .updated_at = r.get<std::chrono::system_clock::time_point>(2)};
}

}  // namespace

result<std::vector<connector>> list_connectors(db::connection& c) {
    auto rs = c.exec_prepared(
        std::string("SELECT ") + columns + " FROM smpp_connectors ORDER BY name", {});
    if (!rs) return std::unexpected(rs.error());
    std::vector<connector> out;
    for (auto r : *rs) out.push_back(read(r));
    return out;
}

result<bool> any_connector(db::connection& c) {
    auto rs = c.exec_prepared("SELECT EXISTS (SELECT 1 FROM smpp_connectors)", {});
    if (!rs) return std::unexpected(rs.error());
    return rs->front().get<bool>(0);
}

result<connector> get_connector(db::connection& c, const std::string& name) {
    auto rs = c.exec_prepared(
        std::string("SELECT ") + columns + " FROM smpp_connectors WHERE name = $1", {name});
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty()) return fail(errc::not_found, "no connector \"" + name + "\"", "name");
    return read(rs->front());
}

result<connector> create_connector(db::connection& c, const connector& k) {
    auto args = fields(k);
    args.insert(args.begin(), {core::uuid_v7(), k.name});
    auto rs = c.exec_prepared(
        std::string("INSERT INTO smpp_connectors (id, name, host, port, system_id, password, "
                    "system_type, bind_mode, binds, tps, window_size, data_coding, long_message, "
                    "dlr_id_format, enabled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                    "$10::numeric, $11, $12, $13, $14, $15) RETURNING ")
            + columns,
        args);
    if (!rs)
        return std::unexpected(
            translate_duplicate(rs.error(), "a connector named \"" + k.name + "\" exists", "name"));
    return read(rs->front());
}

result<connector> update_connector(db::connection& c, const std::string& name, const connector& k) {
    auto args = fields(k);
    args.insert(args.begin(), name);
    auto rs = c.exec_prepared(
        std::string("UPDATE smpp_connectors SET host = $2, port = $3, system_id = $4, password = "
                    "$5, system_type = $6, bind_mode = $7, binds = $8, tps = $9::numeric, "
                    "window_size = $10, data_coding = $11, long_message = $12, dlr_id_format = "
                    "$13, enabled = $14, updated_at = now() WHERE name = $1 RETURNING ")
            + columns,
        args);
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty()) return fail(errc::not_found, "no connector \"" + name + "\"", "name");
    return read(rs->front());
}

result<void> delete_connector(db::connection& c, const std::string& name) {
    auto used = c.exec_prepared(
        "SELECT prefix FROM sms_routes WHERE $1 = ANY (connectors) ORDER BY prefix LIMIT 1",
        {name});
    if (!used) return std::unexpected(used.error());
    if (!used->empty()) {
        const auto p = used->front().get<std::string>(0);
        return fail(errc::wrong_state,
                    "connector \"" + name + "\" is used by the route for "
                        + (p.empty() ? std::string("every destination") : "\"" + p + "\"")
                        + "; change the route first",
                    "name");
    }
    auto rs = c.exec_prepared("DELETE FROM smpp_connectors WHERE name = $1", {name});
    if (!rs) return std::unexpected(rs.error());
    if (rs->affected() == 0) return fail(errc::not_found, "no connector \"" + name + "\"", "name");
    return {};
}

result<std::vector<route>> list_routes(db::connection& c) {
    auto rs = c.exec_prepared(
        "SELECT prefix, array_to_string(connectors, ','), updated_at FROM sms_routes ORDER BY "
        "prefix",
        {});
    if (!rs) return std::unexpected(rs.error());
    std::vector<route> out;
    for (auto r : *rs) out.push_back(read_route(r));
    return out;
}

result<route> put_route(db::connection& c, const std::string& prefix,
                        const std::vector<std::string>& connectors) {
    auto known = c.exec_prepared(
        "SELECT n FROM unnest($1::text[]) WITH ORDINALITY AS u(n, i) WHERE NOT EXISTS (SELECT 1 "
        "FROM smpp_connectors k WHERE k.name = u.n) ORDER BY i LIMIT 1",
        {db::array_literal(connectors)});
    if (!known) return std::unexpected(known.error());
    if (!known->empty())
        return fail(errc::invalid_reference,
                    "no connector \"" + known->front().get<std::string>(0) + "\"", "connectors");
    auto rs = c.exec_prepared(
        "INSERT INTO sms_routes (prefix, connectors) VALUES ($1, $2::text[]) ON CONFLICT (prefix) "
        "DO UPDATE SET connectors = EXCLUDED.connectors, updated_at = now() "
        "RETURNING prefix, array_to_string(connectors, ','), updated_at",
        {prefix, db::array_literal(connectors)});
    if (!rs) return std::unexpected(rs.error());
    return read_route(rs->front());
}

result<void> delete_route(db::connection& c, const std::string& prefix) {
    auto rs = c.exec_prepared("DELETE FROM sms_routes WHERE prefix = $1", {prefix});
    if (!rs) return std::unexpected(rs.error());
    if (rs->affected() == 0)
        return fail(errc::not_found, "no route for \"" + prefix + "\"", "prefix");
    return {};
}

result<bind_leases> lease_binds(db::connection& c, const std::string& node,
                                std::chrono::seconds lease) {
    auto tx = db::transaction::begin(c);
    if (!tx) return std::unexpected(tx.error());
    const int secs = int(lease.count());
    // Live nodes share the binds; a node gone quiet for a lease loses its share (and its
    // rows, once their leases end).
    auto rs = c.exec_prepared(
        "WITH hb AS (INSERT INTO dispatch_nodes (node_id) VALUES ($1) ON CONFLICT (node_id) DO "
        "UPDATE SET seen_at = now()), "
        "gone AS (DELETE FROM dispatch_nodes WHERE seen_at < now() - make_interval(secs => $2 * "
        "3)), "
        "expired AS (DELETE FROM connector_binds WHERE lease_until < now()) "
        "SELECT 1 + count(*) FILTER (WHERE node_id <> $1 AND seen_at >= now() - "
        "make_interval(secs => $2)) FROM dispatch_nodes",
        {node, secs});
    if (!rs) return std::unexpected(rs.error());
    const int live = int(rs->front().get<std::int64_t>(0));
    // Per connector: renew mine within the share, give back the rest, take free slots.
    auto mine = c.exec_prepared(
        "WITH k AS (SELECT id, binds, enabled, ((binds + $3 - 1) / $3) AS share FROM "
        "smpp_connectors), "
        "ranked AS (SELECT b.connector_id, b.slot, row_number() OVER (PARTITION BY b.connector_id "
        "ORDER BY b.slot) AS n FROM connector_binds b WHERE b.node_id = $1), "
        "dropped AS (DELETE FROM connector_binds b USING ranked r, k WHERE b.connector_id = "
        "r.connector_id AND b.slot = r.slot AND k.id = r.connector_id AND (NOT k.enabled OR r.n > "
        "k.share OR r.slot >= k.binds) RETURNING b.connector_id, b.slot), "
        "renewed AS (UPDATE connector_binds b SET lease_until = now() + make_interval(secs => $2) "
        "WHERE b.node_id = $1 AND NOT EXISTS (SELECT 1 FROM dropped d WHERE d.connector_id = "
        "b.connector_id AND d.slot = b.slot) RETURNING b.connector_id), "
        "held AS (SELECT connector_id, count(*) AS n FROM renewed GROUP BY connector_id), "
        "wanted AS (SELECT k.id, s.slot, row_number() OVER (PARTITION BY k.id ORDER BY s.slot) AS "
        "n, k.share - coalesce(h.n, 0) AS room FROM k CROSS JOIN LATERAL generate_series(0, "
        "k.binds - 1) AS s(slot) LEFT JOIN held h ON h.connector_id = k.id WHERE k.enabled AND "
        "NOT EXISTS (SELECT 1 FROM connector_binds b WHERE b.connector_id = k.id AND b.slot = "
        "s.slot)), "
        "taken AS (INSERT INTO connector_binds (connector_id, slot, node_id, lease_until) SELECT "
        "id, slot, $1, now() + make_interval(secs => $2) FROM wanted WHERE n <= room ON CONFLICT "
        "DO NOTHING RETURNING connector_id) "
        "SELECT connector_id, count(*)::int FROM (SELECT connector_id FROM renewed UNION ALL "
        "SELECT connector_id FROM taken) x GROUP BY connector_id",
        {node, secs, live});
    if (!mine) return std::unexpected(mine.error());
    bind_leases out{.held = {}, .live_nodes = live};
    for (auto r : *mine) out.held[r.get<core::uuid>(0)] = r.get<int>(1);
    if (auto cm = tx->commit(); !cm) return std::unexpected(cm.error());
    return out;
}

result<void> release_binds(db::connection& c, const std::string& node) {
    auto rs = c.exec_prepared(
        "WITH b AS (DELETE FROM connector_binds WHERE node_id = $1) DELETE FROM dispatch_nodes "
        "WHERE node_id = $1",
        {node});
    if (!rs) return std::unexpected(rs.error());
    return {};
}

}  // namespace herald::store
