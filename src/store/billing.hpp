#pragma once
/// Credits: the balance on the tenant's `users` row and the ledger in billing_transactions.
/// Every change is one SQL statement that moves the balance and writes its ledger row, so the
/// ledger always sums to the balance and concurrent debits cannot overspend.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/uuid.hpp"
#include "db/connection.hpp"
#include "store/page.hpp"
#include "store/statement.hpp"

namespace herald::store {

struct ledger_row {
    core::uuid id;
    core::uuid user_id;
    std::string transaction_type;
    std::string amount;  ///< decimal text, as stored
    int credits = 0;     ///< signed change
    int credits_before = 0, credits_after = 0;
    std::optional<std::string> description, payment_method;
    std::string transaction_status;
    std::optional<core::uuid> created_by, campaign_id;
    std::chrono::system_clock::time_point created_at;
};

struct credit_request {
    core::uuid tenant;
    int credits = 0;           ///< > 0
    std::string amount = "0";  ///< money paid, decimal text ("49.99")
    std::string payment_method;
    std::string description;
    std::optional<core::uuid> by;                      ///< the admin who credited
    std::string transaction_type = "credit_purchase";  ///< or "refund", "adjustment"
};

struct debit_request {
    core::uuid tenant;
    int credits = 0;                                ///< > 0
    std::string transaction_type = "message_cost";  ///< or "campaign_cost", "adjustment"
    std::string description;
    std::optional<core::uuid> by;
    std::optional<core::uuid> campaign_id;
};

/// Adds credits. Fails with not_found for an unknown tenant.
result<ledger_row> credit(db::connection& c, const credit_request& r);
/// Takes credits, or refuses with insufficient_credits, atomically. A refusal writes nothing
/// and is not an SQL error: the caller's transaction goes on (no savepoint is needed).
result<ledger_row> debit(db::connection& c, const debit_request& r);
/// The statement of debit, for callers that run several at once: it returns the ledger row,
/// or no row when the balance does not cover it (then nothing was written). `r.credits`
/// must be positive.
statement debit_statement(const debit_request& r);
/// The same debit, failing (db::errc::expectation_failed, aborting its transaction) when the
/// balance does not cover it, for a transaction that commits in the same round trip.
statement debit_or_fail_statement(const debit_request& r);
result<int> balance(db::connection& c, const core::uuid& tenant);
result<page<ledger_row>> list_ledger(db::connection& c, const core::uuid& tenant,
                                     const page_request& p);
/// Sum of the tenant's ledger (for checks: it equals the balance).
result<long long> ledger_sum(db::connection& c, const core::uuid& tenant);

// ---- prices ----

struct price {
    std::string country_code;  ///< ISO alpha-2, or "*" for the default
    int credits_per_segment = 1;
};

result<std::vector<price>> list_prices(db::connection& c);
result<price> set_price(db::connection& c, const price& p, const std::optional<core::uuid>& by);
/// Removes a country's price (the default "*" cannot be removed).
result<void> delete_price(db::connection& c, std::string_view country_code);
/// Credits per segment for a destination country (falls back to "*").
result<int> price_for(db::connection& c, std::string_view country_code);
/// price_for in two halves.
statement price_statement(std::string_view country_code);
int price_from(const db::rows& rs);
/// A statement that fails (db::errc::expectation_failed, aborting its transaction) unless the
/// price per segment for `country_code` is `credits`.
statement price_is_statement(std::string_view country_code, int credits);

}  // namespace herald::store
