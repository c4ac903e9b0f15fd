#include "store/audit.hpp"

#include "db/param.hpp"
#include "db/transaction.hpp"

namespace herald::store {

statement audits_statement(const std::vector<audit_entry>& entries) {
    // The ids are made here rather than by the column's default: uuid_generate_v7() costs a
    // few microseconds a row in PostgreSQL, on the group commit's backend one row per message.
    std::vector<std::optional<std::string>> id, user, tenant, action, details, ip, agent, type,
        target;
    for (const auto& e : entries) {
        id.push_back(core::uuid_v7().str());
        user.push_back(e.user_id ? std::optional(e.user_id->str()) : std::nullopt);
        tenant.push_back(e.tenant_id ? std::optional(e.tenant_id->str()) : std::nullopt);
        action.push_back(e.action);
        details.push_back(e.details.empty() ? std::string("{}") : e.details);
        ip.push_back(e.ip_address.substr(0, 45));
        agent.push_back(e.user_agent.substr(0, 500));
        type.push_back(e.target_type);
        target.push_back(e.target_id);
    }
    return {
        "INSERT INTO audit_logs (id, user_id, tenant_id, action, details, ip_address, "
        "user_agent, target_type, target_id) "
        "SELECT k, u, t, a, d::jsonb, i, g, nullif(y, ''), nullif(x, '') FROM unnest($1::uuid[], "
        "$2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], "
        "$9::text[]) WITH ORDINALITY AS v(k, u, t, a, d, i, g, y, x, n) ORDER BY n",
        {db::array_literal(id), db::array_literal(user), db::array_literal(tenant),
         db::array_literal(action), db::array_literal(details), db::array_literal(ip),
         db::array_literal(agent), db::array_literal(type), db::array_literal(target)}};
}

result<void> write_audits(db::connection& c, const std::vector<audit_entry>& entries) {
    if (entries.empty()) return {};
    const auto st = audits_statement(entries);
    auto rs = c.exec_prepared(st.sql, st.args);
    if (!rs) return std::unexpected(rs.error());
    return {};
}

result<void> write_audit(db::connection& c, const audit_entry& e) {
    return write_audits(c, {e});
}

result<page<audit_row>> list_audit(db::connection& c, const audit_filter& f,
                                   const page_request& p) {
    std::optional<std::string> exact, prefix;
    if (f.action) {
        if (f.action->ends_with('.'))
            prefix = *f.action + "%";
        else
            exact = *f.action;
    }
    // Planned for its values on each call, not once per connection (decision 0029). Under
    // one generic plan, `$1 IS NULL OR tenant_id = $1` can use no index: a small tenant's page
    // walked every newer row of every tenant. With the values known, the NULL filters fold
    // away, and the planner reads a small tenant's rows by its index and a big one's newest
    // rows by the primary key.
    auto tx = db::transaction::begin(c);
    if (!tx) return std::unexpected(tx.error());
    if (auto custom = c.exec("SET LOCAL plan_cache_mode = force_custom_plan"); !custom)
        return std::unexpected(custom.error());
    auto rs = c.exec_prepared(
        "SELECT id, user_id, tenant_id, action, details::text, coalesce(ip_address, ''), "
        "coalesce(user_agent, ''), "
        "coalesce(target_type, ''), coalesce(target_id, ''), created_at FROM audit_logs "
        "WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2::uuid IS NULL OR user_id = $2) "
        "AND ($3::text IS NULL OR action = $3) AND ($4::text IS NULL OR action LIKE $4) "
        "AND ($5::timestamptz IS NULL OR created_at >= $5) AND ($6::timestamptz IS NULL OR "
        "created_at < $6) "
        "AND ($7::uuid IS NULL OR id < $7) ORDER BY id DESC LIMIT $8",
        {f.tenant_id, f.user_id, exact, prefix, f.since, f.until, p.after, p.limit + 1});
    if (!rs) return std::unexpected(rs.error());
    page<audit_row> out;
    for (auto r : *rs) {
        audit_row a;
        a.id = r.get<core::uuid>(0);
        a.user_id = r.get<std::optional<core::uuid>>(1);
        a.tenant_id = r.get<std::optional<core::uuid>>(2);
        a.action = r.get<std::string>(3);
        a.details = r.get<std::string>(4);
        a.ip_address = r.get<std::string>(5);
        a.user_agent = r.get<std::string>(6);
        a.target_type = r.get<std::string>(7);
        a.target_id = r.get<std::string>(8);
        a.created_at = r.get<std::chrono::system_clock::time_point>(9);
        out.items.push_back(std::move(a));
    }
    if (int(out.items.size()) > p.limit) {
        out.items.pop_back();
        out.next = out.items.back().id;
    }
    if (auto done = tx->commit(); !done) return std::unexpected(done.error());
    return out;
}

}  // namespace herald::store
