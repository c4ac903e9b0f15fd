// Dispatch under failure, against `herald smsc-sim` as a separate process (so it outlives
// Herald and counts every number it was sent): kill -9 of the server mid-campaign, the SMSC
// dropping every connection, PostgreSQL restarting, and two nodes sharing a campaign while
// one dies. In each case every recipient ends with exactly one delivery log row, the ledger
// sums to the balance, and numbers sent twice stay within one SMPP window.

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
    auto ledger = db.exec(
        "SELECT coalesce(sum(credits), 0)::bigint, (SELECT sms_credits FROM users WHERE id = $1) "
        "FROM billing_transactions WHERE user_id = $1",
        {r.account.id});
    EXPECT_EQ(ledger->front().get<std::int64_t>(0), ledger->front().get<std::int64_t>(1))
        << "ledger = balance";
    EXPECT_EQ(ledger->front().get<std::int64_t>(1), 100) << "each recipient charged exactly once";
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

}  // namespace
}  // namespace herald
