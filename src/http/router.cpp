#include "http/router.hpp"

#include <stdexcept>

#include "http/errc.hpp"
#include "http/json.hpp"

namespace herald::http {

void router::add(std::string method, std::string pattern, handler fn, std::size_t body_limit) {
    add_async(
        std::move(method), std::move(pattern),
        [fn = std::move(fn)](request& req, responder done) { done(fn(req)); }, body_limit);
}

void router::add_async(std::string method, std::string pattern, async_handler fn,
                       std::size_t body_limit) {
    for (const auto& r : routes_)
        if (r.method == method && r.pattern == pattern)
            throw std::logic_error("route registered twice: " + method + " " + pattern);
    routes_.push_back({std::move(method), std::move(pattern), std::move(fn), body_limit});
}

void router::add_upload(std::string method, std::string pattern, handler fn,
                        std::size_t max_bytes) {
    add(std::move(method), std::move(pattern), std::move(fn), max_bytes);
    routes_.back().spool = true;
}

void router::offload(std::string_view method, std::string_view pattern) {
    for (auto& r : routes_)
        if (r.method == method && r.pattern == pattern) {
            r.offload = true;
            return;
        }
    throw std::logic_error("offload: no route " + std::string(method) + " " + std::string(pattern));
}

body_rules router::body_rules_for(std::string_view method, std::string_view path) const {
    const route* r = find(method, path, nullptr);
    return r ? body_rules{r->body_limit, r->spool, r->offload, r} : body_rules{};
}

bool router::match(std::string_view pattern, std::string_view path,
                   std::vector<std::pair<std::string, std::string>>* params) {
    while (true) {
        if (pattern.empty() || path.empty()) return pattern.empty() && path.empty();
        if (pattern.front() != '/' || path.front() != '/') return false;
        pattern.remove_prefix(1);
        path.remove_prefix(1);
        auto ps = pattern.find('/');
        auto qs = path.find('/');
        std::string_view pseg = pattern.substr(0, ps), seg = path.substr(0, qs);
        if (pseg.size() >= 2 && pseg.front() == '{' && pseg.back() == '}') {
            if (seg.empty()) return false;
            if (params)
                params->emplace_back(std::string(pseg.substr(1, pseg.size() - 2)),
                                     std::string(seg));
        } else if (pseg != seg) {
            return false;
        }
        pattern = ps == std::string_view::npos ? std::string_view() : pattern.substr(ps);
        path = qs == std::string_view::npos ? std::string_view() : path.substr(qs);
    }
}

const route* router::find(std::string_view method, std::string_view path,
                          std::string* allow) const {
    // The most specific pattern wins: "/v1/contacts/imports" before "/v1/contacts/{id}".
    const route* best = nullptr;
    int best_literals = -1;
    for (const auto& r : routes_) {
        if (!match(r.pattern, path, nullptr)) continue;
        if (r.method != method && !(method == "HEAD" && r.method == "GET")) {
            if (allow && allow->find(r.method) == std::string::npos)
                *allow += (allow->empty() ? "" : ", ") + r.method;
            continue;
        }
        int literals = 0;
        for (std::size_t i = 0; i < r.pattern.size(); ++i)
            if (r.pattern[i] == '/' && (i + 1 >= r.pattern.size() || r.pattern[i + 1] != '{'))
                ++literals;
        if (literals > best_literals) best = &r, best_literals = literals;
    }
    return best;
}

void router::dispatch(request& req, std::string& matched, responder done,
                      const route* found) const {
    std::string allow;
    const route* best = found ? found : find(req.method, req.path, &allow);
    if (best) {
        req.path_params.clear();
        match(best->pattern, req.path, &req.path_params);
        matched = best->pattern;
        best->fn(req, std::move(done));
        return;
    }
    if (!allow.empty()) {
        matched = "method_not_allowed";
        auto resp =
            error_response(405, "method_not_allowed",
                           req.method + " is not allowed on " + req.path + "; use " + allow);
        resp.set("allow", allow);
        return done(std::move(resp));
    }
    matched = "unmatched";
    if (fallback_) return done(fallback_(req));
    done(error_response(404, "not_found", "no such endpoint: " + req.method + " " + req.path));
}

response error_response(int status, std::string_view code, std::string_view message,
                        std::string_view field) {
    json err = {{"code", code}, {"message", message}};
    err["field"] = field.empty() ? json(nullptr) : json(field);
    return json_response(status, json{{"error", std::move(err)}});
}

}  // namespace herald::http

namespace herald::http {

int status_for(const error& e) noexcept {
    if (e.code == errc::invalid_json) return 400;
    if (e.code == errc::unsupported_media_type) return 415;
    if (e.code == errc::body_too_large) return 413;
    if (e.code == errc::rate_limited) return 429;
    if (e.code == errc::commit_unknown) return 503;
    if (e.is(condition::invalid_input)) return 422;
    if (e.is(condition::not_found)) return 404;
    if (e.is(condition::duplicate) || e.is(condition::conflict)) return 409;
    if (e.is(condition::unauthenticated)) return 401;
    if (e.is(condition::permission_denied)) return 403;
    if (e.is(condition::limit_exceeded)) return 422;
    if (e.transient()) return 503;
    return 500;
}

response error_response(const error& e) {
    const int status = status_for(e);
    // Internal failures keep their detail in the log, not in the answer.
    if (status == 500)
        return error_response(500, "internal_error", "Herald hit an unexpected error", e.field);
    return error_response(status, e.code.message(), e.message, e.field);
}

}  // namespace herald::http
