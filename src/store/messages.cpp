#include "store/messages.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <map>
#include <set>
#include <utility>

#include "core/clock.hpp"
#include "core/errc.hpp"
#include "db/errc.hpp"
#include "db/param.hpp"
#include "store/billing.hpp"
#include "store/campaigns.hpp"
#include "store/errc.hpp"
#include "store/fence.hpp"
#include "text/utf8.hpp"

namespace herald::store {
namespace {

/// Text that came from an SMSC (message ids, error codes and messages), made fit for its
/// column: valid UTF-8 (bad sequences become U+FFFD), no NUL, at most `max_chars`
/// characters. PostgreSQL would refuse it otherwise, and with it the whole batch of outcomes
/// and receipts it came in. A receipt's id goes through the same change as its submit's, so
/// the two still match.
std::string storable(std::string_view s, std::size_t max_chars) {
    if (s.size() <= max_chars && text::is_valid_utf8(s) && s.find('\0') == std::string_view::npos)
        return std::string(s);
    std::u32string cps = text::decode_utf8_lossy(s);
    std::erase(cps, U'\0');
    if (cps.size() > max_chars) cps.resize(max_chars);
    return text::encode_utf8(cps);
}

/// Column sizes for SMSC text (migrations 0001 and 0003).
constexpr std::size_t external_id_chars = 100, error_code_chars = 50, error_message_chars = 2000;

constexpr const char* message_columns =
    "id, phone_number, coalesce(sender_id, ''), coalesce(body, ''), status, coalesce(encoding, "
    "'gsm7'), "
    "coalesce(segments, 1), coalesce(cost, 0)::integer, error_code, error_message, "
    "external_message_id, "
    "callback_url, campaign_id, scheduled_at, sent_at, delivered_at, created_at, updated_at";

/// What CTE `m` of queue_webhooks returns of each row: only what the payload needs, not the
/// whole row (the body is the largest part), since nearly always no webhook is due.
constexpr const char* webhook_returning =
    "RETURNING d.id, d.user_id, d.callback_url, d.status, d.phone_number, d.sender_id, "
    "d.campaign_id, d.segments, d.cost, d.error_code, d.error_message, d.sent_at, "
    "d.delivered_at), ";

/// A CTE that queues a status webhook for each delivery log row of CTE `m` (an UPDATE ...
/// RETURNING d.*, or webhook_returning) that has a callback URL of its own or whose account has
/// one. It commits with the status change, so no status goes unreported. The tenants with a webhook
/// URL are looked up once per statement, not once per row: the planner expects `m` to hold one row
/// and would scan `users` for each.
constexpr const char* queue_webhooks =
    "hooked AS MATERIALIZED (SELECT u.id, u.webhook_url FROM users u WHERE u.webhook_url IS "
    "NOT NULL AND u.id IN (SELECT user_id FROM m)), "
    "wh AS (INSERT INTO webhook_deliveries (id, user_id, log_id, url, status, payload) "
    "SELECT x.wid, x.user_id, x.id, x.url, x.status, json_build_object('id', x.wid, 'event', "
    "'message.status', 'message_id', x.id, 'status', x.status, 'to', x.phone_number, 'from', "
    "x.sender_id, 'campaign_id', x.campaign_id, 'segments', x.segments, 'cost', "
    "x.cost::integer, 'error_code', x.error_code, 'error_message', x.error_message, 'sent_at', "
    "x.sent_at, 'delivered_at', x.delivered_at, 'occurred_at', now())::text "
    "FROM (SELECT gen_random_uuid() AS wid, coalesce(m.callback_url, h.webhook_url) AS url, m.* "
    "FROM m LEFT JOIN hooked h ON h.id = m.user_id "
    "WHERE coalesce(m.callback_url, h.webhook_url) IS NOT NULL) x) ";

message read_message(const db::row& r) {
    message m;
    m.id = r.get<core::uuid>(0);
    m.to = r.get<std::string>(1);
    m.from = r.get<std::string>(2);
    m.body = r.get<std::string>(3);
    m.status = r.get<std::string>(4);
    m.encoding = r.get<std::string>(5);
    m.segments = r.get<int>(6);
    m.cost = r.get<int>(7);
    m.error_code = r.get<std::optional<std::string>>(8);
    m.error_message = r.get<std::optional<std::string>>(9);
    m.external_message_id = r.get<std::optional<std::string>>(10);
    m.callback_url = r.get<std::optional<std::string>>(11);
    m.campaign_id = r.get<std::optional<core::uuid>>(12);
    m.scheduled_at = r.get<std::optional<time_point>>(13);
    m.sent_at = r.get<std::optional<time_point>>(14);
    m.delivered_at = r.get<std::optional<time_point>>(15);
    m.created_at = r.get<time_point>(16);
    m.updated_at = r.get<time_point>(17);
    return m;
}

bool is_gsm_sender_char(char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
           || ch == ' ' || ch == '.' || ch == '-' || ch == '_' || ch == '&';
}

}  // namespace

// ---- sender IDs ----

result<void> check_sender_id_form(std::string_view s) {
    if (s.empty()) return fail(core::errc::invalid_value, "sender_id is empty", "sender_id");
    std::string_view digits = s.starts_with('+') ? s.substr(1) : s;
    const bool numeric =
        !digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos;
    if (numeric) {
        if (digits.size() > 15)
            return fail(core::errc::invalid_value, "a numeric sender ID has at most 15 digits",
                        "sender_id");
        return {};
    }
    if (s.size() > 11)
        return fail(core::errc::invalid_value,
                    "an alphanumeric sender ID has at most 11 characters (\"" + std::string(s)
                        + "\" has " + std::to_string(s.size()) + ")",
                    "sender_id");
    for (char ch : s)
        if (!is_gsm_sender_char(ch))
            return fail(
                core::errc::invalid_value,
                "an alphanumeric sender ID may use letters A-Z, digits, space and . - _ & only",
                "sender_id");
    if (s.front() == ' ' || s.back() == ' ')
        return fail(core::errc::invalid_value, "a sender ID cannot start or end with a space",
                    "sender_id");
    return {};
}

result<std::vector<sender_id_row>> list_sender_ids(db::connection& c, const core::uuid& tenant) {
    auto rs = c.exec_prepared(
        "SELECT sender_id, is_default, created_at FROM sender_ids WHERE user_id = $1 ORDER BY "
        "sender_id",
        {tenant});
    if (!rs) return std::unexpected(rs.error());
    std::vector<sender_id_row> out;
    for (auto r : *rs) out.push_back({r.get<std::string>(0), r.get<bool>(1), r.get<time_point>(2)});
    return out;
}

result<sender_id_row> put_sender_id(db::connection& c, const core::uuid& tenant,
                                    const std::string& sender, bool is_default,
                                    const std::optional<core::uuid>& by) {
    if (auto f = check_sender_id_form(sender); !f) return std::unexpected(f.error());
    if (is_default) {
        auto clear = c.exec_prepared(
            "UPDATE sender_ids SET is_default = false WHERE user_id = $1 AND is_default AND "
            "sender_id <> $2",
            {tenant, sender});
        if (!clear) return std::unexpected(clear.error());
    }
    auto rs = c.exec_prepared(
        "INSERT INTO sender_ids (user_id, sender_id, is_default, created_by) VALUES ($1, $2, $3, "
        "$4) "
        "ON CONFLICT (user_id, sender_id) DO UPDATE SET is_default = EXCLUDED.is_default "
        "RETURNING sender_id, is_default, created_at",
        {tenant, sender, is_default, by});
    if (!rs) return std::unexpected(rs.error());
    auto r = rs->front();
    return sender_id_row{r.get<std::string>(0), r.get<bool>(1), r.get<time_point>(2)};
}

result<void> delete_sender_id(db::connection& c, const core::uuid& tenant,
                              const std::string& sender) {
    auto rs = c.exec_prepared("DELETE FROM sender_ids WHERE user_id = $1 AND sender_id = $2",
                              {tenant, sender});
    if (!rs) return std::unexpected(rs.error());
    if (rs->affected() == 0)
        return fail(errc::not_found, "the tenant has no sender ID \"" + sender + "\"");
    return {};
}

statement sender_statement(const core::uuid& tenant, const std::optional<std::string>& requested) {
    if (requested)
        return {"SELECT sender_id FROM sender_ids WHERE user_id = $1 AND sender_id = $2",
                {tenant, *requested}};
    return {"SELECT sender_id FROM sender_ids WHERE user_id = $1 AND is_default", {tenant}};
}

result<std::string> sender_from(const db::rows& rs, const std::optional<std::string>& requested) {
    if (!rs.empty()) return rs.front().get<std::string>(0);
    if (requested)
        return fail(errc::sender_not_allowed,
                    "sender ID \"" + *requested
                        + "\" is not allowed for this account; ask the operator to add it",
                    "from");
    return fail(errc::no_sender, "give \"from\": this account has no default sender ID", "from");
}

statement sender_is_statement(const core::uuid& tenant, const std::optional<std::string>& requested,
                              const std::string& sender) {
    // The same rows as sender_statement: the requested sender is itself when allowed.
    return {
        "SELECT herald_expect(EXISTS (SELECT 1 FROM sender_ids WHERE user_id = $1 AND "
        "sender_id = $2 AND ($3 OR is_default)), 'sender ID ' || $2 || ' to be usable')",
        {tenant, sender, requested.has_value()}};
}

result<std::string> resolve_sender(db::connection& c, const core::uuid& tenant,
                                   const std::optional<std::string>& requested) {
    const auto st = sender_statement(tenant, requested);
    auto rs = c.exec_prepared(st.sql, st.args);
    if (!rs) return std::unexpected(rs.error());
    return sender_from(*rs, requested);
}

// ---- messages ----

result<message> accept_message(db::connection& c, const new_message& m) {
    const core::uuid id = core::uuid_v7();
    const bool later = m.scheduled_at && *m.scheduled_at > std::chrono::system_clock::now();
    auto rs = c.exec_prepared(
        std::string(
            "WITH m AS (INSERT INTO sms_delivery_logs (id, created_at, user_id, phone_number, "
            "sender_id, body, "
            "encoding, segments, cost, status, scheduled_at, callback_url, validity_seconds) "
            "VALUES ($1, now(), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *), "
            "q AS (INSERT INTO send_queue (log_id, created_at, user_id, due_at) "
            "SELECT id, created_at, user_id, greatest(coalesce(scheduled_at, created_at), "
            "created_at) FROM m) "
            "SELECT ")
            + message_columns + " FROM m",
        {id, m.tenant, m.to, m.from, m.body, m.encoding, m.segments, m.cost,
         later ? "scheduled" : "queued", m.scheduled_at, m.callback_url, m.validity_seconds});
    if (!rs) return std::unexpected(rs.error());
    return read_message(rs->front());
}

statement get_message_statement(const core::uuid& tenant, const core::uuid& id) {
    return {std::string("SELECT ") + message_columns
                + " FROM sms_delivery_logs WHERE id = $1 AND user_id = $2",
            {id, tenant}};
}

result<std::vector<message>> messages_with_ids(db::connection& c,
                                               const std::vector<core::uuid>& ids) {
    std::vector<std::string> list;
    list.reserve(ids.size());
    for (const auto& id : ids) list.push_back(id.str());
    auto rs =
        c.exec_prepared(std::string("SELECT ") + message_columns
                            + " FROM sms_delivery_logs WHERE id = ANY($1::uuid[]) ORDER BY id",
                        {db::array_literal(list)});
    if (!rs) return std::unexpected(rs.error());
    std::vector<message> out;
    out.reserve(std::size_t(rs->size()));
    for (auto r : *rs) out.push_back(read_message(r));
    return out;
}

result<message> message_from(const db::rows& rs, const core::uuid& id) {
    if (rs.empty()) return fail(errc::not_found, "no message " + id.str());
    return read_message(rs.front());
}

result<page<message>> list_messages(db::connection& c, const core::uuid& tenant,
                                    const message_filter& f, const page_request& p) {
    std::string sql =
        std::string("SELECT ") + message_columns + " FROM sms_delivery_logs WHERE user_id = $1";
    db::params args{tenant, p.limit + 1};
    auto add = [&](const char* cond, db::param v) {
        args.push_back(std::move(v));
        sql += std::string(" AND ") + cond + " $" + std::to_string(args.size());
    };
    if (f.status) add("status =", *f.status);
    if (f.to) add("phone_number =", *f.to);
    if (f.campaign_id) add("campaign_id =", *f.campaign_id);
    if (p.after) add("id <", *p.after);
    sql += " ORDER BY id DESC LIMIT $2";
    auto rs = c.exec_prepared(sql, args);
    if (!rs) return std::unexpected(rs.error());
    page<message> out;
    for (auto r : *rs) {
        if (int(out.items.size()) == p.limit) {
            out.next = out.items.back().id;
            break;
        }
        out.items.push_back(read_message(r));
    }
    return out;
}

result<message> cancel_message(db::connection& c, const core::uuid& tenant, const core::uuid& id) {
    auto rs = c.exec_prepared(
        std::string(
            "WITH m AS (UPDATE sms_delivery_logs SET status = 'canceled', updated_at = now() "
            "WHERE id = $1 AND user_id = $2 AND status = 'scheduled' RETURNING *), "
            "q AS (DELETE FROM send_queue WHERE log_id IN (SELECT id FROM m)), ")
            + queue_webhooks + "SELECT " + message_columns + " FROM m",
        {id, tenant});
    if (!rs) return std::unexpected(rs.error());
    if (!rs->empty()) return read_message(rs->front());
    auto st = get_message_statement(tenant, id);
    auto found = c.exec_prepared(st.sql, st.args);
    if (!found) return std::unexpected(found.error());
    auto now = message_from(*found, id);
    if (!now) return std::unexpected(now.error());
    return fail(errc::wrong_state,
                "only a scheduled message can be cancelled; this one is " + now->status, "status");
}

namespace {

/// Columns of a batch as PostgreSQL array literals, for unnest().
struct columns {
    std::vector<std::vector<std::optional<std::string>>> data;
    explicit columns(std::size_t n) : data(n) {}
    void add(std::initializer_list<std::optional<std::string>> row) {
        std::size_t i = 0;
        for (const auto& v : row) data[i++].push_back(v);
    }
    std::size_t size() const { return data.empty() ? 0 : data[0].size(); }
    std::string operator[](std::size_t i) const { return db::array_literal(data[i]); }
};

/// The send fence (see store/fence.hpp) is taken before the claim's snapshot, in the same
/// round trip as BEGIN.
const std::string& begin_claim() {
    static const std::string sql =
        "BEGIN; SELECT pg_advisory_xact_lock_shared(" + std::to_string(send_fence_key) + ")";
    return sql;
}

/// A claimed message from the columns both claims select, in this order: id, created_at,
/// user_id, phone_number, sender, text, credits, validity_seconds, campaign_id, status,
/// attempts, charged, account_status, opted out, refund_failed_messages, quiet hours start
/// and end, the contact's time zone, the campaign's TPS cap.
claimed_message read_claimed(const db::row& r) {
    claimed_message m;
    m.log_id = r.get<core::uuid>(0);
    m.created_at = r.get<time_point>(1);
    m.tenant = r.get<core::uuid>(2);
    m.to = r.get<std::string>(3);
    m.from = r.get<std::string>(4);
    m.body = r.get<std::string>(5);
    m.cost = r.get<int>(6);
    m.validity_seconds = r.get<std::optional<int>>(7);
    m.campaign_id = r.get<std::optional<core::uuid>>(8);
    const auto status = r.get<std::string>(9);
    m.attempts = r.get<int>(10);
    // API messages are paid when accepted; a campaign's when first claimed.
    m.charged = !m.campaign_id || r.get<bool>(11);
    m.account_status =
        status == "sending" || status == "queued" ? r.get<std::string>(12) : "final:" + status;
    m.opted_out = r.get<bool>(13);
    m.refund_failed = r.get<bool>(14);
    auto qs = r.get<std::optional<std::string>>(15), qe = r.get<std::optional<std::string>>(16);
    if (qs && qe) m.quiet_hours = std::pair(std::move(*qs), std::move(*qe));
    m.time_zone = r.get<std::optional<std::string>>(17).value_or("");
    m.campaign_tps = r.get<std::optional<double>>(18);
    return m;
}

/// One debit per (tenant, campaign). A tenant who cannot pay has the campaign paused with the
/// reason insufficient_credits; returns those campaigns.
result<std::set<core::uuid>> charge_campaigns(
    db::connection& c, const std::map<std::pair<core::uuid, core::uuid>, int>& due) {
    std::set<core::uuid> unpaid;
    for (const auto& [key, credits] : due) {
        auto d = debit(c, {.tenant = key.first,
                           .credits = credits,
                           .transaction_type = "campaign_cost",
                           .description = "campaign batch",
                           .by = std::nullopt,
                           .campaign_id = key.second});
        if (d) continue;
        if (d.error().code != errc::insufficient_credits) return std::unexpected(d.error());
        if (auto p = pause_for_credits(c, key.first, key.second); !p)
            return std::unexpected(p.error());
        unpaid.insert(key.second);
    }
    return unpaid;
}

}  // namespace

// ---- the dispatcher's side ----

result<std::vector<claimed_message>> claim_due(db::connection& c, const std::string& owner,
                                               int limit, std::chrono::seconds lease) {
    // Two statements: the first locks the due rows, the second leases them and reads what to
    // send. As one statement, the steps joined each other's results; the send queue turns
    // over its whole content all the time, so the generic plan (decision 0005) could be made
    // when it was empty and join by nested loops over everything (416 rows took 84 ms, most
    // of it comparing every row with every other). Here each step finds its rows by key.
    //
    // Messages of campaigns that are not running (paused, cancelled) stay where they are.
    static constexpr std::string_view due_template = R"sql(
SELECT log_id, charged FROM send_queue sq
WHERE due_at <= now() AND (lease_until IS NULL OR lease_until < now())
  AND (sq.campaign_id IS NULL OR EXISTS (
    SELECT 1 FROM sms_campaigns k WHERE k.id = sq.campaign_id AND k.status = 'running'))
ORDER BY due_at LIMIT @n FOR UPDATE SKIP LOCKED
)sql";
    // The LIMIT is written into the statement, rounded down to a power of two (so at most
    // a dozen prepared variants): a cached plan that does not know it may sort the whole
    // queue, and planning afresh each time costs more than the claim.
    static const std::array<std::string, 16> variants = [] {
        std::array<std::string, 16> v;
        for (std::size_t i = 0; i < v.size(); ++i) {
            std::string s(due_template);
            s.replace(s.find("@n"), 2, std::to_string(1u << i));
            v[i] = std::move(s);
        }
        return v;
    }();
    const auto n = std::bit_floor(unsigned(std::clamp(limit, 1, 1 << 15)));
    auto due = c.exec_prepared(variants[std::size_t(std::countr_zero(n))], {});
    if (!due) return std::unexpected(due.error());
    std::vector<claimed_message> out;
    if (due->empty()) return out;
    std::vector<std::string> ids;
    std::set<core::uuid> charged_before;
    ids.reserve(std::size_t(due->size()));
    for (auto r : *due) {
        ids.push_back(r.get<std::string>(0));
        if (r.get<bool>(1)) charged_before.insert(r.get<core::uuid>(0));
    }
    // Quiet hours are the campaign's, else the account's; the contact's own time zone is
    // looked up only when there are some.
    auto rs = c.exec_prepared(R"sql(
WITH q AS (
  UPDATE send_queue s SET lease_owner = $1, lease_until = now() + make_interval(secs => $2),
    attempts = s.attempts + 1, charged = s.charged OR s.campaign_id IS NOT NULL
  WHERE s.log_id = ANY($3::uuid[])
  RETURNING s.log_id, s.created_at, s.attempts),
l AS (
  UPDATE sms_delivery_logs d
  SET status = CASE WHEN d.status IN ('queued', 'scheduled', 'sending') THEN 'sending'
                    ELSE d.status END,
      updated_at = now()
  FROM q WHERE d.id = q.log_id AND d.created_at = q.created_at
  RETURNING d.id, d.created_at, d.user_id, d.phone_number,
    coalesce(d.sender_id, '') AS sender, coalesce(d.body, '') AS text,
    coalesce(d.cost, 0)::integer AS credits, d.validity_seconds, d.campaign_id, d.status,
    d.recipient_id, q.attempts)
SELECT l.id, l.created_at, l.user_id, l.phone_number, l.sender, l.text, l.credits,
  l.validity_seconds, l.campaign_id, l.status, l.attempts, false, u.account_status,
  EXISTS (SELECT 1 FROM opt_outs o WHERE o.user_id = l.user_id
                                     AND o.phone_number = l.phone_number),
  coalesce((u.settings ->> 'refund_failed_messages')::boolean, false),
  z.qh ->> 'start', z.qh ->> 'end',
  CASE WHEN z.qh IS NOT NULL THEN (SELECT ct.time_zone FROM contacts ct
                                   WHERE ct.id = l.recipient_id) END,
  (k.settings ->> 'tps')::float8
FROM l JOIN users u ON u.id = l.user_id
LEFT JOIN sms_campaigns k ON k.id = l.campaign_id
CROSS JOIN LATERAL (SELECT coalesce(k.settings -> 'quiet_hours',
                                    u.settings -> 'quiet_hours') AS qh) z
)sql",
                              {owner, int(lease.count()), db::array_literal(ids)});
    if (!rs) return std::unexpected(rs.error());
    out.reserve(std::size_t(rs->size()));
    for (auto r : *rs) {
        auto m = read_claimed(r);
        // API messages are paid when accepted; a campaign's when first claimed.
        if (m.campaign_id) m.charged = charged_before.contains(m.log_id);
        out.push_back(std::move(m));
    }
    return out;
}

result<std::vector<claimed_message>> claim_and_charge(db::connection& c, const std::string& owner,
                                                      int limit, std::chrono::seconds lease,
                                                      const defer_fn& defer) {
    if (auto b = c.exec(begin_claim()); !b) return std::unexpected(b.error());
    auto abort = [&](const error& e) -> result<std::vector<claimed_message>> {
        (void)c.exec("ROLLBACK");
        return std::unexpected(e);
    };
    auto claimed = claim_due(c, owner, limit, lease);
    if (!claimed) return abort(claimed.error());
    auto sendable = [](const claimed_message& m) {
        return m.account_status == "active" && !m.opted_out;
    };
    // Held back (quiet hours, TPS caps): back to the queue until their time, uncharged.
    std::vector<bool> held(claimed->size(), false);
    columns later(4);
    if (defer) {
        const auto now = core::now();
        for (std::size_t i = 0; i < claimed->size(); ++i) {
            const auto& m = (*claimed)[i];
            if (!sendable(m)) continue;
            auto d = defer(m);
            if (!d) continue;
            held[i] = true;
            const double secs =
                std::chrono::duration<double>(std::max(d->until - now, time_point::duration{}))
                    .count();
            later.add({m.log_id.str(), std::to_string(secs), d->code, d->message});
        }
    }
    if (later.size() > 0) {
        auto q = c.exec_prepared(
            "WITH v AS (SELECT * FROM unnest($1::uuid[], $2::float8[], $3::text[], $4::text[]) "
            "AS v(id, secs, code, msg)), "
            "q AS (UPDATE send_queue s SET lease_owner = NULL, lease_until = NULL, attempts = "
            "s.attempts - 1, due_at = now() + make_interval(secs => v.secs) FROM v WHERE s.log_id "
            "= v.id RETURNING s.log_id, s.created_at, v.code, v.msg) "
            "UPDATE sms_delivery_logs d SET status = 'queued', error_code = q.code, error_message "
            "= q.msg, updated_at = now() FROM q WHERE d.id = q.log_id AND d.created_at = "
            "q.created_at",
            {later[0], later[1], later[2], later[3]});
        if (!q) return abort(q.error());
    }
    // One debit per campaign and batch, for the messages that will really go out.
    std::map<std::pair<core::uuid, core::uuid>, int> due;  // (tenant, campaign) -> credits
    for (std::size_t i = 0; i < claimed->size(); ++i) {
        const auto& m = (*claimed)[i];
        if (!held[i] && m.campaign_id && !m.charged && sendable(m) && m.cost > 0)
            due[{m.tenant, *m.campaign_id}] += m.cost;
    }
    auto paid = charge_campaigns(c, due);
    if (!paid) return abort(paid.error());
    const std::set<core::uuid>& unpaid = *paid;
    // claim_due marked every campaign message charged; those that were not paid for now
    // (held back, sent back, or not sendable) get their flag back.
    std::vector<claimed_message> out;
    std::vector<std::string> back, unpaid_flags;
    for (std::size_t i = 0; i < claimed->size(); ++i) {
        auto& m = (*claimed)[i];
        const bool first_charge = m.campaign_id && !m.charged;
        if (held[i]) {
            if (first_charge) unpaid_flags.push_back(m.log_id.str());
            continue;
        }
        if (m.campaign_id && unpaid.contains(*m.campaign_id) && sendable(m)) {
            back.push_back(m.log_id.str());
            if (first_charge) unpaid_flags.push_back(m.log_id.str());
            continue;
        }
        if (first_charge && sendable(m))
            m.charged = true;
        else if (first_charge)
            unpaid_flags.push_back(m.log_id.str());
        out.push_back(std::move(m));
    }
    if (!unpaid_flags.empty()) {
        auto q =
            c.exec_prepared("UPDATE send_queue SET charged = false WHERE log_id = ANY($1::uuid[])",
                            {db::array_literal(unpaid_flags)});
        if (!q) return abort(q.error());
    }
    if (!back.empty()) {
        auto q = c.exec_prepared(
            "WITH q AS (UPDATE send_queue SET lease_owner = NULL, lease_until = NULL, attempts = "
            "attempts - 1 "
            "WHERE log_id = ANY($1::uuid[]) RETURNING log_id, created_at) UPDATE sms_delivery_logs "
            "d SET status = "
            "'queued', updated_at = now() FROM q WHERE d.id = q.log_id AND d.created_at = "
            "q.created_at",
            {db::array_literal(back)});
        if (!q) return abort(q.error());
    }
    if (auto cm = c.exec("COMMIT"); !cm) return abort(cm.error());
    return out;
}

result<batch_claim> claim_batches(db::connection& c, const std::string& owner, int max_batches,
                                  std::chrono::seconds lease, const defer_fn& defer) {
    if (auto b = c.exec(begin_claim()); !b) return std::unexpected(b.error());
    auto abort = [&](const error& e) -> result<batch_claim> {
        (void)c.exec("ROLLBACK");
        return std::unexpected(e);
    };
    // Batches of running campaigns only: a paused campaign's are not even looked at. Each
    // batch is marked charged with its lease; `was_charged` says whether it was before.
    auto leased = c.exec_prepared(
        "WITH b AS (SELECT x.campaign_id, x.last_id, x.charged FROM sms_campaigns k "
        "CROSS JOIN LATERAL (SELECT campaign_id, last_id, charged FROM campaign_batches x "
        "WHERE x.campaign_id = k.id AND (x.lease_until IS NULL OR x.lease_until < now()) "
        "ORDER BY x.last_id LIMIT $3 FOR UPDATE SKIP LOCKED) x "
        "WHERE k.status = 'running' LIMIT $3) "
        "UPDATE campaign_batches x SET lease_owner = $1, lease_until = now() + "
        "make_interval(secs => $2), attempts = x.attempts + 1, charged = true "
        "FROM b WHERE x.campaign_id = b.campaign_id AND x.last_id = b.last_id "
        "RETURNING x.campaign_id, x.last_id, x.after_id, x.created_at, b.charged, "
        "cardinality(x.orphans)",
        {owner, int(lease.count()), max_batches});
    if (!leased) return abort(leased.error());
    if (leased->empty()) {
        if (auto cm = c.exec("COMMIT"); !cm) return abort(cm.error());
        return batch_claim{};
    }
    columns batches(5), orphaned(2);
    std::map<batch_key, bool> was_charged;
    for (auto r : *leased) {
        batch_key k{r.get<core::uuid>(0), r.get<core::uuid>(1)};
        was_charged[k] = r.get<bool>(4);
        batches.add({k.campaign_id.str(), k.last_id.str(), r.get<std::string>(2),
                     db::format_timestamp(r.get<time_point>(3)), r.get<bool>(4) ? "t" : "f"});
        if (r.get<bool>(4) && r.get<int>(5) > 0)
            orphaned.add({k.campaign_id.str(), k.last_id.str()});
    }
    // A batch taken over from a node that went away may hold messages whose contact was
    // deleted while that node had them (migration 0014): without a recipient id they are not
    // in the batch's range below. They were paid for with the batch; they are cancelled and
    // refunded (whether the node had handed them to the SMSC is not known).
    if (orphaned.size() > 0) {
        auto o = c.exec_prepared(
            "WITH o AS (SELECT x.created_at, unnest(x.orphans) AS id FROM campaign_batches x "
            "JOIN unnest($1::uuid[], $2::uuid[]) AS v(campaign_id, last_id) "
            "ON x.campaign_id = v.campaign_id AND x.last_id = v.last_id), "
            "u AS (UPDATE sms_delivery_logs d SET "
                + std::string(cancel_for_deleted_contact)
                + " FROM o WHERE d.id = o.id AND d.created_at = o.created_at "
            "AND d.status = 'queued' "
            "AND NOT EXISTS (SELECT 1 FROM send_queue q WHERE q.log_id = d.id) "
            "RETURNING d.user_id, coalesce(d.cost, 0)::integer AS cost) "
            "SELECT user_id, count(*) FILTER (WHERE cost > 0), coalesce(sum(cost), 0)::integer "
            "FROM u GROUP BY 1",
            {orphaned[0], orphaned[1]});
        if (!o) return abort(o.error());
        for (auto r : *o) {
            if (r.get<int>(2) <= 0) continue;
            auto refund =
                credit(c, {.tenant = r.get<core::uuid>(0),
                           .credits = r.get<int>(2),
                           .description = "refund for " + std::to_string(r.get<std::int64_t>(1))
                                          + " messages to a deleted contact",
                           .transaction_type = "refund"});
            if (!refund) return abort(refund.error());
        }
    }
    // The batches' messages still queued. A batch claimed before may have sent some of its
    // messages to the send queue (held back, or a retry): those are the queue's now. (Each
    // batch's range is read by index under a LATERAL with a LIMIT: as a plain join, the
    // generic plan scanned the whole log for queued rows.)
    auto rs = c.exec_prepared(R"sql(
SELECT d.id, d.created_at, d.user_id, d.phone_number, coalesce(d.sender_id, ''),
  coalesce(d.body, ''), coalesce(d.cost, 0)::integer, d.validity_seconds, d.campaign_id,
  d.status, 0, b.charged, u.account_status,
  EXISTS (SELECT 1 FROM opt_outs o WHERE o.user_id = d.user_id
                                     AND o.phone_number = d.phone_number),
  coalesce((u.settings ->> 'refund_failed_messages')::boolean, false),
  z.qh ->> 'start', z.qh ->> 'end',
  CASE WHEN z.qh IS NOT NULL THEN (SELECT ct.time_zone FROM contacts ct
                                   WHERE ct.id = d.recipient_id) END,
  (k.settings ->> 'tps')::float8, b.last_id
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::boolean[])
  AS b(campaign_id, last_id, after_id, at, charged)
CROSS JOIN LATERAL (
  SELECT * FROM sms_delivery_logs d
  WHERE d.campaign_id = b.campaign_id AND d.created_at = b.at
    AND d.recipient_id > b.after_id AND d.recipient_id <= b.last_id AND d.status = 'queued'
  ORDER BY d.recipient_id LIMIT 1000000) d
JOIN users u ON u.id = d.user_id
JOIN sms_campaigns k ON k.id = d.campaign_id
CROSS JOIN LATERAL (SELECT coalesce(k.settings -> 'quiet_hours',
                                    u.settings -> 'quiet_hours') AS qh) z
WHERE NOT b.charged OR NOT EXISTS (SELECT 1 FROM send_queue q WHERE q.log_id = d.id)
ORDER BY d.campaign_id, d.recipient_id
)sql",
                              {batches[0], batches[1], batches[2], batches[3], batches[4]});
    if (!rs) return abort(rs.error());
    std::vector<claimed_message> claimed;
    claimed.reserve(std::size_t(rs->size()));
    for (auto r : *rs) {
        auto m = read_claimed(r);
        m.batch = batch_key{*m.campaign_id, r.get<core::uuid>(19)};
        claimed.push_back(std::move(m));
    }
    auto sendable = [](const claimed_message& m) {
        return m.account_status == "active" && !m.opted_out;
    };
    std::vector<std::optional<deferral>> held(claimed.size());
    if (defer)
        for (std::size_t i = 0; i < claimed.size(); ++i)
            if (sendable(claimed[i])) held[i] = defer(claimed[i]);
    // One debit per campaign for the messages of batches claimed for the first time.
    std::map<std::pair<core::uuid, core::uuid>, int> due;  // (tenant, campaign) -> credits
    for (std::size_t i = 0; i < claimed.size(); ++i) {
        const auto& m = claimed[i];
        if (!m.charged && sendable(m) && !held[i] && m.cost > 0)
            due[{m.tenant, *m.campaign_id}] += m.cost;
    }
    auto unpaid = charge_campaigns(c, due);
    if (!unpaid) return abort(unpaid.error());
    // The campaigns that could not pay get their batches back as they were; nothing of them
    // is written. Of the rest: what is no longer sendable ends here, what must wait goes to
    // the send queue, and the others are handed out.
    std::vector<claimed_message> out;
    std::vector<send_outcome> finished;
    columns later(8);
    std::map<batch_key, int> handed;
    const auto now = core::now();
    for (std::size_t i = 0; i < claimed.size(); ++i) {
        auto& m = claimed[i];
        if (unpaid->contains(*m.campaign_id)) continue;
        if (!sendable(m)) {
            send_outcome o{.log_id = m.log_id,
                           .created_at = m.created_at,
                           .tenant = m.tenant,
                           .connector = {},
                           .what = send_outcome::kind::failed,
                           .error_code = m.opted_out ? "opted_out" : "account_" + m.account_status,
                           .error_message = m.opted_out
                                                ? "the number opted out before the message was sent"
                                                : "the account is " + m.account_status,
                           .refund = m.charged ? m.cost : 0,
                           .batch = m.batch};
            finished.push_back(std::move(o));
            continue;
        }
        if (held[i]) {
            const double secs = std::chrono::duration<double>(
                                    std::max(held[i]->until - now, time_point::duration{}))
                                    .count();
            later.add({m.log_id.str(), db::format_timestamp(m.created_at), m.tenant.str(),
                       m.campaign_id->str(), std::to_string(secs), held[i]->code, held[i]->message,
                       m.charged ? "t" : "f"});
            continue;
        }
        m.charged = true;
        ++handed[*m.batch];
        out.push_back(std::move(m));
    }
    if (!finished.empty())
        if (auto f = record_outcomes(c, finished); !f) return abort(f.error());
    if (later.size() > 0) {
        auto q = c.exec_prepared(
            "WITH v AS (SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], "
            "$4::uuid[], $5::float8[], $6::text[], $7::text[], $8::boolean[]) AS v(id, at, "
            "user_id, campaign_id, secs, code, msg, charged)), "
            "q AS (INSERT INTO send_queue (log_id, created_at, user_id, campaign_id, due_at, "
            "charged) SELECT id, at, user_id, campaign_id, now() + make_interval(secs => secs), "
            "charged FROM v ON CONFLICT (log_id) DO NOTHING) "
            "UPDATE sms_delivery_logs d SET error_code = v.code, error_message = v.msg, "
            "updated_at = now() FROM v WHERE d.id = v.id AND d.created_at = v.at",
            {later[0], later[1], later[2], later[3], later[4], later[5], later[6], later[7]});
        if (!q) return abort(q.error());
    }
    // Batches with nothing handed out are done (or, for a campaign that could not pay, go
    // back untouched).
    columns empty(2), back(3);
    for (const auto& [k, charged] : was_charged) {
        if (unpaid->contains(k.campaign_id))
            back.add({k.campaign_id.str(), k.last_id.str(), charged ? "t" : "f"});
        else if (!handed.contains(k))
            empty.add({k.campaign_id.str(), k.last_id.str()});
    }
    if (back.size() > 0) {
        auto q = c.exec_prepared(
            "UPDATE campaign_batches x SET lease_owner = NULL, lease_until = NULL, attempts = "
            "x.attempts - 1, charged = v.charged FROM unnest($1::uuid[], $2::uuid[], "
            "$3::boolean[]) AS v(campaign_id, last_id, charged) WHERE x.campaign_id = "
            "v.campaign_id AND x.last_id = v.last_id",
            {back[0], back[1], back[2]});
        if (!q) return abort(q.error());
    }
    if (empty.size() > 0) {
        auto q = c.exec_prepared(
            "DELETE FROM campaign_batches x USING unnest($1::uuid[], $2::uuid[]) AS "
            "v(campaign_id, last_id) WHERE x.campaign_id = v.campaign_id AND x.last_id = "
            "v.last_id",
            {empty[0], empty[1]});
        if (!q) return abort(q.error());
    }
    if (auto cm = c.exec("COMMIT"); !cm) return abort(cm.error());
    return batch_claim{std::move(out), int(was_charged.size())};
}

statement finish_batches_statement(const std::string& owner, const std::vector<batch_key>& done) {
    columns v(2);
    for (const auto& k : done) v.add({k.campaign_id.str(), k.last_id.str()});
    return {
        "DELETE FROM campaign_batches x USING unnest($1::uuid[], $2::uuid[]) AS "
        "v(campaign_id, last_id) WHERE x.campaign_id = v.campaign_id AND x.last_id = "
        "v.last_id AND x.lease_owner = $3",
        {v[0], v[1], owner}};
}

result<void> finish_batches(db::connection& c, const std::string& owner,
                            const std::vector<batch_key>& done) {
    if (done.empty()) return {};
    auto st = finish_batches_statement(owner, done);
    if (auto q = c.exec_prepared(st.sql, st.args); !q) return std::unexpected(q.error());
    return {};
}

statement accept_statement(const std::vector<new_message>& batch,
                           const std::vector<core::uuid>& ids, const lease_offer* lease) {
    const auto now = std::chrono::system_clock::now();
    columns v(13);
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const auto& m = batch[i];
        const bool later = m.scheduled_at && *m.scheduled_at > now;
        v.add({ids[i].str(), std::to_string(i), m.tenant.str(), m.to, m.from, m.body, m.encoding,
               std::to_string(m.segments), std::to_string(m.cost), later ? "scheduled" : "queued",
               m.scheduled_at ? std::optional(db::format_timestamp(*m.scheduled_at)) : std::nullopt,
               m.callback_url,
               m.validity_seconds ? std::optional(std::to_string(*m.validity_seconds))
                                  : std::nullopt});
    }
    // The accounts are read once per statement. A message is leased when an owner is given,
    // it is due now, and its account is active with no quiet hours (the gate the claim would
    // apply); the claim reads the same settings.
    return {
        std::string(
            "WITH v AS (SELECT * FROM unnest($1::uuid[], $2::int[], $3::uuid[], $4::text[], "
            "$5::text[], $6::text[], $7::text[], $8::int[], $9::numeric[], $10::text[], "
            "$11::timestamptz[], $12::text[], $13::int[]) AS v(id, n, user_id, phone, "
            "sender, body, enc, segs, cost, status, sched, cb, validity)), "
            "m AS (INSERT INTO sms_delivery_logs (id, created_at, user_id, phone_number, "
            "sender_id, body, encoding, segments, cost, status, scheduled_at, "
            "callback_url, validity_seconds) SELECT id, now(), user_id, phone, sender, "
            "body, enc, segs, cost, status, sched, cb, validity FROM v ORDER BY n "
            "RETURNING *), "
            "u AS MATERIALIZED (SELECT id, $14::text IS NOT NULL AND account_status = 'active' "
            "AND settings -> 'quiet_hours' IS NULL AS takes, "
            "coalesce((settings ->> 'refund_failed_messages')::boolean, false) AS refund "
            "FROM users WHERE id IN (SELECT user_id FROM v)), "
            "x AS MATERIALIZED (SELECT m.*, u.takes AND m.status = 'queued' AS leased, u.refund "
            "FROM m JOIN u ON u.id = m.user_id), "
            "q AS (INSERT INTO send_queue (log_id, created_at, user_id, due_at, lease_owner, "
            "lease_until, attempts) SELECT id, created_at, user_id, "
            "greatest(coalesce(scheduled_at, created_at), created_at), "
            "CASE WHEN leased THEN $14 END, "
            "CASE WHEN leased THEN now() + make_interval(secs => $15) END, "
            "CASE WHEN leased THEN 1 ELSE 0 END FROM x) SELECT ")
            + message_columns + ", leased, refund, user_id, validity_seconds FROM x ORDER BY id",
        {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12],
         lease ? std::optional(lease->owner) : std::nullopt,
         lease ? int(lease->lease.count()) : 0}};
}

accepted_messages accepted_from(const db::rows& rs) {
    // uuid v7 ids were made in order, so sorting by id gives the batch order back.
    accepted_messages out;
    out.messages.reserve(std::size_t(rs.size()));
    for (auto r : rs) {
        auto& m = out.messages.emplace_back(read_message(r));
        if (!r.get<bool>(18)) continue;
        // As claim_due would have returned it: checked, paid for, first attempt.
        out.leased.push_back({.log_id = m.id,
                              .created_at = m.created_at,
                              .tenant = r.get<core::uuid>(20),
                              .to = m.to,
                              .from = m.from,
                              .body = m.body,
                              .account_status = "active",
                              .attempts = 1,
                              .cost = m.cost,
                              .refund_failed = r.get<bool>(19),
                              .charged = true,
                              .validity_seconds = r.get<std::optional<int>>(21)});
    }
    return out;
}

statement send_fence_statement() {
    return {"SELECT pg_advisory_xact_lock_shared($1)", {send_fence_key}};
}

result<std::vector<message>> accept_messages(db::connection& c,
                                             const std::vector<new_message>& batch) {
    if (batch.empty()) return std::vector<message>{};
    std::vector<core::uuid> ids;
    ids.reserve(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) ids.push_back(core::uuid_v7());
    const auto st = accept_statement(batch, ids, nullptr);
    auto rs = c.exec_prepared(st.sql, st.args);
    if (!rs) return std::unexpected(rs.error());
    return std::move(accepted_from(*rs).messages);
}

result<void> release_leases(db::connection& c, const std::string& owner,
                            const std::vector<core::uuid>& log_ids) {
    if (log_ids.empty()) return {};
    std::vector<std::string> ids;
    ids.reserve(log_ids.size());
    for (const auto& id : log_ids) ids.push_back(id.str());
    auto r = c.exec_prepared(
        "UPDATE send_queue SET lease_owner = NULL, lease_until = NULL, "
        "attempts = greatest(attempts - 1, 0) WHERE log_id = ANY($1::uuid[]) AND lease_owner = $2",
        {db::array_literal(ids), owner});
    if (!r) return std::unexpected(r.error());
    return {};
}

namespace {

/// The columns of `sent` outcomes: the log rows (id, created_at, the first SMSC id) and their
/// part rows.
struct sent_columns {
    columns sent{3}, parts{6};
    void add(const send_outcome& o, const std::string& id, const std::string& at) {
        sent.add({id, at,
                  o.message_ids.empty() ? std::string()
                                        : storable(o.message_ids.front(), external_id_chars)});
        for (std::size_t i = 0; i < o.message_ids.size(); ++i)
            parts.add({storable(o.part_keys.size() == o.message_ids.size() ? o.part_keys[i]
                                                                           : o.message_ids[i],
                                external_id_chars),
                       o.connector, id, at, std::to_string(i + 1),
                       std::to_string(o.message_ids.size())});
    }
    statement log_update() const {
        return {std::string("WITH m AS (UPDATE sms_delivery_logs d SET status = 'sent', "
                            "external_message_id = v.mid, sent_at = now(), updated_at = now(), "
                            "error_code = NULL, error_message = NULL "
                            "FROM unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS v(id, at, "
                            "mid) WHERE d.id = v.id AND d.created_at = v.at AND d.status IN "
                            "('sending', 'queued') ")
                    + webhook_returning + queue_webhooks + "SELECT count(*) FROM m",
                {sent[0], sent[1], sent[2]}};
    }
    /// A plain insert: ON CONFLICT costs a speculative insertion per part (a quarter of the
    /// statement). See record_outcomes for a part recorded already.
    statement part_insert(bool on_conflict) const {
        return {std::string("INSERT INTO sms_message_parts (external_message_id, connector, "
                            "log_id, log_created_at, part_number, parts) "
                            "SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], "
                            "$4::timestamptz[], $5::smallint[], $6::smallint[])")
                    + (on_conflict ? " ON CONFLICT DO NOTHING" : ""),
                {parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]}};
    }
};

statement queue_delete(const std::vector<std::string>& log_ids) {
    return {"DELETE FROM send_queue WHERE log_id = ANY($1::uuid[])", {db::array_literal(log_ids)}};
}

}  // namespace

result<bool> record_sent_at_once(db::connection& c, const std::vector<send_outcome>& outcomes,
                                 std::vector<statement> also) {
    sent_columns cols;
    std::vector<std::string> done;  // queue rows to delete
    for (const auto& o : outcomes) {
        if (o.what != send_outcome::kind::sent) return false;
        const std::string id = o.log_id.str();
        cols.add(o, id, db::format_timestamp(o.created_at));
        if (!o.batch) done.push_back(id);
    }
    std::vector<statement> sts{{"BEGIN", {}}};
    if (cols.sent.size() > 0) sts.push_back(cols.log_update());
    if (cols.parts.size() > 0) sts.push_back(cols.part_insert(false));
    if (!done.empty()) sts.push_back(queue_delete(done));
    for (auto& st : also) sts.push_back(std::move(st));
    sts.push_back({"COMMIT", {}});
    auto w = run_together(c, sts);
    if (w) return true;
    // A failed statement aborted the transaction, and the COMMIT after it rolled it back
    // (or did not run).
    if (c.in_transaction())
        if (auto rb = c.exec("ROLLBACK"); !rb) return std::unexpected(rb.error());
    // A lost connection may have taken the COMMIT's answer with it: the caller tries again.
    if (w.error().transient()) return std::unexpected(w.error());
    return false;
}

result<void> record_outcomes(db::connection& c, const std::vector<send_outcome>& outcomes) {
    using kind = send_outcome::kind;
    sent_columns sent;
    columns retry(6), requeue(8), final_(5);
    std::vector<std::string> done;                     // queue rows to delete
    std::map<std::string, const send_outcome*> by_id;  // for refunds
    for (const auto& o : outcomes) {
        const std::string id = o.log_id.str(), at = db::format_timestamp(o.created_at);
        switch (o.what) {
            case kind::sent:
                sent.add(o, id, at);
                if (!o.batch) done.push_back(id);
                break;
            case kind::retry:
                if (o.batch)  // it had no queue row: it gets one now
                    requeue.add({id, at, std::to_string(o.retry_after.count()),
                                 storable(o.error_code, error_code_chars),
                                 storable(o.error_message, error_message_chars),
                                 o.counted ? "t" : "f", o.tenant.str(),
                                 o.batch->campaign_id.str()});
                else
                    retry.add({id, at, std::to_string(o.retry_after.count()),
                               storable(o.error_code, error_code_chars),
                               storable(o.error_message, error_message_chars),
                               o.counted ? "t" : "f"});
                break;
            default:
                final_.add({id, at, o.what == kind::rejected ? "rejected" : "failed",
                            storable(o.error_code, error_code_chars),
                            storable(o.error_message, error_message_chars)});
                if (!o.batch) done.push_back(id);
                by_id[id] = &o;
        }
    }
    if (sent.sent.size() > 0) {
        auto st = sent.log_update();
        if (auto u = c.exec_prepared(st.sql, st.args); !u) return std::unexpected(u.error());
    }
    if (sent.parts.size() > 0) {
        // A part already recorded (an SMSC that reuses a message id, or this batch written
        // again after a commit whose answer was lost) sends the batch's parts in again, from
        // a savepoint, skipping those.
        const auto insert = [&](bool on_conflict) {
            auto st = sent.part_insert(on_conflict);
            return c.exec_prepared(st.sql, st.args);
        };
        const bool in_tx = c.in_transaction();
        if (in_tx)
            if (auto sp = c.exec("SAVEPOINT parts"); !sp) return std::unexpected(sp.error());
        auto p = in_tx ? insert(false) : insert(true);
        if (!p && p.error().code == db::errc::unique_violation) {
            if (auto rb = c.exec("ROLLBACK TO SAVEPOINT parts"); !rb)
                return std::unexpected(rb.error());
            p = insert(true);
        }
        if (!p) return std::unexpected(p.error());
    }
    if (retry.size() > 0) {
        auto q = c.exec_prepared(
            "WITH v AS (SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::integer[], "
            "$4::text[], $5::text[], $6::boolean[]) "
            "AS v(id, at, secs, code, msg, counted)), "
            "q AS (UPDATE send_queue s SET due_at = now() + make_interval(secs => v.secs), "
            "attempts = s.attempts - CASE WHEN v.counted THEN 0 ELSE 1 END, lease_owner = NULL, "
            "lease_until = NULL FROM v WHERE s.log_id = v.id) "
            "UPDATE sms_delivery_logs d SET status = 'queued', error_code = v.code, error_message "
            "= v.msg, "
            "updated_at = now() FROM v WHERE d.id = v.id AND d.created_at = v.at AND d.status IN "
            "('sending', 'queued')",
            {retry[0], retry[1], retry[2], retry[3], retry[4], retry[5]});
        if (!q) return std::unexpected(q.error());
    }
    if (requeue.size() > 0) {
        // Paid for with its batch, so charged; the attempt counts unless nothing was tried.
        auto q = c.exec_prepared(
            "WITH v AS (SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::integer[], "
            "$4::text[], $5::text[], $6::boolean[], $7::uuid[], $8::uuid[]) "
            "AS v(id, at, secs, code, msg, counted, user_id, campaign_id)), "
            "q AS (INSERT INTO send_queue (log_id, created_at, user_id, campaign_id, due_at, "
            "attempts, charged) SELECT id, at, user_id, campaign_id, now() + make_interval(secs "
            "=> secs), CASE WHEN counted THEN 1 ELSE 0 END, true FROM v "
            "ON CONFLICT (log_id) DO NOTHING) "
            "UPDATE sms_delivery_logs d SET status = 'queued', error_code = v.code, error_message "
            "= v.msg, updated_at = now() FROM v WHERE d.id = v.id AND d.created_at = v.at AND "
            "d.status IN ('sending', 'queued')",
            {requeue[0], requeue[1], requeue[2], requeue[3], requeue[4], requeue[5], requeue[6],
             requeue[7]});
        if (!q) return std::unexpected(q.error());
    }
    if (final_.size() > 0) {
        auto u = c.exec_prepared(
            std::string("WITH m AS (UPDATE sms_delivery_logs d SET status = v.status, error_code = "
                        "v.code, error_message = v.msg, updated_at = now() "
                        "FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], "
                        "$5::text[]) AS v(id, at, status, code, msg) WHERE d.id = v.id AND "
                        "d.created_at = v.at AND d.status IN ('sending', 'queued', 'scheduled') ")
                + webhook_returning + queue_webhooks + "SELECT m.id FROM m",
            {final_[0], final_[1], final_[2], final_[3], final_[4]});
        if (!u) return std::unexpected(u.error());
        // Refunds only for messages this batch really finished, one ledger row each.
        for (auto r : *u) {
            const auto* o = by_id[r.get<std::string>(0)];
            if (!o || o->refund <= 0) continue;
            credit_request refund{
                .tenant = o->tenant,
                .credits = o->refund,
                .amount = "0",
                .payment_method = "",
                .description = "refund for message " + o->log_id.str() + " (" + o->error_code + ")",
                .by = std::nullopt,
                .transaction_type = "refund"};
            if (auto cr = credit(c, refund); !cr) return std::unexpected(cr.error());
        }
    }
    if (!done.empty()) {
        auto st = queue_delete(done);
        if (auto d = c.exec_prepared(st.sql, st.args); !d) return std::unexpected(d.error());
    }
    return {};
}

result<std::vector<bool>> record_receipts(db::connection& c,
                                          const std::vector<part_receipt>& receipts) {
    std::vector<bool> matched(receipts.size(), false);
    if (receipts.empty()) return matched;
    // A one-part message takes its receipt's status at once. Receipts give minutes at best;
    // delivered_at is never before the submit.
    static const std::string take_status =
        std::string(
            "m AS (UPDATE sms_delivery_logs d SET status = s.status, delivered_at = CASE WHEN "
            "s.status = 'delivered' THEN greatest(coalesce(s.done, now()), d.sent_at) ELSE "
            "d.delivered_at END, error_code = CASE WHEN s.status = 'delivered' THEN NULL ELSE "
            "s.code END, updated_at = now() FROM s WHERE d.id = s.log_id AND d.created_at = "
            "s.log_created_at AND d.status = 'sent' ")
        + webhook_returning;
    const auto stamp = [](const part_receipt& r) {
        return r.done_at ? std::optional<std::string>(db::format_timestamp(*r.done_at))
                         : std::nullopt;
    };
    const auto code = [](const part_receipt& r) {
        return r.error_code ? std::optional(storable(*r.error_code, error_code_chars))
                            : std::nullopt;
    };
    // Those whose message the sending node named: straight to the message.
    columns known(5), v(5);
    for (std::size_t i = 0; i < receipts.size(); ++i) {
        const auto& r = receipts[i];
        if (r.message) {
            known.add({r.message->first.str(), db::format_timestamp(r.message->second), r.status,
                       code(r), stamp(r)});
            matched[i] = true;
        } else {
            v.add({r.connector, storable(r.message_id, external_id_chars), r.status, code(r),
                   stamp(r)});
        }
    }
    if (known.size() > 0) {
        auto k = c.exec_prepared(
            "WITH s AS (SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], "
            "$4::text[], $5::timestamptz[]) AS s(log_id, log_created_at, status, code, done)), "
                + take_status + queue_webhooks + "SELECT count(*) FROM m",
            {known[0], known[1], known[2], known[3], known[4]});
        if (!k) return std::unexpected(k.error());
    }
    if (v.size() == 0) return matched;
    // The others: a one-part message's part is only looked up.
    auto single = c.exec_prepared(
        "WITH v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
        "$5::timestamptz[]) AS v(conn, mid, status, code, done)), "
        "s AS (SELECT v.*, sp.log_id, sp.log_created_at FROM v JOIN sms_message_parts sp ON "
        "sp.connector = v.conn AND sp.external_message_id = v.mid WHERE sp.parts = 1), "
            + take_status + queue_webhooks + "SELECT s.conn, s.mid FROM s",
        {v[0], v[1], v[2], v[3], v[4]});
    if (!single) return std::unexpected(single.error());
    std::set<std::pair<std::string, std::string>> hit;
    for (auto r : *single) hit.emplace(r.get<std::string>(0), r.get<std::string>(1));
    columns rest(5);
    for (std::size_t i = 0, at = 0; i < receipts.size(); ++i) {
        if (receipts[i].message) continue;
        const std::size_t j = at++;  // its row in v
        matched[i] = hit.contains({receipts[i].connector, receipts[i].message_id});
        if (matched[i]) continue;
        rest.add({v.data[0][j], v.data[1][j], v.data[2][j], v.data[3][j], v.data[4][j]});
    }
    if (rest.size() == 0) return matched;
    // The others: their part takes the receipt, and the message its final status once every
    // part has one.
    auto p = c.exec_prepared(
        "UPDATE sms_message_parts sp SET status = v.status, error_code = v.code, updated_at = "
        "now() "
        "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS v(conn, "
        "mid, status, code, "
        "done) WHERE sp.connector = v.conn AND sp.external_message_id = v.mid "
        "RETURNING sp.connector, sp.external_message_id, sp.log_id::text, sp.log_created_at, "
        "v.done",
        {rest[0], rest[1], rest[2], rest[3], rest[4]});
    if (!p) return std::unexpected(p.error());
    columns touched(3);
    std::set<std::string> seen;
    for (auto r : *p) {
        hit.emplace(r.get<std::string>(0), r.get<std::string>(1));
        auto id = r.get<std::string>(2);
        if (!seen.insert(id).second) continue;
        auto done = r.get<std::optional<time_point>>(4);
        touched.add(
            {id, db::format_timestamp(r.get<time_point>(3)),
             done ? std::optional<std::string>(db::format_timestamp(*done)) : std::nullopt});
    }
    for (std::size_t i = 0; i < receipts.size(); ++i)
        if (!receipts[i].message)
            matched[i] = hit.contains({receipts[i].connector, receipts[i].message_id});
    if (touched.size() == 0) return matched;
    // A message is final once every part has a receipt: delivered if all were, else the first
    // failure. Receipts give minutes at best; delivered_at is never before the submit.
    auto u = c.exec_prepared(
        std::string(
            "WITH t AS (SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS "
            "t(id, at, done)), "
            "agg AS (SELECT t.id, t.at, t.done, bool_and(p.status = 'delivered') AS all_delivered, "
            "bool_or(p.status = 'sent') AS pending, (array_agg(p.status ORDER BY p.part_number) "
            "FILTER "
            "(WHERE "
            "p.status NOT IN ('delivered', 'sent')))[1] AS failure, (array_agg(p.error_code ORDER "
            "BY "
            "p.part_number) "
            "FILTER (WHERE p.error_code IS NOT NULL))[1] AS code FROM t JOIN sms_message_parts p "
            "ON "
            "p.log_id = t.id "
            "GROUP BY t.id, t.at, t.done), "
            "m AS (UPDATE sms_delivery_logs d SET status = CASE WHEN agg.all_delivered THEN "
            "'delivered' ELSE "
            "agg.failure END, "
            "delivered_at = CASE WHEN agg.all_delivered THEN greatest(coalesce(agg.done, now()), "
            "d.sent_at) ELSE "
            "d.delivered_at END, error_code = CASE WHEN agg.all_delivered THEN NULL ELSE agg.code "
            "END, "
            "updated_at = now() "
            "FROM agg WHERE d.id = agg.id AND d.created_at = agg.at AND NOT agg.pending AND "
            "d.status = "
            "'sent' ")
            + webhook_returning + queue_webhooks + "SELECT count(*) FROM m",
        {touched[0], touched[1], touched[2]});
    if (!u) return std::unexpected(u.error());
    return matched;
}

}  // namespace herald::store
