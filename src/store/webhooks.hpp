#pragma once
/// Status webhooks: the account's URL and secret, the queue of calls to make (rows are
/// written by the status changes themselves, see messages.cpp), claims by the sender, and
/// the record of every attempt.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/uuid.hpp"
#include "db/connection.hpp"
#include "store/page.hpp"

namespace herald::store {

struct webhook_settings {
    std::optional<std::string> url;
    std::string secret;
};
result<webhook_settings> get_webhook(db::connection& c, const core::uuid& tenant);
/// Sets (or with nullopt clears) the account's URL; messages with their own callback_url
/// still use theirs.
result<webhook_settings> set_webhook_url(db::connection& c, const core::uuid& tenant,
                                         const std::optional<std::string>& url);
/// A new secret; calls signed from now on use it.
result<webhook_settings> rotate_webhook_secret(db::connection& c, const core::uuid& tenant);

/// One call to make.
struct webhook_job {
    core::uuid id;
    std::string url, payload, secret;
    int attempt = 1;  ///< this one's number
    std::chrono::system_clock::time_point created_at;
};
/// Claims due calls under a lease (FOR UPDATE SKIP LOCKED).
result<std::vector<webhook_job>> claim_webhooks(db::connection& c, const std::string& owner,
                                                int limit, std::chrono::seconds lease);

struct webhook_attempt {
    core::uuid id;
    int attempt = 1;
    int status_code = 0;  ///< 0: no answer
    std::string error;
    int duration_ms = 0;
    /// When to try again; nullopt when done (2xx) or given up.
    std::optional<std::chrono::seconds> retry_in;
};
/// Records attempts and moves each call to delivered, failed or its next try.
result<void> record_webhook_attempts(db::connection& c, const std::vector<webhook_attempt>& a);

struct webhook_delivery {
    core::uuid id, message_id;
    std::string url, event, status, state, payload;
    int attempts = 0;
    std::optional<int> last_status_code;
    std::optional<std::string> last_error;
    std::chrono::system_clock::time_point created_at, next_attempt_at;
    std::optional<std::chrono::system_clock::time_point> finished_at;
};
struct webhook_filter {
    std::optional<core::uuid> message_id;
    std::optional<std::string> state;
};
result<page<webhook_delivery>> list_webhook_deliveries(db::connection& c, const core::uuid& tenant,
                                                       const webhook_filter& f,
                                                       const page_request& p);

}  // namespace herald::store
