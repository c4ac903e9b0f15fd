// The API's plumbing: authentication, guards, rate limits, audit entries, input helpers,
// background work (token last-used batching, import workers), and /metrics.

#include <charconv>

#include <spdlog/spdlog.h>

#include "core/errc.hpp"
#include "core/hash.hpp"
#include "core/thread.hpp"
#include "db/param.hpp"
#include "http/detail/api_impl.hpp"
#include "http/detail/send_batcher.hpp"
#include "http/errc.hpp"
#include "phone/quiet_hours.hpp"
#include "store/accounts.hpp"
#include "store/billing.hpp"
#include "store/errc.hpp"
#include "store/tokens.hpp"

namespace herald::http::detail {
namespace {

std::string_view cookie_value(const request& req, std::string_view name) {
    std::string_view header = req.header("cookie");
    while (!header.empty()) {
        auto semi = header.find(';');
        std::string_view part = header.substr(0, semi);
        while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
        if (part.size() > name.size() && part.substr(0, name.size()) == name
            && part[name.size()] == '=')
            return part.substr(name.size() + 1);
        if (semi == std::string_view::npos) break;
        header.remove_prefix(semi + 1);
    }
    return {};
}

bool is_mutating(std::string_view method) {
    return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

response too_many(std::chrono::seconds retry, std::string message) {
    auto r = error_response(429, "rate_limited", message);
    r.set("retry-after", std::to_string(retry.count()));
    return r;
}

}  // namespace

// ---- construction and background work ----

impl::impl(db::pool& p, api_options o)
    : pool(p),
      options(std::move(o)),
      per_token(options.rate_per_token, options.rate_per_token * 2),
      per_ip(options.rate_per_ip, options.rate_per_ip * 2),
      login_by_account(options.login_failures_per_account, options.login_window),
      login_by_ip(options.login_failures_per_ip, options.login_window),
      sends(std::make_unique<send_batcher>(pool, options.on_queued, options.handoff)) {
    flusher = core::named_thread("http-touches", [this] {
        std::unique_lock lock(touch_mutex);
        while (!stopping) {
            flusher_wake.wait_for(lock, std::chrono::seconds(5), [this] { return stopping; });
            lock.unlock();
            flush_touched();
            lock.lock();
        }
    });
    for (int i = 0; i < std::max(1, options.import_workers); ++i)
        import_workers.push_back(core::named_thread("imports", [this] {
            for (;;) {
                import_task t;
                {
                    std::unique_lock lock(import_mutex);
                    import_wake.wait(lock, [this] { return stopping || !import_queue.empty(); });
                    if (import_queue.empty()) return;
                    t = std::move(import_queue.front());
                    import_queue.pop_front();
                }
                auto r = store::run_import(pool, t.job, t.options, t.file, options.import_threads);
                if (!r)
                    spdlog::error("import {}: {}", t.job.str(), r.error().message);
                else
                    spdlog::info("import {} {}: {} read, {} imported, {} updated, {} rejected",
                                 t.job.str(), r->status, r->rows_read, r->imported, r->updated,
                                 r->rejected);
                std::error_code ec;
                std::filesystem::remove(t.file, ec);
            }
        }));
}

impl::~impl() {
    {
        std::lock_guard a(touch_mutex);
        std::lock_guard b(import_mutex);
        stopping = true;
    }
    flusher_wake.notify_all();
    import_wake.notify_all();
    flusher.join();
    for (auto& t : import_workers) t.join();
    flush_touched();
}

void impl::flush_touched() {
    std::vector<std::pair<core::uuid, time_point>> uses;
    {
        std::lock_guard lock(touch_mutex);
        for (auto& [id, t] : touched) uses.emplace_back(id, t);
        touched.clear();
    }
    if (uses.empty()) return;
    auto r = pool.run([&](db::connection& c) { return store::touch_tokens(c, uses); });
    if (!r) spdlog::warn("could not record token use: {}", r.error().message);
}

void impl::enqueue_import(import_task t) {
    {
        std::lock_guard lock(import_mutex);
        import_queue.push_back(std::move(t));
    }
    import_wake.notify_one();
}

void impl::forget_cached(const std::function<bool(const principal&)>& pred) {
    std::unique_lock lock(cache_mutex);
    std::erase_if(auth_cache, [&](const auto& kv) { return pred(kv.second.who); });
}

// ---- authentication ----

std::variant<principal, response> impl::authenticate(request& req) {
    std::string_view auth = req.header("authorization");
    std::string secret;
    bool via_session = false;
    if (!auth.empty()) {
        if (auth.size() < 8 || !(auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer "))
            return error_response(401, "unauthenticated", "use \"Authorization: Bearer <token>\"");
        secret = std::string(auth.substr(7));
    } else if (auto cookie = cookie_value(req, "herald_session"); !cookie.empty()) {
        secret = std::string(cookie);
        via_session = true;
    } else {
        return error_response(401, "unauthenticated",
                              "sign in, or send an API token as \"Authorization: Bearer <token>\"");
    }
    const std::string key = (via_session ? "s:" : "t:") + core::sha256_hex(secret);
    const auto now = std::chrono::steady_clock::now();
    {
        std::shared_lock lock(cache_mutex);
        if (auto it = auth_cache.find(key);
            it != auth_cache.end() && it->second.until > now
            && (!it->second.who.expires_at
                || *it->second.who.expires_at > std::chrono::system_clock::now())) {
            principal who = it->second.who;
            if (who.token_id) {
                std::lock_guard t(touch_mutex);
                touched[*who.token_id] = std::chrono::system_clock::now();
            }
            return who;
        }
    }
    auto resolved = pool.run([&](db::connection& c) -> result<principal> {
        principal who;
        std::set<std::string> token_perms;
        bool limit_to_token = false;
        core::uuid user_id;
        if (via_session) {
            auto s = store::find_session(c, secret);
            if (!s) return std::unexpected(s.error());
            user_id = s->user_id;
            who.via_session = true;
            who.session_id = s->session_id;
            who.csrf_hash = s->csrf_hash;
            who.expires_at = s->expires_at;
        } else {
            auto t = store::find_token(c, secret);
            if (!t) return std::unexpected(t.error());
            if (t->status != "active")
                return fail(store::errc::invalid_credentials, "the API token was revoked");
            if (!t->usable(std::chrono::system_clock::now()))
                return fail(store::errc::invalid_credentials, "the API token has expired");
            user_id = t->user_id;
            who.token_id = t->id;
            who.expires_at = t->expires_at;
            token_perms.insert(t->permissions.begin(), t->permissions.end());
            limit_to_token = true;
        }
        auto u = store::get_user(c, user_id);
        if (!u) return std::unexpected(u.error());
        auto perms = store::permissions_of(c, *u);
        if (!perms) return std::unexpected(perms.error());
        auto status = store::effective_status(c, *u);
        if (!status) return std::unexpected(status.error());
        who.user_id = u->id;
        who.username = u->username;
        who.role = u->role;
        who.tenant_id = u->tenant_id;
        who.status = *status;
        // A token carries at most what its user may do today.
        if (limit_to_token && !token_perms.empty()) {
            for (const auto& p : *perms)
                if (token_perms.contains(p)) who.permissions.insert(p);
        } else {
            who.permissions = std::move(*perms);
        }
        return who;
    });
    if (!resolved) {
        if (resolved.error().is(condition::unauthenticated)
            || resolved.error().is(condition::not_found))
            return error_response(401, "unauthenticated", resolved.error().message);
        return error_response(resolved.error());
    }
    if (resolved->status == "closed")
        return error_response(401, "account_closed", "this account is closed");
    {
        std::unique_lock lock(cache_mutex);
        if (auth_cache.size() > 50'000) auth_cache.clear();
        auth_cache[key] = {*resolved, now + options.auth_cache_ttl};
    }
    if (resolved->token_id) {
        std::lock_guard t(touch_mutex);
        touched[*resolved->token_id] = std::chrono::system_clock::now();
    }
    return *resolved;
}

std::optional<response> impl::admit(const guard& g, request& req, principal& who,
                                    std::optional<core::uuid>& tenant) {
    std::chrono::seconds retry{};
    if (!per_ip.allow(req.remote_ip, &retry))
        return too_many(retry, "too many requests from " + req.remote_ip + "; slow down");
    auto who_or = authenticate(req);
    if (auto* r = std::get_if<response>(&who_or)) return std::move(*r);
    who = std::move(std::get<principal>(who_or));
    const std::string bucket = who.token_id     ? who.token_id->str()
                               : who.session_id ? who.session_id->str()
                                                : "";
    if (!per_token.allow(bucket, &retry))
        return too_many(retry, "too many requests for this token; the limit is "
                                   + std::to_string(int(options.rate_per_token)) + " per second");
    if (who.via_session && is_mutating(req.method)) {
        std::string_view csrf = req.header("x-csrf-token");
        if (csrf.empty() || !core::constant_time_equal(core::sha256_hex(csrf), who.csrf_hash))
            return error_response(403, "csrf_failed",
                                  "send the CSRF token from sign-in in the X-CSRF-Token header");
    }
    if (!g.permission.empty() && !who.can(g.permission))
        return error_response(403, "forbidden", "this needs the " + g.permission + " permission");
    if (g.sends && who.status != "active")
        return error_response(403, "account_suspended",
                              "the account is " + who.status + "; it cannot send");
    if (!g.tenant_scoped) return std::nullopt;
    if (!who.admin()) {
        tenant = who.tenant_id;
        return std::nullopt;
    }
    std::string_view t = req.header("x-tenant-id");
    auto id = core::uuid::parse(t);
    if (t.empty() || !id)
        return error_response(400, "tenant_required",
                              "as an admin, name the tenant to act on in the X-Tenant-Id header",
                              "X-Tenant-Id");
    auto exists = pool.run([&](db::connection& conn) { return store::balance(conn, *id); });
    if (!exists) return error_response(404, "not_found", "no tenant " + id->str(), "X-Tenant-Id");
    tenant = *id;
    return std::nullopt;
}

handler impl::guarded(guard g, guarded_handler fn) {
    return [this, g = std::move(g), fn = std::move(fn)](request& req) -> response {
        principal who;
        std::optional<core::uuid> tenant;
        if (auto refused = admit(g, req, who, tenant)) return std::move(*refused);
        call c{req, who, tenant};
        return fn(c);
    };
}

async_handler impl::guarded_async(guard g, guarded_async_handler fn) {
    return [this, g = std::move(g), fn = std::move(fn)](request& req, responder done) {
        principal who;
        std::optional<core::uuid> tenant;
        if (auto refused = admit(g, req, who, tenant)) return done(std::move(*refused));
        call c{req, who, tenant};
        fn(c, std::move(done));
    };
}

store::audit_entry call::audit(std::string action, std::string target_type, std::string target_id,
                               const json& details) const {
    store::audit_entry e;
    e.user_id = who.user_id;
    e.tenant_id = tenant ? tenant : who.tenant_id;
    e.action = std::move(action);
    e.details = details.dump();
    e.ip_address = req.remote_ip;
    e.user_agent = std::string(req.header("user-agent"));
    e.target_type = std::move(target_type);
    e.target_id = std::move(target_id);
    return e;
}

// ---- input helpers ----

namespace {

std::size_t characters(std::string_view s) {
    std::size_t n = 0;
    for (char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
    return n;
}

std::unexpected<error> bad(std::string_view field, std::string message) {
    return fail(core::errc::invalid_value, std::move(message), std::string(field));
}

}  // namespace

result<json> body_object(const request& req, std::initializer_list<std::string_view> allowed) {
    auto j = parse_json_object(req);
    if (!j) return j;
    for (const auto& [k, v] : j->items()) {
        (void)v;
        if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
            std::string list;
            for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
            return bad(k, "unknown field \"" + k + "\" (expected " + list + ")");
        }
    }
    return j;
}

result<std::optional<std::string>> optional_string(const json& j, std::string_view field,
                                                   std::size_t max_chars, bool allow_null) {
    auto it = j.find(field);
    if (it == j.end()) return std::optional<std::string>();
    if (it->is_null()) {
        if (allow_null) return std::optional<std::string>();
        return bad(field, std::string(field) + " must be a string, not null");
    }
    if (!it->is_string()) return bad(field, std::string(field) + " must be a string");
    std::string s = it->get<std::string>();
    if (characters(s) > max_chars)
        return bad(field, std::string(field) + " is longer than " + std::to_string(max_chars)
                              + " characters");
    return std::optional<std::string>(std::move(s));
}

result<void> check_quiet_hours(const json& v, const std::string& field) {
    const std::string shape =
        " must be {\"start\": \"21:00\", \"end\": \"08:00\"} (the recipient's local time)";
    if (!v.is_object()) return bad(field, field + shape);
    for (const auto& [k, x] : v.items())
        if (k != "start" && k != "end")
            return bad(field + "." + k, "unknown field \"" + k + "\" in " + field + shape);
    if (!v.contains("start") || !v.contains("end") || !v["start"].is_string()
        || !v["end"].is_string())
        return bad(field, field + shape);
    auto q = phone::parse_quiet_hours(v["start"].get<std::string>(), v["end"].get<std::string>());
    if (!q) return bad(field + "." + q.error().field, q.error().message);
    return {};
}

result<std::string> required_string(const json& j, std::string_view field, std::size_t max_chars) {
    auto s = optional_string(j, field, max_chars);
    if (!s) return std::unexpected(s.error());
    if (!*s || (*s)->empty()) return bad(field, std::string(field) + " is required");
    return std::move(**s);
}

result<std::optional<long long>> optional_integer(const json& j, std::string_view field,
                                                  long long lo, long long hi) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) return std::optional<long long>();
    if (!it->is_number_integer()) return bad(field, std::string(field) + " must be a whole number");
    long long v = it->get<long long>();
    if (v < lo || v > hi)
        return bad(field, std::string(field) + " must be between " + std::to_string(lo) + " and "
                              + std::to_string(hi));
    return std::optional<long long>(v);
}

result<std::vector<std::string>> string_list(const json& j, std::string_view field,
                                             std::size_t max_items) {
    std::vector<std::string> out;
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) return out;
    if (!it->is_array()) return bad(field, std::string(field) + " must be a list of strings");
    if (it->size() > max_items)
        return bad(field, std::string(field) + " may hold at most " + std::to_string(max_items)
                              + " items");
    for (const auto& v : *it) {
        if (!v.is_string()) return bad(field, std::string(field) + " must be a list of strings");
        out.push_back(v.get<std::string>());
    }
    return out;
}

result<std::optional<core::uuid>> optional_uuid(const json& j, std::string_view field) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) return std::optional<core::uuid>();
    auto u = it->is_string() ? core::uuid::parse(it->get<std::string>()) : std::nullopt;
    if (!u) return bad(field, std::string(field) + " must be an id (UUID)");
    return std::optional<core::uuid>(*u);
}

result<std::vector<core::uuid>> uuid_list(const json& j, std::string_view field,
                                          std::size_t max_items) {
    auto strings = string_list(j, field, max_items);
    if (!strings) return std::unexpected(strings.error());
    std::vector<core::uuid> out;
    for (const auto& s : *strings) {
        auto u = core::uuid::parse(s);
        if (!u)
            return bad(field, "\"" + s.substr(0, 40) + "\" in " + std::string(field)
                                  + " is not an id (UUID)");
        out.push_back(*u);
    }
    return out;
}

result<int> limit_from(const request& req) {
    int v = 50;
    if (auto l = req.query("limit")) {
        auto [ptr, ec] = std::from_chars(l->data(), l->data() + l->size(), v);
        if (ec != std::errc() || ptr != l->data() + l->size() || v < 1 || v > 1000)
            return bad("limit", "limit must be a whole number from 1 to 1000");
    }
    return v;
}

result<store::page_request> page_from(const request& req) {
    store::page_request p;
    auto limit = limit_from(req);
    if (!limit) return std::unexpected(limit.error());
    p.limit = *limit;
    if (auto a = req.query("after"); a && !a->empty()) {
        auto u = core::uuid::parse(*a);
        if (!u) return bad("after", "after must be a next_cursor value from a previous page");
        p.after = *u;
    }
    return p;
}

result<core::uuid> id_param(const request& req, std::string_view name) {
    auto u = core::uuid::parse(req.param(name));
    if (!u)
        return fail(store::errc::not_found,
                    "no such " + std::string(name == "id" ? "item" : name) + ": \""
                        + std::string(req.param(name)).substr(0, 40) + "\"");
    return *u;
}

std::string iso(time_point t) {
    return db::format_timestamp(t);
}
json iso_or_null(const std::optional<time_point>& t) {
    return t ? json(iso(*t)) : json(nullptr);
}
json opt(const std::optional<std::string>& s) {
    return s ? json(*s) : json(nullptr);
}
json opt(const std::optional<core::uuid>& u) {
    return u ? json(u->str()) : json(nullptr);
}

response created(const json& body) {
    return json_response(201, body);
}
response no_content() {
    return response(204, "application/json", "");
}

}  // namespace herald::http::detail

namespace herald::http {

struct api::impl : detail::impl {
    using detail::impl::impl;
};

api::api(db::pool& pool, api_options options)
    : impl_(std::make_unique<impl>(pool, std::move(options))) {
    impl_->metrics.add_collector([this](std::string& out) {
        auto s = impl_->pool.stats();
        out +=
            "# HELP herald_db_pool_connections Database connections by state.\n"
            "# TYPE herald_db_pool_connections gauge\n";
        out += "herald_db_pool_connections{state=\"open\"} " + std::to_string(s.open) + "\n";
        out += "herald_db_pool_connections{state=\"in_use\"} " + std::to_string(s.in_use) + "\n";
        out += "herald_db_pool_connections{state=\"max\"} " + std::to_string(s.size) + "\n";
        out +=
            "# HELP herald_db_pool_waiting Callers waiting for a database connection.\n"
            "# TYPE herald_db_pool_waiting gauge\nherald_db_pool_waiting "
            + std::to_string(s.waiting) + "\n";
        out +=
            "# HELP herald_db_pool_timeouts_total Waits for a connection that timed out.\n"
            "# TYPE herald_db_pool_timeouts_total counter\nherald_db_pool_timeouts_total "
            + std::to_string(s.timeouts_total) + "\n";
        using way = detail::send_batcher::way;
        out +=
            "# HELP herald_send_batches_total Group commits of POST /v1/messages, by how they "
            "were written: at_once (one round trip, on what earlier batches read), "
            "reading_first, carefully (a debit was refused).\n"
            "# TYPE herald_send_batches_total counter\n";
        for (auto [how, name] :
             {std::pair(way::at_once, "at_once"), std::pair(way::reading_first, "reading_first"),
              std::pair(way::carefully, "carefully")})
            out += std::string("herald_send_batches_total{way=\"") + name + "\"} "
                   + std::to_string(impl_->sends->committed(how)) + "\n";
        out +=
            "# HELP herald_build_info Herald's version.\n# TYPE herald_build_info gauge\n"
            "herald_build_info{version=\""
            + label_value(impl_->options.version) + "\"} 1\n";
    });
}

api::~api() = default;

http::metrics& api::metrics() noexcept {
    return impl_->metrics;
}

void api::flush() {
    impl_->flush_touched();
}

void api::register_routes(router& r) {
    detail::register_auth(*impl_, r);
    detail::register_users(*impl_, r);
    detail::register_contacts(*impl_, r);
    detail::register_imports(*impl_, r);
    detail::register_billing(*impl_, r);
    detail::register_admin(*impl_, r);
    detail::register_audit(*impl_, r);
    detail::register_opt_outs(*impl_, r);
    detail::register_messages(*impl_, r);
    detail::register_campaigns(*impl_, r);
    detail::register_webhooks(*impl_, r);
    detail::register_connectors(*impl_, r);
    r.add("GET", "/metrics", [this](request&) {
        std::string text = impl_->metrics.render();
        if (impl_->options.connector_health)
            text += detail::connector_metrics(impl_->options.connector_health());
        return response(200, "text/plain; version=0.0.4; charset=utf-8", std::move(text));
    });
    // Requests that take long by nature run on the server's offload pool, so that they do not
    // hold up the other connections on their thread (decision 0010): password hashing,
    // scans of a campaign's log or a group, up to 10,000 messages at once, and an opt-out,
    // which waits for messages to that number already on their way.
    for (auto [method, pattern] : {std::pair{"POST", "/v1/auth/login"},
                                   {"POST", "/v1/auth/password"},
                                   {"POST", "/v1/signup"},
                                   {"POST", "/v1/users"},
                                   {"POST", "/v1/admin/tenants"},
                                   {"POST", "/v1/admin/users/{id}/password"},
                                   {"GET", "/v1/campaigns/{id}/stats"},
                                   {"POST", "/v1/campaigns/{id}/preview"},
                                   {"POST", "/v1/campaigns/{id}/start"},
                                   {"POST", "/v1/messages/batch"},
                                   {"GET", "/v1/groups/{id}/export"},
                                   {"POST", "/v1/opt-outs"}})
        r.offload(method, pattern);
}

}  // namespace herald::http
