#include "store/webhooks.hpp"

#include "db/param.hpp"
#include "store/errc.hpp"

namespace herald::store {
namespace {

result<webhook_settings> read_settings(result<db::rows> rs) {
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty()) return fail(errc::not_found, "no such account");
    auto r = rs->front();
    return webhook_settings{.url = r.get<std::optional<std::string>>(0),
                            .secret = r.get<std::string>(1)};
}

}  // namespace

result<webhook_settings> get_webhook(db::connection& c, const core::uuid& tenant) {
    return read_settings(
        c.exec_prepared("SELECT webhook_url, webhook_secret FROM users WHERE id = $1", {tenant}));
}

result<webhook_settings> set_webhook_url(db::connection& c, const core::uuid& tenant,
                                         const std::optional<std::string>& url) {
    return read_settings(
        c.exec_prepared("UPDATE users SET webhook_url = $2, updated_at = now() "
                        "WHERE id = $1 RETURNING webhook_url, webhook_secret",
                        {tenant, url}));
}

result<webhook_settings> rotate_webhook_secret(db::connection& c, const core::uuid& tenant) {
    return read_settings(c.exec_prepared(
        "UPDATE users SET webhook_secret = 'whsec_' || replace(gen_random_uuid()::text, '-', '') "
        "|| replace(gen_random_uuid()::text, '-', ''), updated_at = now() WHERE id = $1 "
        "RETURNING webhook_url, webhook_secret",
        {tenant}));
}

result<std::vector<webhook_job>> claim_webhooks(db::connection& c, const std::string& owner,
                                                int limit, std::chrono::seconds lease) {
    auto rs = c.exec_prepared(
        "WITH due AS (SELECT id FROM webhook_deliveries WHERE state = 'pending' AND "
        "next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now()) "
        "ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED), "
        "w AS (UPDATE webhook_deliveries d SET lease_owner = $1, lease_until = now() + "
        "make_interval(secs => $3), attempts = d.attempts + 1 FROM due WHERE d.id = due.id "
        "RETURNING d.id, d.url, d.payload, d.user_id, d.attempts, d.created_at) "
        "SELECT w.id, w.url, w.payload, u.webhook_secret, w.attempts, w.created_at "
        "FROM w JOIN users u ON u.id = w.user_id",
        {owner, limit, int(lease.count())});
    if (!rs) return std::unexpected(rs.error());
    std::vector<webhook_job> out;
    out.reserve(std::size_t(rs->size()));
    for (auto r : *rs)
        out.push_back({.id = r.get<core::uuid>(0),
                       .url = r.get<std::string>(1),
                       .payload = r.get<std::string>(2),
                       .secret = r.get<std::string>(3),
                       .attempt = r.get<int>(4),
                       .created_at = r.get<std::chrono::system_clock::time_point>(5)});
    return out;
}

result<void> record_webhook_attempts(db::connection& c, const std::vector<webhook_attempt>& a) {
    if (a.empty()) return {};
    std::vector<std::optional<std::string>> id, attempt, code, err, ms, retry;
    for (const auto& x : a) {
        id.push_back(x.id.str());
        attempt.push_back(std::to_string(x.attempt));
        code.push_back(x.status_code ? std::optional(std::to_string(x.status_code)) : std::nullopt);
        err.push_back(x.error.empty() ? std::nullopt : std::optional(x.error));
        ms.push_back(std::to_string(x.duration_ms));
        retry.push_back(x.retry_in ? std::optional(std::to_string(x.retry_in->count()))
                                   : std::nullopt);
    }
    auto rs = c.exec_prepared(
        "WITH v AS (SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[], $5::int[], "
        "$6::int[]) AS v(id, attempt, code, err, ms, retry)), "
        "a AS (INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, "
        "duration_ms) "
        "SELECT id, attempt, code, err, ms FROM v ON CONFLICT DO NOTHING) "
        "UPDATE webhook_deliveries d SET last_status_code = v.code, last_error = v.err, "
        "lease_owner = NULL, lease_until = NULL, "
        "state = CASE WHEN v.code BETWEEN 200 AND 299 THEN 'delivered' WHEN v.retry IS NULL THEN "
        "'failed' ELSE 'pending' END, "
        "next_attempt_at = CASE WHEN v.retry IS NULL THEN d.next_attempt_at ELSE now() + "
        "make_interval(secs => v.retry) END, "
        "finished_at = CASE WHEN v.retry IS NULL THEN now() END "
        "FROM v WHERE d.id = v.id AND d.attempts = v.attempt AND d.state = 'pending'",
        {db::array_literal(id), db::array_literal(attempt), db::array_literal(code),
         db::array_literal(err), db::array_literal(ms), db::array_literal(retry)});
    if (!rs) return std::unexpected(rs.error());
    return {};
}

result<page<webhook_delivery>> list_webhook_deliveries(db::connection& c, const core::uuid& tenant,
                                                       const webhook_filter& f,
                                                       const page_request& p) {
    std::string sql =
        "SELECT id, log_id, url, event, status, state, payload, attempts, last_status_code, "
        "last_error, created_at, next_attempt_at, finished_at FROM webhook_deliveries "
        "WHERE user_id = $1";
    db::params args{tenant, p.limit + 1};
    auto add = [&](const char* cond, db::param v) {
        args.push_back(std::move(v));
        sql += std::string(" AND ") + cond + " $" + std::to_string(args.size());
    };
    if (f.message_id) add("log_id =", *f.message_id);
    if (f.state) add("state =", *f.state);
    if (p.after) add("id <", *p.after);
    sql += " ORDER BY id DESC LIMIT $2";
    auto rs = c.exec_prepared(sql, args);
    if (!rs) return std::unexpected(rs.error());
    page<webhook_delivery> out;
    using tp = std::chrono::system_clock::time_point;
    for (auto r : *rs) {
        if (int(out.items.size()) == p.limit) {
            out.next = out.items.back().id;
            break;
        }
        out.items.push_back({.id = r.get<core::uuid>(0),
                             .message_id = r.get<core::uuid>(1),
                             .url = r.get<std::string>(2),
                             .event = r.get<std::string>(3),
                             .status = r.get<std::string>(4),
                             .state = r.get<std::string>(5),
                             .payload = r.get<std::string>(6),
                             .attempts = r.get<int>(7),
                             .last_status_code = r.get<std::optional<int>>(8),
                             .last_error = r.get<std::optional<std::string>>(9),
                             .created_at = r.get<tp>(10),
                             .next_attempt_at = r.get<tp>(11),
                             .finished_at = r.get<std::optional<tp>>(12)});
    }
    return out;
}

}  // namespace herald::store
