// Status webhooks end to end: a real HTTP receiver gets every status of every message (one,
// a batch, a scheduled one, a campaign, refusals by the carrier), each with a valid
// HMAC-SHA256 signature; failing calls are retried and every attempt is recorded; a dead
// endpoint does not slow dispatch; bad settings are refused and tenants see only their own.

#include <chrono>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <set>
#include <signal.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "core/hash.hpp"
#include "db/param.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "support/api_server.hpp"
#include "support/pg.hpp"

namespace herald {
namespace {

using test::api_server;
using test::json;

api_server& server() {
    static api_server s({"HERALD_SIMULATOR_RULES=+44790=refuse,+44780=undeliverable",
                         "HERALD_SIMULATOR_RECEIPT_LATENCY=50ms", "HERALD_WEBHOOKS_RETRY_BASE=1s",
                         "HERALD_WEBHOOKS_TIMEOUT=1s"});
    return s;
}

using test::unique;

/// An HTTP endpoint that records the calls it gets and checks their signatures.
class receiver {
  public:
    struct call {
        json body;
        std::string event_id;
        bool signature_ok = false;
    };

    explicit receiver(std::string secret, int fail_first = 0)
        : secret_(std::move(secret)), fail_first_(fail_first) {
        routes_.add("POST", "/hook", [this](http::request& req) {
            std::lock_guard l(mutex_);
            if (received_++ < fail_first_) return http::response(500, "text/plain", "try later");
            const std::string ts(req.header("herald-timestamp"));
            const auto age = std::chrono::system_clock::now().time_since_epoch()
                             - std::chrono::seconds(std::stoll(ts.empty() ? "0" : ts));
            call c{.body = json::parse(req.body, nullptr, false),
                   .event_id = std::string(req.header("herald-event-id"))};
            c.signature_ok = req.header("herald-signature")
                                 == "v1=" + core::hmac_sha256_hex(secret_, ts + "." + req.body)
                             && std::chrono::abs(age) < std::chrono::minutes(5)
                             && req.header("content-type") == "application/json";
            calls_.push_back(std::move(c));
            return http::response(204, "text/plain", "");
        });
        server_.emplace(http::server_options{.port = 0, .threads = 4, .access_log = false},
                        routes_);
        EXPECT_TRUE(server_->start());
    }
    ~receiver() { server_->stop(std::chrono::seconds(1)); }

    std::string url() const {
        return "http://127.0.0.1:" + std::to_string(server_->port()) + "/hook";
    }
    std::vector<call> calls() const {
        std::lock_guard l(mutex_);
        return calls_;
    }
    int received() const {
        std::lock_guard l(mutex_);
        return received_;
    }
    void set_secret(std::string s) {
        std::lock_guard l(mutex_);
        secret_ = std::move(s);
    }

  private:
    std::string secret_;
    int fail_first_ = 0;
    mutable std::mutex mutex_;
    std::vector<call> calls_;
    int received_ = 0;
    http::router routes_;
    std::optional<http::server> server_;
};

/// A tenant with credits, the default sender "Acme", and its account webhook at `url`.
test::tenant_account tenant(int credits, const std::string& url, std::string* secret) {
    auto& s = server();
    auto t = s.make_tenant(unique("hook"), credits);
    s.call("PUT", "/v1/admin/tenants/" + t.id + "/sender-ids/Acme", s.admin(),
           {{"is_default", true}});
    auto put = s.call("PUT", "/v1/webhook", t.token, {{"url", url}});
    EXPECT_EQ(put.status, 200) << put.raw;
    EXPECT_EQ(put.body["url"], url);
    *secret = s.call("GET", "/v1/webhook", t.token).body["secret"];
    EXPECT_TRUE(secret->starts_with("whsec_"));
    return t;
}

/// Waits until the receiver holds `n` calls (or 30 s pass).
void wait_for_calls(const receiver& r, std::size_t n) {
    for (int i = 0; i < 600 && r.calls().size() < n; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

TEST(webhooks, the_receiver_gets_every_status_of_every_message_signed) {
    std::string secret;
    receiver account_hook("");
    auto t = tenant(5000, account_hook.url(), &secret);
    account_hook.set_secret(secret);
    receiver own_hook(secret);

    auto& s = server();
    std::map<std::string, std::vector<std::string>> expected;  // message id -> statuses
    auto one = s.call("POST", "/v1/messages", t.token, {{"to", "+447400500001"}, {"body", "One"}});
    ASSERT_EQ(one.status, 202) << one.raw;
    expected[one.body["id"]] = {"sent", "delivered"};
    auto undelivered =
        s.call("POST", "/v1/messages", t.token, {{"to", "+447800500002"}, {"body", "Two"}});
    expected[undelivered.body["id"]] = {"sent", "undelivered"};
    auto refused =
        s.call("POST", "/v1/messages", t.token, {{"to", "+447900500003"}, {"body", "Three"}});
    expected[refused.body["id"]] = {"rejected"};
    json entries = json::array();
    for (int i = 0; i < 100; ++i)
        entries.push_back({{"to", "+4474005" + std::to_string(10000 + i)}});
    auto batch =
        s.call("POST", "/v1/messages/batch", t.token, {{"body", "Batch"}, {"messages", entries}});
    ASSERT_EQ(batch.status, 202) << batch.raw;
    for (const auto& m : batch.body["messages"]) expected[m["id"]] = {"sent", "delivered"};
    auto later = s.call("POST", "/v1/messages", t.token,
                        {{"to", "+447400500004"},
                         {"body", "Soon"},
                         {"scheduled_at", db::format_timestamp(std::chrono::system_clock::now()
                                                               + std::chrono::seconds(2))}});
    ASSERT_EQ(later.status, 202) << later.raw;
    expected[later.body["id"]] = {"sent", "delivered"};
    auto cancelled = s.call("POST", "/v1/messages", t.token,
                            {{"to", "+447400500005"},
                             {"body", "Never"},
                             {"scheduled_at", db::format_timestamp(std::chrono::system_clock::now()
                                                                   + std::chrono::hours(1))}});
    ASSERT_EQ(s.call("POST", "/v1/messages/" + cancelled.body["id"].get<std::string>() + "/cancel",
                     t.token)
                  .status,
              200);
    expected[cancelled.body["id"]] = {"canceled"};
    // A message's own callback_url takes precedence over the account's.
    auto own = s.call("POST", "/v1/messages", t.token,
                      {{"to", "+447400500006"}, {"body", "Own"}, {"callback_url", own_hook.url()}});
    ASSERT_EQ(own.status, 202);

    // A campaign of 300 reports through the account's URL too.
    std::string group = s.call("POST", "/v1/groups", t.token, {{"name", "all"}}).body["id"];
    std::string csv = "phone\n";
    for (int i = 0; i < 300; ++i) csv += "+4474006" + std::to_string(10000 + i) + "\n";
    auto up = s.send("POST", "/v1/contacts/import?group_id=" + group, t.token, csv, "text/csv");
    test::wait_for_import(s, t.token, up.body["id"]);
    std::string campaign =
        s.call("POST", "/v1/campaigns", t.token,
               {{"name", "c"}, {"message_template", "Campaign"}, {"groups", {group}}})
            .body["id"];
    ASSERT_EQ(s.call("POST", "/v1/campaigns/" + campaign + "/start", t.token).status, 200);

    std::size_t total = 0;
    for (const auto& [id, st] : expected) total += st.size();
    total += 300 * 2;
    wait_for_calls(account_hook, total);
    wait_for_calls(own_hook, 2);

    auto calls = account_hook.calls();
    EXPECT_EQ(calls.size(), total);
    std::map<std::string, std::vector<std::string>> got;
    std::set<std::string> event_ids;
    int campaign_calls = 0;
    for (const auto& c : calls) {
        EXPECT_TRUE(c.signature_ok) << c.body.dump();
        EXPECT_EQ(c.body["event"], "message.status");
        EXPECT_EQ(c.body["id"], c.event_id);
        EXPECT_TRUE(event_ids.insert(c.event_id).second) << "each event once";
        if (c.body["campaign_id"] == campaign) {
            ++campaign_calls;
            continue;
        }
        got[c.body["message_id"]].push_back(c.body["status"]);
        if (c.body["status"] == "rejected") {
            EXPECT_FALSE(c.body["error_code"].is_null());
        }
        if (c.body["status"] == "delivered") {
            EXPECT_FALSE(c.body["delivered_at"].is_null());
        }
    }
    EXPECT_EQ(campaign_calls, 600);
    for (const auto& [id, statuses] : expected) {
        auto g = got[id];
        std::sort(g.begin(), g.end());
        auto e = statuses;
        std::sort(e.begin(), e.end());
        EXPECT_EQ(g, e) << "message " << id;
    }
    auto mine = own_hook.calls();
    ASSERT_EQ(mine.size(), 2u);
    for (const auto& c : mine) {
        EXPECT_TRUE(c.signature_ok);
        EXPECT_EQ(c.body["message_id"], own.body["id"]);
    }
    EXPECT_EQ(got.count(own.body["id"]), 0u);

    // The record says each call was delivered at its first attempt.
    auto list = s.call(
        "GET", "/v1/webhook/deliveries?message_id=" + one.body["id"].get<std::string>(), t.token);
    ASSERT_EQ(list.status, 200);
    ASSERT_EQ(list.body["data"].size(), 2u);
    for (const auto& d : list.body["data"]) {
        EXPECT_EQ(d["state"], "delivered");
        EXPECT_EQ(d["attempts"], 1);
        EXPECT_EQ(d["last_status_code"], 204);
    }
}

TEST(webhooks, a_failing_endpoint_is_retried_with_backoff_and_every_attempt_is_recorded) {
    std::string secret;
    receiver hook("", 3);  // answers 500 three times, then 204
    auto t = tenant(100, hook.url(), &secret);
    hook.set_secret(secret);
    auto m = server().call("POST", "/v1/messages", t.token,
                           {{"to", "+447900600001"}, {"body", "Refused at once"}});
    ASSERT_EQ(m.status, 202);
    wait_for_calls(hook, 1);
    ASSERT_EQ(hook.calls().size(), 1u);
    EXPECT_EQ(hook.received(), 4);
    EXPECT_TRUE(hook.calls()[0].signature_ok);

    const std::string id = m.body["id"];
    json d;
    for (int i = 0; i < 100; ++i) {
        d = server()
                .call("GET", "/v1/webhook/deliveries?message_id=" + id, server().admin(), {},
                      {"X-Tenant-Id: " + t.id})
                .body;
        if (!d["data"].empty() && d["data"][0]["state"] == "delivered") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_EQ(d["data"].size(), 1u) << d.dump();
    EXPECT_EQ(d["data"][0]["state"], "delivered");
    EXPECT_EQ(d["data"][0]["attempts"], 4);
    auto db = test::pg::connect(server().database());
    auto rows = db.exec(
        "SELECT a.attempt, a.status_code, a.attempted_at FROM webhook_attempts a JOIN "
        "webhook_deliveries d ON d.id = a.delivery_id WHERE d.log_id = $1 ORDER BY a.attempt",
        {id});
    ASSERT_EQ(rows->size(), 4);
    std::vector<int> codes;
    for (auto r : *rows) codes.push_back(r.get<int>(1));
    EXPECT_EQ(codes, (std::vector<int>{500, 500, 500, 204}));
    // Backoff: 1 s, 2 s, 4 s between the attempts.
    auto at = [&](int i) { return (*rows)[i].get<std::chrono::system_clock::time_point>(2); };
    EXPECT_GE(at(1) - at(0), std::chrono::milliseconds(900));
    EXPECT_GE(at(3) - at(2), std::chrono::milliseconds(3500));
}

/// A TCP port that accepts connections and never answers.
struct black_hole {
    int fd = -1;
    int port = 0;
    black_hole() {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::listen(fd, 1024);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
    }
    ~black_hole() { ::close(fd); }
};

TEST(webhooks, a_dead_endpoint_does_not_slow_dispatch) {
    black_hole hole;
    std::string secret;
    auto t = tenant(5000, "http://127.0.0.1:" + std::to_string(hole.port) + "/hook", &secret);
    json entries = json::array();
    for (int i = 0; i < 2000; ++i)
        entries.push_back({{"to", "+4474007" + std::to_string(10000 + i)}});
    const auto start = std::chrono::steady_clock::now();
    auto batch = server().call("POST", "/v1/messages/batch", t.token,
                               {{"body", "Hello"}, {"messages", entries}});
    ASSERT_EQ(batch.status, 202);
    auto db = test::pg::connect(server().database());
    std::int64_t delivered = 0;
    for (int i = 0; i < 300 && delivered < 2000; ++i) {
        delivered = db.exec(
                          "SELECT count(*) FROM sms_delivery_logs WHERE user_id = $1 AND "
                          "status = 'delivered'",
                          {t.id})
                        ->front()
                        .get<std::int64_t>(0);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(delivered, 2000);
    // 4,000 calls at 1 s each with 64 in flight would take a minute; dispatch does not wait.
    EXPECT_LT(took, std::chrono::seconds(15));
    auto pending = db.exec(
        "SELECT count(*), max(attempts) FROM webhook_deliveries WHERE "
        "user_id = $1 AND state = 'pending'",
        {t.id});
    EXPECT_GT(pending->front().get<std::int64_t>(0), 0) << "the calls wait for their retries";
    // Switch the hook off so the retries stop bothering the other tests.
    server().call("PUT", "/v1/webhook", t.token, {{"url", nullptr}});
}

TEST(webhooks, sigterm_stops_the_server_within_its_grace_while_calls_hang) {
    // An endpoint that never answers, calls in flight to it, dispatch busy: SIGTERM still
    // ends the server in seconds, and the calls are retried later (their leases end).
    black_hole hole;
    test::api_server s;
    auto t = s.make_tenant("sigterm", 1000);
    s.call("PUT", "/v1/admin/tenants/" + t.id + "/sender-ids/Acme", s.admin(),
           {{"is_default", true}});
    ASSERT_EQ(s.call("PUT", "/v1/webhook", t.token,
                     {{"url", "http://127.0.0.1:" + std::to_string(hole.port) + "/hook"}})
                  .status,
              200);
    json entries = json::array();
    for (int i = 0; i < 500; ++i)
        entries.push_back({{"to", "+4474008" + std::to_string(10000 + i)}});
    ASSERT_EQ(s.call("POST", "/v1/messages/batch", t.token, {{"body", "Hi"}, {"messages", entries}})
                  .status,
              202);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const auto start = std::chrono::steady_clock::now();
    s.process().signal(SIGTERM);
    auto code = s.process().wait(std::chrono::seconds(30));
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(code) << "still running 30 s after SIGTERM";
    EXPECT_EQ(*code, 0);
    std::printf("SIGTERM with calls hanging: stopped in %.1f s\n",
                std::chrono::duration<double>(took).count());
    EXPECT_LT(took, std::chrono::seconds(12));
}

TEST(webhooks, bad_settings_are_refused_and_tenants_see_only_their_own) {
    auto& s = server();
    std::string secret;
    receiver hook("");
    auto a = tenant(10, hook.url(), &secret);
    auto r = s.call("PUT", "/v1/webhook", a.token, {{"url", "ftp://example.com"}});
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.body["error"]["field"], "url");
    r = s.call("PUT", "/v1/webhook", a.token, {{"url", 7}});
    EXPECT_EQ(r.status, 422);
    r = s.call("PUT", "/v1/webhook", a.token, {{"hook", "http://x"}});
    EXPECT_EQ(r.status, 422);
    r = s.call("PUT", "/v1/webhook", a.token, json::object());
    EXPECT_EQ(r.status, 422);
    r = s.call("GET", "/v1/webhook/deliveries?state=lost", a.token);
    EXPECT_EQ(r.status, 422);
    r = s.call("POST", "/v1/messages", a.token,
               {{"to", "+447400700001"}, {"body", "x"}, {"callback_url", "javascript:alert(1)"}});
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.body["error"]["field"], "callback_url");

    // Rotating the secret changes what signs the next calls; the old one is gone.
    auto rotated = s.call("POST", "/v1/webhook/rotate-secret", a.token);
    ASSERT_EQ(rotated.status, 200);
    EXPECT_NE(rotated.body["secret"], secret);
    hook.set_secret(rotated.body["secret"]);
    auto m = s.call("POST", "/v1/messages", a.token, {{"to", "+447400700002"}, {"body", "x"}});
    ASSERT_EQ(m.status, 202);
    wait_for_calls(hook, 2);
    ASSERT_EQ(hook.calls().size(), 2u);
    for (const auto& c : hook.calls()) EXPECT_TRUE(c.signature_ok);

    auto b = s.make_tenant(unique("other"), 10);
    EXPECT_EQ(s.call("GET", "/v1/webhook/deliveries", b.token).body["data"].size(), 0u);
    EXPECT_NE(s.call("GET", "/v1/webhook", b.token).body["secret"], rotated.body["secret"]);
    EXPECT_EQ(s.call("GET", "/v1/webhook/deliveries", a.token).body["data"].size(), 2u);

    // Changes are audited, without the secret.
    auto db = test::pg::connect(s.database());
    auto audit = db.exec(
        "SELECT action, details::text FROM audit_logs WHERE user_id IS NOT NULL "
        "AND action LIKE 'webhook.%' AND tenant_id = $1 ORDER BY created_at",
        {a.id});
    ASSERT_GE(audit->size(), 2);
    for (auto row : *audit) EXPECT_EQ(row.get<std::string>(1).find("whsec_"), std::string::npos);
}

}  // namespace
}  // namespace herald
