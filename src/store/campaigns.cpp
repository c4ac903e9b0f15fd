#include "store/campaigns.hpp"

#include <set>

#include "core/errc.hpp"
#include "db/errc.hpp"
#include "db/param.hpp"
#include "db/transaction.hpp"
#include "store/billing.hpp"
#include "store/errc.hpp"
#include "store/fence.hpp"
#include "text/message_template.hpp"
#include "text/segments.hpp"

namespace herald::store {
namespace {

using time_point = std::chrono::system_clock::time_point;

constexpr const char* campaign_columns =
    "id, name, message_template, sender_id, status, status_reason, total_recipients, suppressed, "
    "settings::text, "
    "scheduled_time, started_at, completed_at, expanded_at, created_at, updated_at, "
    "ARRAY(SELECT group_id::text FROM sms_campaign_groups g WHERE g.campaign_id = sms_campaigns.id "
    "ORDER BY 1)";

std::vector<core::uuid> parse_uuid_array(std::string_view text) {
    std::vector<core::uuid> out;
    if (text.size() < 2) return out;
    text = text.substr(1, text.size() - 2);
    while (!text.empty()) {
        auto comma = text.find(',');
        if (auto u = core::uuid::parse(text.substr(0, comma))) out.push_back(*u);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    }
    return out;
}

campaign read_campaign(const db::row& r) {
    campaign c;
    c.id = r.get<core::uuid>(0);
    c.name = r.get<std::string>(1);
    c.message_template = r.get<std::string>(2);
    c.sender_id = r.get<std::optional<std::string>>(3);
    c.status = r.get<std::string>(4);
    c.status_reason = r.get<std::optional<std::string>>(5);
    c.total_recipients = r.get<int>(6);
    c.suppressed = r.get<int>(7);
    c.settings = r.get<std::string>(8);
    c.scheduled_time = r.get<std::optional<time_point>>(9);
    c.started_at = r.get<std::optional<time_point>>(10);
    c.completed_at = r.get<std::optional<time_point>>(11);
    c.expanded_at = r.get<std::optional<time_point>>(12);
    c.created_at = r.get<time_point>(13);
    c.updated_at = r.get<time_point>(14);
    c.groups = parse_uuid_array(r.get<std::string>(15));
    return c;
}

std::string uuid_literal(const std::vector<core::uuid>& ids) {
    std::vector<std::string> s;
    s.reserve(ids.size());
    for (const auto& id : ids) s.push_back(id.str());
    return db::array_literal(s);
}

result<void> set_groups(db::connection& c, const core::uuid& tenant, const core::uuid& id,
                        const std::vector<core::uuid>& groups) {
    std::set<core::uuid> distinct(groups.begin(), groups.end());
    auto found = c.exec_prepared(
        "SELECT count(*) FROM contact_groups WHERE user_id = $1 AND id = ANY($2::uuid[])",
        {tenant, uuid_literal(groups)});
    if (!found) return std::unexpected(found.error());
    if (found->front().get<std::int64_t>(0) != std::int64_t(distinct.size()))
        return fail(errc::invalid_reference, "one or more groups do not exist", "groups");
    auto del = c.exec_prepared("DELETE FROM sms_campaign_groups WHERE campaign_id = $1", {id});
    if (!del) return std::unexpected(del.error());
    auto ins = c.exec_prepared(
        "INSERT INTO sms_campaign_groups (campaign_id, group_id) SELECT $1, unnest($2::uuid[]) ON "
        "CONFLICT DO NOTHING",
        {id, uuid_literal(groups)});
    if (!ins) return std::unexpected(ins.error());
    return {};
}

/// Runs a status change guarded by the allowed current states; explains a refusal.
result<campaign> transition(db::connection& c, const core::uuid& tenant, const core::uuid& id,
                            const std::string& sql, db::params args, const std::string& what) {
    auto rs = c.exec_prepared(sql + " RETURNING " + campaign_columns, args);
    if (!rs) return std::unexpected(rs.error());
    if (!rs->empty()) return read_campaign(rs->front());
    auto now = get_campaign(c, tenant, id);
    if (!now) return std::unexpected(now.error());
    return fail(errc::wrong_state, "cannot " + what + " a campaign that is " + now->status,
                "status");
}

}  // namespace

result<campaign> create_campaign(db::connection& c, const core::uuid& tenant,
                                 const campaign_input& in) {
    if (!in.name || !in.message_template)
        return fail(core::errc::invalid_value, "name and message_template are required",
                    in.name ? "message_template" : "name");
    const core::uuid id = core::uuid_v7();
    auto rs = c.exec_prepared(
        "INSERT INTO sms_campaigns (id, user_id, name, message_template, sender_id, "
        "scheduled_time, settings) "
        "VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, '{}')::jsonb)",
        {id, tenant, *in.name, *in.message_template, in.sender_id ? *in.sender_id : std::nullopt,
         in.scheduled_time ? *in.scheduled_time : std::nullopt, in.settings});
    if (!rs) return std::unexpected(rs.error());
    if (in.groups)
        if (auto g = set_groups(c, tenant, id, *in.groups); !g) return std::unexpected(g.error());
    return get_campaign(c, tenant, id);
}

result<campaign> get_campaign(db::connection& c, const core::uuid& tenant, const core::uuid& id) {
    auto rs = c.exec_prepared(std::string("SELECT ") + campaign_columns
                                  + " FROM sms_campaigns WHERE id = $1 AND user_id = $2",
                              {id, tenant});
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty()) return fail(errc::not_found, "no campaign " + id.str());
    return read_campaign(rs->front());
}

result<page<campaign>> list_campaigns(db::connection& c, const core::uuid& tenant,
                                      const std::optional<std::string>& status,
                                      const page_request& p) {
    auto rs = c.exec_prepared(std::string("SELECT ") + campaign_columns +
                                  " FROM sms_campaigns WHERE user_id = $1 AND ($3::text IS NULL OR status = $3) "
                                  "AND ($4::uuid IS NULL OR id < $4) ORDER BY id DESC LIMIT $2",
                              {tenant, p.limit + 1, status, p.after});
    if (!rs) return std::unexpected(rs.error());
    page<campaign> out;
    for (auto r : *rs) {
        if (int(out.items.size()) == p.limit) {
            out.next = out.items.back().id;
            break;
        }
        out.items.push_back(read_campaign(r));
    }
    return out;
}

result<campaign> update_campaign(db::connection& c, const core::uuid& tenant, const core::uuid& id,
                                 const campaign_input& in) {
    auto now = get_campaign(c, tenant, id);
    if (!now) return std::unexpected(now.error());
    if (now->status != "draft")
        return fail(errc::wrong_state,
                    "only a draft can be edited; this campaign is " + now->status, "status");
    auto rs = c.exec_prepared(
        "UPDATE sms_campaigns SET name = coalesce($3, name), message_template = coalesce($4, "
        "message_template), "
        "sender_id = CASE WHEN $5 THEN $6 ELSE sender_id END, "
        "scheduled_time = CASE WHEN $7 THEN $8 ELSE scheduled_time END, "
        "settings = coalesce($9::jsonb, settings), updated_at = now() WHERE id = $1 AND user_id = "
        "$2",
        {id, tenant, in.name, in.message_template, bool(in.sender_id),
         in.sender_id ? *in.sender_id : std::nullopt, bool(in.scheduled_time),
         in.scheduled_time ? *in.scheduled_time : std::nullopt, in.settings});
    if (!rs) return std::unexpected(rs.error());
    if (in.groups)
        if (auto g = set_groups(c, tenant, id, *in.groups); !g) return std::unexpected(g.error());
    return get_campaign(c, tenant, id);
}

result<campaign> start_campaign(db::connection& c, const core::uuid& tenant, const core::uuid& id) {
    auto now = get_campaign(c, tenant, id);
    if (!now) return std::unexpected(now.error());
    if (now->status == "draft" && now->groups.empty())
        return fail(core::errc::invalid_value,
                    "the campaign has no audience: add one or more groups", "groups");
    return transition(
        c, tenant, id,
        "UPDATE sms_campaigns SET status = CASE WHEN scheduled_time > now() THEN 'scheduled' ELSE "
        "'running' END, started_at = CASE WHEN scheduled_time > now() THEN NULL ELSE now() END, "
        "status_reason = NULL, updated_at = now() WHERE id = $1 AND user_id = $2 AND status = "
        "'draft'",
        {id, tenant}, "start");
}

result<campaign> pause_campaign(db::connection& c, const core::uuid& tenant, const core::uuid& id,
                                const std::string& reason) {
    return transition(
        c, tenant, id,
        "UPDATE sms_campaigns SET status = 'paused', status_reason = $3, updated_at = now() "
        "WHERE id = $1 AND user_id = $2 AND status = 'running'",
        {id, tenant, reason}, "pause");
}

result<campaign> resume_campaign(db::connection& c, const core::uuid& tenant,
                                 const core::uuid& id) {
    return transition(
        c, tenant, id,
        "UPDATE sms_campaigns SET status = 'running', status_reason = NULL, updated_at = now() "
        "WHERE id = $1 AND user_id = $2 AND status = 'paused'",
        {id, tenant}, "resume");
}

namespace {

/// Deletes the campaign batches `which` selects (a condition on `cb`) that no node holds,
/// and cancels their messages not sent yet: those of their recipient range still queued
/// without a send queue row, and those whose contact was deleted while a node held the
/// batch (`orphans`, migration 0014). The messages of batches that were paid for are
/// refunded, one ledger row per campaign.
result<void> cancel_unheld_batches(db::connection& c, const std::string& which,
                                   const db::params& params) {
    auto rs = c.exec_prepared(
        "WITH b AS (DELETE FROM campaign_batches cb WHERE " + which
            + " AND (cb.lease_until IS NULL OR cb.lease_until < now()) RETURNING cb.campaign_id, "
              "cb.user_id, cb.after_id, cb.last_id, cb.created_at, cb.charged, cb.orphans), "
              "x AS (UPDATE sms_delivery_logs d SET status = 'canceled', updated_at = now() "
              "FROM b WHERE d.campaign_id = b.campaign_id AND d.created_at = b.created_at "
              "AND d.recipient_id > b.after_id AND d.recipient_id <= b.last_id "
              "AND d.status = 'queued' "
              "AND NOT EXISTS (SELECT 1 FROM send_queue q WHERE q.log_id = d.id) "
              "RETURNING b.campaign_id, b.user_id, b.charged, coalesce(d.cost, 0)::integer AS "
              "cost), "
              "o AS (UPDATE sms_delivery_logs d SET "
            + cancel_for_deleted_contact
            + " FROM b WHERE d.id = ANY (b.orphans) "
              "AND d.created_at = b.created_at AND d.status = 'queued' "
              "AND NOT EXISTS (SELECT 1 FROM send_queue q WHERE q.log_id = d.id) "
              "RETURNING b.campaign_id, b.user_id, b.charged, coalesce(d.cost, 0)::integer AS "
              "cost), "
              "a AS (SELECT * FROM x UNION ALL SELECT * FROM o) "
              "SELECT campaign_id, user_id, count(*) FILTER (WHERE charged AND cost > 0), "
              "coalesce(sum(cost) FILTER (WHERE charged), 0)::integer FROM a GROUP BY 1, 2",
        params);
    if (!rs) return std::unexpected(rs.error());
    for (auto r : *rs) {
        const int paid = r.get<int>(3);
        if (paid <= 0) continue;
        const auto n = r.get<std::int64_t>(2);
        auto refund = credit(
            c, {.tenant = r.get<core::uuid>(1),
                .credits = paid,
                .description = "refund for " + std::to_string(n)
                               + " cancelled messages of campaign " + r.get<core::uuid>(0).str(),
                .transaction_type = "refund"});
        if (!refund) return std::unexpected(refund.error());
    }
    return {};
}

}  // namespace

result<campaign> cancel_campaign(db::connection& c, const core::uuid& tenant,
                                 const core::uuid& id) {
    auto done = transition(
        c, tenant, id,
        "UPDATE sms_campaigns SET status = 'cancelled', status_reason = 'cancelled by the user', "
        "completed_at = now(), updated_at = now() WHERE id = $1 AND user_id = $2 AND status IN "
        "('draft', 'scheduled', 'running', 'paused')",
        {id, tenant}, "cancel");
    if (!done) return done;
    // Messages not claimed yet are cancelled; those in a node's hands finish normally. First
    // the batches no node holds (their messages that went to the send queue are left to the
    // statement after), then the send queue.
    if (auto b = cancel_unheld_batches(c, "cb.campaign_id = $1", {id}); !b)
        return std::unexpected(b.error());
    auto rs = c.exec_prepared(
        "WITH q AS (DELETE FROM send_queue s WHERE s.campaign_id = $1 AND (s.lease_until IS NULL "
        "OR s.lease_until < "
        "now()) RETURNING log_id, created_at) UPDATE sms_delivery_logs d SET status = 'canceled', "
        "updated_at = now() "
        "FROM q WHERE d.id = q.log_id AND d.created_at = q.created_at AND d.status IN ('queued', "
        "'scheduled')",
        {id});
    if (!rs) return std::unexpected(rs.error());
    return done;
}

result<audience_summary> campaign_audience(db::connection& c, const core::uuid& tenant,
                                           const std::vector<core::uuid>& groups, int samples) {
    audience_summary a;
    auto counts = c.exec_prepared(
        "WITH m AS (SELECT DISTINCT c.id, c.phone_number, c.status, coalesce(c.country_code, '') "
        "AS region "
        "FROM contacts c JOIN contact_group_members g ON g.contact_id = c.id "
        "WHERE c.user_id = $1 AND g.group_id = ANY($2::uuid[])), "
        "o AS (SELECT m.*, EXISTS (SELECT 1 FROM opt_outs x WHERE x.user_id = $1 AND "
        "x.phone_number = "
        "m.phone_number) AS opted FROM m) "
        "SELECT CASE WHEN opted THEN 'opted_out' WHEN status <> 'active' THEN status ELSE 'ok:' || "
        "region END, "
        "count(*) FROM o GROUP BY 1",
        {tenant, uuid_literal(groups)});
    if (!counts) return std::unexpected(counts.error());
    for (auto r : *counts) {
        auto key = r.get<std::string>(0);
        int n = int(r.get<std::int64_t>(1));
        if (key == "opted_out")
            a.opted_out += n;
        else if (key == "unsubscribed")
            a.unsubscribed += n;
        else if (key == "invalid")
            a.invalid += n;
        else if (key.starts_with("ok:")) {
            a.recipients += n;
            a.by_country[key.substr(3)] += n;
        }
    }
    auto rs = c.exec_prepared(
        "SELECT c.id, c.phone_number, coalesce(c.country_code, ''), coalesce(c.first_name, ''), "
        "coalesce(c.last_name, ''), coalesce(c.email, ''), c.custom_fields::text FROM contacts c "
        "WHERE c.user_id = $1 AND c.status = 'active' AND EXISTS (SELECT 1 FROM "
        "contact_group_members g WHERE "
        "g.contact_id = c.id AND g.group_id = ANY($2::uuid[])) AND NOT EXISTS (SELECT 1 FROM "
        "opt_outs x WHERE "
        "x.user_id = $1 AND x.phone_number = c.phone_number) ORDER BY c.id LIMIT $3",
        {tenant, uuid_literal(groups), samples});
    if (!rs) return std::unexpected(rs.error());
    for (auto r : *rs) {
        audience_summary::sample s;
        s.contact_id = r.get<core::uuid>(0);
        s.phone_number = r.get<std::string>(1);
        s.country_code = r.get<std::string>(2);
        s.fields["phone_number"] = s.phone_number;
        s.fields["country_code"] = s.country_code;
        s.fields["first_name"] = r.get<std::string>(3);
        s.fields["last_name"] = r.get<std::string>(4);
        s.fields["email"] = r.get<std::string>(5);
        s.fields["custom_fields"] =
            r.get<std::string>(6);  // JSON; the caller reads custom.* from it
        a.samples.push_back(std::move(s));
    }
    return a;
}

result<campaign_stats> get_campaign_stats(db::connection& c, const core::uuid& tenant,
                                          const core::uuid& id) {
    if (auto camp = get_campaign(c, tenant, id); !camp) return std::unexpected(camp.error());
    campaign_stats s;
    auto rs = c.exec_prepared(
        "SELECT status, count(*), count(*) FILTER (WHERE sent_at > now() - interval '1 minute') "
        "FROM sms_delivery_logs WHERE campaign_id = $1 AND user_id = $2 GROUP BY status",
        {id, tenant});
    if (!rs) return std::unexpected(rs.error());
    for (auto r : *rs) {
        const int n = int(r.get<std::int64_t>(1));
        s.by_status[r.get<std::string>(0)] = n;
        s.queued_total += n;
        s.sent_last_minute += int(r.get<std::int64_t>(2));
    }
    auto cost = c.exec_prepared(
        "SELECT coalesce(-sum(credits), 0)::bigint FROM billing_transactions WHERE campaign_id = "
        "$1 AND user_id = $2",
        {id, tenant});
    if (!cost) return std::unexpected(cost.error());
    s.cost_so_far = cost->front().get<std::int64_t>(0);
    return s;
}

// ---- the dispatcher's side ----

namespace {

struct expansion_target {
    core::uuid id, tenant;
    std::string message_template, sender;
    time_point started_at;
    std::optional<core::uuid> cursor;
    int max_segments = 10;
    std::string footer;           ///< settings.opt_out_footer, appended to every message
    std::optional<int> validity;  ///< settings.validity, seconds
};

/// Writes the next chunk of one campaign's audience; returns rows written.
result<int> expand_chunk(db::connection& c, const expansion_target& t, int chunk, int batch,
                         const std::map<std::string, int>& prices, int default_price) {
    auto tpl =
        text::message_template::compile(t.message_template, [](std::string_view) { return true; });
    std::vector<std::string> custom_keys;
    if (tpl)
        for (const auto& p : tpl->placeholders())
            if (p.is_custom()) custom_keys.emplace_back(p.custom_key());
    // The next members after the cursor, from each group's primary key in order, so that a
    // chunk costs the same at the end of a million-member audience as at its start. Members
    // added after the start are not in the audience; contacts no longer active are skipped
    // (the cursor still passes them).
    std::string sql =
        "WITH cand AS (SELECT DISTINCT x.contact_id AS id FROM sms_campaign_groups g CROSS JOIN "
        "LATERAL (SELECT m.contact_id FROM contact_group_members m WHERE m.group_id = g.group_id "
        "AND ($5::uuid IS NULL OR m.contact_id > $5) AND m.created_at <= $3 ORDER BY "
        "m.contact_id LIMIT $4) x WHERE g.campaign_id = $2 ORDER BY 1 LIMIT $4) "
        "SELECT cand.id, c.phone_number, coalesce(c.country_code, ''), coalesce(c.first_name, ''), "
        "coalesce(c.last_name, ''), coalesce(c.email, ''), EXISTS (SELECT 1 FROM opt_outs o WHERE "
        "o.user_id = c.user_id AND o.phone_number = c.phone_number), c.status = 'active'";
    // (The contacts come by primary key, one lookup each: a LATERAL with LIMIT 1 keeps the
    // planner from scanning the whole table to hash-join a few thousand rows.)
    db::params args{t.tenant, t.id, t.started_at, chunk, t.cursor};
    for (const auto& k : custom_keys) {
        args.emplace_back(k);
        sql += ", coalesce(c.custom_fields ->> $" + std::to_string(args.size()) + ", '')";
    }
    sql +=
        " FROM cand CROSS JOIN LATERAL (SELECT * FROM contacts c WHERE c.id = cand.id AND "
        "c.user_id = $1 LIMIT 1) c ORDER BY cand.id";
    auto rs = c.exec(sql, args);
    if (!rs) return std::unexpected(rs.error());

    std::vector<std::string> ids, contacts, phones, bodies, encodings, segments, costs, statuses;
    std::vector<std::optional<std::string>> errors;
    int suppressed = 0;
    std::optional<core::uuid> last;
    for (auto r : *rs) {
        last = r.get<core::uuid>(0);
        if (!r.get<bool>(7)) continue;  // unsubscribed or invalid since it joined
        if (r.get<bool>(6)) {
            ++suppressed;
            continue;
        }
        std::map<std::string, std::string, std::less<>> v{{"phone_number", r.get<std::string>(1)},
                                                          {"country_code", r.get<std::string>(2)},
                                                          {"first_name", r.get<std::string>(3)},
                                                          {"last_name", r.get<std::string>(4)},
                                                          {"email", r.get<std::string>(5)}};
        for (std::size_t k = 0; k < custom_keys.size(); ++k)
            v["custom." + custom_keys[k]] = r.get<std::string>(8 + int(k));
        std::string body =
            tpl ? tpl->render([&](const text::placeholder& p) -> std::optional<std::string_view> {
                auto it = v.find(p.name);
                if (it == v.end()) return std::nullopt;
                return std::string_view(it->second);
            })
                : t.message_template;
        if (!t.footer.empty()) body += " " + t.footer;
        auto shape = text::analyze_utf8(body);
        std::optional<std::string> error;
        int segs = shape ? int(shape->segments) : 1;
        if (!shape)
            error = "invalid_text";
        else if (segs > t.max_segments)
            error = "too_many_segments";
        auto price = prices.find(v["country_code"]);
        const int cost = error ? 0 : segs * (price == prices.end() ? default_price : price->second);
        ids.push_back(core::uuid_v7().str());
        contacts.push_back(last->str());
        phones.push_back(v["phone_number"]);
        bodies.push_back(std::move(body));
        encodings.push_back(shape ? std::string(text::to_string(shape->encoding)) : "gsm7");
        segments.push_back(std::to_string(segs));
        costs.push_back(std::to_string(cost));
        statuses.push_back(error ? "failed" : "queued");
        errors.push_back(error);
    }
    int written = 0;
    if (!ids.empty()) {
        // The cursor moves on in the same transaction, so a recipient is never expanded
        // twice and a plain INSERT does; ON CONFLICT would cost a speculative insertion for
        // every row. Should one collide all the same, the chunk goes in again, from a
        // savepoint, with ON CONFLICT DO NOTHING.
        auto insert = [&](bool on_conflict) {
            return c.exec(
                std::string(
                    "WITH rows AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], "
                    "$4::text[], $5::text[], $6::smallint[], $7::numeric[], $8::text[], "
                    "$9::text[]) AS r(id, contact, phone, body, enc, segs, cost, status, error)), "
                    "ins AS (INSERT INTO sms_delivery_logs (id, created_at, campaign_id, "
                    "recipient_id, user_id, phone_number, sender_id, body, encoding, segments, "
                    "cost, status, error_code, validity_seconds) SELECT id, $10, $11, contact, "
                    "$12, phone, $13, body, enc, segs, cost, status, error, $14 FROM rows ")
                    + (on_conflict ? "ON CONFLICT DO NOTHING " : "") + "RETURNING 1) "
                    + "SELECT count(*) FROM ins",
                {db::array_literal(ids), db::array_literal(contacts), db::array_literal(phones),
                 db::array_literal(bodies), db::array_literal(encodings),
                 db::array_literal(segments), db::array_literal(costs), db::array_literal(statuses),
                 db::array_literal(errors), t.started_at, t.id, t.tenant, t.sender, t.validity});
        };
        if (auto sp = c.exec("SAVEPOINT expand"); !sp) return std::unexpected(sp.error());
        auto ins = insert(false);
        if (!ins && ins.error().code == db::errc::unique_violation) {
            if (auto rb = c.exec("ROLLBACK TO SAVEPOINT expand"); !rb)
                return std::unexpected(rb.error());
            ins = insert(true);
        }
        if (!ins) return std::unexpected(ins.error());
        written = int(ids.size());
        // The chunk's recipients in runs of `batch`, each claimed as one (migration 0011).
        // The runs cover the recipient ids from the cursor on, so they never overlap.
        std::vector<std::string> lasts, afters;
        std::string after = t.cursor ? t.cursor->str() : core::uuid{}.str();
        std::vector<std::string> sizes;
        for (std::size_t i = 0; i < contacts.size(); i += std::size_t(batch)) {
            const std::size_t end = std::min(contacts.size(), i + std::size_t(batch));
            afters.push_back(after);
            lasts.push_back(contacts[end - 1]);
            sizes.push_back(std::to_string(end - i));
            after = contacts[end - 1];
        }
        auto b = c.exec_prepared(
            "INSERT INTO campaign_batches (campaign_id, last_id, after_id, created_at, user_id, "
            "recipients) SELECT $1, l, a, $4, $5, n FROM unnest($2::uuid[], $3::uuid[], "
            "$6::integer[]) AS v(l, a, n) ON CONFLICT DO NOTHING",
            {t.id, db::array_literal(lasts), db::array_literal(afters), t.started_at, t.tenant,
             db::array_literal(sizes)});
        if (!b) return std::unexpected(b.error());
    }
    const bool finished = rs->size() < chunk;
    auto up = c.exec_prepared(
        "UPDATE sms_campaigns SET expansion_cursor = coalesce($2, expansion_cursor), "
        "total_recipients = "
        "total_recipients + $3, suppressed = suppressed + $4, expanded_at = CASE WHEN $5 THEN "
        "now() END, "
        "updated_at = now() WHERE id = $1",
        {t.id, last, written, suppressed, finished});
    if (!up) return std::unexpected(up.error());
    return written;
}

}  // namespace

result<int> advance_campaigns(db::connection& c, int chunk, int batch) {
    auto started = c.exec_prepared(
        "UPDATE sms_campaigns SET status = 'running', started_at = now(), updated_at = now() "
        "WHERE status = 'scheduled' AND scheduled_time <= now()",
        {});
    if (!started) return std::unexpected(started.error());

    int written = 0;
    auto begin = c.exec("BEGIN");
    if (!begin) return std::unexpected(begin.error());
    auto fail_tx = [&](const error& e) -> result<int> {
        (void)c.exec("ROLLBACK");
        return std::unexpected(e);
    };
    auto targets = c.exec_prepared(
        "SELECT id, user_id, message_template, coalesce(sender_id, ''), started_at, "
        "expansion_cursor, "
        "coalesce((settings ->> 'max_segments')::integer, 10), coalesce(settings ->> "
        "'opt_out_footer', ''), "
        "(settings ->> 'validity')::integer FROM sms_campaigns "
        "WHERE status = 'running' AND expanded_at IS NULL ORDER BY started_at LIMIT 4 FOR NO KEY "
        "UPDATE "
        "SKIP LOCKED",
        {});
    if (!targets) return fail_tx(targets.error());
    if (!targets->empty()) {
        auto pr = c.exec_prepared("SELECT country_code, credits_per_segment FROM prices", {});
        if (!pr) return fail_tx(pr.error());
        std::map<std::string, int> prices;
        int default_price = 1;
        for (auto r : *pr) {
            if (r.get<std::string>(0) == "*")
                default_price = r.get<int>(1);
            else
                prices[r.get<std::string>(0)] = r.get<int>(1);
        }
        for (auto r : *targets) {
            expansion_target t{r.get<core::uuid>(0),  r.get<core::uuid>(1),
                               r.get<std::string>(2), r.get<std::string>(3),
                               r.get<time_point>(4),  r.get<std::optional<core::uuid>>(5),
                               r.get<int>(6)};
            // A contact of this tenant being deleted: its campaigns wait for the next round
            // (the audience fence, decision 0018).
            auto fence = c.exec_prepared(
                "SELECT pg_try_advisory_xact_lock_shared($1, "
                "hashtext($2::text))",
                {audience_fence_class, t.tenant});
            if (!fence) return fail_tx(fence.error());
            if (!fence->front().get<bool>(0)) continue;
            auto n = expand_chunk(c, t, chunk, std::max(batch, 1), prices, default_price);
            if (!n) return fail_tx(n.error());
            written += *n;
        }
    }
    if (auto cm = c.exec("COMMIT"); !cm) return fail_tx(cm.error());

    // A cancelled campaign's batches that a node held when it was cancelled are finished by
    // that node; those whose node went away since (lease over) are cancelled here, or their
    // messages would stay queued, and paid for, for ever.
    {
        auto tx = db::transaction::begin(c);
        if (!tx) return std::unexpected(tx.error());
        if (auto b = cancel_unheld_batches(
                c,
                "cb.campaign_id IN (SELECT id FROM sms_campaigns WHERE status = 'cancelled') "
                "AND cb.lease_until < now()",
                {});
            !b)
            return std::unexpected(b.error());
        if (auto cm = tx->commit(); !cm) return std::unexpected(cm.error());
    }

    auto done = c.exec_prepared(
        "UPDATE sms_campaigns s SET status = 'completed', completed_at = now(), updated_at = now() "
        "WHERE s.status = 'running' AND s.expanded_at IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM send_queue q WHERE q.campaign_id = s.id) "
        "AND NOT EXISTS (SELECT 1 FROM campaign_batches b WHERE b.campaign_id = s.id)",
        {});
    if (!done) return std::unexpected(done.error());
    return written;
}

result<void> pause_for_credits(db::connection& c, const core::uuid& tenant,
                               const core::uuid& campaign) {
    auto rs = c.exec_prepared(
        "UPDATE sms_campaigns SET status = 'paused', status_reason = 'insufficient_credits', "
        "updated_at = now() "
        "WHERE id = $1 AND user_id = $2 AND status = 'running'",
        {campaign, tenant});
    if (!rs) return std::unexpected(rs.error());
    return {};
}

result<int> resume_after_top_up(db::connection& c, const core::uuid& tenant) {
    auto rs = c.exec_prepared(
        "UPDATE sms_campaigns SET status = 'running', status_reason = NULL, updated_at = now() "
        "WHERE user_id = $1 AND status = 'paused' AND status_reason = 'insufficient_credits'",
        {tenant});
    if (!rs) return std::unexpected(rs.error());
    return int(rs->affected());
}

}  // namespace herald::store
