#pragma once
/// Herald's REST API (/v1/...): accounts and access, contacts and groups, CSV imports,
/// billing, audit, and /metrics. Handlers run on the HTTP server's worker threads and talk
/// to PostgreSQL through the pool.

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "db/pool.hpp"
#include "http/router.hpp"
#include "store/messages.hpp"

namespace herald::http {

class metrics;

/// One carrier connection as this node sees it.
struct connector_status {
    std::string name;
    int binds_held = 0, binds_up = 0;
    std::size_t in_flight = 0, queued = 0;
    double tps_now = 0;
    std::uint64_t submitted = 0, errors = 0, reconnects = 0;
    std::string last_error;
};

/// Messages accepted by POST /v1/messages go straight to this node's dispatcher: leased to
/// it in the accepting transaction and handed over once that commits, so that nothing has
/// to claim them (decision 0021).
struct send_handoff {
    store::lease_offer lease;
    std::function<void(std::vector<store::claimed_message>)> take;
};

struct api_options {
    /// How long a dashboard login lasts.
    std::chrono::seconds session_ttl{12 * 3600};
    /// Mark cookies Secure (serve over HTTPS, e.g. behind a TLS proxy).
    bool secure_cookies = false;
    /// Let anyone create a tenant account with POST /v1/signup.
    bool self_signup = false;
    /// Requests per second per API token or session, and per client IP; 0 turns a limit off.
    double rate_per_token = 500, rate_per_ip = 1000;
    /// Failed logins allowed per account and per IP within `login_window`.
    int login_failures_per_account = 5, login_failures_per_ip = 30;
    std::chrono::seconds login_window{900};
    /// Where uploaded CSV files wait for their import.
    std::filesystem::path spool_dir = "var/spool";
    /// Largest CSV upload.
    std::size_t import_max_bytes = std::size_t(512) << 20;
    /// Imports running at once, and threads each uses to check numbers.
    int import_workers = 2, import_threads = 2;
    /// How long an authenticated token or session is trusted without asking the database.
    std::chrono::seconds auth_cache_ttl{5};
    /// Longest message accepted, in segments.
    int max_segments = 10;
    /// Called after messages were queued (wakes the dispatcher).
    std::function<void()> on_queued;
    /// Where single sends go once accepted, when this node runs a dispatcher.
    std::optional<send_handoff> handoff;
    /// This node's view of its carrier connections, for the admin API and /metrics.
    std::function<std::vector<connector_status>()> connector_health;
    std::string version = "0.0.0";
};

class api {
  public:
    api(db::pool& pool, api_options options);
    ~api();
    api(const api&) = delete;
    api& operator=(const api&) = delete;

    /// Registers every endpoint (and /metrics) on the router.
    void register_routes(router& r);
    /// The registry that /metrics renders; the server reports requests into it.
    http::metrics& metrics() noexcept;
    /// Writes pending token last-used times now (also done every few seconds).
    void flush();

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace herald::http
