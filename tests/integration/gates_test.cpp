// The time gates at the moment of sending, end to end through the dispatcher and the
// built-in simulator: quiet hours in the recipient's local time (deferred, never dropped),
// and a campaign's TPS cap. The server's business clock is shifted so that it is just
// before 08:00 in New York when the test runs.

#include <chrono>
#include <thread>

#include <date/tz.h>
#include <gtest/gtest.h>

#include "support/api_server.hpp"
#include "support/pg.hpp"

namespace herald {
namespace {

using namespace std::chrono_literals;
using test::api_server;
using test::json;
using clock_type = std::chrono::system_clock;

constexpr auto lead = 12s;  // how long before 08:00 New York time the server thinks it is

/// Seconds to add to the real clock so that it reads 07:59:48 in New York now.
std::chrono::seconds offset_to_ny_morning() {
    const auto* ny = date::locate_zone("America/New_York");
    const auto now = std::chrono::floor<std::chrono::seconds>(clock_type::now());
    const auto local = ny->to_local(now);
    const auto target = date::floor<date::days>(local) + 8h - lead;
    return std::chrono::duration_cast<std::chrono::seconds>(target - local);
}

std::chrono::seconds offset{0};  // set as the server starts

api_server& server() {
    static api_server s = [] {
        offset = offset_to_ny_morning();
        return api_server({"HERALD_DISPATCH_CLOCK_OFFSET=" + std::to_string(offset.count()),
                           "HERALD_SIMULATOR_RECEIPT_LATENCY=20ms"});
    }();
    return s;
}

using test::unique;

struct audience {
    test::tenant_account account;
    std::string group;
};

audience make_audience(const std::vector<std::string>& numbers, int credits) {
    auto& s = server();
    audience a;
    a.account = s.make_tenant(unique("gates"), credits);
    s.call("PUT", "/v1/admin/tenants/" + a.account.id + "/sender-ids/Acme", s.admin(),
           {{"is_default", true}});
    a.group = s.call("POST", "/v1/groups", a.account.token, {{"name", "all"}}).body["id"];
    std::string csv = "phone\n";
    for (const auto& n : numbers) csv += n + "\n";
    auto up =
        s.send("POST", "/v1/contacts/import?group_id=" + a.group, a.account.token, csv, "text/csv");
    auto job = test::wait_for_import(s, a.account.token, up.body["id"]);
    EXPECT_EQ(job["imported"], int(numbers.size())) << job.dump();
    return a;
}

json wait_for_campaign(const audience& a, const std::string& id, std::chrono::seconds limit) {
    json st;
    for (auto until = clock_type::now() + limit; clock_type::now() < until;) {
        st = server().call("GET", "/v1/campaigns/" + id + "/stats", a.account.token).body;
        if (st["status"] == "completed" && st["by_status"].size() == 1
            && st["by_status"].contains("delivered"))
            break;
        std::this_thread::sleep_for(100ms);
    }
    return st;
}

/// The business time (New York) at which each message of a campaign was sent, by number.
std::map<std::string, date::local_seconds> ny_send_times(const std::string& campaign) {
    auto db = test::pg::connect(server().database());
    auto rows = db.exec(
        "SELECT phone_number, sent_at FROM sms_delivery_logs WHERE campaign_id = $1 AND sent_at "
        "IS NOT NULL",
        {campaign});
    const auto* ny = date::locate_zone("America/New_York");
    std::map<std::string, date::local_seconds> out;
    for (auto r : *rows)
        out[r.get<std::string>(0)] = ny->to_local(
            std::chrono::floor<std::chrono::seconds>(r.get<clock_type::time_point>(1) + offset));
    return out;
}

TEST(gates, quiet_hours_hold_new_york_until_eight_and_let_london_through) {
    // Everything here happens in the seconds before 08:00 in New York, so it is one test:
    // a campaign with quiet hours of its own, and an API message under the account's.
    auto& s = server();
    const std::vector<std::string> new_york{"+12125550101", "+12125550102", "+12125550103"};
    const std::vector<std::string> london{"+447400123401", "+447400123402"};
    std::vector<std::string> all = new_york;
    all.insert(all.end(), london.begin(), london.end());
    auto a = make_audience(all, 100);
    const auto& who = a.account.token;
    auto acct = s.make_tenant(unique("acct"), 10);
    s.call("PUT", "/v1/admin/tenants/" + acct.id + "/sender-ids/Acme", s.admin(),
           {{"is_default", true}});
    auto set = s.call("PATCH", "/v1/admin/tenants/" + acct.id, s.admin(),
                      {{"settings", {{"quiet_hours", {{"start", "20:00"}, {"end", "08:00"}}}}}});
    ASSERT_EQ(set.status, 200) << set.raw;

    auto c = s.call("POST", "/v1/campaigns", who,
                    {{"name", "morning"},
                     {"message_template", "Your statement is ready"},
                     {"groups", {a.group}},
                     {"settings", {{"quiet_hours", {{"start", "21:00"}, {"end", "08:00"}}}}}});
    ASSERT_EQ(c.status, 201) << c.raw;
    const std::string id = c.body["id"];
    ASSERT_EQ(s.call("POST", "/v1/campaigns/" + id + "/start", who).status, 200);
    auto single =
        s.call("POST", "/v1/messages", acct.token, {{"to", "+12125550199"}, {"body", "Hi"}});
    ASSERT_EQ(single.status, 202) << single.raw;
    const std::string single_id = single.body["id"];

    // London (13:00 or so there) goes at once; New York waits, queued with the reason.
    json list, one;
    for (int i = 0; i < 100; ++i) {
        list = s.call("GET", "/v1/messages?campaign_id=" + id, who).body;
        one = s.call("GET", "/v1/messages/" + single_id, acct.token).body;
        int held = 0, gone = 0;
        for (const auto& m : list["data"]) {
            if (m["status"] == "queued" && m["error_code"] == "quiet_hours") ++held;
            if (m["status"] == "delivered") ++gone;
        }
        if (held == 3 && gone == 2 && one["error_code"] == "quiet_hours") break;
        std::this_thread::sleep_for(50ms);
    }
    for (const auto& m : list["data"]) {
        const bool ny = m["to"].get<std::string>().starts_with("+1");
        EXPECT_EQ(m["status"], ny ? "queued" : "delivered") << m.dump();
        if (ny) {
            EXPECT_EQ(m["error_code"], "quiet_hours") << m.dump();
            EXPECT_NE(m["error_message"].get<std::string>().find("until"), std::string::npos);
        }
    }
    EXPECT_EQ(one["status"], "queued") << one.dump();
    EXPECT_EQ(one["error_code"], "quiet_hours") << one.dump();

    auto st = wait_for_campaign(a, id, 60s);
    EXPECT_EQ(st["status"], "completed") << st.dump();
    EXPECT_EQ(st["by_status"].value("delivered", 0), 5) << st.dump();
    // Nobody in New York was texted before 08:00 their time.
    auto sent = ny_send_times(id);
    ASSERT_EQ(sent.size(), 5u);
    for (const auto& n : new_york) {
        const auto local = sent.at(n);
        const auto since_midnight = local - date::floor<date::days>(local);
        EXPECT_GE(since_midnight, std::chrono::seconds(8h)) << n << " was sent before 08:00";
        EXPECT_LT(since_midnight, std::chrono::seconds(8h + 1min)) << n << " waited too long";
    }
    for (int i = 0; i < 100 && one["status"] != "delivered"; ++i) {
        std::this_thread::sleep_for(100ms);
        one = s.call("GET", "/v1/messages/" + single_id, acct.token).body;
    }
    EXPECT_EQ(one["status"], "delivered") << one.dump();
    // Each message was charged once, however often it was held back.
    auto db = test::pg::connect(s.database());
    auto ledger = db.exec(
        "SELECT coalesce(sum(credits), 0)::bigint FROM billing_transactions WHERE user_id = $1 "
        "AND transaction_type = 'campaign_cost'",
        {a.account.id});
    EXPECT_EQ(ledger->front().get<std::int64_t>(0), -5);
    // Removing the account's quiet hours (null) takes them out of its settings.
    ASSERT_EQ(s.call("PATCH", "/v1/admin/tenants/" + acct.id, s.admin(),
                     {{"settings", {{"quiet_hours", nullptr}}}})
                  .status,
              200);
    auto tenant = s.call("GET", "/v1/admin/tenants/" + acct.id, s.admin()).body;
    EXPECT_FALSE(tenant["settings"].contains("quiet_hours")) << tenant.dump();
}

TEST(gates, a_campaign_tps_cap_spreads_its_sends) {
    auto& s = server();
    std::vector<std::string> numbers;
    for (int i = 0; i < 60; ++i) numbers.push_back("+4474001235" + std::to_string(10 + i));
    auto a = make_audience(numbers, 100);
    const auto& who = a.account.token;
    auto c = s.call("POST", "/v1/campaigns", who,
                    {{"name", "paced"},
                     {"message_template", "Hello"},
                     {"groups", {a.group}},
                     {"settings", {{"tps", 20}}}});
    ASSERT_EQ(c.status, 201) << c.raw;
    const std::string id = c.body["id"];
    const auto started = clock_type::now();
    ASSERT_EQ(s.call("POST", "/v1/campaigns/" + id + "/start", who).status, 200);
    auto st = wait_for_campaign(a, id, 60s);
    const auto took = clock_type::now() - started;
    EXPECT_EQ(st["by_status"].value("delivered", 0), 60) << st.dump();
    // 60 at 20/s with half a second of burst: at least 2.5 s; no second holds more than
    // the rate plus the burst.
    EXPECT_GE(took, 2500ms);
    auto db = test::pg::connect(s.database());
    auto rows = db.exec(
        "SELECT max(n) FROM (SELECT count(*) OVER (ORDER BY sent_at RANGE BETWEEN CURRENT ROW "
        "AND '1 second' FOLLOWING) AS n FROM sms_delivery_logs WHERE campaign_id = $1) x",
        {id});
    const auto busiest = rows->front().get<std::int64_t>(0);
    std::printf("tps cap 20: 60 messages in %.1f s, busiest second %lld\n",
                std::chrono::duration<double>(took).count(), static_cast<long long>(busiest));
    EXPECT_LE(busiest, 20 + 10 + 5);  // rate, burst, and the batching of outcome writes
}

TEST(gates, malformed_quiet_hours_are_refused_with_the_field) {
    auto& s = server();
    auto t = s.make_tenant(unique("bad"), 0);
    auto check = [&](const json& qh, const std::string& field, const std::string& words) {
        auto r =
            s.call("POST", "/v1/campaigns", t.token,
                   {{"name", "x"}, {"message_template", "x"}, {"settings", {{"quiet_hours", qh}}}});
        EXPECT_EQ(r.status, 422) << qh.dump() << " -> " << r.raw;
        EXPECT_EQ(r.body["error"].value("field", ""), field) << r.raw;
        EXPECT_NE(r.body["error"].value("message", "").find(words), std::string::npos) << r.raw;
        auto a = s.call("PATCH", "/v1/admin/tenants/" + t.id, s.admin(),
                        {{"settings", {{"quiet_hours", qh}}}});
        EXPECT_EQ(a.status, 422) << qh.dump() << " -> " << a.raw;
    };
    check("21:00-08:00", "settings.quiet_hours", "must be {");
    check({{"start", "9pm"}, {"end", "08:00"}}, "settings.quiet_hours.start", "not a time");
    check({{"start", "21:00"}, {"end", "24:00"}}, "settings.quiet_hours.end", "not a time");
    check({{"start", "21:00"}, {"end", "21:00"}}, "settings.quiet_hours.end", "the same time");
    check({{"start", "21:00"}, {"end", "08:00"}, {"zone", "UTC"}}, "settings.quiet_hours.zone",
          "unknown field");
    check({{"start", "21:00"}}, "settings.quiet_hours", "must be {");
}

}  // namespace
}  // namespace herald
