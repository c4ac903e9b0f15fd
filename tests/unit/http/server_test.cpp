// The HTTP server over real loopback TCP: where handlers run, and answers that come later.

#include "http/server.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <future>
#include <netinet/in.h>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/http_client.hpp"

namespace herald::http {
namespace {

using namespace std::chrono_literals;

/// A one-lane server whose /hold route waits until the test releases it (or `patience`
/// passes).
struct held_server {
    held_server(bool offload_hold, std::chrono::milliseconds patience) {
        routes.add("GET", "/hold", [this, patience](request&) {
            holding = true;
            const bool in_time =
                release.get_future().wait_for(patience) == std::future_status::ready;
            released_in_time = in_time;
            hold_done = true;
            return response(200, "text/plain", in_time ? "released" : "timed out");
        });
        routes.add("GET", "/fast", [this](request&) {
            fast_ran_after_hold = hold_done.load();
            return response(200, "text/plain", "fast");
        });
        routes.add_async("GET", "/later", [](request&, responder done) {
            std::thread([done] {
                std::this_thread::sleep_for(20ms);
                done(response(200, "text/plain", "later"));
            }).detach();
        });
        if (offload_hold) routes.offload("GET", "/hold");
        srv.emplace(server_options{.port = 0, .threads = 1, .access_log = false}, routes);
        EXPECT_TRUE(srv->start());
    }
    ~held_server() { srv->stop(2s); }

    router routes;
    std::promise<void> release;
    std::atomic<bool> released_in_time{false};
    std::atomic<bool> holding{false};    ///< /hold has started
    std::atomic<bool> hold_done{false};  ///< /hold has finished waiting
    /// Seen by /fast as it ran (the server's own order, not the clients').
    std::atomic<bool> fast_ran_after_hold{false};
    std::optional<server> srv;
};

TEST(http_server, a_slow_route_on_the_offload_pool_leaves_its_lane_free) {
    held_server s(true, 5s);
    std::thread holder([&] {
        test::http_client a(s.srv->port());
        auto r = a.get("/hold");
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "released");
    });
    // The only lane answers other connections while /hold waits on the pool.
    while (!s.holding) std::this_thread::sleep_for(1ms);
    test::http_client b(s.srv->port());
    for (int i = 0; i < 3; ++i) EXPECT_EQ(b.get("/fast").body, "fast");
    EXPECT_FALSE(s.fast_ran_after_hold);
    EXPECT_EQ(b.get("/later").body, "later");  // an answer from another thread
    s.release.set_value();
    holder.join();
    EXPECT_TRUE(s.released_in_time);
}

TEST(http_server, a_route_run_inline_holds_up_the_connections_on_its_lane) {
    // The control for the test above: without offload the one lane is busy until /hold
    // gives up, so the other connection's answer comes only after that.
    // (Which client reads its answer first is up to the scheduler; the order in which the
    // server ran the two routes is what counts.)
    held_server s(false, 1s);
    std::thread holder([&] {
        test::http_client a(s.srv->port());
        auto r = a.get("/hold");
        EXPECT_EQ(r.body, "timed out");
    });
    while (!s.holding) std::this_thread::sleep_for(1ms);  // /hold has the lane
    test::http_client b(s.srv->port());
    EXPECT_EQ(b.get("/fast").body, "fast");
    EXPECT_TRUE(s.fast_ran_after_hold) << "/fast waited for /hold to give up its lane";
    s.release.set_value();
    holder.join();
    EXPECT_FALSE(s.released_in_time);
}

TEST(http_server, stops_while_a_later_answer_is_still_pending) {
    // An answer that comes after the server stopped is dropped, not delivered to a dead lane.
    router routes;
    std::promise<responder> parked;
    routes.add_async("GET", "/never",
                     [&](request&, responder done) { parked.set_value(std::move(done)); });
    auto srv = std::make_unique<server>(
        server_options{.port = 0, .threads = 1, .access_log = false}, routes);
    ASSERT_TRUE(srv->start());
    // A bare socket: the request is sent and its answer never read.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(srv->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const std::string req = "GET /never HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(::send(fd, req.data(), req.size(), 0), ssize_t(req.size()));
    auto done = parked.get_future().get();
    srv->stop(200ms);
    done(response(200, "text/plain", "too late"));  // must not touch the stopped lanes
    srv.reset();
    ::close(fd);
}

}  // namespace
}  // namespace herald::http
