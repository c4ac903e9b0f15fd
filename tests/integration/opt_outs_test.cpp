// The opt-out list through the API: every change is recorded, and the contact's status and
// preference follow it; sources come from how the caller signed in; bad input is refused.
// And the promise behind it: once the API has answered, the number gets nothing more, even
// from a campaign that is sending to it at that moment.

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/api_server.hpp"
#include "support/pg.hpp"
#include "support/smsc_process.hpp"

namespace herald {
namespace {

using test::api_server;
using test::credentials;
using test::json;

api_server& server() {
    static api_server s;
    return s;
}

using test::unique;

db::connection database() {
    return test::pg::connect(server().database());
}

TEST(opt_outs, adding_a_number_unsubscribes_its_contact_and_records_the_request) {
    auto& s = server();
    auto t = s.make_tenant(unique("oo"));
    auto contact = s.call("POST", "/v1/contacts", t.token,
                          {{"phone_number", "+447400123001"}, {"first_name", "Stop"}});
    ASSERT_EQ(contact.status, 201) << contact.raw;
    std::string cid = contact.body["id"];

    auto added = s.call(
        "POST", "/v1/opt-outs", t.token,
        {{"phone_number", "07400 123001"}, {"default_region", "gb"}, {"note", "asked by phone"}});
    ASSERT_EQ(added.status, 201) << added.raw;
    EXPECT_EQ(added.body["phone_number"], "+447400123001");
    EXPECT_EQ(added.body["source"], "api");
    EXPECT_EQ(added.body["contact_id"], cid);
    EXPECT_EQ(s.call("GET", "/v1/contacts/" + cid, t.token).body["status"], "unsubscribed");

    // Saying it twice is fine, and recorded.
    auto again = s.call("POST", "/v1/opt-outs", t.token, {{"phone_number", "+447400123001"}});
    EXPECT_EQ(again.status, 200) << again.raw;
    EXPECT_EQ(again.body["created_at"], added.body["created_at"]);

    auto look = s.call("GET", "/v1/opt-outs/%2B447400123001", t.token);
    ASSERT_EQ(look.status, 200) << look.raw;
    EXPECT_EQ(look.body["opted_out"], true);
    ASSERT_EQ(look.body["requests"].size(), 2u);
    EXPECT_EQ(look.body["requests"][1]["note"], "asked by phone");
    EXPECT_EQ(look.body["requests"][1]["action"], "opt_out");
    // The national form with a region finds the same number.
    EXPECT_EQ(
        s.call("GET", "/v1/opt-outs/07400123001?default_region=GB", t.token).body["phone_number"],
        "+447400123001");

    auto db = database();
    auto pref = db.exec("SELECT opt_out FROM customer_preferences WHERE customer_id = $1", {cid});
    ASSERT_EQ(pref->size(), 1);
    EXPECT_TRUE(pref->front().get<bool>(0));
    auto audit = db.exec(
        "SELECT count(*) FROM audit_logs WHERE action = 'opt_outs.add' AND user_id = $1", {t.id});
    EXPECT_EQ(audit->front().get<int>(0), 2);

    // Opting back in reverses all of it, and is recorded too.
    auto removed = s.call("DELETE", "/v1/opt-outs/%2B447400123001?note=called%20back", t.token);
    EXPECT_EQ(removed.status, 204) << removed.raw;
    EXPECT_EQ(s.call("GET", "/v1/contacts/" + cid, t.token).body["status"], "active");
    pref = db.exec("SELECT opt_out FROM customer_preferences WHERE customer_id = $1", {cid});
    EXPECT_FALSE(pref->front().get<bool>(0));
    auto after = s.call("GET", "/v1/opt-outs/%2B447400123001", t.token);
    ASSERT_EQ(after.status, 200);
    EXPECT_EQ(after.body["opted_out"], false);
    ASSERT_EQ(after.body["requests"].size(), 3u);
    EXPECT_EQ(after.body["requests"][0]["action"], "opt_in");
    EXPECT_EQ(after.body["requests"][0]["note"], "called back");
    EXPECT_EQ(s.call("DELETE", "/v1/opt-outs/%2B447400123001", t.token).status, 404);
}

TEST(opt_outs, a_number_without_a_contact_can_be_listed_and_an_invalid_contact_stays_invalid) {
    auto& s = server();
    auto t = s.make_tenant(unique("oo"));
    auto r = s.call("POST", "/v1/opt-outs", t.token, {{"phone_number", "+14155550123"}});
    ASSERT_EQ(r.status, 201) << r.raw;
    EXPECT_TRUE(r.body["contact_id"].is_null());
    auto c = s.call("POST", "/v1/contacts", t.token,
                    {{"phone_number", "+14155550124"}, {"status", "invalid"}});
    ASSERT_EQ(c.status, 201) << c.raw;
    s.call("POST", "/v1/opt-outs", t.token, {{"phone_number", "+14155550124"}});
    EXPECT_EQ(
        s.call("GET", "/v1/contacts/" + c.body["id"].get<std::string>(), t.token).body["status"],
        "invalid");
    EXPECT_EQ(s.call("GET", "/v1/opt-outs/%2B14155550999", t.token).status, 404);
}

TEST(opt_outs, the_list_pages_in_number_order) {
    auto& s = server();
    auto t = s.make_tenant(unique("oo"));
    for (const char* n :
         {"+14155550105", "+14155550101", "+14155550104", "+14155550102", "+14155550103"})
        ASSERT_EQ(s.call("POST", "/v1/opt-outs", t.token, {{"phone_number", n}}).status, 201);
    std::vector<std::string> seen;
    std::string after;
    for (int pages = 0; pages < 10; ++pages) {
        auto page = s.call(
            "GET", "/v1/opt-outs?limit=2" + (after.empty() ? "" : "&after=%2B" + after.substr(1)),
            t.token);
        ASSERT_EQ(page.status, 200) << page.raw;
        for (const auto& e : page.body["data"]) seen.push_back(e["phone_number"]);
        if (page.body["next_cursor"].is_null()) break;
        after = page.body["next_cursor"];
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"+14155550101", "+14155550102", "+14155550103",
                                              "+14155550104", "+14155550105"}));
    EXPECT_EQ(s.call("GET", "/v1/opt-outs?after=nonsense", t.token).error_code(), "invalid_value");
    EXPECT_EQ(s.call("GET", "/v1/opt-outs?limit=0", t.token).status, 422);
}

TEST(opt_outs, the_source_says_how_the_request_came) {
    auto& s = server();
    auto t = s.make_tenant(unique("oo"));
    auto by_session = s.call("POST", "/v1/opt-outs", t.session, {{"phone_number", "+14155550201"}});
    ASSERT_EQ(by_session.status, 201) << by_session.raw;
    EXPECT_EQ(by_session.body["source"], "dashboard");
    credentials admin = s.admin();
    admin.tenant = t.id;
    auto by_admin = s.call("POST", "/v1/opt-outs", admin, {{"phone_number", "+14155550202"}});
    ASSERT_EQ(by_admin.status, 201) << by_admin.raw;
    EXPECT_EQ(by_admin.body["source"], "admin");
    EXPECT_EQ(s.call("GET", "/v1/opt-outs/%2B14155550202", t.token).body["opted_out"], true);
}

TEST(opt_outs, bad_input_and_missing_rights_are_refused_clearly) {
    auto& s = server();
    auto t = s.make_tenant(unique("oo"));
    auto bad = s.call("POST", "/v1/opt-outs", t.token, {{"phone_number", "not a number"}});
    EXPECT_EQ(bad.status, 422) << bad.raw;
    EXPECT_EQ(bad.body["error"]["field"], "phone_number");
    auto national = s.call("POST", "/v1/opt-outs", t.token, {{"phone_number", "07400 123001"}});
    EXPECT_EQ(national.status, 422) << national.raw;
    EXPECT_EQ(s.call("POST", "/v1/opt-outs", t.token, json::object()).body["error"]["field"],
              "phone_number");
    EXPECT_EQ(
        s.call("POST", "/v1/opt-outs", t.token, {{"phone_number", "+14155550301"}, {"sorce", "x"}})
            .status,
        422);
    EXPECT_EQ(s.call("GET", "/v1/opt-outs/garbage", t.token).status, 422);

    EXPECT_EQ(s.call("GET", "/v1/opt-outs", credentials{}).status, 401);
    auto reader = s.call("POST", "/v1/tokens", t.token,
                         {{"name", "reader"}, {"permissions", {"contacts:read"}}});
    credentials read_only;
    read_only.token = reader.body["token"];
    EXPECT_EQ(s.call("GET", "/v1/opt-outs", read_only).status, 200);
    EXPECT_EQ(s.call("POST", "/v1/opt-outs", read_only, {{"phone_number", "+14155550302"}}).status,
              403);
    EXPECT_EQ(s.call("DELETE", "/v1/opt-outs/%2B14155550302", read_only).status, 403);
    // A session without the CSRF token cannot change the list.
    credentials no_csrf = t.session;
    no_csrf.csrf.clear();
    EXPECT_EQ(s.call("POST", "/v1/opt-outs", no_csrf, {{"phone_number", "+14155550303"}}).status,
              403);
}

TEST(opt_outs, a_number_opted_out_mid_campaign_receives_nothing_after_the_answer) {
    test::smsc_process sim;
    api_server s({"HERALD_DISPATCH_SMSC=127.0.0.1:" + std::to_string(sim.port),
                  "HERALD_DISPATCH_WINDOW=256"});
    auto t = s.make_tenant(unique("race"), 30000);
    s.call("PUT", "/v1/admin/tenants/" + t.id + "/sender-ids/Acme", s.admin(),
           {{"is_default", true}});
    constexpr int recipients = 20000;
    std::string group = s.call("POST", "/v1/groups", t.token, {{"name", "all"}}).body["id"];
    std::string csv = "phone\n";
    auto number = [](int i) { return "+1212" + std::to_string(4000000 + i); };
    for (int i = 0; i < recipients; ++i) csv += number(i) + "\n";
    auto up = s.send("POST", "/v1/contacts/import?group_id=" + group, t.token, csv, "text/csv");
    test::wait_for_import(s, t.token, up.body["id"]);
    std::string campaign =
        s.call("POST", "/v1/campaigns", t.token,
               {{"name", "race"}, {"message_template", "Pay now"}, {"groups", {group}}})
            .body["id"];
    ASSERT_EQ(s.call("POST", "/v1/campaigns/" + campaign + "/start", t.token).status, 200);
    for (int i = 0; i < 600 && sim.get("/stats")["submits"].get<int>() < 2000; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));

    // Four callers opt out every 50th number while the campaign runs, each noting when its
    // answer came.
    using clock = std::chrono::system_clock;
    std::vector<std::pair<std::string, clock::time_point>> answered;
    std::mutex m;
    std::vector<std::thread> callers;
    for (int k = 0; k < 4; ++k)
        callers.emplace_back([&, k] {
            // From the end of the audience back: the first land well ahead of the campaign,
            // later ones where it is sending, the last on numbers it has passed.
            for (int i = recipients - 1 - 50 * k; i >= 0; i -= 200) {
                auto r = s.call("POST", "/v1/opt-outs", t.token, {{"phone_number", number(i)}});
                const auto at = clock::now();
                EXPECT_EQ(r.status, 201) << r.raw;
                std::lock_guard l(m);
                answered.emplace_back(number(i), at);
            }
        });
    for (auto& c : callers) c.join();
    ASSERT_EQ(answered.size(), std::size_t(recipients / 50));

    json st;
    for (int i = 0; i < 1200; ++i) {
        st = s.call("GET", "/v1/campaigns/" + campaign + "/stats", t.token).body;
        if (st["status"] == "completed" && !st["by_status"].contains("queued")
            && !st["by_status"].contains("sending") && !st["by_status"].contains("sent"))
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(st["status"], "completed") << st.dump();
    int before = 0, never = 0, after = 0;
    for (const auto& [n, at] : answered) {
        auto seen = sim.get("/numbers?number=%2B" + n.substr(1));
        if (seen["last_seen_us"].is_null()) {
            ++never;
            continue;
        }
        const clock::time_point last{
            std::chrono::microseconds(seen["last_seen_us"].get<std::int64_t>())};
        if (last < at)
            ++before;
        else
            ++after;
        EXPECT_LT(last, at)
            << n << " reached the SMSC "
            << std::chrono::duration_cast<std::chrono::microseconds>(last - at).count()
            << " us after its opt-out was answered";
    }
    std::printf("opted out mid-campaign: %d reached before the answer, %d never, %d after\n",
                before, never, after);
    EXPECT_EQ(after, 0);
    EXPECT_GT(never, 0) << "the opt-outs came too late to test anything";
    EXPECT_GT(before, 0) << "the opt-outs came too early to test the race";
    // The ones held back were never charged: those the audience had not reached yet were
    // left out of it (their contacts are unsubscribed), the rest failed with opted_out.
    auto db = test::pg::connect(s.database());
    auto rows = db.exec(
        "SELECT count(*) FROM sms_delivery_logs WHERE campaign_id = $1 AND error_code = "
        "'opted_out'",
        {campaign});
    const auto left_out = recipients - st["total_recipients"].get<std::int64_t>();
    EXPECT_EQ(rows->front().get<std::int64_t>(0) + left_out, never) << st.dump();
    auto ledger = db.exec(
        "SELECT coalesce(sum(credits), 0)::bigint, (SELECT sms_credits FROM users WHERE id = $1) "
        "FROM billing_transactions WHERE user_id = $1",
        {t.id});
    EXPECT_EQ(ledger->front().get<std::int64_t>(0), ledger->front().get<std::int64_t>(1));
    EXPECT_EQ(ledger->front().get<std::int64_t>(1), 30000 - (recipients - never));
}

// The same promise for single messages, which the accepting node sends without a claim
// (decision 0021): senders keep posting to a set of numbers while each is opted out in
// turn. Once an opt-out is answered, its number reaches the SMSC no more, and every later
// send to it is refused.
TEST(opt_outs, a_number_opted_out_while_messages_to_it_are_posted_receives_nothing_after) {
    test::smsc_process sim;
    api_server s({"HERALD_DISPATCH_SMSC=127.0.0.1:" + std::to_string(sim.port),
                  "HERALD_AUTH_RATE_LIMIT_PER_TOKEN=0", "HERALD_AUTH_RATE_LIMIT_PER_IP=0"});
    auto t = s.make_tenant(unique("racemsg"), 100000);
    s.call("PUT", "/v1/admin/tenants/" + t.id + "/sender-ids/Acme", s.admin(),
           {{"is_default", true}});
    constexpr int numbers = 24;
    auto number = [](int i) { return "+1212" + std::to_string(6000000 + i); };
    using clock = std::chrono::system_clock;
    std::vector<std::optional<clock::time_point>> answered(numbers);
    std::mutex m;
    std::atomic<bool> done{false};
    std::atomic<int> accepted{0}, refused_after{0}, accepted_after{0};
    std::vector<std::thread> senders;
    for (int k = 0; k < 4; ++k)
        senders.emplace_back([&, k] {
            for (int i = k; !done; i = (i + 4) % numbers) {
                auto r = s.call("POST", "/v1/messages", t.token,
                                {{"to", number(i)}, {"body", "Your balance"}});
                const auto at = clock::now();
                std::optional<clock::time_point> opted;
                {
                    std::lock_guard l(m);
                    opted = answered[std::size_t(i)];
                }
                const bool after = opted && *opted < at;  // answered before this send began
                if (r.status == 202) {
                    ++accepted;
                    if (after) ++accepted_after;
                } else {
                    EXPECT_EQ(r.error_code(), "opted_out") << r.raw;
                    if (after) ++refused_after;
                }
            }
        });
    // Each number is opted out once it has reached the SMSC (a number opted out before any
    // send reached it would pass trivially: on a slow machine the first did not in 100 ms).
    auto reached = [&](int i) {
        return !sim.get("/numbers?number=%2B" + number(i).substr(1))["last_seen_us"].is_null();
    };
    for (int i = 0; i < numbers; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        for (int wait = 0; wait < 200 && !reached(i); ++wait)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        auto r = s.call("POST", "/v1/opt-outs", t.token, {{"phone_number", number(i)}});
        EXPECT_EQ(r.status, 201) << r.raw;
        std::lock_guard l(m);
        answered[std::size_t(i)] = clock::now();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    done = true;
    for (auto& c : senders) c.join();
    EXPECT_EQ(accepted_after, 0) << "a send that began after the answer was accepted";
    EXPECT_GT(refused_after, 0) << "the senders stopped too early to test anything";

    auto db = test::pg::connect(s.database());
    for (int i = 0; i < 400; ++i) {
        auto open = db.exec(
            "SELECT count(*) FROM sms_delivery_logs WHERE user_id = $1 AND status IN ('queued', "
            "'sending')",
            {t.id});
        if (open->front().get<std::int64_t>(0) == 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    int reached_after = 0;
    for (int i = 0; i < numbers; ++i) {
        auto seen = sim.get("/numbers?number=%2B" + number(i).substr(1));
        ASSERT_FALSE(seen["last_seen_us"].is_null()) << number(i) << " was never sent to";
        const clock::time_point last{
            std::chrono::microseconds(seen["last_seen_us"].get<std::int64_t>())};
        if (last >= *answered[std::size_t(i)]) ++reached_after;
        EXPECT_LT(last, *answered[std::size_t(i)])
            << number(i) << " reached the SMSC "
            << std::chrono::duration_cast<std::chrono::microseconds>(last
                                                                     - *answered[std::size_t(i)])
                   .count()
            << " us after its opt-out was answered";
    }
    std::printf("%d messages accepted, %d refused after the opt-out, %d numbers reached after\n",
                accepted.load(), refused_after.load(), reached_after);
    auto sent = db.exec(
        "SELECT count(*) FROM sms_delivery_logs WHERE user_id = $1 AND status IN ('sent', "
        "'delivered')",
        {t.id});
    EXPECT_EQ(sent->front().get<std::int64_t>(0), accepted) << "every accepted message went";
}

}  // namespace
}  // namespace herald
