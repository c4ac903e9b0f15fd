// Connectors and routes: the admin API (validation, no password in answers, audit), routing
// by longest prefix, failover to the route's next connector when one dies mid-campaign, and
// connector health in the API and /metrics. Each SMSC is a `herald smsc-sim` process.

#include <chrono>
#include <set>
#include <signal.h>
#include <thread>

#include <gtest/gtest.h>

#include "support/api_server.hpp"
#include "support/http_client.hpp"
#include "support/pg.hpp"
#include "support/run.hpp"
#include "support/smsc_process.hpp"

namespace herald {
namespace {

using test::api_server;
using test::json;

using smsc = test::smsc_process;

json connector(const std::string& name, int port) {
    return {{"name", name},      {"host", "127.0.0.1"}, {"port", port}, {"system_id", "herald"},
            {"password", "pw1"}, {"binds", 1},          {"window", 64}};
}

TEST(connectors, the_admin_api_validates_hides_the_password_and_audits) {
    api_server s;
    auto& admin = s.admin();
    auto made = s.call("POST", "/v1/admin/connectors", admin, connector("carrier-a", 2775));
    ASSERT_EQ(made.status, 201) << made.raw;
    EXPECT_EQ(made.raw.find("pw1"), std::string::npos) << "the password never comes back";
    EXPECT_EQ(made.body["password_set"], true);
    EXPECT_EQ(made.body["bind_mode"], "transceiver");
    EXPECT_EQ(s.call("POST", "/v1/admin/connectors", admin, connector("carrier-a", 2775)).status,
              409);
    auto check = [&](json body, const std::string& field) {
        auto r = s.call("POST", "/v1/admin/connectors", admin, body);
        EXPECT_EQ(r.status, 422) << body.dump() << " " << r.raw;
        EXPECT_EQ(r.body["error"]["field"], field) << r.raw;
    };
    auto base = connector("carrier-b", 2775);
    json b = base;
    b.erase("host");
    check(b, "host");
    b = base;
    b["port"] = 70000;
    check(b, "port");
    b = base;
    b["name"] = "Bad Name";
    check(b, "name");
    b = base;
    b["binds"] = 0;
    check(b, "binds");
    b = base;
    b["long_message"] = "carrier-pigeon";
    check(b, "long_message");
    b = base;
    b["password"] = "far-too-long";
    check(b, "password");
    b = base;
    b["system_type"] = "caf\u00e9";
    check(b, "system_type");
    b = base;
    b["tps"] = -1;
    check(b, "tps");
    b = base;
    b["colour"] = "red";
    check(b, "colour");

    auto patched =
        s.call("PATCH", "/v1/admin/connectors/carrier-a", admin, {{"tps", 50}, {"enabled", false}});
    ASSERT_EQ(patched.status, 200) << patched.raw;
    EXPECT_EQ(patched.body["tps"], 50);
    EXPECT_EQ(patched.body["enabled"], false);
    EXPECT_EQ(s.call("PATCH", "/v1/admin/connectors/nope", admin, {{"tps", 1}}).status, 404);

    auto route = s.call("PUT", "/v1/admin/routes/%2B44", admin, {{"connectors", {"carrier-a"}}});
    ASSERT_EQ(route.status, 200) << route.raw;
    EXPECT_EQ(route.body["prefix"], "+44");
    auto r = s.call("PUT", "/v1/admin/routes/%2B44", admin, {{"connectors", {"ghost"}}});
    EXPECT_EQ(r.status, 404) << r.raw;  // like every reference to something that is not there
    EXPECT_EQ(r.body["error"]["field"], "connectors");
    EXPECT_NE(r.body["error"]["message"].get<std::string>().find("ghost"), std::string::npos);
    EXPECT_EQ(s.call("PUT", "/v1/admin/routes/44x", admin, {{"connectors", {"carrier-a"}}}).status,
              422);
    EXPECT_EQ(
        s.call("PUT", "/v1/admin/routes/default", admin, {{"connectors", json::array()}}).status,
        422);
    // A connector in use by a route cannot be deleted.
    r = s.call("DELETE", "/v1/admin/connectors/carrier-a", admin);
    EXPECT_EQ(r.status, 409) << r.raw;
    EXPECT_EQ(s.call("DELETE", "/v1/admin/routes/%2B44", admin).status, 204);
    EXPECT_EQ(s.call("DELETE", "/v1/admin/connectors/carrier-a", admin).status, 204);

    // Tenants cannot see or touch connectors.
    auto t = s.make_tenant("conn-tenant", 0);
    EXPECT_EQ(s.call("GET", "/v1/admin/connectors", t.token).status, 403);

    auto db = test::pg::connect(s.database());
    auto audit = db.exec(
        "SELECT count(*), bool_or(details::text LIKE '%pw1%') FROM audit_logs "
        "WHERE action LIKE 'connectors.%' OR action LIKE 'routes.%'");
    EXPECT_EQ(audit->front().get<std::int64_t>(0), 5);
    EXPECT_FALSE(audit->front().get<bool>(1)) << "no password in the audit log";
}

TEST(connectors, a_route_fails_over_to_its_next_connector_when_the_first_dies) {
    auto a = std::make_unique<smsc>();
    smsc b, other;
    api_server s;
    auto& admin = s.admin();
    ASSERT_EQ(s.call("POST", "/v1/admin/connectors", admin, connector("first", a->port)).status,
              201);
    ASSERT_EQ(s.call("POST", "/v1/admin/connectors", admin, connector("second", b.port)).status,
              201);
    ASSERT_EQ(
        s.call("POST", "/v1/admin/connectors", admin, connector("uk-only", other.port)).status,
        201);
    ASSERT_EQ(
        s.call("PUT", "/v1/admin/routes/%2B1", admin, {{"connectors", {"first", "second"}}}).status,
        200);
    // The longest prefix wins: +4420 goes to uk-only; +44 has no route of its own.
    ASSERT_EQ(
        s.call("PUT", "/v1/admin/routes/%2B4420", admin, {{"connectors", {"uk-only"}}}).status,
        200);

    auto t = s.make_tenant("failover", 30000);
    s.call("PUT", "/v1/admin/tenants/" + t.id + "/sender-ids/Acme", admin, {{"is_default", true}});
    // Wait for the binds (leases are taken within a refresh).
    json list;
    for (int i = 0; i < 200; ++i) {
        list = s.call("GET", "/v1/admin/connectors", admin).body;
        int up = 0;
        for (const auto& k : list["data"])
            if (!k["health"].is_null() && k["health"]["bound"] == true) ++up;
        if (up == 3) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    for (const auto& k : list["data"]) EXPECT_EQ(k["health"]["binds_up"], 1) << k.dump();

    auto london = s.call("POST", "/v1/messages", t.token, {{"to", "+442071838750"}, {"body", "x"}});
    ASSERT_EQ(london.status, 202);
    auto paris = s.call("POST", "/v1/messages", t.token, {{"to", "+33612345678"}, {"body", "x"}});
    ASSERT_EQ(paris.status, 202);

    std::string group = s.call("POST", "/v1/groups", t.token, {{"name", "all"}}).body["id"];
    std::string csv = "phone\n";
    for (int i = 0; i < 20000; ++i) csv += "+1212" + std::to_string(3000000 + i) + "\n";
    auto up = s.send("POST", "/v1/contacts/import?group_id=" + group, t.token, csv, "text/csv");
    test::wait_for_import(s, t.token, up.body["id"]);
    std::string campaign =
        s.call("POST", "/v1/campaigns", t.token,
               {{"name", "c"}, {"message_template", "Hello"}, {"groups", {group}}})
            .body["id"];
    ASSERT_EQ(s.call("POST", "/v1/campaigns/" + campaign + "/start", t.token).status, 200);
    for (int i = 0; i < 600 && a->get("/stats")["submits"].get<int>() < 4000; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    // The first carrier stops answering, so once its window is full nothing more reaches
    // it; what it saw by then is all it will ever see. Then it dies.
    a->post("/faults", {{"response_delay", "60s"}});
    for (int last = -1, i = 0; i < 100; ++i) {
        const int now = a->get("/stats")["submits"].get<int>();
        if (now == last) break;
        last = now;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    const auto first_numbers = a->numbers();
    a->process->signal(SIGKILL);
    a->process->wait(std::chrono::seconds(5));
    json st;
    for (int i = 0; i < 1200; ++i) {
        st = s.call("GET", "/v1/campaigns/" + campaign + "/stats", t.token).body;
        if (st["status"] == "completed" && !st["by_status"].contains("queued")
            && !st["by_status"].contains("sending"))
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(st["status"], "completed") << st.dump();
    EXPECT_EQ(st["by_status"].value("failed", 0), 0) << st.dump();
    // Everything reached a carrier: the dead one's receipts never come, the rest delivered.
    const auto second_numbers = b.numbers();
    EXPECT_GT(second_numbers.size(), 10000u);
    std::set<std::string> all = second_numbers;
    all.insert(first_numbers.begin(), first_numbers.end());
    EXPECT_EQ(all.size(), 20000u) << "every number reached a carrier";
    int twice = 0;
    for (const auto& n : first_numbers) twice += second_numbers.contains(n);
    std::printf("failover: first took %zu, second %zu, both %d (window 64)\n", first_numbers.size(),
                second_numbers.size(), twice);
    EXPECT_LE(twice, 64);
    auto db = test::pg::connect(s.database());
    auto rows = db.exec(
        "SELECT count(*), count(DISTINCT recipient_id), count(*) FILTER (WHERE "
        "status IN ('sent', 'delivered')) FROM sms_delivery_logs WHERE "
        "campaign_id = $1",
        {campaign});
    EXPECT_EQ(rows->front().get<std::int64_t>(0), 20000);
    EXPECT_EQ(rows->front().get<std::int64_t>(1), 20000);
    EXPECT_EQ(rows->front().get<std::int64_t>(2), 20000);
    auto parts = db.exec("SELECT connector, count(*) FROM sms_message_parts GROUP BY 1 ORDER BY 1");
    for (auto r : *parts)
        std::printf("  parts via %s: %lld\n", r.get<std::string>(0).c_str(),
                    static_cast<long long>(r.get<std::int64_t>(1)));

    // London went by the longest prefix; Paris has no route and failed, refunded.
    auto lm = s.call("GET", "/v1/messages/" + london.body["id"].get<std::string>(), t.token).body;
    EXPECT_EQ(lm["status"], "delivered") << lm.dump();
    EXPECT_TRUE(other.numbers().contains("+442071838750"));
    auto pm = s.call("GET", "/v1/messages/" + paris.body["id"].get<std::string>(), t.token).body;
    EXPECT_EQ(pm["status"], "failed");
    EXPECT_EQ(pm["error_code"], "no_route");

    // Health shows the dead connector down, in the API and in /metrics.
    list = s.call("GET", "/v1/admin/connectors/first", admin).body;
    EXPECT_EQ(list["health"]["bound"], false) << list.dump();
    EXPECT_FALSE(list["health"]["last_error"].is_null());
    test::http_client c(s.port());
    auto metrics = c.get("/metrics").body;
    EXPECT_NE(metrics.find("herald_connector_bound{connector=\"first\"} 0"), std::string::npos);
    EXPECT_NE(metrics.find("herald_connector_bound{connector=\"second\"} 1"), std::string::npos);
    EXPECT_NE(metrics.find("herald_connector_submitted_total{connector=\"second\"}"),
              std::string::npos);
    // The dispatcher's own counters, and where its loops spent their time.
    auto value = [&](const std::string& series) {
        auto at = metrics.find(series + " ");
        EXPECT_NE(at, std::string::npos) << series << " missing from\n" << metrics;
        return at == std::string::npos ? -1.0 : std::stod(metrics.substr(at + series.size() + 1));
    };
    EXPECT_GE(value("herald_dispatch_messages_total{event=\"sent\"}"), 1.0);
    EXPECT_GE(value("herald_dispatch_messages_total{event=\"no_route\"}"), 1.0);
    EXPECT_GT(value("herald_dispatch_busy_seconds_total{loop=\"claim\"}"), 0.0);
    EXPECT_GT(value("herald_dispatch_busy_seconds_total{loop=\"outcomes\"}"), 0.0);
    EXPECT_GE(value("herald_dispatch_busy_seconds_total{loop=\"wait_room\"}"), 0.0);
}

// Carriers spell the id in their receipts' text differently from the one they answered the
// submit with (decimal against hexadecimal, upper against lower case); a connector's
// dlr_id_format says how. The receipted_message_id parameter, when there is one, is spelled
// as the submit's answer was. Either way every message, of one part or several, must reach
// its final status.
TEST(connectors, receipts_find_their_messages_whatever_spelling_the_carrier_uses_for_ids) {
    struct carrier {
        std::string format;
        std::vector<std::string> sim;
    };
    const std::vector<carrier> carriers = {
        {"decimal_in_receipt", {"--receipt-ids", "decimal"}},
        {"hex_in_receipt", {"--decimal-ids", "--receipt-ids", "hex"}},
        {"case_insensitive", {"--receipt-ids", "upper"}},
        {"decimal_in_receipt", {"--receipt-ids", "decimal", "--receipt-form", "text"}},
        {"hex_in_receipt", {"--decimal-ids", "--receipt-ids", "hex", "--receipt-form", "text"}},
        {"case_insensitive", {"--receipt-ids", "upper", "--receipt-form", "text"}},
    };
    std::vector<std::unique_ptr<smsc>> sims;
    api_server s;
    auto& admin = s.admin();
    for (std::size_t i = 0; i < carriers.size(); ++i) {
        sims.push_back(std::make_unique<smsc>(carriers[i].sim));
        const std::string name = "carrier" + std::to_string(i);
        auto k = connector(name, sims.back()->port);
        k["dlr_id_format"] = carriers[i].format;
        ASSERT_EQ(s.call("POST", "/v1/admin/connectors", admin, k).status, 201);
        // +1212 goes to the first, +1213 to the second, and so on.
        ASSERT_EQ(s.call("PUT", "/v1/admin/routes/%2B121" + std::to_string(2 + i), admin,
                         {{"connectors", {name}}})
                      .status,
                  200);
    }
    auto t = s.make_tenant("spelling", 1000);
    s.call("PUT", "/v1/admin/tenants/" + t.id + "/sender-ids/Acme", admin, {{"is_default", true}});
    std::vector<std::pair<std::string, std::string>> sent;  // (format, message id)
    const std::string long_text(200, 'x');                  // two parts
    for (std::size_t i = 0; i < carriers.size(); ++i)
        for (const auto& body : {std::string("short"), long_text}) {
            const std::string to = "+121" + std::to_string(2 + i) + "5550100";
            auto r = s.call("POST", "/v1/messages", t.token, {{"to", to}, {"body", body}});
            ASSERT_EQ(r.status, 202) << r.body.dump();
            sent.emplace_back(carriers[i].format + " " + carriers[i].sim.back(),
                              r.body["id"].get<std::string>());
        }
    for (const auto& [format, id] : sent) {
        json m;
        for (int i = 0; i < 300; ++i) {
            m = s.call("GET", "/v1/messages/" + id, t.token).body;
            if (m["status"] == "delivered") break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        EXPECT_EQ(m["status"], "delivered") << format << ": " << m.dump();
    }
}

}  // namespace
}  // namespace herald
