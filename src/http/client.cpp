#include "http/client.hpp"

// Standard headers come before Boost: 1.74's awaitable.hpp needs <utility> first under g++ 12.
#include <atomic>
#include <thread>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "core/thread.hpp"

namespace herald::http {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

bool parse_url(std::string_view url, url_parts& out) {
    std::string_view rest;
    if (url.starts_with("http://")) {
        out.tls = false;
        rest = url.substr(7);
    } else if (url.starts_with("https://")) {
        out.tls = true;
        rest = url.substr(8);
    } else {
        return false;
    }
    const auto slash = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, slash);
    out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    if (out.target.front() == '?') out.target.insert(0, "/");
    if (authority.find('@') != std::string_view::npos) return false;  // no credentials in URLs
    std::string_view host = authority, port;
    if (authority.starts_with('[')) {  // [v6]:port
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return false;
        host = authority.substr(1, close - 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') return false;
            port = authority.substr(close + 2);
        }
    } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (host.empty()) return false;
    for (char ch : port)
        if (ch < '0' || ch > '9') return false;
    out.host = std::string(host);
    out.port = port.empty() ? (out.tls ? "443" : "80") : std::string(port);
    return true;
}

struct client::impl {
    net::io_context io;
    net::executor_work_guard<net::io_context::executor_type> work{io.get_executor()};
    net::ssl::context tls{net::ssl::context::tls_client};
    std::thread thread;

    impl() {
        tls.set_default_verify_paths();
        tls.set_verify_mode(net::ssl::verify_peer);
        thread = core::named_thread("http-client", [this] { io.run(); });
    }

    template <class Stream>
    net::awaitable<void> exchange(Stream& stream, const url_parts& u, outgoing_request& r,
                                  outgoing_result& out, beast::error_code& ec) {
        bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(r.method), u.target, 11};
        req.set(bhttp::field::host, u.host);
        req.set(bhttp::field::user_agent, "Herald");
        req.set(bhttp::field::connection, "close");
        for (const auto& [k, v] : r.headers) req.set(k, v);
        req.body() = std::move(r.body);
        req.prepare_payload();
        co_await bhttp::async_write(stream, req, net::redirect_error(net::use_awaitable, ec));
        if (ec) co_return;
        beast::flat_buffer buffer;
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(1 << 20);
        co_await bhttp::async_read(stream, buffer, parser,
                                   net::redirect_error(net::use_awaitable, ec));
        if (ec && !(ec == bhttp::error::body_limit && parser.is_header_done())) co_return;
        ec = {};
        out.status = int(parser.get().result_int());
        out.body = parser.get().body().substr(0, 1000);
    }

    net::awaitable<void> run(outgoing_request r, std::function<void(outgoing_result)> done) {
        const auto start = std::chrono::steady_clock::now();
        outgoing_result out;
        url_parts u;
        beast::error_code ec;
        if (!parse_url(r.url, u)) {
            out.error = "not an http:// or https:// URL";
        } else {
            tcp::resolver resolver(io);
            beast::tcp_stream tcp_stream(io);
            tcp_stream.expires_after(r.timeout);
            // The resolver has no deadline of its own; the socket's covers everything after.
            auto found = co_await resolver.async_resolve(
                u.host, u.port, net::redirect_error(net::use_awaitable, ec));
            if (!ec)
                co_await tcp_stream.async_connect(found,
                                                  net::redirect_error(net::use_awaitable, ec));
            if (!ec && !u.tls) {
                co_await exchange(tcp_stream, u, r, out, ec);
                tcp_stream.socket().shutdown(tcp::socket::shutdown_both, ec);
                ec = out.status ? beast::error_code() : ec;
            } else if (!ec) {
                beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), tls);
                if (!SSL_set_tlsext_host_name(stream.native_handle(), u.host.c_str()))
                    ec = beast::error_code(int(::ERR_get_error()), net::error::get_ssl_category());
                stream.set_verify_callback(net::ssl::host_name_verification(u.host));
                if (!ec)
                    co_await stream.async_handshake(net::ssl::stream_base::client,
                                                    net::redirect_error(net::use_awaitable, ec));
                if (!ec) co_await exchange(stream, u, r, out, ec);
            }
            if (ec && !out.status)
                out.error = ec == beast::error::timeout
                                ? "no answer within " + std::to_string(r.timeout.count()) + " ms"
                                : ec.message();
        }
        out.took = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - start);
        done(std::move(out));
    }
};

client::client() : impl_(std::make_unique<impl>()) {}

client::~client() {
    impl_->work.reset();
    impl_->io.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
}

void client::send(outgoing_request r, std::function<void(outgoing_result)> done) {
    net::co_spawn(impl_->io, impl_->run(std::move(r), std::move(done)), net::detached);
}

}  // namespace herald::http
