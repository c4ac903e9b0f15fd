#include "store/billing.hpp"

#include <charconv>

#include "core/errc.hpp"
#include "db/param.hpp"
#include "store/errc.hpp"

namespace herald::store {
namespace {

constexpr const char* ledger_columns =
    "id, user_id, transaction_type, amount::text, credits, credits_before, credits_after, "
    "description, "
    "payment_method, transaction_status, created_by, campaign_id, created_at";

ledger_row read_ledger(const db::row& r) {
    ledger_row l;
    l.id = r.get<core::uuid>(0);
    l.user_id = r.get<core::uuid>(1);
    l.transaction_type = r.get<std::string>(2);
    l.amount = r.get<std::string>(3);
    l.credits = r.get<int>(4);
    l.credits_before = r.get<int>(5);
    l.credits_after = r.get<int>(6);
    l.description = r.get<std::optional<std::string>>(7);
    l.payment_method = r.get<std::optional<std::string>>(8);
    l.transaction_status = r.get<std::string>(9);
    l.created_by = r.get<std::optional<core::uuid>>(10);
    l.campaign_id = r.get<std::optional<core::uuid>>(11);
    l.created_at = r.get<std::chrono::system_clock::time_point>(12);
    return l;
}

bool valid_amount(std::string_view s) {
    // Up to 8 digits, optional 1-2 decimals, no sign.
    std::size_t dot = s.find('.');
    std::string_view whole = s.substr(0, dot),
                     frac = dot == std::string_view::npos ? "" : s.substr(dot + 1);
    auto digits = [](std::string_view d) {
        return !d.empty() && d.find_first_not_of("0123456789") == std::string_view::npos;
    };
    return digits(whole) && whole.size() <= 8
           && (dot == std::string_view::npos || (digits(frac) && frac.size() <= 2));
}

}  // namespace

result<ledger_row> credit(db::connection& c, const credit_request& r) {
    if (r.credits <= 0)
        return fail(core::errc::invalid_value, "credits must be a positive whole number",
                    "credits");
    if (!valid_amount(r.amount))
        return fail(core::errc::invalid_value, "amount must look like 49.99", "amount");
    if (r.transaction_type != "credit_purchase" && r.transaction_type != "refund"
        && r.transaction_type != "adjustment")
        return fail(core::errc::invalid_value,
                    "transaction_type must be credit_purchase, refund or adjustment",
                    "transaction_type");
    auto rs = c.exec_prepared(std::string(R"(
        WITH u AS (
            UPDATE users SET sms_credits = sms_credits + $2, updated_at = now()
            WHERE id = $1 AND role = 'client' AND tenant_id = id
            RETURNING sms_credits AS after)
        INSERT INTO billing_transactions (user_id, transaction_type, amount, credits, credits_before, credits_after,
                                          description, payment_method, created_by)
        SELECT $1, $6, $3::numeric, $2, after - $2, after, nullif($4, ''), nullif($5, ''), $7 FROM u
        RETURNING )") + ledger_columns,
                              {r.tenant, r.credits, r.amount, r.description, r.payment_method,
                               r.transaction_type, r.by});
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty()) return fail(errc::not_found, "tenant not found");
    return read_ledger(rs->front());
}

namespace {

/// The debit as a data-modifying CTE `l`: the row lock on users serialises concurrent debits,
/// and the WHERE clause refuses a debit the balance does not cover (unless the account allows
/// going negative), leaving `l` empty.
statement debit_cte(const debit_request& r, std::string_view then) {
    return {std::string(R"(
        WITH u AS (
            UPDATE users SET sms_credits = sms_credits - $2, updated_at = now()
            WHERE id = $1 AND tenant_id = id
              AND (sms_credits >= $2 OR coalesce((settings ->> 'allow_negative_credits')::boolean, false))
            RETURNING sms_credits AS after),
        l AS (
            INSERT INTO billing_transactions (user_id, transaction_type, amount, credits, credits_before,
                                              credits_after, description, created_by, campaign_id)
            SELECT $1, $3, -$2::numeric, -$2, after + $2, after, nullif($4, ''), $5, $6 FROM u
            RETURNING )")
                + ledger_columns + ") " + std::string(then),
            {r.tenant, r.credits, r.transaction_type, r.description, r.by, r.campaign_id}};
}

}  // namespace

statement debit_statement(const debit_request& r) {
    return debit_cte(r, std::string("SELECT ") + ledger_columns + " FROM l");
}

statement debit_or_fail_statement(const debit_request& r) {
    return debit_cte(r,
                     "SELECT herald_expect(count(*) = 1, 'a balance covering ' || $2::text || "
                     "' credits') FROM l");
}

result<ledger_row> debit(db::connection& c, const debit_request& r) {
    if (r.credits <= 0)
        return fail(core::errc::invalid_value, "credits must be a positive whole number",
                    "credits");
    const auto st = debit_statement(r);
    auto rs = c.exec_prepared(st.sql, st.args);
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty()) {
        auto b = balance(c, r.tenant);
        if (!b) return std::unexpected(b.error());
        return fail(errc::insufficient_credits, "insufficient credits: " + std::to_string(r.credits)
                                                    + " needed, " + std::to_string(*b)
                                                    + " available");
    }
    return read_ledger(rs->front());
}

result<int> balance(db::connection& c, const core::uuid& tenant) {
    auto rs =
        c.exec_prepared("SELECT sms_credits FROM users WHERE id = $1 AND tenant_id = id", {tenant});
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty()) return fail(errc::not_found, "tenant not found");
    return rs->front().get<int>(0);
}

result<page<ledger_row>> list_ledger(db::connection& c, const core::uuid& tenant,
                                     const page_request& p) {
    auto rs = c.exec_prepared(std::string("SELECT ") + ledger_columns +
                                  " FROM billing_transactions WHERE user_id = $1 AND ($2::uuid IS NULL OR id < $2) "
                                  "ORDER BY id DESC LIMIT $3",
                              {tenant, p.after, p.limit + 1});
    if (!rs) return std::unexpected(rs.error());
    page<ledger_row> out;
    for (auto r : *rs) out.items.push_back(read_ledger(r));
    if (int(out.items.size()) > p.limit) {
        out.items.pop_back();
        out.next = out.items.back().id;
    }
    return out;
}

result<long long> ledger_sum(db::connection& c, const core::uuid& tenant) {
    auto rs = c.exec(
        "SELECT coalesce(sum(credits), 0)::bigint FROM billing_transactions WHERE user_id = $1",
        {tenant});
    if (!rs) return std::unexpected(rs.error());
    return rs->front().get<std::int64_t>(0);
}

result<std::vector<price>> list_prices(db::connection& c) {
    auto rs = c.exec_prepared(
        "SELECT country_code, credits_per_segment FROM prices ORDER BY country_code", {});
    if (!rs) return std::unexpected(rs.error());
    std::vector<price> out;
    for (auto r : *rs) out.push_back({r.get<std::string>(0), r.get<int>(1)});
    return out;
}

result<price> set_price(db::connection& c, const price& p, const std::optional<core::uuid>& by) {
    bool code_ok = p.country_code == "*"
                   || (p.country_code.size() == 2
                       && std::isupper(static_cast<unsigned char>(p.country_code[0]))
                       && std::isupper(static_cast<unsigned char>(p.country_code[1])));
    if (!code_ok)
        return fail(core::errc::invalid_value,
                    "country_code must be two capital letters (ISO 3166) or *", "country_code");
    if (p.credits_per_segment <= 0 || p.credits_per_segment > 1000)
        return fail(core::errc::invalid_value, "credits_per_segment must be between 1 and 1000",
                    "credits_per_segment");
    auto rs = c.exec(
        "INSERT INTO prices (country_code, credits_per_segment, updated_by) VALUES ($1, $2, $3) "
        "ON CONFLICT (country_code) DO UPDATE SET credits_per_segment = "
        "EXCLUDED.credits_per_segment, "
        "updated_at = now(), updated_by = EXCLUDED.updated_by",
        {p.country_code, p.credits_per_segment, by});
    if (!rs) return std::unexpected(rs.error());
    return p;
}

result<void> delete_price(db::connection& c, std::string_view country_code) {
    if (country_code == "*")
        return fail(core::errc::invalid_value, "the default price (*) cannot be removed",
                    "country_code");
    auto rs = c.exec("DELETE FROM prices WHERE country_code = $1", {std::string(country_code)});
    if (!rs) return std::unexpected(rs.error());
    if (rs->affected() == 0)
        return fail(errc::not_found, "no price for " + std::string(country_code));
    return {};
}

statement price_statement(std::string_view country_code) {
    return {
        "SELECT credits_per_segment FROM prices WHERE country_code IN ($1, '*') ORDER BY "
        "country_code = '*' LIMIT 1",
        {std::string(country_code)}};
}

int price_from(const db::rows& rs) {
    return rs.empty() ? 1 : rs.front().get<int>(0);
}

statement price_is_statement(std::string_view country_code, int credits) {
    // The same lookup as price_statement, with price_from's default of 1.
    return {
        "SELECT herald_expect(coalesce((SELECT credits_per_segment FROM prices WHERE "
        "country_code IN ($1, '*') ORDER BY country_code = '*' LIMIT 1), 1) = $2, "
        "'the price per segment ' || $2::text || ' for ' || $1)",
        {std::string(country_code), credits}};
}

result<int> price_for(db::connection& c, std::string_view country_code) {
    const auto st = price_statement(country_code);
    auto rs = c.exec_prepared(st.sql, st.args);
    if (!rs) return std::unexpected(rs.error());
    return price_from(*rs);
}

}  // namespace herald::store
