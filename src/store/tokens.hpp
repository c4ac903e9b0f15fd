#pragma once
/// API tokens: shown once at creation, stored as a SHA-256 hash with a short visible prefix.

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/uuid.hpp"
#include "db/connection.hpp"
#include "store/page.hpp"

namespace herald::store {

struct api_token {
    core::uuid id;
    core::uuid user_id;
    std::optional<core::uuid> tenant_id;
    std::string name;
    std::string prefix;  ///< e.g. "hld_3kF9xQ2a", enough to tell tokens apart
    std::vector<std::string> permissions;
    std::string status;  ///< active or revoked
    std::optional<std::chrono::system_clock::time_point> last_used, expires_at;
    std::chrono::system_clock::time_point created_at;
    bool usable(std::chrono::system_clock::time_point now) const noexcept {
        return status == "active" && (!expires_at || *expires_at > now);
    }
};

struct created_token {
    api_token record;
    std::string secret;  ///< the whole token; never stored, shown once
};

/// Creates a token for `user_id` (acting for `tenant`, empty for admins).
result<created_token> create_token(db::connection& c, const core::uuid& user_id, const std::optional<core::uuid>& tenant,
                                   std::string_view name, const std::vector<std::string>& permissions,
                                   std::optional<std::chrono::system_clock::time_point> expires_at);
/// Looks a presented token up by its hash (whatever its status; the caller checks usable()).
result<api_token> find_token(db::connection& c, std::string_view secret);
result<page<api_token>> list_tokens(db::connection& c, const std::optional<core::uuid>& tenant, const page_request& p);
result<api_token> get_token(db::connection& c, const std::optional<core::uuid>& tenant, const core::uuid& id);
/// Revokes a token of the tenant (any token, for admins with an empty tenant).
result<api_token> revoke_token(db::connection& c, const std::optional<core::uuid>& tenant, const core::uuid& id);
/// Records last use for many tokens in one statement.
result<void> touch_tokens(db::connection& c,
                          const std::vector<std::pair<core::uuid, std::chrono::system_clock::time_point>>& uses);

}  // namespace herald::store
