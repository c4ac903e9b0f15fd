#pragma once
/// Outgoing messages: sender IDs, acceptance into the delivery log and the send queue, the
/// dispatcher's claims and outcomes, and receipts. All SQL for sending lives here.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/uuid.hpp"
#include "db/connection.hpp"
#include "store/page.hpp"
#include "store/statement.hpp"

namespace herald::store {

using time_point = std::chrono::system_clock::time_point;

// ---- sender IDs ----

struct sender_id_row {
    std::string sender_id;
    bool is_default = false;
    time_point created_at;
};

/// Checks the form of a sender ID: 1-11 GSM letters, digits, spaces and . - _ & (alphanumeric),
/// or up to 15 digits with an optional leading + (numeric). The error says which rule failed.
result<void> check_sender_id_form(std::string_view sender);

result<std::vector<sender_id_row>> list_sender_ids(db::connection& c, const core::uuid& tenant);
/// Adds (or updates) one; making it the default clears the previous default.
result<sender_id_row> put_sender_id(db::connection& c, const core::uuid& tenant,
                                    const std::string& sender, bool is_default,
                                    const std::optional<core::uuid>& by);
result<void> delete_sender_id(db::connection& c, const core::uuid& tenant,
                              const std::string& sender);
/// The sender to use: `requested` if the tenant may use it, else its default. Errors:
/// sender_not_allowed (named), or no_sender when nothing was asked and there is no default.
/// resolve_sender in two halves, for callers that run several statements at once.
statement sender_statement(const core::uuid& tenant, const std::optional<std::string>& requested);
result<std::string> sender_from(const db::rows& rs, const std::optional<std::string>& requested);
/// A statement that fails (db::errc::expectation_failed, aborting its transaction) unless
/// resolve_sender would give `sender`.
statement sender_is_statement(const core::uuid& tenant, const std::optional<std::string>& requested,
                              const std::string& sender);
result<std::string> resolve_sender(db::connection& c, const core::uuid& tenant,
                                   const std::optional<std::string>& requested);

// ---- messages ----

struct message {
    core::uuid id;
    std::string to, from, body, status, encoding;
    int segments = 1;
    int cost = 0;  ///< credits charged
    std::optional<std::string> error_code, error_message, external_message_id, callback_url;
    std::optional<core::uuid> campaign_id;
    std::optional<time_point> scheduled_at, sent_at, delivered_at;
    time_point created_at, updated_at;
};

struct new_message {
    core::uuid tenant;
    std::string to;    ///< E.164
    std::string from;  ///< an allowed sender
    std::string body;  ///< rendered text
    std::string encoding;
    int segments = 1;
    int cost = 0;
    std::optional<time_point> scheduled_at;  ///< in the future: status scheduled
    std::optional<std::string> callback_url;
    std::optional<int> validity_seconds;
};

/// Writes the delivery log row and its queue entry.
result<message> accept_message(db::connection& c, const new_message& m);
/// accept_message for many at once (one statement); returns them in the same order.
result<std::vector<message>> accept_messages(db::connection& c,
                                             const std::vector<new_message>& batch);
/// Looking a message up comes in two halves, like list_contacts: the statement, and the
/// message read from what it returned (not_found when nothing).
statement get_message_statement(const core::uuid& tenant, const core::uuid& id);
/// The messages with these ids that exist, in id order (for a writer that lost its connection
/// after sending COMMIT and must learn whether it took effect).
result<std::vector<message>> messages_with_ids(db::connection& c,
                                               const std::vector<core::uuid>& ids);
result<message> message_from(const db::rows& rs, const core::uuid& id);

struct message_filter {
    std::optional<std::string> status, to;
    std::optional<core::uuid> campaign_id;
};
result<page<message>> list_messages(db::connection& c, const core::uuid& tenant,
                                    const message_filter& f, const page_request& p);
/// Cancels a scheduled message (conflict otherwise); returns it with its cost to refund.
result<message> cancel_message(db::connection& c, const core::uuid& tenant, const core::uuid& id);

// ---- the dispatcher's side ----

/// A run of a campaign's recipients claimed as one (migration 0011): the campaign, and the
/// highest recipient id in the run.
struct batch_key {
    core::uuid campaign_id, last_id;
    auto operator<=>(const batch_key&) const = default;
};

/// A message claimed for sending.
struct claimed_message {
    core::uuid log_id;
    time_point created_at;
    core::uuid tenant;
    std::string to, from, body;
    std::string
        account_status;  ///< active, suspended, closed; "final:<status>" if no longer sendable
    int attempts = 0;
    int cost = 0;
    bool opted_out = false;
    bool refund_failed = false;  ///< the account's refund_failed_messages setting
    bool charged = false;        ///< its cost has been debited (refunds apply only then)
    std::optional<int> validity_seconds;
    std::optional<core::uuid> campaign_id;
    /// Quiet hours ("21:00", "08:00") of its campaign, else of its account.
    std::optional<std::pair<std::string, std::string>> quiet_hours;
    std::string time_zone;               ///< the contact's own zone, when it has one
    std::optional<double> campaign_tps;  ///< the campaign's settings.tps cap
    /// Claimed with its campaign batch (claim_batches), not through a send queue row.
    std::optional<batch_key> batch;
};

/// A claimed message that must wait (quiet hours, a campaign's TPS cap): it goes back to
/// the queue, uncharged, until `until`.
struct deferral {
    time_point until;  ///< business time (core::now())
    std::string code, message;
};
/// Decides, for each claimed message still sendable, whether it must wait.
using defer_fn = std::function<std::optional<deferral>(const claimed_message&)>;

/// Claims up to `limit` due messages (rounded down to a power of two) under a lease for
/// `owner`, and marks them sending. Campaign messages are marked charged in the queue as
/// well (each one's `charged` says whether it was before): the caller charges them, or
/// puts the flag back, in the same transaction (claim_and_charge does).
result<std::vector<claimed_message>> claim_due(db::connection& c, const std::string& owner,
                                               int limit, std::chrono::seconds lease);

/// claim_due, and in the same transaction one debit per campaign for the campaign messages
/// claimed for the first time. A campaign whose tenant cannot pay is paused with the reason
/// insufficient_credits and its messages go back to the queue (not returned).
/// Messages that `defer` holds back are neither charged nor returned; they go back to the
/// queue until their time, with the reason as their error code.
result<std::vector<claimed_message>> claim_and_charge(db::connection& c, const std::string& owner,
                                                      int limit, std::chrono::seconds lease,
                                                      const defer_fn& defer = {});

/// Claims up to `max_batches` batches of running campaigns under a lease for `owner`, and
/// returns their messages to send now, in one transaction that also applies the gates and
/// charges like claim_and_charge:
/// - messages no longer sendable (account not active, number opted out) are finished as
///   failed here, and not returned;
/// - messages that `defer` holds back move to the send queue until their time, uncharged;
/// - one debit per campaign pays for the rest the first time their batch is claimed (a batch
///   claimed again after its lease ran out was paid for already); a tenant who cannot pay
///   has the campaign paused with the reason insufficient_credits and its batches back.
/// A batch with nothing left to send is deleted. The caller deletes the others with
/// finish_batches once every message returned for them has an outcome.
struct batch_claim {
    std::vector<claimed_message> messages;
    int batches = 0;  ///< batches leased (fewer than asked: no more are claimable now)
};
result<batch_claim> claim_batches(db::connection& c, const std::string& owner, int max_batches,
                                  std::chrono::seconds lease, const defer_fn& defer = {});
/// Deletes batches whose messages all have an outcome (those `owner` still holds).
result<void> finish_batches(db::connection& c, const std::string& owner,
                            const std::vector<batch_key>& done);
statement finish_batches_statement(const std::string& owner, const std::vector<batch_key>& done);

/// The node that accepts messages can take them for sending in the accepting transaction,
/// so that nothing has to claim them (decision 0021): their queue rows are written leased
/// to `owner`, as claim_due would have leased them. Only messages due now, of accounts that
/// are active and have no quiet hours of their own, are taken; the others wait in the
/// queue for a claim. The transaction must hold the send fence (send_fence_statement) from
/// before it reads the opt-out list, so that opt-outs are ordered against an acceptance as
/// against a claim.
struct lease_offer {
    std::string owner;
    std::chrono::seconds lease{120};
};
struct accepted_messages {
    std::vector<message> messages;        ///< all of them, in the batch's order
    std::vector<claimed_message> leased;  ///< those taken, ready for the dispatcher
};
/// accept_messages in two halves, for callers that run several statements at once, with
/// leases when `lease` is given: `ids` (one per message, made by core::uuid_v7 in the
/// batch's order) become the messages' ids.
statement accept_statement(const std::vector<new_message>& batch,
                           const std::vector<core::uuid>& ids, const lease_offer* lease);
accepted_messages accepted_from(const db::rows& rs);
/// Takes the send fence (store/fence.hpp) shared until the transaction ends.
statement send_fence_statement();
/// Gives back leases `owner` holds on queue rows it will not send after all (a node
/// stopping with messages it was handed): they are claimable at once, the attempt uncounted.
result<void> release_leases(db::connection& c, const std::string& owner,
                            const std::vector<core::uuid>& log_ids);

/// What the SMSC said about one claimed message.
struct send_outcome {
    core::uuid log_id;
    time_point created_at;
    core::uuid tenant;
    std::string connector;
    enum class kind { sent, retry, failed, rejected, suppressed } what = kind::sent;
    std::vector<std::string> message_ids;  ///< kind::sent: one per part, as the SMSC gave them
    /// kind::sent: the same ids as the connector's receipts name them (the parts' keys);
    /// message_ids when empty.
    std::vector<std::string> part_keys;
    std::string error_code, error_message;
    std::chrono::seconds retry_after{0};  ///< kind::retry
    /// kind::retry: counts against the attempts (false when nothing was tried, e.g. every
    /// connector of the route is down).
    bool counted = true;
    int refund = 0;  ///< credits to give back (failed, rejected, suppressed)
    /// The message came with its campaign batch: it has no send queue row (a retry makes
    /// one) and its row is still 'queued'.
    std::optional<batch_key> batch;
};
/// Persists a batch of outcomes in one transaction.
result<void> record_outcomes(db::connection& c, const std::vector<send_outcome>& outcomes);
/// record_outcomes in one round trip, as a transaction of its own that also runs `also`
/// before its COMMIT, when every outcome is `sent` (the usual case). False when that does not
/// apply, or when a statement failed (a part recorded already): nothing was written then, and
/// the caller writes the batch with record_outcomes.
result<bool> record_sent_at_once(db::connection& c, const std::vector<send_outcome>& outcomes,
                                 std::vector<statement> also = {});

/// A delivery receipt for one part.
struct part_receipt {
    std::string connector, message_id;  ///< normalised id key
    std::string status;                 ///< delivered, undelivered, expired or rejected
    std::optional<std::string> error_code;
    std::optional<time_point> done_at;
    /// The one-part message it is for, when the node that sent it still knows (its outcome
    /// committed): the part row is then not looked up.
    std::optional<std::pair<core::uuid, time_point>> message;
};
/// Applies a batch of receipts; says for each whether it matched a stored part. A message takes
/// the receipt's status once all its parts have one (delivered only if every part was). A
/// receipt that names its message always matches; if the message is no longer `sent` (a
/// receipt given twice), nothing changes.
result<std::vector<bool>> record_receipts(db::connection& c,
                                          const std::vector<part_receipt>& receipts);

}  // namespace herald::store
