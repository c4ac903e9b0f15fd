#include "store/opt_outs.hpp"

#include <thread>

#include "core/errc.hpp"
#include "db/param.hpp"
#include "store/errc.hpp"
#include "store/fence.hpp"

namespace herald::store {
namespace {

using time_point = std::chrono::system_clock::time_point;

constexpr const char* entry_columns =
    "o.phone_number, o.source, (SELECT id FROM contacts c WHERE c.user_id = o.user_id AND "
    "c.phone_number = "
    "o.phone_number), o.created_at";

opt_out_entry read_entry(const db::row& r) {
    return {r.get<std::string>(0), r.get<std::string>(1), r.get<std::optional<core::uuid>>(2),
            r.get<time_point>(3)};
}

result<void> check_source(const std::string& source) {
    for (const char* s : {"api", "dashboard", "inbound_sms", "import", "admin"})
        if (source == s) return {};
    return fail(core::errc::invalid_value,
                "source must be api, dashboard, inbound_sms, import or admin", "source");
}

/// Records the request and sets the contact's preference and status to match `opted_out`.
result<core::uuid> record(db::connection& c, const core::uuid& tenant, const opt_out_change& ch,
                          bool opted_out) {
    auto req = c.exec_prepared(
        "INSERT INTO opt_out_requests (customer_id, user_id, phone_number, action, source, note) "
        "SELECT (SELECT id FROM contacts WHERE user_id = $1 AND phone_number = $2), $1, $2, $3, "
        "$4, $5 RETURNING id",
        {tenant, ch.phone_number, opted_out ? "opt_out" : "opt_in", ch.source, ch.note});
    if (!req) return std::unexpected(req.error());
    auto pref = c.exec_prepared(
        "INSERT INTO customer_preferences (customer_id, opt_out, user_id) "
        "SELECT id, $3, $1 FROM contacts WHERE user_id = $1 AND phone_number = $2 "
        "ON CONFLICT (customer_id) DO UPDATE SET opt_out = EXCLUDED.opt_out, updated_at = now()",
        {tenant, ch.phone_number, opted_out});
    if (!pref) return std::unexpected(pref.error());
    // An invalid number stays invalid; only active <-> unsubscribed follows the list.
    auto st = c.exec_prepared(
        "UPDATE contacts SET status = $3, updated_at = now() WHERE user_id = $1 AND phone_number = "
        "$2 AND status = $4",
        {tenant, ch.phone_number, opted_out ? "unsubscribed" : "active",
         opted_out ? "active" : "unsubscribed"});
    if (!st) return std::unexpected(st.error());
    return req->front().get<core::uuid>(0);
}

}  // namespace

result<opt_out_result> opt_out(db::connection& c, const core::uuid& tenant,
                               const opt_out_change& change) {
    if (auto s = check_source(change.source); !s) return std::unexpected(s.error());
    auto request_id = record(c, tenant, change, true);
    if (!request_id) return std::unexpected(request_id.error());
    auto ins = c.exec_prepared(
        "INSERT INTO opt_outs (user_id, phone_number, source, request_id) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (user_id, phone_number) DO NOTHING",
        {tenant, change.phone_number, change.source, *request_id});
    if (!ins) return std::unexpected(ins.error());
    auto entry = get_opt_out(c, tenant, change.phone_number);
    if (!entry) return std::unexpected(entry.error());
    // Claims in progress finish first; later ones see this opt-out once it commits.
    auto fence = c.exec_prepared("SELECT pg_advisory_xact_lock($1)", {send_fence_key});
    if (!fence) return std::unexpected(fence.error());
    return opt_out_result{*entry, ins->affected() == 1};
}

result<bool> wait_for_in_flight(db::connection& c, const core::uuid& tenant,
                                const std::string& phone_number, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (true) {
        auto rs = c.exec_prepared(
            "SELECT count(*) FROM sms_delivery_logs d WHERE d.phone_number = $2 AND d.user_id = $1 "
            "AND d.status IN ('queued', 'sending') AND (EXISTS (SELECT 1 FROM send_queue q "
            "WHERE q.log_id = d.id AND q.lease_until > now()) OR EXISTS (SELECT 1 FROM "
            "(SELECT after_id, lease_until FROM campaign_batches b WHERE b.campaign_id = "
            "d.campaign_id AND b.last_id >= d.recipient_id ORDER BY b.last_id LIMIT 1) b "
            "WHERE b.after_id < d.recipient_id AND b.lease_until > now()))",
            {tenant, phone_number});
        if (!rs) return std::unexpected(rs.error());
        if (rs->front().get<std::int64_t>(0) == 0) return true;
        if (std::chrono::steady_clock::now() >= until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

result<void> opt_in(db::connection& c, const core::uuid& tenant, const opt_out_change& change) {
    if (auto s = check_source(change.source); !s) return std::unexpected(s.error());
    auto del = c.exec_prepared("DELETE FROM opt_outs WHERE user_id = $1 AND phone_number = $2",
                               {tenant, change.phone_number});
    if (!del) return std::unexpected(del.error());
    if (del->affected() == 0)
        return fail(errc::not_found, change.phone_number + " is not on the opt-out list");
    if (auto r = record(c, tenant, change, false); !r) return std::unexpected(r.error());
    return {};
}

result<opt_out_entry> get_opt_out(db::connection& c, const core::uuid& tenant,
                                  const std::string& e164) {
    auto rs = c.exec_prepared(std::string("SELECT ") + entry_columns
                                  + " FROM opt_outs o WHERE o.user_id = $1 AND o.phone_number = $2",
                              {tenant, e164});
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty()) return fail(errc::not_found, e164 + " is not on the opt-out list");
    return read_entry(rs->front());
}

result<std::vector<opt_out_request_row>> opt_out_history(db::connection& c,
                                                         const core::uuid& tenant,
                                                         const std::string& e164, int limit) {
    auto rs = c.exec_prepared(
        "SELECT id, phone_number, action, source, note, customer_id, requested_at FROM "
        "opt_out_requests "
        "WHERE user_id = $1 AND phone_number = $2 ORDER BY requested_at DESC, id DESC LIMIT $3",
        {tenant, e164, limit});
    if (!rs) return std::unexpected(rs.error());
    std::vector<opt_out_request_row> out;
    for (auto r : *rs)
        out.push_back({r.get<core::uuid>(0), r.get<std::string>(1), r.get<std::string>(2),
                       r.get<std::string>(3), r.get<std::optional<std::string>>(4),
                       r.get<std::optional<core::uuid>>(5), r.get<time_point>(6)});
    return out;
}

result<opt_out_page> list_opt_outs(db::connection& c, const core::uuid& tenant, int limit,
                                   const std::optional<std::string>& after_number) {
    auto rs = c.exec_prepared(std::string("SELECT ") + entry_columns +
                                  " FROM opt_outs o WHERE o.user_id = $1 AND o.phone_number > coalesce($3, '') "
                                  "ORDER BY o.phone_number LIMIT $2",
                              {tenant, limit + 1, after_number});
    if (!rs) return std::unexpected(rs.error());
    opt_out_page p;
    for (auto r : *rs) {
        if (int(p.items.size()) == limit) {
            p.next = p.items.back().phone_number;
            break;
        }
        p.items.push_back(read_entry(r));
    }
    return p;
}

statement opted_out_statement(const core::uuid& tenant, const std::vector<std::string>& numbers) {
    return {
        "SELECT phone_number FROM opt_outs WHERE user_id = $1 AND phone_number = ANY($2::text[])",
        {tenant, db::array_literal(numbers)}};
}

statement none_opted_out_statement(const core::uuid& tenant,
                                   const std::vector<std::string>& numbers) {
    return {
        "SELECT herald_expect(NOT EXISTS (SELECT 1 FROM opt_outs WHERE user_id = $1 AND "
        "phone_number = ANY($2::text[])), 'no opted-out number')",
        {tenant, db::array_literal(numbers)}};
}

std::vector<std::string> opted_out_from(const db::rows& rs) {
    std::vector<std::string> out;
    for (auto r : rs) out.push_back(r.get<std::string>(0));
    return out;
}

result<std::vector<std::string>> opted_out_among(db::connection& c, const core::uuid& tenant,
                                                 const std::vector<std::string>& numbers) {
    const auto st = opted_out_statement(tenant, numbers);
    auto rs = c.exec_prepared(st.sql, st.args);
    if (!rs) return std::unexpected(rs.error());
    return opted_out_from(*rs);
}

}  // namespace herald::store
