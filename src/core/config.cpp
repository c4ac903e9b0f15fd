#include "core/config.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <charconv>
#include <functional>
#include <sstream>

#include <toml++/toml.h>

#include "core/errc.hpp"
#include "core/redact.hpp"

extern char** environ;

namespace herald::core {
namespace {

constexpr core::error_entry<errc> core_errors[] = {
    {errc::invalid_value, "invalid_value", condition::invalid_input},
    {errc::unknown_key, "unknown_key", condition::invalid_input},
    {errc::unreadable_file, "unreadable_file", condition::invalid_input},
    {errc::syntax_error, "syntax_error", condition::invalid_input},
    {errc::io_failure, "io_failure", condition::internal},
};

/// Sets a field from its raw text; returns an empty string or why the text was refused.
using setter = std::function<std::string(config&, std::string_view)>;
using getter = std::function<std::string(const config&)>;

struct setting {
    std::string_view key;
    std::string_view help;
    setter set;
    getter get;
    bool secret = false;
};

std::string env_name(std::string_view key) {
    std::string out = "HERALD_";
    for (char c : key)
        out.push_back(c == '.' ? '_' : char(std::toupper(static_cast<unsigned char>(c))));
    return out;
}

std::string trim(std::string_view s) {
    auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    auto e = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(b, e - b + 1));
}

template <class Int>
std::string parse_int(std::string_view raw, Int& out, long long lo, long long hi) {
    std::string s = trim(raw);
    long long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size())
        return "expected a whole number, got \"" + std::string(raw) + "\"";
    if (v < lo || v > hi)
        return "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got "
               + std::to_string(v);
    out = static_cast<Int>(v);
    return {};
}

/// "250ms", "30s", "5m", "1h"; a bare number means seconds.
std::string parse_duration(std::string_view raw, std::chrono::milliseconds& out,
                           std::chrono::milliseconds lo, std::chrono::milliseconds hi) {
    std::string s = trim(raw);
    std::size_t digits = 0;
    while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
    if (digits == 0)
        return "expected a duration such as 250ms, 30s, 5m or 1h, got \"" + std::string(raw) + "\"";
    long long n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + digits, n);
    if (ec != std::errc()) return "duration \"" + std::string(raw) + "\" is too large";
    std::string unit = trim(std::string_view(s).substr(digits));
    long long ms_per_unit = 0;
    if (unit == "ms")
        ms_per_unit = 1;
    else if (unit.empty() || unit == "s")
        ms_per_unit = 1000;
    else if (unit == "m" || unit == "min")
        ms_per_unit = 60'000;
    else if (unit == "h")
        ms_per_unit = 3'600'000;
    else
        return "unknown duration unit \"" + unit + "\" (use ms, s, m or h)";
    if (n > hi.count() / ms_per_unit + 1)
        return "duration \"" + std::string(raw) + "\" is too large";
    std::chrono::milliseconds v(n * ms_per_unit);
    if (v < lo || v > hi)
        return "must be between " + std::to_string(lo.count()) + "ms and "
               + std::to_string(hi.count()) + "ms, got \"" + std::string(raw) + "\"";
    out = v;
    return {};
}

/// "1048576", "512KiB", "1MiB", "10MB" (decimal) or "2GiB".
std::string parse_size(std::string_view raw, std::size_t& out, std::size_t lo, std::size_t hi) {
    std::string s = trim(raw);
    std::size_t digits = 0;
    while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
    if (digits == 0)
        return "expected a size such as 65536, 512KiB or 1MiB, got \"" + std::string(raw) + "\"";
    unsigned long long n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + digits, n);
    if (ec != std::errc()) return "size \"" + std::string(raw) + "\" is too large";
    std::string unit = trim(std::string_view(s).substr(digits));
    std::transform(unit.begin(), unit.end(), unit.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    unsigned long long mult = 0;
    if (unit.empty() || unit == "b")
        mult = 1;
    else if (unit == "kb")
        mult = 1000;
    else if (unit == "kib" || unit == "k")
        mult = 1024;
    else if (unit == "mb")
        mult = 1000 * 1000;
    else if (unit == "mib" || unit == "m")
        mult = 1024 * 1024;
    else if (unit == "gb")
        mult = 1000ULL * 1000 * 1000;
    else if (unit == "gib" || unit == "g")
        mult = 1024ULL * 1024 * 1024;
    else
        return "unknown size unit \"" + unit + "\" (use B, KiB, MiB, GiB, KB, MB or GB)";
    if (n > hi / mult + 1) return "size \"" + std::string(raw) + "\" is too large";
    unsigned long long v = n * mult;
    if (v < lo || v > hi)
        return "must be between " + std::to_string(lo) + " and " + std::to_string(hi)
               + " bytes, got \"" + std::string(raw) + "\"";
    out = v;
    return {};
}

template <class Access>
setting int_setting(std::string_view key, std::string_view help, Access access, long long lo,
                    long long hi) {
    return {key, help,
            [=](config& c, std::string_view raw) { return parse_int(raw, access(c), lo, hi); },
            [=](const config& c) { return std::to_string(access(const_cast<config&>(c))); }};
}

template <class Access>
setting duration_setting(std::string_view key, std::string_view help, Access access,
                         std::chrono::milliseconds lo, std::chrono::milliseconds hi) {
    return {key, help,
            [=](config& c, std::string_view raw) { return parse_duration(raw, access(c), lo, hi); },
            [=](const config& c) {
                auto ms = access(const_cast<config&>(c)).count();
                return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
            }};
}

template <class Access>
setting size_setting(std::string_view key, std::string_view help, Access access, std::size_t lo,
                     std::size_t hi) {
    return {key, help,
            [=](config& c, std::string_view raw) { return parse_size(raw, access(c), lo, hi); },
            [=](const config& c) { return std::to_string(access(const_cast<config&>(c))); }};
}

std::string parse_bool(std::string_view raw, bool& out) {
    std::string s = trim(raw);
    for (auto& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    if (s == "true" || s == "yes" || s == "on" || s == "1") return out = true, std::string();
    if (s == "false" || s == "no" || s == "off" || s == "0") return out = false, std::string();
    return "expected true or false, got \"" + std::string(raw) + "\"";
}

std::string parse_number(std::string_view raw, double& out, double lo, double hi) {
    std::string s = trim(raw);
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size())
        return "expected a number, got \"" + std::string(raw) + "\"";
    if (v < lo || v > hi)
        return "must be between " + std::to_string(int(lo)) + " and " + std::to_string(int(hi));
    out = v;
    return {};
}

template <class Access>
setting bool_setting(std::string_view key, std::string_view help, Access access) {
    return {key, help, [=](config& c, std::string_view raw) { return parse_bool(raw, access(c)); },
            [=](const config& c) {
                return std::string(access(const_cast<config&>(c)) ? "true" : "false");
            }};
}

template <class Access>
setting number_setting(std::string_view key, std::string_view help, Access access, double lo,
                       double hi) {
    return {key, help,
            [=](config& c, std::string_view raw) { return parse_number(raw, access(c), lo, hi); },
            [=](const config& c) {
                std::ostringstream os;
                os << access(const_cast<config&>(c));
                return os.str();
            }};
}

template <class Access>
setting string_setting(std::string_view key, std::string_view help, Access access,
                       std::function<std::string(std::string_view)> check = {},
                       bool secret = false) {
    return {key, help,
            [=](config& c, std::string_view raw) {
                if (check)
                    if (auto why = check(raw); !why.empty()) return why;
                access(c) = std::string(raw);
                return std::string();
            },
            [=](const config& c) { return std::string(access(const_cast<config&>(c))); }, secret};
}

std::function<std::string(std::string_view)> one_of(std::vector<std::string> allowed) {
    return [allowed = std::move(allowed)](std::string_view raw) -> std::string {
        if (std::find(allowed.begin(), allowed.end(), raw) != allowed.end()) return {};
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        return "must be one of " + list + ", got \"" + std::string(raw) + "\"";
    };
}

std::string host_port_check(std::string_view raw) {
    if (raw.empty()) return {};
    auto colon = raw.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
        return "must be host:port, got \"" + std::string(raw) + "\"";
    int port = 0;
    auto digits = raw.substr(colon + 1);
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc() || p != digits.data() + digits.size() || port < 1 || port > 65535)
        return "the port in \"" + std::string(raw) + "\" must be 1 to 65535";
    return {};
}

std::string not_empty(std::string_view raw) {
    return trim(raw).empty() ? "must not be empty" : "";
}

std::string ip_address_check(std::string_view raw) {
    std::string s(raw);
    unsigned char buf[sizeof(in6_addr)];
    if (inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1)
        return {};
    return "expected an IP address such as 127.0.0.1, 0.0.0.0 or ::, got \"" + s + "\"";
}

std::string database_url_check(std::string_view raw) {
    if (raw.empty()) return {};
    if (raw.starts_with("postgres://") || raw.starts_with("postgresql://")) return {};
    if (raw.find('=') != std::string_view::npos) return {};  // libpq keyword=value form
    return "expected a postgresql:// URL or libpq key=value string";
}

const std::vector<setting>& settings() {
    static const std::vector<setting> table = [] {
        std::vector<setting> t;
        t.push_back({"data_dir",
                     "Folder for Herald's state: the embedded cluster, logs and reports.",
                     [](config& c, std::string_view raw) {
                         if (auto why = not_empty(raw); !why.empty()) return why;
                         c.data_dir = std::filesystem::path(std::string(raw));
                         return std::string();
                     },
                     [](const config& c) { return c.data_dir.string(); }});

        t.push_back(string_setting(
            "database.url", "PostgreSQL URL. Empty runs the embedded cluster in data_dir.",
            [](config& c) -> std::string& { return c.database.url; }, database_url_check, true));
        t.push_back(int_setting(
            "database.pool_size",
            "Database connections per Herald process (the HTTP threads hold one more each, and the "
            "group commit of sends one).",
            [](config& c) -> int& { return c.database.pool_size; }, 1, 500));
        t.push_back(duration_setting(
            "database.connect_timeout", "How long to wait for a database connection.",
            [](config& c) -> std::chrono::milliseconds& { return c.database.connect_timeout; },
            std::chrono::milliseconds(100), std::chrono::minutes(10)));
        t.push_back(string_setting(
            "embedded.bin_dir",
            "Folder with initdb, pg_ctl and postgres. Empty finds the newest installed.",
            [](config& c) -> std::string& { return c.embedded.bin_dir; }));
        t.push_back(string_setting(
            "embedded.os_user", "System user that runs the embedded cluster when Herald is root.",
            [](config& c) -> std::string& { return c.embedded.os_user; }, not_empty));
        t.push_back(string_setting(
            "http.listen", "Address the HTTP server listens on.",
            [](config& c) -> std::string& { return c.http.listen; }, ip_address_check));
        t.push_back(int_setting(
            "http.port", "HTTP port; 0 picks a free one.",
            [](config& c) -> std::uint16_t& { return c.http.port; }, 0, 65535));
        t.push_back(int_setting(
            "http.threads",
            "Threads that serve HTTP connections and run their requests; 0 is two per CPU core, "
            "at most database.pool_size. Each holds one more database connection, for "
            "pipelined reads.",
            [](config& c) -> int& { return c.http.threads; }, 0, 256));
        t.push_back(size_setting(
            "http.body_limit", "Largest request body accepted.",
            [](config& c) -> std::size_t& { return c.http.body_limit; }, 1024,
            std::size_t(1) << 30));
        t.push_back(duration_setting(
            "http.read_timeout", "Time allowed to receive a whole request.",
            [](config& c) -> std::chrono::milliseconds& { return c.http.read_timeout; },
            std::chrono::milliseconds(100), std::chrono::hours(1)));
        t.push_back(duration_setting(
            "http.idle_timeout", "How long an idle keep-alive connection stays open.",
            [](config& c) -> std::chrono::milliseconds& { return c.http.idle_timeout; },
            std::chrono::milliseconds(100), std::chrono::hours(1)));
        t.push_back(bool_setting("http.access_log", "Write one log line per HTTP request.",
                                 [](config& c) -> bool& { return c.http.access_log; }));
        t.push_back(duration_setting(
            "auth.session_ttl", "How long a dashboard login lasts.",
            [](config& c) -> std::chrono::milliseconds& { return c.auth.session_ttl; },
            std::chrono::minutes(5), std::chrono::hours(24 * 90)));
        t.push_back(bool_setting("auth.secure_cookies",
                                 "Mark session cookies Secure (serve over HTTPS).",
                                 [](config& c) -> bool& { return c.auth.secure_cookies; }));
        t.push_back(bool_setting("auth.self_signup",
                                 "Let anyone create a tenant account with POST /v1/signup.",
                                 [](config& c) -> bool& { return c.auth.self_signup; }));
        t.push_back(number_setting(
            "auth.rate_limit_per_token", "Requests per second per API token or session; 0 is off.",
            [](config& c) -> double& { return c.auth.rate_limit_per_token; }, 0, 1e7));
        t.push_back(number_setting(
            "auth.rate_limit_per_ip", "Requests per second per client IP; 0 is off.",
            [](config& c) -> double& { return c.auth.rate_limit_per_ip; }, 0, 1e7));
        t.push_back(size_setting(
            "imports.max_bytes", "Largest CSV upload.",
            [](config& c) -> std::size_t& { return c.imports.max_bytes; }, 1024,
            std::size_t(16) << 30));
        t.push_back(int_setting(
            "imports.workers", "Contact imports that may run at once on this node.",
            [](config& c) -> int& { return c.imports.workers; }, 1, 32));
        t.push_back(int_setting(
            "imports.threads", "Threads each import uses to check phone numbers.",
            [](config& c) -> int& { return c.imports.threads; }, 1, 64));
        t.push_back(bool_setting("dispatch.enabled",
                                 "Run the dispatcher (sends queued messages) in this process.",
                                 [](config& c) -> bool& { return c.dispatch.enabled; }));
        t.push_back(int_setting(
            "dispatch.max_segments", "Longest message accepted, in segments.",
            [](config& c) -> int& { return c.dispatch.max_segments; }, 1, 255));
        t.push_back(int_setting(
            "dispatch.claim_batch",
            "Most messages claimed from the send queue at a time (rounded down to a power of two).",
            [](config& c) -> int& { return c.dispatch.claim_batch; }, 1, 10000));
        t.push_back(string_setting(
            "dispatch.smsc", "SMSC to send to as host:port; empty starts the built-in simulator.",
            [](config& c) -> std::string& { return c.dispatch.smsc; }, host_port_check));
        t.push_back(
            string_setting("dispatch.smsc_system_id", "SMPP system_id for dispatch.smsc.",
                           [](config& c) -> std::string& { return c.dispatch.smsc_system_id; }));
        t.push_back(string_setting(
            "dispatch.smsc_password", "SMPP password for dispatch.smsc.",
            [](config& c) -> std::string& { return c.dispatch.smsc_password; }, nullptr, true));
        t.push_back(int_setting(
            "dispatch.binds", "SMPP binds to hold to the SMSC.",
            [](config& c) -> int& { return c.dispatch.binds; }, 1, 64));
        t.push_back(int_setting(
            "dispatch.window", "SMPP requests in flight per bind.",
            [](config& c) -> int& { return c.dispatch.window; }, 1, 10000));
        t.push_back(duration_setting(
            "dispatch.lease",
            "How long a node holds the messages it claimed (after a crash, until they are "
            "retried).",
            [](config& c) -> std::chrono::milliseconds& { return c.dispatch.lease; },
            std::chrono::seconds(2), std::chrono::hours(1)));
        t.push_back(int_setting(
            "dispatch.clock_offset",
            "Seconds added to the clock that quiet hours read, for drills and tests; keep 0 in "
            "production.",
            [](config& c) -> int& { return c.dispatch.clock_offset; }, -7 * 86400, 7 * 86400));
        t.push_back(int_setting(
            "dispatch.nice",
            "Nice value (0-19) of the dispatcher's threads and the built-in simulator's: when "
            "the CPUs are short, accepting messages comes before sending them.",
            [](config& c) -> int& { return c.dispatch.nice; }, 0, 19));
        t.push_back(int_setting(
            "webhooks.concurrency", "Webhook calls in flight at once on this node.",
            [](config& c) -> int& { return c.webhooks.concurrency; }, 1, 10000));
        t.push_back(duration_setting(
            "webhooks.timeout", "Deadline for one webhook call (connect, send, answer).",
            [](config& c) -> std::chrono::milliseconds& { return c.webhooks.timeout; },
            std::chrono::milliseconds(100), std::chrono::minutes(2)));
        t.push_back(duration_setting(
            "webhooks.retry_base",
            "Delay before a failed webhook call's first retry; doubles each time.",
            [](config& c) -> std::chrono::milliseconds& { return c.webhooks.retry_base; },
            std::chrono::seconds(1), std::chrono::hours(1)));
        t.push_back(duration_setting(
            "webhooks.retry_max", "Longest delay between two retries of a webhook call.",
            [](config& c) -> std::chrono::milliseconds& { return c.webhooks.retry_max; },
            std::chrono::seconds(1), std::chrono::hours(24)));
        t.push_back(duration_setting(
            "webhooks.give_up_after",
            "A webhook call still failing this long after the status change is given up.",
            [](config& c) -> std::chrono::milliseconds& { return c.webhooks.give_up_after; },
            std::chrono::seconds(10), std::chrono::hours(24 * 7)));
        t.push_back(string_setting(
            "simulator.outcomes",
            "Built-in SMSC simulator: outcome weights (delivered=90,undeliverable=10).",
            [](config& c) -> std::string& { return c.simulator.outcomes; }));
        t.push_back(string_setting(
            "simulator.rules",
            "Built-in simulator: outcomes forced by number prefix (+4479=rejected,...).",
            [](config& c) -> std::string& { return c.simulator.rules; }));
        t.push_back(duration_setting(
            "simulator.receipt_latency", "Built-in simulator: delay before each delivery receipt.",
            [](config& c) -> std::chrono::milliseconds& { return c.simulator.receipt_latency; },
            std::chrono::milliseconds(0), std::chrono::hours(24)));
        t.push_back(int_setting(
            "simulator.control_port",
            "Built-in simulator: HTTP control API port on 127.0.0.1; 0 is off.",
            [](config& c) -> std::uint16_t& { return c.simulator.control_port; }, 0, 65535));
        t.push_back(string_setting(
            "log.level", "trace, debug, info, warn, error or off.",
            [](config& c) -> std::string& { return c.log.level; },
            one_of({"trace", "debug", "info", "warn", "error", "off"})));
        t.push_back(string_setting(
            "log.format", "text or json.", [](config& c) -> std::string& { return c.log.format; },
            one_of({"text", "json"})));
        return t;
    }();
    return table;
}

const setting* find_setting(std::string_view key) {
    for (const auto& s : settings())
        if (s.key == key) return &s;
    return nullptr;
}

/// Turns a TOML leaf into the same text an environment variable would carry.
std::optional<std::string> scalar_text(const toml::node& node) {
    if (auto v = node.as_string()) return v->get();
    if (auto v = node.as_integer()) return std::to_string(v->get());
    if (auto v = node.as_boolean()) return v->get() ? "true" : "false";
    if (auto v = node.as_floating_point()) {
        std::ostringstream os;
        os << v->get();
        return os.str();
    }
    return std::nullopt;
}

result<void> apply_toml(config& c, const toml::table& table, const std::string& prefix,
                        const std::string& file) {
    for (const auto& [k, node] : table) {
        std::string key =
            prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
        auto where = file + ":" + std::to_string(node.source().begin.line);
        if (auto sub = node.as_table()) {
            if (auto r = apply_toml(c, *sub, key, file); !r) return r;
            continue;
        }
        const setting* s = find_setting(key);
        if (!s) return fail(errc::unknown_key, where + ": unknown setting \"" + key + "\"", key);
        auto text = scalar_text(node);
        if (!text)
            return fail(errc::invalid_value, where + ": " + key + ": expected a single value", key);
        if (auto why = s->set(c, *text); !why.empty())
            return fail(errc::invalid_value, where + ": " + key + ": " + why, key);
    }
    return {};
}

}  // namespace

const std::error_category& core_category() noexcept {
    static const table_category<errc, core_errors> instance("herald.core");
    return instance;
}

result<config> load_config(const config_sources& sources) {
    config c;
    if (sources.file) {
        const std::string file = sources.file->string();
        std::error_code ec;
        if (!std::filesystem::is_regular_file(*sources.file, ec))
            return fail(errc::unreadable_file,
                        "config file " + file + " does not exist or is not a file", "config");
        toml::table parsed;
        try {
            parsed = toml::parse_file(file);  // Debian builds toml++ with exceptions on
        } catch (const toml::parse_error& err) {
            return fail(errc::syntax_error,
                        file + ":" + std::to_string(err.source().begin.line) + ": "
                            + std::string(err.description()),
                        "config");
        }
        if (auto r = apply_toml(c, parsed, "", file); !r) return std::unexpected(r.error());
    }
    for (const auto& entry : sources.environment) {
        auto eq = entry.find('=');
        if (eq == std::string::npos || !entry.starts_with("HERALD_")) continue;
        std::string name = entry.substr(0, eq), value = entry.substr(eq + 1);
        for (const auto& s : settings()) {
            if (env_name(s.key) != name) continue;
            if (auto why = s.set(c, value); !why.empty())
                return fail(errc::invalid_value, "environment " + name + ": " + why,
                            std::string(s.key));
        }
    }
    for (const auto& f : sources.flags) {
        const setting* s = find_setting(f.key);
        if (!s) return fail(errc::unknown_key, "unknown setting \"" + f.key + "\"", f.key);
        if (auto why = s->set(c, f.value); !why.empty())
            return fail(errc::invalid_value, f.flag + ": " + why, f.key);
    }
    if (auto r = validate(c); !r) return std::unexpected(r.error());
    return c;
}

result<std::chrono::milliseconds> parse_duration(std::string_view text) {
    std::chrono::milliseconds out{};
    if (auto why =
            parse_duration(text, out, std::chrono::milliseconds(0), std::chrono::hours(24 * 365));
        !why.empty())
        return fail(errc::invalid_value, why);
    return out;
}

result<void> validate(const config& c) {
    if (c.data_dir.empty())
        return fail(errc::invalid_value, "data_dir: must not be empty", "data_dir");
    return {};
}

std::vector<setting_info> list_settings() {
    std::vector<setting_info> out;
    const config defaults;
    for (const auto& s : settings())
        out.push_back({s.key, env_name(s.key), s.help, s.get(defaults), s.secret});
    return out;
}

std::string describe(const config& c) {
    std::string out;
    for (const auto& s : settings()) {
        std::string v = s.get(c);
        if (s.secret && !v.empty()) v = redact_connection_string(v);
        out += std::string(s.key) + " = \"" + v + "\"\n";
    }
    return out;
}

std::vector<std::string> process_environment() {
    std::vector<std::string> out;
    for (char** e = environ; e && *e; ++e) out.emplace_back(*e);
    return out;
}

}  // namespace herald::core
