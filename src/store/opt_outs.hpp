#pragma once
/// The suppression list: numbers a tenant must not text, keyed by (tenant, E.164 number).
/// Every change writes an `opt_out_requests` row and keeps `customer_preferences.opt_out` and
/// the contact's status in step, in the caller's transaction. Inbound STOP uses the same path.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/uuid.hpp"
#include "db/connection.hpp"
#include "store/statement.hpp"

namespace herald::store {

/// One number on the list.
struct opt_out_entry {
    std::string phone_number;  ///< E.164
    std::string source;        ///< api, dashboard, inbound_sms, import or admin
    std::optional<core::uuid> contact_id;
    std::chrono::system_clock::time_point created_at;
};

/// One opt-out or opt-in request, as recorded.
struct opt_out_request_row {
    core::uuid id;
    std::string phone_number, action, source;
    std::optional<std::string> note;
    std::optional<core::uuid> contact_id;
    std::chrono::system_clock::time_point requested_at;
};

struct opt_out_change {
    std::string phone_number;  ///< E.164, already normalised
    std::string source;        ///< api, dashboard, inbound_sms, import or admin
    std::optional<std::string> note;
};

/// Adds the number. `created` is false when it was already on the list (the request is still
/// recorded: people do say STOP twice).
struct opt_out_result {
    opt_out_entry entry;
    bool created = false;
};
result<opt_out_result> opt_out(db::connection& c, const core::uuid& tenant,
                               const opt_out_change& change);

/// After an opt-out has committed: waits (up to `limit`) until no message to the number is
/// in a dispatcher's hands, so that nothing reaches it after the caller is told it is done.
/// False when some still were at the limit (a node that died holding them: when their lease
/// ends they are claimed again, and then suppressed).
result<bool> wait_for_in_flight(db::connection& c, const core::uuid& tenant,
                                const std::string& phone_number, std::chrono::milliseconds limit);

/// Removes the number (the person opted back in). not_found when it was not on the list.
result<void> opt_in(db::connection& c, const core::uuid& tenant, const opt_out_change& change);

/// The entry for a number, or not_found.
result<opt_out_entry> get_opt_out(db::connection& c, const core::uuid& tenant,
                                  const std::string& e164);

/// The number's requests, newest first (at most `limit`).
result<std::vector<opt_out_request_row>> opt_out_history(db::connection& c,
                                                         const core::uuid& tenant,
                                                         const std::string& e164, int limit = 100);

/// The list in number order, `limit` entries after `after_number`; `next` is set when more follow.
struct opt_out_page {
    std::vector<opt_out_entry> items;
    std::optional<std::string> next;
};
result<opt_out_page> list_opt_outs(db::connection& c, const core::uuid& tenant, int limit,
                                   const std::optional<std::string>& after_number);

/// Of `numbers` (E.164), those the tenant must not text.
/// opted_out_among in two halves, for callers that run several statements at once.
statement opted_out_statement(const core::uuid& tenant, const std::vector<std::string>& numbers);
std::vector<std::string> opted_out_from(const db::rows& rs);
/// A statement that fails (db::errc::expectation_failed, aborting its transaction) if any of
/// `numbers` is one the tenant must not text.
statement none_opted_out_statement(const core::uuid& tenant,
                                   const std::vector<std::string>& numbers);
result<std::vector<std::string>> opted_out_among(db::connection& c, const core::uuid& tenant,
                                                 const std::vector<std::string>& numbers);

}  // namespace herald::store
