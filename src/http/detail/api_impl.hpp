#pragma once
/// Internals shared by the API's handler files: who is calling, guards, audit, and JSON
/// input helpers. Not part of the public interface.

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/uuid.hpp"
#include "db/pool.hpp"
#include "db/transaction.hpp"
#include "http/api.hpp"
#include "http/errc.hpp"
#include "http/json.hpp"
#include "http/limits.hpp"
#include "http/metrics.hpp"
#include "store/audit.hpp"
#include "store/imports.hpp"
#include "store/page.hpp"

namespace herald::http::detail {

using time_point = std::chrono::system_clock::time_point;

/// The authenticated caller.
struct principal {
    core::uuid user_id;
    std::string username;
    std::string role;                     ///< admin or client
    std::optional<core::uuid> tenant_id;  ///< the user's tenant (none for admins)
    std::set<std::string> permissions;    ///< effective: a token's are limited by its user's
    std::string status;                   ///< effective account status
    bool via_session = false;
    std::optional<core::uuid> token_id, session_id;
    std::string csrf_hash;
    /// When the token or session stops being valid (checked even on cached lookups).
    std::optional<time_point> expires_at;
    bool admin() const noexcept { return role == "admin"; }
    bool can(std::string_view p) const {
        return permissions.contains(std::string(p)) || permissions.contains("admin");
    }
};

/// One authorised request: the caller, the tenant it acts on, and audit plumbing.
class send_batcher;

struct call {
    request& req;
    const principal& who;
    std::optional<core::uuid> tenant;  ///< set for tenant endpoints

    /// An audit entry pre-filled with who, for whom, and from where.
    store::audit_entry audit(std::string action, std::string target_type = {},
                             std::string target_id = {},
                             const json& details = json::object()) const;
    const core::uuid& tenant_id() const { return *tenant; }
};

/// What a guarded endpoint needs.
struct guard {
    std::string permission;     ///< required permission ("" = any authenticated caller)
    bool tenant_scoped = true;  ///< acts on a tenant's data (admins name it with X-Tenant-Id)
    bool sends = false;         ///< sends messages: refused for suspended accounts
};

using guarded_handler = std::function<response(call&)>;
/// A guarded handler that answers later through the responder (which may outlive the call).
using guarded_async_handler = std::function<void(call&, responder)>;

struct impl {
    impl(db::pool& p, api_options o);
    ~impl();

    db::pool& pool;
    api_options options;
    http::metrics metrics;
    rate_limits per_token, per_ip;
    failure_window login_by_account, login_by_ip;

    // Authentication cache: credential hash -> principal.
    struct cached {
        principal who;
        std::chrono::steady_clock::time_point until;
    };
    std::shared_mutex cache_mutex;
    std::unordered_map<std::string, cached> auth_cache;
    void forget_cached(const std::function<bool(const principal&)>& pred);

    // Token last-used times, written in batches.
    std::mutex touch_mutex;
    std::unordered_map<core::uuid, time_point> touched;
    std::thread flusher;
    std::condition_variable flusher_wake;
    bool stopping = false;
    void flush_touched();

    // Import jobs.
    struct import_task {
        core::uuid job;
        store::import_options options;
        std::filesystem::path file;
    };
    std::mutex import_mutex;
    std::condition_variable import_wake;
    std::deque<import_task> import_queue;
    std::vector<std::thread> import_workers;
    void enqueue_import(import_task t);

    /// POST /v1/messages without an Idempotency-Key: committed in groups.
    std::unique_ptr<send_batcher> sends;

    /// Wraps a handler with authentication, rate limits, CSRF, permission and tenant checks.
    handler guarded(guard g, guarded_handler fn);
    async_handler guarded_async(guard g, guarded_async_handler fn);
    /// The checks behind guarded(): fills `who` and `tenant`, or returns the refusal.
    std::optional<response> admit(const guard& g, request& req, principal& who,
                                  std::optional<core::uuid>& tenant);
    /// Resolves the caller, or returns the error response to send.
    std::variant<principal, response> authenticate(request& req);
    response login(request& req);
    response logout(request& req);
};

// ---- route registration, one function per resource file ----
void register_auth(impl& api, router& routes);
void register_users(impl& api, router& routes);
void register_contacts(impl& api, router& routes);
void register_imports(impl& api, router& routes);
void register_billing(impl& api, router& routes);
void register_admin(impl& api, router& routes);
void register_audit(impl& api, router& routes);
void register_opt_outs(impl& api, router& routes);
void register_messages(impl& api, router& routes);
void register_campaigns(impl& api, router& routes);
void register_webhooks(impl& api, router& routes);
void register_connectors(impl& api, router& routes);
/// Prometheus text for connector health.
std::string connector_metrics(const std::vector<connector_status>& health);

// ---- helpers ----

/// Runs `fn` on a pooled connection (retrying transient failures) and maps errors to
/// responses.
template <class Fn>
response with_db(impl& api, Fn&& fn);

/// Runs `fn` inside a transaction on `c`; commits when it answers below 400, else rolls back.
template <class Fn>
result<response> in_transaction(db::connection& c, Fn&& fn);

/// Parses the JSON body and rejects fields outside `allowed` (typos should not pass silently).
result<json> body_object(const request& req, std::initializer_list<std::string_view> allowed);

/// Typed access to JSON fields with errors that name the field.
result<std::optional<std::string>> optional_string(const json& j, std::string_view field,
                                                   std::size_t max_chars, bool allow_null = false);
result<std::string> required_string(const json& j, std::string_view field, std::size_t max_chars);
result<std::optional<long long>> optional_integer(const json& j, std::string_view field,
                                                  long long lo, long long hi);
result<std::vector<std::string>> string_list(const json& j, std::string_view field,
                                             std::size_t max_items);
result<std::optional<core::uuid>> optional_uuid(const json& j, std::string_view field);
result<std::vector<core::uuid>> uuid_list(const json& j, std::string_view field,
                                          std::size_t max_items);
/// Quiet hours as {"start": "21:00", "end": "08:00"} (recipient's local time); `field`
/// names it in the error.
result<void> check_quiet_hours(const json& v, const std::string& field);

/// ?limit= (1..1000, default 50), for lists whose cursor is not an id.
result<int> limit_from(const request& req);
/// Paging from ?limit=&after= (limit 1..1000, default 50).
result<store::page_request> page_from(const request& req);
/// A path parameter as a UUID; a malformed id is "not found" (it cannot exist).
result<core::uuid> id_param(const request& req, std::string_view name = "id");
template <class T, class Fn>
json page_json(const store::page<T>& p, Fn&& item);

std::string iso(time_point t);
json iso_or_null(const std::optional<time_point>& t);
json opt(const std::optional<std::string>& s);
json opt(const std::optional<core::uuid>& u);

response created(const json& body);
response no_content();

// ---- template definitions ----

template <class Fn>
response with_db(impl& api, Fn&& fn) {
    auto r = api.pool.run([&](db::connection& c) -> result<response> { return fn(c); });
    if (!r) return error_response(r.error());
    return std::move(*r);
}

template <class Fn>
result<response> in_transaction(db::connection& c, Fn&& fn) {
    auto tx = db::transaction::begin(c);
    if (!tx) return std::unexpected(tx.error());
    result<response> r = fn();
    if (!r || r->status >= 400) return r;  // the transaction rolls back
    if (auto done = tx->commit(); !done) {
        // A lost connection may have taken the COMMIT's answer with it. The pool would run the
        // handler again on a fresh connection and could make the change twice: say so instead.
        if (done.error().transient())
            return fail(http::errc::commit_unknown,
                        "the database connection was lost while this change was being committed, "
                        "so it may or may not have taken effect; look before repeating it");
        return std::unexpected(done.error());
    }
    return r;
}

template <class T, class Fn>
json page_json(const store::page<T>& p, Fn&& item) {
    json items = json::array();
    for (const auto& x : p.items) items.push_back(item(x));
    return {{"data", std::move(items)},
            {"next_cursor", p.next ? json(p.next->str()) : json(nullptr)}};
}

}  // namespace herald::http::detail
