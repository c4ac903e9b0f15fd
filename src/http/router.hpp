#pragma once
/// Maps (method, path) to handlers. Patterns are literal segments and `{name}` segments:
/// "/v1/contacts/{id}". A path that matches no pattern is 404; one that matches with another
/// method is 405 with an Allow header.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "http/message.hpp"

namespace herald::http {

/// A handler that answers at once (it may block on the database: it runs on a worker thread).
using handler = std::function<response(request&)>;
/// Completes an asynchronous handler; may be called from any thread, exactly once.
using responder = std::function<void(response&&)>;
/// A handler that answers later, e.g. after a batched commit.
using async_handler = std::function<void(request&, responder)>;

struct route {
    std::string method;
    std::string pattern;  ///< also the metrics label for the route
    async_handler fn;
    std::size_t body_limit = 0;  ///< overrides the server's limit when not zero
    bool spool = false;    ///< stream the body to a file (request::body_file) instead of memory
    bool offload = false;  ///< slow: runs on the server's offload pool, not its connection's thread
};

/// How the server should read a request's body.
struct body_rules {
    std::size_t limit = 0;  ///< 0: the server default
    bool spool = false;
    bool offload = false;           ///< see route::offload
    const route* target = nullptr;  ///< the route found, for dispatch (null: none matched)
};

class router {
  public:
    /// Registers a handler. Registering the same method and pattern twice is a programming
    /// error (throws std::logic_error).
    void add(std::string method, std::string pattern, handler fn, std::size_t body_limit = 0);
    void add_async(std::string method, std::string pattern, async_handler fn,
                   std::size_t body_limit = 0);

    /// Registers an upload endpoint: its body is streamed to a file, up to `max_bytes`.
    void add_upload(std::string method, std::string pattern, handler fn, std::size_t max_bytes);

    /// Marks a registered route as slow (a password hash, a scan of a large table): the
    /// server runs it on a separate pool so that it does not hold up the other connections on
    /// its thread. Throws std::logic_error for a route that is not registered.
    void offload(std::string_view method, std::string_view pattern);

    /// Handles requests no route matches (static files); 404 by default.
    void set_fallback(handler fn) { fallback_ = std::move(fn); }

    /// Finds the route (or takes `found`, from body_rules_for), fills request.path_params and
    /// runs the handler, which answers through `done`. `matched` receives the route pattern
    /// (or "unmatched"), for metrics.
    void dispatch(request& req, std::string& matched, responder done,
                  const route* found = nullptr) const;

    /// How to read the body of a request line, and where to run it.
    body_rules body_rules_for(std::string_view method, std::string_view path) const;

    /// Every registered (method, pattern), in registration order.
    const std::vector<route>& routes() const noexcept { return routes_; }

  private:
    /// The route that serves (method, path), most specific first; collects the methods
    /// the path has otherwise in `allow`.
    const route* find(std::string_view method, std::string_view path, std::string* allow) const;
    static bool match(std::string_view pattern, std::string_view path,
                      std::vector<std::pair<std::string, std::string>>* params);
    std::vector<route> routes_;
    handler fallback_;
};

/// A JSON error body {"error":{"code","message","field"}} with the given status.
response error_response(int status, std::string_view code, std::string_view message,
                        std::string_view field = {});

/// The error body for an error value: its stable code name, message and field, with the
/// HTTP status its policy condition calls for (400/415/413/429 for body problems, 422 for
/// invalid input, 404, 409, 401, 403, 503 for retryable, 500 otherwise).
response error_response(const error& e);
/// The HTTP status error_response(e) would use.
int status_for(const error& e) noexcept;

}  // namespace herald::http
