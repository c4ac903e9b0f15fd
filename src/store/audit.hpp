#pragma once
/// The audit trail: who did what, on whose behalf, from where.

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

struct audit_entry {
    std::optional<core::uuid> user_id;    ///< who acted (admins acting for a tenant included)
    std::optional<core::uuid> tenant_id;  ///< whose data it touched
    std::string action;                   ///< "contacts.create", "auth.login", ...
    std::string details = "{}";           ///< JSON object; never secrets
    std::string ip_address, user_agent;
    std::string target_type, target_id;
};

struct audit_row : audit_entry {
    core::uuid id;
    std::chrono::system_clock::time_point created_at;
};

/// Writes one row (inside the caller's transaction when it has one).
result<void> write_audit(db::connection& c, const audit_entry& e);
/// Writes many entries in one statement (one round trip), in order.
result<void> write_audits(db::connection& c, const std::vector<audit_entry>& entries);
/// The statement of write_audits (`entries` not empty), for callers that run several at once.
statement audits_statement(const std::vector<audit_entry>& entries);

struct audit_filter {
    std::optional<core::uuid> tenant_id;  ///< required for tenants; empty lists all (admins)
    std::optional<core::uuid> user_id;
    std::optional<std::string> action;  ///< exact, or a prefix ending in '.' ("contacts.")
    std::optional<std::chrono::system_clock::time_point> since, until;
};

result<page<audit_row>> list_audit(db::connection& c, const audit_filter& f, const page_request& p);

}  // namespace herald::store
