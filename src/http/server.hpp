#pragma once
/// The HTTP server: accepts connections, reads requests with limits and timeouts, runs the
/// router's handlers, and writes responses with keep-alive. Each connection lives on one of
/// `threads` threads, which runs its handlers inline (they may block on the database).
/// Beast and Asio stay inside server.cpp.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "http/router.hpp"

namespace herald::http {

struct server_options {
    std::string address = "127.0.0.1";
    std::uint16_t port = 8080;  ///< 0 picks a free port
    int threads = 16;           ///< threads that serve connections and run their handlers
    int offload_threads = 4;    ///< threads for routes marked slow (router::offload)
    std::size_t body_limit = 1 << 20;
    std::size_t header_limit = 16 * 1024;
    std::chrono::milliseconds read_timeout{30000};
    std::chrono::milliseconds idle_timeout{60000};
    bool access_log = true;
    /// Where upload bodies (routes added with add_upload) are written while they arrive.
    std::filesystem::path spool_dir = "var/spool";
    /// Called after each response, for metrics: (request, response, route pattern, duration).
    std::function<void(const request&, const response&, std::string_view, std::chrono::nanoseconds)>
        on_response;
};

class server {
  public:
    server(server_options options, const router& routes);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds and starts serving on background threads. Fails when the address is unusable.
    result<void> start();
    /// The bound port (useful with port 0).
    std::uint16_t port() const noexcept;
    /// Graceful stop: no new connections, requests in progress finish (up to `deadline`),
    /// idle keep-alive connections close. Blocks until the threads have ended.
    void stop(std::chrono::milliseconds deadline = std::chrono::seconds(10));
    /// Connections open now.
    std::size_t open_connections() const noexcept;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace herald::http
