#pragma once
/// Campaigns: drafts, their audience (groups), the life cycle draft -> scheduled -> running
/// <-> paused -> completed (or cancelled), statistics, and the expansion of a running
/// campaign's audience into the delivery log and send queue, a chunk at a time.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/uuid.hpp"
#include "db/connection.hpp"
#include "store/page.hpp"

namespace herald::store {

/// The SET list that cancels a campaign message whose contact was deleted before it went
/// (with `updated_at`), shared by the statements that do it.
inline constexpr const char* cancel_for_deleted_contact =
    "status = 'canceled', error_code = 'contact_deleted', error_message = 'the contact was "
    "deleted before the message was sent', updated_at = now()";

struct campaign {
    core::uuid id;
    std::string name, message_template;
    std::optional<std::string> sender_id;
    std::string status;
    std::optional<std::string> status_reason;
    int total_recipients = 0, suppressed = 0;
    std::string settings = "{}";  ///< JSON object
    std::vector<core::uuid> groups;
    std::optional<std::chrono::system_clock::time_point> scheduled_time, started_at, completed_at,
        expanded_at;
    std::chrono::system_clock::time_point created_at, updated_at;
};

/// Fields to set (absent: unchanged). Values are validated by the caller, except that groups
/// must belong to the tenant.
struct campaign_input {
    std::optional<std::string> name, message_template;
    std::optional<std::optional<std::string>> sender_id;
    std::optional<std::vector<core::uuid>> groups;
    std::optional<std::optional<std::chrono::system_clock::time_point>> scheduled_time;
    std::optional<std::string> settings;
};

result<campaign> create_campaign(db::connection& c, const core::uuid& tenant,
                                 const campaign_input& in);
result<campaign> get_campaign(db::connection& c, const core::uuid& tenant, const core::uuid& id);
result<page<campaign>> list_campaigns(db::connection& c, const core::uuid& tenant,
                                      const std::optional<std::string>& status,
                                      const page_request& p);
/// Edits a draft (wrong_state otherwise).
result<campaign> update_campaign(db::connection& c, const core::uuid& tenant, const core::uuid& id,
                                 const campaign_input& in);

/// draft -> scheduled (scheduled_time ahead) or running. The audience is fixed from here.
result<campaign> start_campaign(db::connection& c, const core::uuid& tenant, const core::uuid& id);
/// running -> paused, with a reason.
result<campaign> pause_campaign(db::connection& c, const core::uuid& tenant, const core::uuid& id,
                                const std::string& reason);
/// paused -> running.
result<campaign> resume_campaign(db::connection& c, const core::uuid& tenant, const core::uuid& id);
/// Any state but completed/cancelled -> cancelled; messages not yet claimed are cancelled.
result<campaign> cancel_campaign(db::connection& c, const core::uuid& tenant, const core::uuid& id);

/// Who a campaign would reach now: recipients, and members left out with the reason.
struct audience_summary {
    int recipients = 0;
    int opted_out = 0, unsubscribed = 0, invalid = 0;
    struct sample {
        core::uuid contact_id;
        std::string phone_number, country_code;
        std::map<std::string, std::string, std::less<>> fields;  ///< first_name, ..., custom.<key>
    };
    std::vector<sample> samples;            ///< the first few recipients
    std::map<std::string, int> by_country;  ///< recipients per region (for the cost estimate)
};
result<audience_summary> campaign_audience(db::connection& c, const core::uuid& tenant,
                                           const std::vector<core::uuid>& groups, int samples);

struct campaign_stats {
    std::map<std::string, int> by_status;
    int queued_total = 0;       ///< in the delivery log so far
    long long cost_so_far = 0;  ///< credits debited minus refunded
    int sent_last_minute = 0;
};
result<campaign_stats> get_campaign_stats(db::connection& c, const core::uuid& tenant,
                                          const core::uuid& id);

// ---- the dispatcher's side ----

/// Starts scheduled campaigns that are due, expands up to `chunk` recipients of each running
/// campaign whose audience is not fully written yet (one node per campaign at a time), and
/// completes campaigns with nothing left to send. The recipients written are claimed in
/// batches of `batch` (claim_batches). Returns the number of messages written.
result<int> advance_campaigns(db::connection& c, int chunk, int batch);

/// Pauses every running campaign of the tenant for lack of credits.
result<void> pause_for_credits(db::connection& c, const core::uuid& tenant,
                               const core::uuid& campaign);
/// Resumes the tenant's campaigns paused for lack of credits (after a top-up).
result<int> resume_after_top_up(db::connection& c, const core::uuid& tenant);

}  // namespace herald::store
