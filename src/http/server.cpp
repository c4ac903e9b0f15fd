#include "http/server.hpp"

// Standard headers come before Boost: 1.74's awaitable.hpp needs <utility> first under g++ 12.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "core/thread.hpp"
#include "core/uuid.hpp"
#include "http/detail/lane.hpp"

namespace herald::http {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

namespace {
thread_local net::io_context* current_lane = nullptr;
}  // namespace

net::io_context* detail::this_lane() noexcept {
    return current_lane;
}

namespace {

bool valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
            return false;
    return true;
}

/// True for a malformed request (worth a 400), false for a peer that went away or timed out.
bool is_parse_error(const beast::error_code& ec) {
    return &ec.category() == &bhttp::make_error_code(bhttp::error::bad_method).category()
           && ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

void add_standard_headers(bhttp::response<bhttp::string_body>& res, const response& r,
                          std::string_view request_id) {
    res.set(bhttp::field::server, "herald");
    for (const auto& [k, v] : r.headers) res.insert(k, v);
    res.set("x-request-id", std::string(request_id));
    res.set("x-content-type-options", "nosniff");
    res.set("x-frame-options", "DENY");
    res.set("referrer-policy", "no-referrer");
    if (r.header("content-security-policy").empty())
        res.set("content-security-policy", "default-src 'self'; frame-ancestors 'none'");
    if (r.header("cache-control").empty()) res.set(bhttp::field::cache_control, "no-store");
}

struct pending_answer;

/// Shared by the server and the answers its lanes wait for. Once closed (the lanes are about
/// to stop), an answer that comes later is dropped instead of resumed on a dead context.
struct lifeline {
    std::mutex mutex;
    bool open = true;
    std::atomic<int> waiting{0};  ///< handlers answered later and not yet resumed
};

}  // namespace

/// One connection's state, shared with the registry so that stop() can close idle ones.
struct session_state {
    explicit session_state(tcp::socket s) : stream(std::move(s)) {}
    beast::tcp_stream stream;
    std::atomic<bool> idle{true};
};

/// A thread with its own io_context. Each connection lives on one lane, and its handlers
/// run there inline: a request costs no hand-off between threads (see decision 0010).
struct lane {
    net::io_context ioc{1};
    std::atomic<int> sessions{0};
    std::thread thread;
};

struct server::impl {
    impl(server_options o, const router& r)
        : options(std::move(o)),
          routes(r),
          offload_pool(std::size_t(std::max(1, options.offload_threads))) {
        const int n = std::max(1, options.threads);
        for (int i = 0; i < n; ++i) lanes.push_back(std::make_unique<lane>());
    }

    server_options options;
    const router& routes;
    net::io_context ioc{1};  ///< the acceptor's
    tcp::acceptor acceptor{ioc};
    std::vector<std::unique_ptr<lane>> lanes;
    net::thread_pool offload_pool;  ///< for routes marked slow (router::offload)
    std::thread accept_thread;
    std::atomic<bool> stopping{false};
    std::atomic<std::size_t> connections{0};
    std::uint16_t bound_port = 0;

    std::mutex sessions_mutex;
    std::unordered_map<std::uint64_t, std::weak_ptr<session_state>> sessions;
    std::uint64_t next_session = 0;
    std::size_t next_lane = 0;
    std::shared_ptr<lifeline> life = std::make_shared<lifeline>();

    lane& pick_lane();
    net::awaitable<void> accept_loop();
    net::awaitable<void> run_session(std::shared_ptr<session_state> s, lane& home);
    net::awaitable<void> spool_body(session_state& s, beast::flat_buffer& buffer,
                                    std::uint64_t length, const std::filesystem::path& file,
                                    beast::error_code& ec);
    std::shared_ptr<pending_answer> start_handler(request& req, std::string& matched,
                                                  const body_rules& rules);
    net::awaitable<response> run_handler(request& req, std::string& matched,
                                         const body_rules& rules);
    net::awaitable<void> write(session_state& s, response r, const request* req, unsigned version,
                               bool keep_alive, beast::error_code& ec);
    void close_idle_sessions();
};

/// The lane with the fewest connections, starting after the last one chosen so that ties
/// spread round the lanes.
lane& server::impl::pick_lane() {
    std::size_t best = next_lane % lanes.size();
    for (std::size_t k = 1; k < lanes.size(); ++k) {
        std::size_t i = (next_lane + k) % lanes.size();
        if (lanes[i]->sessions.load() < lanes[best]->sessions.load()) best = i;
    }
    next_lane = best + 1;
    return *lanes[best];
}

net::awaitable<void> server::impl::accept_loop() {
    for (;;) {
        beast::error_code ec;
        lane& home = pick_lane();
        tcp::socket socket =
            co_await acceptor.async_accept(home.ioc, net::redirect_error(net::use_awaitable, ec));
        if (ec) {
            if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
            spdlog::warn("accept failed: {}", ec.message());
            continue;
        }
        ++home.sessions;
        auto state = std::make_shared<session_state>(std::move(socket));
        net::co_spawn(home.ioc, run_session(std::move(state), home), [](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                spdlog::error("http session ended by an exception: {}", ex.what());
            }
        });
    }
}

namespace {

/// Where a handler's answer goes: kept when it comes before anyone waits for it (the usual,
/// synchronous case), or handed to the waiting coroutine's completion.
struct pending_answer {
    std::mutex mutex;
    std::optional<response> early;
    std::function<void(response&&)> waiting;
    bool answered = false;

    void deliver(response&& r) {
        std::function<void(response &&)> to;
        {
            std::lock_guard lock(mutex);
            if (answered) return;  // a handler may answer only once
            answered = true;
            if (!waiting) {
                early = std::move(r);
                return;
            }
            to = std::move(waiting);
        }
        to(std::move(r));
    }

    std::optional<response> take_early() {
        std::lock_guard lock(mutex);
        std::optional<response> r = std::move(early);
        early.reset();
        return r;
    }
};

/// Waits for a handler that answers later. Kept out of the coroutine body: g++ 12 mishandles
/// lambdas and lock scopes inside coroutines.
net::awaitable<response> wait_for(std::shared_ptr<pending_answer> answer,
                                  std::shared_ptr<lifeline> life) {
    return net::async_initiate<const net::use_awaitable_t<>&, void(response)>(
        [answer, life](auto completion) {
            auto shared = std::make_shared<decltype(completion)>(std::move(completion));
            ++life->waiting;
            auto resume = [shared, life](response&& r) {
                std::lock_guard lock(life->mutex);
                if (!life->open) {
                    // The lanes have stopped: the coroutine's frames belong to a context that
                    // is going away, so they are left alone (a leak, at shutdown only).
                    (void)new std::shared_ptr<decltype(completion)>(shared);
                    return;
                }
                auto ex = net::get_associated_executor(*shared);
                net::post(ex, [shared, life, r = std::move(r)]() mutable {
                    --life->waiting;
                    (*shared)(std::move(r));
                });
            };
            std::unique_lock lock(answer->mutex);
            if (answer->early) {
                response r = std::move(*answer->early);
                answer->early.reset();
                lock.unlock();
                resume(std::move(r));
                return;
            }
            answer->waiting = std::move(resume);
        },
        net::use_awaitable);
}

}  // namespace

/// Runs the handler here, on the connection's lane (most answer before they return), or for
/// a slow route on the offload pool.
std::shared_ptr<pending_answer> server::impl::start_handler(request& req, std::string& matched,
                                                            const body_rules& rules) {
    auto answer = std::make_shared<pending_answer>();
    responder done = [answer](response&& r) { answer->deliver(std::move(r)); };
    auto run = [this, &req, &matched, done, target = rules.target] {
        try {
            routes.dispatch(req, matched, done, target);
        } catch (const std::exception& e) {
            spdlog::error("handler for {} {} threw: {} (request {})", req.method, req.path,
                          e.what(), req.request_id);
            done(error_response(
                500, "internal_error",
                "Herald hit an unexpected error; the request id identifies it in the log"));
        }
    };
    if (rules.offload)
        net::post(offload_pool, run);  // the request outlives this: its coroutine waits
    else
        run();
    return answer;
}

net::awaitable<response> server::impl::run_handler(request& req, std::string& matched,
                                                   const body_rules& rules) {
    std::shared_ptr<pending_answer> answer = start_handler(req, matched, rules);
    std::optional<response> early = answer->take_early();
    if (early) co_return std::move(*early);
    // The few that answer later (from another thread) resume the coroutine on its lane.
    co_return co_await wait_for(std::move(answer), life);
}

net::awaitable<void> server::impl::write(session_state& s, response r, const request* req,
                                         unsigned version, bool keep_alive, beast::error_code& ec) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
    std::string rid = req ? req->request_id : core::uuid_v7().str();
    add_standard_headers(res, r, rid);
    const bool head = req && req->method == "HEAD";
    res.body() = head ? std::string() : std::move(r.body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    s.stream.expires_after(options.read_timeout);
    co_await bhttp::async_write(s.stream, res, net::redirect_error(net::use_awaitable, ec));
}

/// Reads the body with a parser of the chosen body type (string or file), answering
/// "100 Continue" first when the client waits for it. Sets `ec` on failure.
template <class Parser>
net::awaitable<void> read_body(session_state& s, beast::flat_buffer& buffer, Parser& parser,
                               std::chrono::milliseconds timeout, beast::error_code& ec) {
    auto& head = parser.get();
    if (parser.is_done()) co_return;
    if (beast::iequals(head[bhttp::field::expect], "100-continue")) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, head.version()};
        co_await bhttp::async_write(s.stream, cont, net::redirect_error(net::use_awaitable, ec));
        if (ec) co_return;
    }
    s.stream.expires_after(timeout);
    co_await bhttp::async_read(s.stream, buffer, parser,
                               net::redirect_error(net::use_awaitable, ec));
}

/// The headers of a Beast request as Herald's request fields.
template <class Fields>
void copy_headers(const Fields& fields, request& req) {
    for (const auto& field : fields) {
        std::string name(field.name_string());
        for (auto& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
        req.headers.emplace_back(std::move(name), std::string(field.value()));
    }
}

net::awaitable<void> server::impl::run_session(std::shared_ptr<session_state> s, lane& home) {
    ++connections;
    std::uint64_t id;
    {
        std::lock_guard lock(sessions_mutex);
        id = next_session++;
        sessions.emplace(id, s);
    }
    beast::error_code ec;
    std::string remote_ip;
    if (auto ep = s->stream.socket().remote_endpoint(ec); !ec) remote_ip = ep.address().to_string();

    beast::flat_buffer buffer;
    bool first = true;
    while (!stopping) {
        s->idle = true;
        s->stream.expires_after(first ? options.read_timeout : options.idle_timeout);
        bhttp::request_parser<bhttp::empty_body> header_parser;
        header_parser.header_limit(std::uint32_t(options.header_limit));
        // The route decides the body limit once the target is known; Beast would otherwise
        // check Content-Length against its 1 MB default while reading the header.
        header_parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        co_await bhttp::async_read_header(s->stream, buffer, header_parser,
                                          net::redirect_error(net::use_awaitable, ec));
        if (ec) {
            if (ec == bhttp::error::header_limit) {
                co_await write(
                    *s, error_response(431, "headers_too_large", "request headers are too large"),
                    nullptr, 11, false, ec);
            } else if (is_parse_error(ec)) {
                co_await write(
                    *s,
                    error_response(400, "bad_request", "malformed HTTP request: " + ec.message()),
                    nullptr, 11, false, ec);
            }
            break;
        }
        s->idle = false;
        request req;
        {
            const auto& head = header_parser.get();
            req.method = std::string(head.method_string());
            req.target = std::string(head.target());
        }
        const auto q = req.target.find('?');
        req.path = url_decode(req.target.substr(0, q), false);
        if (q != std::string::npos) req.query_string = req.target.substr(q + 1);
        const body_rules rules = routes.body_rules_for(req.method, req.path);
        const std::size_t limit = rules.limit ? rules.limit : options.body_limit;
        const unsigned version = header_parser.get().version();
        bool keep_alive = header_parser.get().keep_alive();
        // Beast checks Content-Length against the limit only while parsing the header, which
        // ran with no limit; check it here (chunked bodies are checked as they arrive).
        if (auto length = header_parser.content_length(); length && *length > limit) {
            co_await write(*s,
                           error_response(413, "body_too_large",
                                          "the request body (" + std::to_string(*length)
                                              + " bytes) exceeds the limit of "
                                              + std::to_string(limit) + " bytes for this endpoint"),
                           nullptr, version, false, ec);
            break;
        }

        if (rules.spool) {
            std::error_code fs_ec;
            std::filesystem::create_directories(options.spool_dir, fs_ec);
            req.body_file = options.spool_dir / ("upload-" + core::uuid_v7().str() + ".part");
            copy_headers(header_parser.get(), req);
            auto length = header_parser.content_length();
            if (length && !header_parser.chunked()) {
                // Fast path: read the socket directly in large pieces; Beast would read at
                // most 64 KiB at a time and re-arm its timer for each piece.
                if (beast::iequals(header_parser.get()[bhttp::field::expect], "100-continue")) {
                    bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, version};
                    co_await bhttp::async_write(s->stream, cont,
                                                net::redirect_error(net::use_awaitable, ec));
                    if (ec) break;
                }
                co_await spool_body(*s, buffer, *length, req.body_file, ec);
            } else {
                bhttp::request_parser<bhttp::file_body> parser{std::move(header_parser)};
                parser.body_limit(limit);
                parser.get().body().open(req.body_file.c_str(), beast::file_mode::write, ec);
                if (!ec) {
                    co_await read_body(*s, buffer, parser, options.read_timeout, ec);
                    parser.get().body().close();
                }
                if (ec == bhttp::error::body_limit) {
                    std::filesystem::remove(req.body_file, fs_ec);
                    co_await write(
                        *s,
                        error_response(413, "body_too_large",
                                       "the upload exceeds " + std::to_string(limit) + " bytes"),
                        nullptr, version, false, ec);
                    break;
                }
            }
            if (ec) {
                std::filesystem::remove(req.body_file, fs_ec);
                if (ec == std::errc::io_error || ec == std::errc::no_space_on_device
                    || ec == std::errc::permission_denied) {
                    spdlog::error("cannot spool an upload to {}: {}", req.body_file.string(),
                                  ec.message());
                    co_await write(*s,
                                   error_response(503, "upload_unavailable",
                                                  "the upload could not be stored; try again"),
                                   nullptr, version, false, ec);
                }
                break;
            }
        } else {
            bhttp::request_parser<bhttp::string_body> parser{std::move(header_parser)};
            parser.body_limit(limit);
            co_await read_body(*s, buffer, parser, options.read_timeout, ec);
            if (ec == bhttp::error::body_limit) {
                co_await write(
                    *s,
                    error_response(413, "body_too_large",
                                   "the request body exceeds the limit for this endpoint"),
                    nullptr, version, false, ec);
                break;
            }
            if (ec) break;
            auto msg = parser.release();
            copy_headers(msg, req);
            req.body = std::move(msg.body());
        }
        req.remote_ip = remote_ip;
        auto rid = req.header("x-request-id");
        req.request_id = valid_request_id(rid) ? std::string(rid) : core::uuid_v7().str();

        std::string matched;
        response resp = co_await run_handler(req, matched, rules);
        if (!req.body_file.empty()) {
            std::error_code fs_ec;
            std::filesystem::remove(req.body_file, fs_ec);  // unless the handler moved it away
        }
        keep_alive = keep_alive && !stopping;
        const int status = resp.status;
        const std::size_t bytes = resp.body.size();
        if (options.on_response) {
            try {
                options.on_response(req, resp, matched,
                                    std::chrono::steady_clock::now() - req.received_at);
            } catch (const std::exception& e) {
                spdlog::warn("response observer threw: {}", e.what());
            }
        }
        co_await write(*s, std::move(resp), &req, version, keep_alive, ec);
        if (options.access_log) {
            auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - req.received_at)
                          .count();
            spdlog::info("{} \"{} {}\" {} {} {:.1f}ms rid={}", req.remote_ip, req.method, req.path,
                         status, bytes, double(us) / 1000.0, req.request_id);
        }
        if (ec || !keep_alive) break;
        first = false;
    }
    s->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    s->stream.close();
    {
        std::lock_guard lock(sessions_mutex);
        sessions.erase(id);
    }
    --home.sessions;
    --connections;
}

net::awaitable<void> server::impl::spool_body(session_state& s, beast::flat_buffer& buffer,
                                              std::uint64_t length,
                                              const std::filesystem::path& file,
                                              beast::error_code& ec) {
    std::FILE* out = std::fopen(file.c_str(), "wb");
    if (!out) {
        ec = beast::error_code(errno, beast::system_category());
        co_return;
    }
    std::uint64_t left = length;
    auto put = [&](const void* data, std::size_t n) {
        if (std::fwrite(data, 1, n, out) != n)
            ec = beast::error_code(EIO, beast::system_category());
    };
    // Bytes that arrived with the header come first (a flat_buffer is one contiguous piece).
    if (const std::size_t ready = std::min<std::uint64_t>(buffer.size(), left); ready > 0) {
        put(buffer.data().data(), ready);
        buffer.consume(ready);
        left -= ready;
    }
    std::vector<char> chunk(1 << 20);
    // One deadline for the whole body, proportional to its size (at least read_timeout).
    s.stream.expires_after(options.read_timeout + std::chrono::milliseconds(length / 1000));
    while (left > 0 && !ec) {
        std::size_t n = co_await s.stream.async_read_some(
            net::buffer(chunk.data(), std::min<std::uint64_t>(chunk.size(), left)),
            net::redirect_error(net::use_awaitable, ec));
        if (n > 0) put(chunk.data(), n);
        left -= n;
    }
    if (std::fclose(out) != 0 && !ec) ec = beast::error_code(EIO, beast::system_category());
}

void server::impl::close_idle_sessions() {
    std::lock_guard lock(sessions_mutex);
    for (auto& [id, weak] : sessions) {
        if (auto s = weak.lock()) {
            net::post(s->stream.get_executor(), [s] {
                if (s->idle) s->stream.cancel();
            });
        }
    }
}

server::server(server_options options, const router& routes)
    : impl_(std::make_unique<impl>(std::move(options), routes)) {}

server::~server() {
    stop(std::chrono::seconds(1));
}

result<void> server::start() {
    auto& i = *impl_;
    beast::error_code ec;
    auto address = net::ip::make_address(i.options.address, ec);
    if (ec)
        return fail(std::make_error_code(std::errc::invalid_argument),
                    "http.listen: \"" + i.options.address + "\" is not an IP address",
                    "http.listen");
    tcp::endpoint endpoint(address, i.options.port);
    i.acceptor.open(endpoint.protocol(), ec);
    if (!ec) i.acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) i.acceptor.bind(endpoint, ec);
    if (!ec) i.acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
        return fail(ec,
                    "cannot listen on " + i.options.address + ":" + std::to_string(i.options.port)
                        + ": " + ec.message(),
                    "http.port");
    i.bound_port = i.acceptor.local_endpoint().port();
    net::co_spawn(i.ioc, i.accept_loop(), [](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            spdlog::error("http accept loop ended by an exception: {}", ex.what());
        }
    });
    i.accept_thread = core::named_thread("http-accept", [&ioc = i.ioc] { ioc.run(); });
    for (auto& l : i.lanes) {
        l->thread = core::named_thread("http-lane", [&ioc = l->ioc] {
            current_lane = &ioc;
            auto guard = net::make_work_guard(ioc);
            ioc.run();
        });
    }
    return {};
}

std::uint16_t server::port() const noexcept {
    return impl_->bound_port;
}

std::size_t server::open_connections() const noexcept {
    return impl_->connections.load();
}

void server::stop(std::chrono::milliseconds deadline) {
    auto& i = *impl_;
    if (!i.accept_thread.joinable()) return;
    i.stopping = true;
    net::post(i.ioc, [&i] {
        beast::error_code ec;
        i.acceptor.close(ec);
    });
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (i.connections > 0 && std::chrono::steady_clock::now() < until) {
        i.close_idle_sessions();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (i.connections > 0)
        spdlog::warn("http: {} connection(s) still busy at the shutdown deadline; closing them",
                     i.connections.load());
    // Answers being committed (sends in a group) come within moments: let them resume.
    for (int k = 0; k < 500 && i.life->waiting > 0; ++k)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    {
        std::lock_guard lock(i.life->mutex);
        i.life->open = false;
    }
    i.ioc.stop();
    i.accept_thread.join();
    for (auto& l : i.lanes) {
        l->ioc.stop();
        l->thread.join();
    }
    i.offload_pool.join();
}

}  // namespace herald::http
