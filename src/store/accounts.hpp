#pragma once
/// Users, tenants, named roles, permissions and dashboard sessions.
///
/// A tenant is a `users` row with role `client` whose tenant_id is itself; its sub-users are
/// `client` rows pointing at it, with permissions granted through `user_roles`. Admins (the
/// platform operator) have no tenant and every permission.

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/uuid.hpp"
#include "db/connection.hpp"
#include "store/page.hpp"

namespace herald::store {

using time_point = std::chrono::system_clock::time_point;

/// Everything a tenant-facing permission can name.
inline const std::vector<std::string>& all_permissions() {
    static const std::vector<std::string> all = {
        "contacts:read", "contacts:write", "campaigns:read", "campaigns:write", "campaigns:send",
        "messages:send", "billing:read",   "tokens:manage",  "users:manage",    "audit:read"};
    return all;
}
bool is_permission(std::string_view p);

struct user {
    core::uuid id;
    std::string username, email;
    std::string role;  ///< admin or client
    std::optional<core::uuid> tenant_id;
    std::string account_status;  ///< of the user's own row: active, suspended, closed
    int sms_credits = 0;
    std::optional<std::string> company_name, phone_number;
    time_point created_at;
    std::optional<time_point> last_login;
    std::string settings;  ///< JSON object text
    bool is_admin() const noexcept { return role == "admin"; }
    bool is_tenant_owner() const noexcept { return tenant_id && *tenant_id == id; }
};

struct new_user {
    std::string username, email, password;
    bool admin = false;
    /// For a sub-user: the tenant it belongs to. Absent for admins and new tenants.
    std::optional<core::uuid> tenant_id;
    std::optional<std::string> company_name, phone_number;
};

/// Creates a user (hashing the password). A client without tenant_id becomes a new tenant.
result<user> create_user(db::connection& c, const new_user& u);
result<user> get_user(db::connection& c, const core::uuid& id);
/// By username or e-mail (case-insensitive).
result<user> find_user_by_login(db::connection& c, std::string_view login);
/// Checks a login; the error is deliberately the same for unknown user and wrong password.
result<user> authenticate(db::connection& c, std::string_view login, std::string_view password);
result<void> record_login(db::connection& c, const core::uuid& id);
result<void> set_password(db::connection& c, const core::uuid& id, std::string_view password);
/// Sets account_status for a tenant (and its sub-users) or a single user.
result<void> set_account_status(db::connection& c, const core::uuid& id, std::string_view status);
/// Users of a tenant (or every user when `tenant` is empty: admins), newest first.
result<page<user>> list_users(db::connection& c, const std::optional<core::uuid>& tenant, const page_request& p,
                              std::optional<std::string> role = std::nullopt);
/// Tenants (their owner rows), newest first.
result<page<user>> list_tenants(db::connection& c, const page_request& p);
/// Merges keys into a tenant's settings object.
result<user> update_settings(db::connection& c, const core::uuid& tenant, std::string_view settings_patch_json);
/// The status that governs what a user may do: its tenant's (or its own, for admins).
result<std::string> effective_status(db::connection& c, const user& u);

// ---- roles and permissions ----

struct role_grant {
    core::uuid id;
    core::uuid user_id;
    std::string role_name;
    std::vector<std::string> permissions;
    time_point created_at;
};

/// Grants (or replaces) a named role with permissions to a sub-user of `tenant`.
result<role_grant> grant_role(db::connection& c, const core::uuid& tenant, const core::uuid& user_id,
                              std::string_view role_name, const std::vector<std::string>& permissions);
result<void> revoke_role(db::connection& c, const core::uuid& tenant, const core::uuid& user_id,
                         std::string_view role_name);
result<std::vector<role_grant>> list_roles(db::connection& c, const core::uuid& tenant, const core::uuid& user_id);
/// What a user may do: every tenant permission for owners (and "admin" for admins), the union
/// of granted roles for sub-users.
result<std::set<std::string>> permissions_of(db::connection& c, const user& u);

// ---- sessions ----

struct session_secrets {
    core::uuid session_id;
    std::string cookie;  ///< goes in the HttpOnly cookie
    std::string csrf;    ///< goes to the page; mutating requests must echo it
    time_point expires_at;
};

struct session_info {
    core::uuid session_id;
    core::uuid user_id;
    std::string csrf_hash;
    time_point expires_at;
};

result<session_secrets> create_session(db::connection& c, const core::uuid& user_id, std::string_view ip,
                                       std::string_view user_agent, std::chrono::seconds ttl);
/// The live (not expired, not revoked) session for a cookie value.
result<session_info> find_session(db::connection& c, std::string_view cookie);
result<void> revoke_session(db::connection& c, const core::uuid& session_id);
result<void> revoke_user_sessions(db::connection& c, const core::uuid& user_id);

}  // namespace herald::store
