#pragma once
/// Herald's configuration: one struct with documented defaults. Values come from, in rising
/// precedence: the defaults below, a TOML file (`--config`), `HERALD_*` environment variables,
/// and command-line flags. Every setting is listed once, in config.cpp's settings table, which
/// also renders docs/configuration.md.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace herald::core {

/// Where PostgreSQL lives and how Herald talks to it.
struct database_config {
    /// libpq connection URL. Empty means: run the embedded cluster inside data_dir.
    std::string url;
    /// Connections in Herald's pool (per process).
    int pool_size = 8;
    /// How long to wait for a new connection before giving up.
    std::chrono::milliseconds connect_timeout{5000};
};

/// The embedded PostgreSQL cluster used when database.url is empty.
struct embedded_config {
    /// Folder holding initdb, pg_ctl and postgres. Empty means: find the newest installed.
    std::string bin_dir;
    /// The system user that owns and runs the cluster when Herald runs as root.
    std::string os_user = "postgres";
};

/// The HTTP API and dashboard server.
struct http_config {
    /// Address to listen on. Use 0.0.0.0 to accept connections from other machines.
    std::string listen = "127.0.0.1";
    /// TCP port; 0 picks a free one (printed at start-up).
    std::uint16_t port = 8080;
    /// Worker threads for HTTP; 0 means one per CPU core.
    int threads = 0;
    /// Largest request body accepted, in bytes (CSV imports have their own limit).
    std::size_t body_limit = 1 << 20;
    /// Time allowed to receive a whole request.
    std::chrono::milliseconds read_timeout{30000};
    /// How long an idle keep-alive connection stays open.
    std::chrono::milliseconds idle_timeout{60000};
    /// Write one log line per request.
    bool access_log = true;
};

/// Accounts, sessions and request limits.
struct auth_config {
    /// How long a dashboard login lasts.
    std::chrono::milliseconds session_ttl{12 * 3600 * 1000};
    /// Mark session cookies Secure (when Herald is served over HTTPS).
    bool secure_cookies = false;
    /// Let anyone create a tenant with POST /v1/signup.
    bool self_signup = false;
    /// Requests per second per API token or session; 0 turns the limit off.
    double rate_limit_per_token = 500;
    /// Requests per second per client IP address; 0 turns the limit off.
    double rate_limit_per_ip = 1000;
};

/// CSV contact imports.
struct imports_config {
    /// Largest CSV upload.
    std::size_t max_bytes = std::size_t(512) << 20;
    /// Imports that may run at once on this node.
    int workers = 2;
    /// Threads each import uses to check phone numbers.
    int threads = 2;
};

/// Sending.
struct dispatch_config {
    /// Run the dispatcher (claims and sends queued messages) in this process.
    bool enabled = true;
    /// Longest message accepted, in segments.
    int max_segments = 10;
    /// Messages claimed from the queue at a time.
    int claim_batch = 512;
    /// An SMSC to send to, as host:port. Empty: the built-in simulator. (Until connectors are
    /// managed through the admin API, this is the one carrier connection.)
    std::string smsc;
    std::string smsc_system_id = "herald";
    std::string smsc_password;
    int binds = 1;
    int window = 256;
    /// How long a node holds claimed messages; after a crash they are sent again after this.
    std::chrono::milliseconds lease{60'000};
    /// Seconds added to the clock that quiet hours read, for drills and tests ("it is 22:00
    /// in New York now"). Keep 0 in production.
    int clock_offset = 0;
    /// Nice value of the dispatcher's threads and the built-in simulator's (0 to 19): when
    /// the CPUs are short, accepting messages comes before sending them (decision 0028).
    int nice = 5;
};

/// Status webhooks (signed POSTs to the message's or the account's URL).
struct webhooks_config {
    /// Calls in flight at once on this node.
    int concurrency = 64;
    /// Deadline for one call: connect, send, answer.
    std::chrono::milliseconds timeout{10'000};
    /// Delay before the first retry; it doubles each time, up to retry_max.
    std::chrono::milliseconds retry_base{30'000};
    std::chrono::milliseconds retry_max{3'600'000};
    /// A call still failing this long after the status change is given up.
    std::chrono::milliseconds give_up_after{24 * 3'600'000};
};

/// The SMSC simulator that `herald serve` starts while no connector is configured.
struct simulator_config {
    /// Outcome weights, e.g. "delivered=90,undeliverable=5,expired=3,rejected=2".
    std::string outcomes = "delivered=100";
    /// Forced outcomes by number prefix, e.g. "+4479=rejected,+1555=refuse".
    std::string rules;
    /// Delay between accepting a message and its delivery receipt.
    std::chrono::milliseconds receipt_latency{200};
    /// Port of its HTTP control API on 127.0.0.1 (stats, faults, inbound); 0 is off.
    std::uint16_t control_port = 0;
};

/// Logging.
struct log_config {
    /// One of trace, debug, info, warn, error, off.
    std::string level = "info";
    /// text (human) or json (one object per line).
    std::string format = "text";
};

/// Everything Herald can be configured with.
struct config {
    /// Folder for Herald's state: the embedded cluster, logs, import reports.
    std::filesystem::path data_dir = "var";
    database_config database;
    embedded_config embedded;
    http_config http;
    auth_config auth;
    imports_config imports;
    dispatch_config dispatch;
    webhooks_config webhooks;
    simulator_config simulator;
    log_config log;
};

/// One configurable setting: its dotted key, help, and how to read and write it.
struct setting_info {
    std::string_view key;  ///< dotted TOML key, e.g. "http.port"
    std::string env;       ///< environment variable, e.g. "HERALD_HTTP_PORT"
    std::string_view help;
    std::string default_value;
    bool secret = false;  ///< shown redacted
};

/// Where configuration comes from, in rising precedence after the defaults.
struct config_sources {
    std::optional<std::filesystem::path> file;  ///< TOML file; must exist when given
    /// Environment as NAME=VALUE strings; only HERALD_* entries are read.
    std::vector<std::string> environment;
    /// Values from command-line flags: (key, raw value, flag name for messages).
    struct flag_value {
        std::string key, value, flag;
    };
    std::vector<flag_value> flags;
};

/// Fills and validates a config. Errors name the source (file and line, variable, or flag),
/// the key, and why the value is wrong; `field` holds the key.
result<config> load_config(const config_sources& sources);

/// Checks cross-field rules once everything is loaded.
result<void> validate(const config& c);

/// Every setting, in documentation order.
std::vector<setting_info> list_settings();

/// The effective value of every setting as "key = value" lines, secrets redacted.
std::string describe(const config& c);

/// Parses "250ms", "30s", "5m", "1h" (a bare number means seconds), as config files do.
/// The error message says what was wrong with the text.
result<std::chrono::milliseconds> parse_duration(std::string_view text);

/// The current process environment as NAME=VALUE strings.
std::vector<std::string> process_environment();

}  // namespace herald::core
