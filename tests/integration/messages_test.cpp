// One message at a time through the API, the dispatcher and the built-in SMSC simulator (real
// SMPP over TCP), with receipts: statuses, costs and the ledger agree; bad input and missing
// money are refused with nothing charged.

#include <chrono>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "db/param.hpp"
#include "support/api_server.hpp"
#include "support/pg.hpp"

namespace herald {
namespace {

using test::api_server;
using test::credentials;
using test::json;

api_server& server() {
    // Numbers starting +4479 are rejected at submit by the simulator, +4478 undelivered.
    static api_server s({"HERALD_SIMULATOR_RULES=+44790=refuse,+44780=undeliverable",
                         "HERALD_SIMULATOR_RECEIPT_LATENCY=50ms"});
    return s;
}

using test::unique;

/// A tenant with credits and the sender ID "Acme" as its default.
test::tenant_account sender(int credits = 100, std::vector<std::string> extra_senders = {}) {
    auto& s = server();
    auto t = s.make_tenant(unique("msg"), credits);
    auto put = s.call("PUT", "/v1/admin/tenants/" + t.id + "/sender-ids/Acme", s.admin(),
                      {{"is_default", true}});
    EXPECT_EQ(put.status, 200) << put.raw;
    for (const auto& x : extra_senders)
        s.call("PUT", "/v1/admin/tenants/" + t.id + "/sender-ids/" + x, s.admin());
    return t;
}

/// Polls a message until its status is final (or 20 s pass).
json wait_final(const credentials& who, const std::string& id) {
    json m;
    for (int i = 0; i < 400; ++i) {
        m = server().call("GET", "/v1/messages/" + id, who).body;
        const std::string st = m.value("status", "");
        if (st != "queued" && st != "sending" && st != "sent" && st != "scheduled") return m;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return m;
}

int balance(const credentials& who) {
    return server().call("GET", "/v1/billing/balance", who).body["sms_credits"].get<int>();
}

long long ledger_sum(const std::string& tenant) {
    auto db = test::pg::connect(server().database());
    return db
        .exec(
            "SELECT coalesce(sum(credits), 0)::bigint FROM billing_transactions WHERE user_id = $1",
            {tenant})
        ->front()
        .get<std::int64_t>(0);
}

TEST(messages, one_message_is_charged_sent_and_delivered) {
    auto t = sender(100);
    auto r = server().call("POST", "/v1/messages", t.token,
                           {{"to", "+447400123456"}, {"body", "Your code is 1234"}});
    ASSERT_EQ(r.status, 202) << r.raw;
    EXPECT_EQ(r.body["status"], "queued");
    EXPECT_EQ(r.body["from"], "Acme");
    EXPECT_EQ(r.body["encoding"], "gsm7");
    EXPECT_EQ(r.body["segments"], 1);
    EXPECT_EQ(r.body["cost"], 1);
    EXPECT_FALSE(r.http.header("location").empty());
    auto m = wait_final(t.token, r.body["id"]);
    EXPECT_EQ(m["status"], "delivered") << m.dump();
    EXPECT_FALSE(m["sent_at"].is_null());
    EXPECT_FALSE(m["delivered_at"].is_null());
    EXPECT_GE(m["delivered_at"].get<std::string>(), m["sent_at"].get<std::string>());
    EXPECT_EQ(balance(t.token), 99);
    EXPECT_EQ(ledger_sum(t.id), 99);

    auto list = server().call("GET", "/v1/messages?status=delivered", t.token);
    ASSERT_EQ(list.status, 200);
    ASSERT_EQ(list.body["data"].size(), 1u);
    EXPECT_EQ(list.body["data"][0]["id"], r.body["id"]);
    EXPECT_EQ(server().call("GET", "/v1/messages?status=failed", t.token).body["data"].size(), 0u);
}

TEST(messages, a_long_unicode_message_is_charged_per_segment_and_delivered_whole) {
    auto t = sender(100);
    std::string text;
    for (int i = 0; i < 15; ++i) text += "Grüße aus Köln — ";  // the dash makes it UCS-2
    auto r =
        server().call("POST", "/v1/messages", t.token, {{"to", "+447400123457"}, {"body", text}});
    ASSERT_EQ(r.status, 202) << r.raw;
    EXPECT_EQ(r.body["encoding"], "ucs2");
    const int parts = r.body["segments"];
    EXPECT_EQ(parts, 4);  // 255 characters / 67 per part
    EXPECT_EQ(r.body["cost"], parts);
    EXPECT_EQ(wait_final(t.token, r.body["id"])["status"], "delivered");
    auto db = test::pg::connect(server().database());
    auto n = db.exec("SELECT count(*) FROM sms_message_parts WHERE log_id = $1",
                     {r.body["id"].get<std::string>()});
    EXPECT_EQ(n->front().get<int>(0), parts);
    EXPECT_EQ(balance(t.token), 100 - parts);
}

TEST(messages, a_template_renders_with_variables) {
    auto t = sender(100);
    auto r = server().call(
        "POST", "/v1/messages", t.token,
        {{"to", "+447400123458"},
         {"template", "Hi {{name}}, you owe {{amount}}. {{footer|Reply STOP to opt out}}"},
         {"variables", {{"name", "Ann"}, {"amount", 12.5}}}});
    ASSERT_EQ(r.status, 202) << r.raw;
    EXPECT_EQ(r.body["body"], "Hi Ann, you owe 12.5. Reply STOP to opt out");
    auto missing = server().call("POST", "/v1/messages", t.token,
                                 {{"to", "+447400123458"}, {"template", "Hi {{first_name}}"}});
    EXPECT_EQ(missing.status, 422);
    EXPECT_EQ(missing.error_code(), "template_incomplete") << missing.raw;
    EXPECT_NE(missing.body["error"]["message"].get<std::string>().find("{{first_name}}"),
              std::string::npos);
    auto broken = server().call("POST", "/v1/messages", t.token,
                                {{"to", "+447400123458"}, {"template", "Hi {{name"}});
    EXPECT_EQ(broken.status, 422) << broken.raw;
    EXPECT_EQ(broken.body["error"]["field"], "template");
    EXPECT_EQ(balance(t.token), 99);
}

TEST(messages, an_idempotency_key_makes_a_retry_safe) {
    auto t = sender(100);
    json body = {{"to", "+447400123459"}, {"body", "once"}};
    auto first =
        server().call("POST", "/v1/messages", t.token, body, {"Idempotency-Key: order-17"});
    ASSERT_EQ(first.status, 202) << first.raw;
    auto again =
        server().call("POST", "/v1/messages", t.token, body, {"Idempotency-Key: order-17"});
    ASSERT_EQ(again.status, 202) << again.raw;
    EXPECT_EQ(again.body["id"], first.body["id"]);
    EXPECT_EQ(again.http.header("idempotent-replayed"), "true");
    auto other =
        server().call("POST", "/v1/messages", t.token, {{"to", "+447400123459"}, {"body", "twice"}},
                      {"Idempotency-Key: order-17"});
    EXPECT_EQ(other.status, 422);
    EXPECT_EQ(other.error_code(), "idempotency_key_reused");
    // Concurrent twins: still one message.
    std::vector<std::thread> threads;
    std::vector<std::string> ids(8);
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&, i] {
            auto r = server().call("POST", "/v1/messages", t.token,
                                   {{"to", "+447400123460"}, {"body", "race"}},
                                   {"Idempotency-Key: race-1"});
            if (r.status == 202) ids[std::size_t(i)] = r.body["id"];
        });
    for (auto& th : threads) th.join();
    for (const auto& id : ids) EXPECT_EQ(id, ids[0]);
    EXPECT_EQ(balance(t.token), 98);
    EXPECT_EQ(ledger_sum(t.id), 98);
}

TEST(messages, bad_input_is_refused_and_nothing_is_charged) {
    auto t = sender(100);
    auto& s = server();
    auto check = [&](const json& body, int status, const std::string& code,
                     const std::string& field) {
        auto r = s.call("POST", "/v1/messages", t.token, body);
        EXPECT_EQ(r.status, status) << body.dump() << " -> " << r.raw;
        if (!code.empty()) {
            EXPECT_EQ(r.error_code(), code) << r.raw;
        }
        if (!field.empty()) {
            EXPECT_EQ(r.body["error"]["field"], field) << r.raw;
        }
    };
    check({{"to", "12345"}, {"body", "x"}}, 422, "", "to");
    check({{"to", "not a number"}, {"body", "x"}}, 422, "", "to");
    check({{"body", "x"}}, 422, "", "to");
    check({{"to", "+447400123456"}}, 422, "", "body");
    check({{"to", "+447400123456"}, {"body", ""}}, 422, "", "body");
    check({{"to", "+447400123456"}, {"body", "x"}, {"template", "y"}}, 422, "", "template");
    check({{"to", "+447400123456"}, {"body", "x"}, {"from", "Other"}}, 422, "sender_not_allowed",
          "from");
    check({{"to", "+447400123456"}, {"body", "x"}, {"from", "Much Too Long Name"}}, 422, "",
          "from");
    check({{"to", "+447400123456"}, {"body", std::string(1601, 'a')}}, 422, "too_many_segments",
          "body");
    check({{"to", "+447400123456"}, {"body", "x"}, {"scheduled_at", "tomorrow"}}, 422, "",
          "scheduled_at");
    check({{"to", "+447400123456"}, {"body", "x"}, {"callback_url", "ftp://x"}}, 422, "",
          "callback_url");
    check({{"to", "+447400123456"}, {"body", "x"}, {"validity", 5}}, 422, "", "validity");
    check({{"to", "+447400123456"}, {"body", "x"}, {"sender", "Acme"}}, 422, "", "sender");
    auto raw = s.send("POST", "/v1/messages", t.token, "{\"to\": ", "application/json");
    EXPECT_EQ(raw.status, 400);
    EXPECT_EQ(balance(t.token), 100);
    EXPECT_EQ(s.call("GET", "/v1/messages", t.token).body["data"].size(), 0u);
}

TEST(messages, an_opted_out_number_is_refused) {
    auto t = sender(100);
    ASSERT_EQ(
        server().call("POST", "/v1/opt-outs", t.token, {{"phone_number", "+447400123461"}}).status,
        201);
    auto r = server().call("POST", "/v1/messages", t.token,
                           {{"to", "+447400123461"}, {"body", "hello"}});
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.error_code(), "opted_out");
    EXPECT_EQ(balance(t.token), 100);
}

TEST(messages, without_credits_or_while_suspended_nothing_is_sent_or_charged) {
    auto poor = sender(1);
    auto r =
        server().call("POST", "/v1/messages", poor.token,
                      {{"to", "+447400123462"}, {"body", std::string(200, 'a')}});  // 2 segments
    EXPECT_EQ(r.status, 402) << r.raw;
    EXPECT_EQ(r.error_code(), "insufficient_credits");
    EXPECT_EQ(balance(poor.token), 1);
    EXPECT_EQ(server().call("GET", "/v1/messages", poor.token).body["data"].size(), 0u);

    auto t = sender(100);
    auto& s = server();
    ASSERT_EQ(
        s.call("PATCH", "/v1/admin/tenants/" + t.id, s.admin(), {{"account_status", "suspended"}})
            .status,
        200);
    auto refused =
        s.call("POST", "/v1/messages", t.token, {{"to", "+447400123463"}, {"body", "hello"}});
    EXPECT_EQ(refused.status, 403) << refused.raw;
    EXPECT_EQ(balance(t.token), 100);
}

/// herald_send_batches_total{way=...} from /metrics.
long batches_written(const std::string& way) {
    auto m = server().call("GET", "/metrics", {});
    const std::string key = "herald_send_batches_total{way=\"" + way + "\"} ";
    auto at = m.raw.find(key);
    if (at == std::string::npos) return -1;
    return std::stol(m.raw.substr(at + key.size()));
}

/// Sends one message and says how its batch was written: "at_once" when the batcher relied
/// on what earlier batches read, else "reading_first" or "carefully". One test at a time
/// uses the server, so the message is alone in its batch.
std::pair<test::api_reply, std::string> send_and_see_how(const credentials& who, const json& body) {
    std::map<std::string, long> before;
    for (const char* w : {"at_once", "reading_first", "carefully"}) before[w] = batches_written(w);
    auto r = server().call("POST", "/v1/messages", who, body);
    std::string how;
    for (const auto& [w, n] : before)
        if (batches_written(w) == n + 1) how += (how.empty() ? "" : "+") + w;
    return {r, how};
}

TEST(messages, what_earlier_sends_found_is_checked_again_when_sending_at_once) {
    auto& s = server();
    auto t = sender(12, {"Other"});
    // The first send of a tenant reads its sender and price; the next relies on them.
    auto [first, how1] = send_and_see_how(t.token, {{"to", "+33612345670"}, {"body", "one"}});
    ASSERT_EQ(first.status, 202) << first.raw;
    EXPECT_EQ(how1, "reading_first");
    auto [second, how2] = send_and_see_how(t.token, {{"to", "+33612345671"}, {"body", "two"}});
    ASSERT_EQ(second.status, 202) << second.raw;
    EXPECT_EQ(how2, "at_once");
    EXPECT_EQ(second.body["cost"], 1);
    EXPECT_EQ(second.body["from"], "Acme");
    EXPECT_EQ(send_and_see_how(t.token, {{"to", "+33612345672"}, {"body", "x"}, {"from", "Other"}})
                  .first.body["from"],
              "Other");

    // A new price: the expectation fails, nothing of that attempt stays, and the message is
    // charged the new price.
    ASSERT_EQ(s.call("PUT", "/v1/admin/prices/FR", s.admin(), {{"credits_per_segment", 3}}).status,
              200);
    auto [priced, how3] = send_and_see_how(t.token, {{"to", "+33612345673"}, {"body", "three"}});
    ASSERT_EQ(priced.status, 202) << priced.raw;
    EXPECT_EQ(priced.body["cost"], 3);
    EXPECT_EQ(how3, "reading_first");
    ASSERT_EQ(s.call("DELETE", "/v1/admin/prices/FR", s.admin()).status, 204);

    // A number opted out since, a sender taken away, a new default.
    ASSERT_EQ(s.call("POST", "/v1/opt-outs", t.token, {{"phone_number", "+33612345674"}}).status,
              201);
    send_and_see_how(t.token, {{"to", "+33612345675"}, {"body", "warm"}});
    auto [opted, how4] = send_and_see_how(t.token, {{"to", "+33612345674"}, {"body", "no"}});
    EXPECT_EQ(opted.status, 422) << opted.raw;
    EXPECT_EQ(opted.error_code(), "opted_out");
    EXPECT_EQ(how4, "reading_first");
    send_and_see_how(t.token, {{"to", "+33612345676"}, {"body", "warm"}, {"from", "Other"}});
    ASSERT_EQ(s.call("DELETE", "/v1/admin/tenants/" + t.id + "/sender-ids/Other", s.admin()).status,
              204);
    auto [gone, how5] =
        send_and_see_how(t.token, {{"to", "+33612345677"}, {"body", "no"}, {"from", "Other"}});
    EXPECT_EQ(gone.status, 422) << gone.raw;
    EXPECT_EQ(gone.error_code(), "sender_not_allowed");
    EXPECT_EQ(how5, "reading_first");
    ASSERT_EQ(s.call("PUT", "/v1/admin/tenants/" + t.id + "/sender-ids/Zeta", s.admin(),
                     {{"is_default", true}})
                  .status,
              200);
    auto [zeta, how6] = send_and_see_how(t.token, {{"to", "+33612345678"}, {"body", "new"}});
    ASSERT_EQ(zeta.status, 202) << zeta.raw;
    EXPECT_EQ(zeta.body["from"], "Zeta");
    EXPECT_EQ(how6, "reading_first");

    // Running out of credits: the at-once debit fails, the read-first one is refused, and the
    // careful way refuses the message with nothing charged. Seven messages at 1 credit and one
    // at 3 leave 2 credits once the next is sent; then one of three segments does not fit.
    auto [fits, how7] = send_and_see_how(t.token, {{"to", "+33612345679"}, {"body", "fits"}});
    ASSERT_EQ(fits.status, 202) << fits.raw;
    EXPECT_EQ(how7, "at_once");
    EXPECT_EQ(balance(t.token), 2);
    auto [poor, how8] = send_and_see_how(
        t.token, {{"to", "+33612345680"}, {"body", std::string(400, 'a')}});  // 3 segments
    EXPECT_EQ(poor.status, 402) << poor.raw;
    EXPECT_EQ(poor.error_code(), "insufficient_credits");
    EXPECT_EQ(how8, "carefully");
    EXPECT_EQ(balance(t.token), 2);
    EXPECT_EQ(ledger_sum(t.id), 2);
}

TEST(messages, a_scheduled_message_waits_and_can_be_cancelled_with_a_refund) {
    auto t = sender(100);
    auto& s = server();
    auto later = s.call(
        "POST", "/v1/messages", t.token,
        {{"to", "+447400123464"}, {"body", "later"}, {"scheduled_at", "2099-01-01T09:00:00Z"}});
    EXPECT_EQ(later.status, 422) << "more than a year away";
    const auto soon_at = std::chrono::system_clock::now() + std::chrono::hours(2);
    std::string when = db::format_timestamp(soon_at);
    auto r = s.call("POST", "/v1/messages", t.token,
                    {{"to", "+447400123464"}, {"body", "later"}, {"scheduled_at", when}});
    ASSERT_EQ(r.status, 202) << r.raw;
    EXPECT_EQ(r.body["status"], "scheduled");
    EXPECT_EQ(balance(t.token), 99);
    std::string id = r.body["id"];
    auto c = s.call("POST", "/v1/messages/" + id + "/cancel", t.token);
    ASSERT_EQ(c.status, 200) << c.raw;
    EXPECT_EQ(c.body["status"], "canceled");
    EXPECT_EQ(balance(t.token), 100);
    EXPECT_EQ(ledger_sum(t.id), 100);
    EXPECT_EQ(s.call("POST", "/v1/messages/" + id + "/cancel", t.token).status, 409);

    // Due in a second: it goes out by itself.
    const auto in_a_second =
        std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())
        + std::chrono::seconds(2);
    auto due = s.call("POST", "/v1/messages", t.token,
                      {{"to", "+447400123465"},
                       {"body", "soon"},
                       {"scheduled_at", db::format_timestamp(in_a_second)}});
    ASSERT_EQ(due.status, 202) << due.raw;
    EXPECT_EQ(due.body["status"], "scheduled");
    auto m = wait_final(t.token, due.body["id"]);
    EXPECT_EQ(m["status"], "delivered") << m.dump();
    EXPECT_GE(m["sent_at"].get<std::string>(), db::format_timestamp(in_a_second));
}

TEST(messages, carrier_refusals_and_failed_deliveries_carry_their_codes) {
    auto t = sender(100);
    auto& s = server();
    // Refunds for failed messages are an account setting.
    ASSERT_EQ(s.call("PATCH", "/v1/admin/tenants/" + t.id, s.admin(),
                     {{"settings", {{"refund_failed_messages", true}}}})
                  .status,
              200);
    auto refused =
        s.call("POST", "/v1/messages", t.token, {{"to", "+447900123456"}, {"body", "x"}});
    ASSERT_EQ(refused.status, 202) << refused.raw;
    auto undelivered =
        s.call("POST", "/v1/messages", t.token, {{"to", "+447800123456"}, {"body", "y"}});
    ASSERT_EQ(undelivered.status, 202);
    auto r = wait_final(t.token, refused.body["id"]);
    EXPECT_EQ(r["status"], "rejected") << r.dump();
    EXPECT_TRUE(r["error_code"].get<std::string>().starts_with("0x")) << r.dump();
    auto u = wait_final(t.token, undelivered.body["id"]);
    EXPECT_EQ(u["status"], "undelivered") << u.dump();
    // The rejected one was refunded; the undelivered one was carried, so it is charged.
    EXPECT_EQ(balance(t.token), 99);
    EXPECT_EQ(ledger_sum(t.id), 99);
}

TEST(messages, another_tenants_message_is_not_found) {
    auto a = sender(100);
    auto b = sender(100);
    auto r =
        server().call("POST", "/v1/messages", b.token, {{"to", "+447400123466"}, {"body", "b's"}});
    ASSERT_EQ(r.status, 202);
    std::string id = r.body["id"];
    EXPECT_EQ(server().call("GET", "/v1/messages/" + id, a.token).status, 404);
    EXPECT_EQ(server().call("GET", "/v1/messages/" + id, a.session).status, 404);
    EXPECT_EQ(server().call("POST", "/v1/messages/" + id + "/cancel", a.token).status, 404);
    EXPECT_EQ(server().call("GET", "/v1/messages", a.token).raw.find(id), std::string::npos);
}

TEST(sender_ids, admins_manage_them_and_tenants_read_them) {
    auto t = sender(0, {"12345", "Shop.co"});
    auto& s = server();
    auto list = s.call("GET", "/v1/sender-ids", t.token);
    ASSERT_EQ(list.status, 200);
    ASSERT_EQ(list.body["data"].size(), 3u);
    auto made = s.call("PUT", "/v1/admin/tenants/" + t.id + "/sender-ids/12345", s.admin(),
                       {{"is_default", true}});
    EXPECT_EQ(made.body["is_default"], true);
    int defaults = 0;
    auto all = s.call("GET", "/v1/admin/tenants/" + t.id + "/sender-ids", s.admin());
    ASSERT_EQ(all.status, 200) << all.raw;
    for (const auto& x : all.body["data"]) defaults += x["is_default"].get<bool>();
    EXPECT_EQ(defaults, 1) << all.raw;
    EXPECT_EQ(
        s.call("PUT", "/v1/admin/tenants/" + t.id + "/sender-ids/Twelve%20chars", s.admin()).status,
        422);
    EXPECT_EQ(
        s.call("PUT", "/v1/admin/tenants/" + t.id + "/sender-ids/Caf%C3%A9", s.admin()).status,
        422);
    EXPECT_EQ(s.call("PUT", "/v1/admin/tenants/" + t.id + "/sender-ids/Mine", t.token).status, 403);
    EXPECT_EQ(
        s.call("DELETE", "/v1/admin/tenants/" + t.id + "/sender-ids/Shop.co", s.admin()).status,
        204);
    EXPECT_EQ(
        s.call("DELETE", "/v1/admin/tenants/" + t.id + "/sender-ids/Shop.co", s.admin()).status,
        404);
    EXPECT_EQ(s.call("GET", "/v1/sender-ids", t.token).body["data"].size(), 2u);
    EXPECT_EQ(s.call("PUT", "/v1/admin/tenants/00000000-0000-7000-8000-000000000000/sender-ids/X",
                     s.admin())
                  .status,
              404);
}

TEST(messages, a_batch_sends_each_entry_with_its_own_variables_and_reports_bad_entries) {
    auto t = sender(5000, {"Billing"});
    json entries = json::array();
    for (int i = 0; i < 2000; ++i)
        entries.push_back({{"to", "+4474001" + std::to_string(10000 + i)},
                           {"variables", {{"name", "N" + std::to_string(i)}}}});
    entries.push_back({{"to", "not a number"}});                                      // 2000
    entries.push_back({{"to", "+447400199999"}, {"body", "x"}, {"from", "Nobody"}});  // 2001
    entries.push_back({{"to", "+447400199998"}, {"variables", json::object()}});      // 2002
    entries.push_back({{"to", "+447400199997"}, {"body", "Own text"}, {"from", "Billing"}});
    entries.push_back({{"to", "+447400199996"}, {"colour", "red"}});  // 2004
    entries.push_back(42);                                            // 2005
    ASSERT_EQ(
        server().call("POST", "/v1/opt-outs", t.token, {{"phone_number", "+447400110005"}}).status,
        201);
    auto r = server().call("POST", "/v1/messages/batch", t.token,
                           {{"template", "Hi {{name}}, your bill is ready"},
                            {"validity", 3600},
                            {"messages", entries}});
    ASSERT_EQ(r.status, 202) << r.raw.substr(0, 2000);
    EXPECT_EQ(r.body["accepted"], 2000);  // 1999 templated (one opted out) + the own text
    EXPECT_EQ(r.body["cost"], 2000);
    const auto& errors = r.body["errors"];
    ASSERT_EQ(errors.size(), 6u) << errors.dump();
    std::map<int, std::string> code;
    for (const auto& e : errors) code[e["index"].get<int>()] = e["code"].get<std::string>();
    EXPECT_EQ(code[5], "opted_out");
    EXPECT_EQ(code[2000], "not_a_number");
    EXPECT_EQ(code[2001], "sender_not_allowed");
    EXPECT_EQ(code[2002], "template_incomplete");
    EXPECT_EQ(code[2004], "invalid_value");
    EXPECT_EQ(code[2005], "invalid_value");
    EXPECT_EQ(r.body["messages"][0]["index"], 0);
    EXPECT_EQ(r.body["messages"][1999]["index"], 2003);
    const std::string own = r.body["messages"][1999]["id"];
    auto first = wait_final(t.token, r.body["messages"][0]["id"]);
    EXPECT_EQ(first["body"], "Hi N0, your bill is ready");
    EXPECT_EQ(first["status"], "delivered");
    auto last = wait_final(t.token, own);
    EXPECT_EQ(last["body"], "Own text");
    EXPECT_EQ(last["from"], "Billing");
    EXPECT_EQ(last["status"], "delivered");
    // Every entry delivered, and the ledger agrees with the balance.
    auto db = test::pg::connect(server().database());
    for (int i = 0; i < 200; ++i) {
        auto n = db.exec(
            "SELECT count(*) FILTER (WHERE status = 'delivered') FROM "
            "sms_delivery_logs WHERE user_id = $1",
            {t.id});
        if (n->front().get<std::int64_t>(0) == 2000) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    auto n = db.exec(
        "SELECT count(*), count(*) FILTER (WHERE status = 'delivered') FROM "
        "sms_delivery_logs WHERE user_id = $1",
        {t.id});
    EXPECT_EQ(n->front().get<std::int64_t>(0), 2000);
    EXPECT_EQ(n->front().get<std::int64_t>(1), 2000);
    EXPECT_EQ(balance(t.token), 3000);
    EXPECT_EQ(ledger_sum(t.id), 3000);
}

TEST(messages, a_batch_is_all_or_nothing_on_credits_and_refused_when_too_large_or_empty) {
    auto t = sender(10);
    json entries = json::array();
    for (int i = 0; i < 11; ++i)
        entries.push_back({{"to", "+4474002" + std::to_string(10000 + i)}});
    auto r = server().call("POST", "/v1/messages/batch", t.token,
                           {{"body", "Hello"}, {"messages", entries}});
    EXPECT_EQ(r.status, 402) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "insufficient_credits");
    EXPECT_EQ(balance(t.token), 10);
    EXPECT_EQ(server().call("GET", "/v1/messages", t.token).body["data"].size(), 0u);

    json big = json::array();
    for (int i = 0; i < 10001; ++i) big.push_back({{"to", "+447400300000"}});
    r = server().call("POST", "/v1/messages/batch", t.token, {{"body", "x"}, {"messages", big}});
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.body["error"]["code"], "batch_too_large");
    r = server().call("POST", "/v1/messages/batch", t.token,
                      {{"body", "x"}, {"messages", json::array()}});
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.body["error"]["field"], "messages");
    r = server().call("POST", "/v1/messages/batch", t.token,
                      {{"body", "x"}, {"messages", {{{"to", "bad"}}}}});
    EXPECT_EQ(r.status, 422) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "batch_rejected");
    EXPECT_EQ(r.body["errors"][0]["code"], "not_a_number");
    EXPECT_EQ(balance(t.token), 10);

    // Retrying with the same Idempotency-Key replays the answer and charges once.
    json two = {{{"to", "+447400300001"}}, {{"to", "+447400300002"}}};
    const json req = {{"body", "Hi"}, {"messages", two}};
    auto once =
        server().call("POST", "/v1/messages/batch", t.token, req, {"Idempotency-Key: batch-1"});
    auto again =
        server().call("POST", "/v1/messages/batch", t.token, req, {"Idempotency-Key: batch-1"});
    ASSERT_EQ(once.status, 202) << once.raw;
    EXPECT_EQ(again.status, 202);
    EXPECT_EQ(again.body["messages"], once.body["messages"]);
    EXPECT_EQ(balance(t.token), 8);
}

}  // namespace
}  // namespace herald
