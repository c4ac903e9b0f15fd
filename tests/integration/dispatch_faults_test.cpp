// Dispatch under failure, against `herald smsc-sim` as a separate process (so it outlives
// Herald and counts every number it was sent): kill -9 of the server mid-campaign, the SMSC
// dropping every connection, PostgreSQL restarting, and two nodes sharing a campaign while
// one dies. In each case every recipient ends with exactly one delivery log row, the ledger
// sums to the balance, and numbers sent twice stay within one SMPP window.

#include <array>
#include <chrono>
#include <signal.h>
#include <thread>

#include <gtest/gtest.h>

#include "support/api_server.hpp"
#include "support/background.hpp"
#include "support/http_client.hpp"
#include "support/pg.hpp"
#include "support/run.hpp"
#include "support/smsc_process.hpp"

namespace herald {
namespace {

using test::api_server;
using test::json;

constexpr int window = 256;

/// The SMSC, and the settings that point a server at it.
struct smsc : test::smsc_process {
    std::vector<std::string> env() const {
        return {"HERALD_DISPATCH_SMSC=127.0.0.1:" + std::to_string(port),
                "HERALD_DISPATCH_LEASE=3s", "HERALD_DISPATCH_WINDOW=" + std::to_string(window)};
    }
};

using test::unique;

struct campaign_run {
    test::tenant_account account;
    std::string campaign;
    int recipients = 0;
};

/// A tenant with `n` contacts in a group, credits for all, and a started campaign.
campaign_run start_campaign(api_server& s, int n, int first_number) {
    campaign_run r;
    r.recipients = n;
    r.account = s.make_tenant(unique("fault"), n + 100);
    s.call("PUT", "/v1/admin/tenants/" + r.account.id + "/sender-ids/Acme", s.admin(),
           {{"is_default", true}});
    std::string group = s.call("POST", "/v1/groups", r.account.token, {{"name", "all"}}).body["id"];
    std::string csv = "phone\n";
    csv.reserve(std::size_t(n) * 14);
    for (int i = 0; i < n; ++i) {
        char num[32];
        std::snprintf(num, sizeof num, "+1212%07d\n", 2000000 + first_number + i);
        csv += num;
    }
    auto up =
        s.send("POST", "/v1/contacts/import?group_id=" + group, r.account.token, csv, "text/csv");
    auto job = test::wait_for_import(s, r.account.token, up.body["id"]);
    EXPECT_EQ(job["imported"], n) << job.dump();
    r.campaign =
        s.call("POST", "/v1/campaigns", r.account.token,
               {{"name", "fault"}, {"message_template", "Payment reminder"}, {"groups", {group}}})
            .body["id"];
    auto started = s.call("POST", "/v1/campaigns/" + r.campaign + "/start", r.account.token);
    EXPECT_EQ(started.status, 200) << started.raw;
    return r;
}

int submitted(const smsc& sim) {
    return sim.get("/stats")["submits"].get<int>();
}

void wait_for_submits(const smsc& sim, int at_least) {
    for (int i = 0; i < 600 && submitted(sim) < at_least; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

/// The tenant's ledger sums to its balance, and that is `balance` (each message charged once).
void check_ledger(db::connection& db, const std::string& tenant, std::int64_t balance) {
    auto ledger = db.exec(
        "SELECT coalesce(sum(credits), 0)::bigint, (SELECT sms_credits FROM users WHERE id = $1) "
        "FROM billing_transactions WHERE user_id = $1",
        {tenant});
    EXPECT_EQ(ledger->front().get<std::int64_t>(0), ledger->front().get<std::int64_t>(1))
        << "ledger = balance";
    EXPECT_EQ(ledger->front().get<std::int64_t>(1), balance) << "each message charged once";
}

/// Waits until the campaign completed and nothing waits for a receipt, then checks the
/// invariants and returns how many numbers the SMSC saw more than once.
int check_finished(api_server& s, const campaign_run& r, const smsc& sim) {
    json st;
    for (int i = 0; i < 1800; ++i) {
        st = s.call("GET", "/v1/campaigns/" + r.campaign + "/stats", r.account.token).body;
        const auto& by = st["by_status"];
        if (st["status"] == "completed" && !by.contains("queued") && !by.contains("sending")
            && !by.contains("sent"))
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(st["status"], "completed") << st.dump();
    EXPECT_EQ(st["total_recipients"], r.recipients);
    EXPECT_EQ(st["by_status"].value("delivered", 0), r.recipients) << st.dump();

    auto db = test::pg::connect(s.database());
    auto rows = db.exec(
        "SELECT count(*), count(DISTINCT recipient_id) FROM sms_delivery_logs WHERE campaign_id = "
        "$1",
        {r.campaign});
    EXPECT_EQ(rows->front().get<std::int64_t>(0), r.recipients)
        << "one delivery log row per recipient";
    EXPECT_EQ(rows->front().get<std::int64_t>(1), r.recipients);
    check_ledger(db, r.account.id, 100);
    auto numbers = sim.get("/numbers");
    EXPECT_EQ(numbers["distinct"].get<int>(), r.recipients) << "the SMSC saw every number";
    return int(numbers["duplicates"].size());
}

TEST(dispatch_faults, kill_9_mid_campaign_then_restart) {
    smsc sim;
    api_server s(sim.env());
    auto r = start_campaign(s, 100000, 0);
    wait_for_submits(sim, 30000);
    s.crash_and_restart();
    const int dups = check_finished(s, r, sim);
    std::printf("kill -9 after %d submits: %d numbers sent twice (bound: %d)\n", 30000, dups,
                window);
    EXPECT_LE(dups, window);
}

TEST(dispatch_faults, the_smsc_drops_every_connection_mid_campaign) {
    smsc sim;
    api_server s(sim.env());
    auto r = start_campaign(s, 20000, 0);
    wait_for_submits(sim, 2000);
    sim.post("/faults", {{"drop_after", 3000}});
    const int dups = check_finished(s, r, sim);
    std::printf("SMSC dropped the binds: %d numbers sent twice (bound: %d)\n", dups, window);
    EXPECT_LE(dups, window);
    EXPECT_GE(sim.get("/stats")["disconnects"].get<int>(), 1);
}

TEST(dispatch_faults, postgresql_restarts_mid_campaign) {
    // The test cluster runs with synchronous_commit off for speed, which lets a crash lose
    // the last commits it acknowledged. Production servers keep it on; so does this test.
    auto admin = test::pg::connect(test::pg::instance().conninfo("postgres"));
    ASSERT_TRUE(admin.exec("ALTER ROLE CURRENT_USER SET synchronous_commit = on"));
    smsc sim;
    api_server s(sim.env());
    auto r = start_campaign(s, 20000, 0);
    wait_for_submits(sim, 4000);
    auto& cluster = test::pg::instance().cluster();
    ASSERT_TRUE(cluster.stop(true));  // as a crash would
    std::this_thread::sleep_for(std::chrono::seconds(2));
    ASSERT_TRUE(cluster.ensure_running());
    const int dups = check_finished(s, r, sim);
    std::printf("PostgreSQL restarted: %d numbers sent twice (bound: %d)\n", dups, window);
    EXPECT_LE(dups, window);
}

TEST(dispatch_faults, two_nodes_share_a_campaign_and_one_finishes_when_the_other_dies) {
    smsc sim;
    api_server s(sim.env());
    auto second = s.start_node();
    auto r = start_campaign(s, 40000, 0);
    wait_for_submits(sim, 10000);
    second->signal(SIGKILL);
    second->wait(std::chrono::seconds(10));
    const int dups = check_finished(s, r, sim);
    std::printf("two nodes, one killed: %d numbers sent twice (bound: %d)\n", dups, window);
    EXPECT_LE(dups, window);
    // Both nodes took part: the SMSC saw two binds.
    EXPECT_GE(sim.get("/stats")["binds_total"].get<int>(), 2);
}

// A node claims up to a window of campaign messages ahead of what it has handed to the SMSC.
// When it stops mid-campaign, what it claimed and did not send goes back to the queue and
// its batches are finished, so another node carries on at once rather than after the lease
// (two minutes here), and nothing goes out twice.
TEST(dispatch_faults, a_node_that_stops_mid_campaign_leaves_nothing_leased) {
    smsc sim;
    auto env = sim.env();
    env.push_back("HERALD_DISPATCH_LEASE=120s");
    api_server s(env);
    auto r = start_campaign(s, 20000, 0);
    wait_for_submits(sim, 4000);
    s.process().signal(SIGTERM);
    ASSERT_EQ(s.process().wait(std::chrono::seconds(30)), 0) << s.process().output();
    auto db = test::pg::connect(s.database());
    auto leased = db.exec(
        "SELECT (SELECT count(*) FROM campaign_batches WHERE campaign_id = $1 AND lease_until > "
        "now()), (SELECT count(*) FROM send_queue WHERE campaign_id = $1 AND lease_until > "
        "now())",
        {r.campaign});
    EXPECT_EQ(leased->front().get<std::int64_t>(0), 0) << "no campaign batch left leased";
    EXPECT_EQ(leased->front().get<std::int64_t>(1), 0) << "no queued message left leased";
    EXPECT_LT(submitted(sim), r.recipients) << "stopped mid-campaign";

    const auto started = std::chrono::steady_clock::now();
    auto other = s.start_node(env);
    auto delivered = [&] {
        auto q = db.exec(
            "SELECT count(*), count(*) FILTER (WHERE status = 'delivered') FROM "
            "sms_delivery_logs WHERE campaign_id = $1",
            {r.campaign});
        return std::pair{q->front().get<std::int64_t>(0), q->front().get<std::int64_t>(1)};
    };
    for (int i = 0; i < 1200 && delivered().second < r.recipients; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(60));
    EXPECT_EQ(delivered(), std::pair(std::int64_t(r.recipients), std::int64_t(r.recipients)))
        << "one delivery log row per recipient, each delivered";
    check_ledger(db, r.account.id, 100);
    auto numbers = sim.get("/numbers");
    EXPECT_EQ(numbers["distinct"].get<int>(), r.recipients) << "the SMSC saw every number";
    EXPECT_EQ(numbers["duplicates"].size(), 0u) << "a node that stops sends nothing twice";
}

/// A tenant that sent `n` single messages through POST /v1/messages (all accepted). With an
/// SMSC that cannot be reached, they wait in the node's hands.
struct handed_run {
    test::tenant_account account;
    int messages = 0;
};

handed_run send_messages(api_server& s, int n) {
    handed_run r{.account = s.make_tenant(unique("handed"), n + 50), .messages = n};
    s.call("PUT", "/v1/admin/tenants/" + r.account.id + "/sender-ids/Acme", s.admin(),
           {{"is_default", true}});
    for (int i = 0; i < n; ++i) {
        auto a = s.call("POST", "/v1/messages", r.account.token,
                        {{"to", "+1212" + std::to_string(5550000 + i)}, {"body", "Your code"}});
        EXPECT_EQ(a.status, 202) << a.raw;
    }
    return r;
}

/// Counts of the tenant's messages: all, delivered, and those whose queue row is leased.
std::array<std::int64_t, 3> message_counts(api_server& s, const handed_run& r) {
    auto db = test::pg::connect(s.database());
    auto rows = db.exec(
        "SELECT count(*), count(*) FILTER (WHERE status = 'delivered'), (SELECT count(*) FROM "
        "send_queue q WHERE q.user_id = $1 AND q.lease_owner IS NOT NULL) FROM "
        "sms_delivery_logs WHERE user_id = $1",
        {r.account.id});
    return {rows->front().get<std::int64_t>(0), rows->front().get<std::int64_t>(1),
            rows->front().get<std::int64_t>(2)};
}

/// Waits until every message is delivered, then checks the ledger and the SMSC's count.
void check_delivered_once(api_server& s, const handed_run& r, const test::smsc_process& sim) {
    for (int i = 0; i < 600 && message_counts(s, r)[1] < r.messages; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto counts = message_counts(s, r);
    EXPECT_EQ(counts[0], r.messages) << "one delivery log row per message";
    EXPECT_EQ(counts[1], r.messages) << "every message delivered";
    auto db = test::pg::connect(s.database());
    check_ledger(db, r.account.id, 50);
    auto numbers = sim.get("/numbers");
    EXPECT_EQ(numbers["distinct"].get<int>(), r.messages) << "the SMSC saw every number";
    EXPECT_EQ(numbers["duplicates"].size(), 0u) << "none was in flight, so none went twice";
}

// Accepted messages are leased to the accepting node at once (decision 0021), so no claim
// looks at them while that node lives. When it dies before sending them, the lease runs out
// and another node sends each of them once.
TEST(dispatch_faults, messages_handed_to_a_node_that_dies_are_sent_once_by_another) {
    smsc sim;
    api_server s({"HERALD_DISPATCH_SMSC=127.0.0.1:1", "HERALD_DISPATCH_LEASE=3s"});
    auto r = send_messages(s, 60);
    EXPECT_EQ(message_counts(s, r)[2], r.messages) << "leased to the node that accepted them";
    s.process().signal(SIGKILL);
    s.process().wait(std::chrono::seconds(20));
    auto other = s.start_node(sim.env());
    check_delivered_once(s, r, sim);
}

// A node that stops with handed messages it could not send gives their leases back, so
// another node sends them at once rather than after the lease (two minutes here).
TEST(dispatch_faults, a_node_that_stops_gives_back_the_messages_it_was_handed) {
    smsc sim;
    api_server s({"HERALD_DISPATCH_SMSC=127.0.0.1:1", "HERALD_DISPATCH_LEASE=120s"});
    auto r = send_messages(s, 40);
    EXPECT_EQ(message_counts(s, r)[2], r.messages);
    s.process().signal(SIGTERM);
    ASSERT_EQ(s.process().wait(std::chrono::seconds(30)), 0) << s.process().output();
    EXPECT_EQ(message_counts(s, r)[2], 0) << "no lease left behind";
    const auto started = std::chrono::steady_clock::now();
    auto other = s.start_node(sim.env());
    check_delivered_once(s, r, sim);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(60));
}

// A message that waits half its lease for room on its node is not sent from there: by the
// time it reached the SMSC another node could have claimed it. Its lease is given back and
// a claim sends it later, once. Here the window is one message and each answer takes
// longer than half the lease, so the messages behind the first always wait that long.
TEST(dispatch_faults, a_message_that_waits_half_its_lease_for_room_goes_back_unsent) {
    test::smsc_process sim({"--response-delay", "1500ms"});
    api_server s({"HERALD_DISPATCH_SMSC=127.0.0.1:" + std::to_string(sim.port),
                  "HERALD_DISPATCH_LEASE=2s", "HERALD_DISPATCH_WINDOW=1",
                  "HERALD_DISPATCH_BINDS=1"});
    auto r = send_messages(s, 4);
    check_delivered_once(s, r, sim);
    EXPECT_NE(s.process().output().find("waited too long for room"), std::string::npos)
        << "some message went back unsent";
}

}  // namespace
}  // namespace herald
