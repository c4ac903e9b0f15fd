// Tenant isolation: tenant A tries to read, change and delete every kind of resource of
// tenant B, with an API token and with a dashboard session, and gets 404 every time. B's
// data is unchanged afterwards and never shows up in A's lists.

#include <atomic>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "support/api_server.hpp"
#include "support/http_client.hpp"
#include "support/pg.hpp"

namespace herald {
namespace {

using test::api_server;
using test::credentials;
using test::json;

struct tenant_b {
    test::tenant_account account;
    std::string contact, group, token_id, token_secret, user, import_id;
};

class isolation : public ::testing::Test {
  protected:
    static api_server& s() {
        static api_server server;
        return server;
    }

    /// B with one of everything.
    static tenant_b& b() {
        static tenant_b data = [] {
            tenant_b d;
            auto& srv = s();
            d.account = srv.make_tenant("isolated_b", 100);
            const auto& who = d.account.token;
            d.group = srv.call("POST", "/v1/groups", who, {{"name", "B's group"}}).body["id"];
            d.contact = srv.call("POST", "/v1/contacts", who,
                                 {{"phone_number", "+14155559001"},
                                  {"first_name", "Bea"},
                                  {"groups", {d.group}}})
                            .body["id"];
            auto tok = srv.call("POST", "/v1/tokens", who, {{"name", "B's token"}});
            d.token_id = tok.body["id"];
            d.token_secret = tok.body["token"];
            d.user =
                srv.call(
                       "POST", "/v1/users", who,
                       {{"username", "isolated_b_clerk"},
                        {"email", "clerk@b.test"},
                        {"password", "clerk-password-1"},
                        {"roles", {{{"role_name", "viewer"}, {"permissions", {"contacts:read"}}}}}})
                    .body["id"];
            auto up = srv.send("POST", "/v1/contacts/import?group_id=" + d.group, who,
                               "phone\n+14155559002\nbad\n", "text/csv");
            d.import_id = up.body["id"];
            test::wait_for_import(srv, who, d.import_id);
            srv.call("POST", "/v1/opt-outs", who,
                     {{"phone_number", "+14155559003"}, {"note", "B's opt-out"}});
            return d;
        }();
        return data;
    }

    static test::tenant_account& a() {
        static test::tenant_account acc = [] {
            auto t = s().make_tenant("isolated_a", 100);
            s().call("POST", "/v1/contacts", t.token, {{"phone_number", "+14155559101"}});
            return t;
        }();
        return acc;
    }

    struct attempt {
        std::string method, path;
        json body;
    };

    std::vector<attempt> attempts() {
        const auto& d = b();
        std::string a_contact = s().call("GET", "/v1/contacts", a().token).body["data"][0]["id"];
        return {
            {"GET", "/v1/contacts/" + d.contact, nullptr},
            {"PATCH", "/v1/contacts/" + d.contact, {{"first_name", "Hacked"}}},
            {"DELETE", "/v1/contacts/" + d.contact, nullptr},
            {"GET", "/v1/groups/" + d.group, nullptr},
            {"PATCH", "/v1/groups/" + d.group, {{"name", "Hacked"}}},
            {"DELETE", "/v1/groups/" + d.group, nullptr},
            {"GET", "/v1/groups/" + d.group + "/export", nullptr},
            {"POST", "/v1/groups/" + d.group + "/contacts", {{"contact_ids", {a_contact}}}},
            {"DELETE", "/v1/groups/" + d.group + "/contacts/" + d.contact, nullptr},
            {"GET", "/v1/contacts?group_id=" + d.group,
             nullptr},  // an empty page, never B's members
            {"DELETE", "/v1/tokens/" + d.token_id, nullptr},
            {"GET", "/v1/users/" + d.user, nullptr},
            {"PATCH", "/v1/users/" + d.user, {{"account_status", "suspended"}}},
            {"PUT", "/v1/users/" + d.user + "/roles/viewer", {{"permissions", {"contacts:read"}}}},
            {"DELETE", "/v1/users/" + d.user + "/roles/viewer", nullptr},
            {"GET", "/v1/contacts/imports/" + d.import_id, nullptr},
            {"GET", "/v1/contacts/imports/" + d.import_id + "/rejects", nullptr},
            {"GET", "/v1/opt-outs/%2B14155559003", nullptr},
            {"DELETE", "/v1/opt-outs/%2B14155559003", nullptr},
            // B's ids smuggled into A's own requests.
            {"POST", "/v1/contacts", {{"phone_number", "+14155559102"}, {"groups", {d.group}}}},
            {"PATCH", "/v1/contacts/" + a_contact, {{"groups", {d.group}}}},
        };
    }

    void check_all_refused(const credentials& who, const std::string& how) {
        for (const auto& t : attempts()) {
            auto r = s().call(t.method, t.path, who, t.body);
            if (t.path.find("?group_id=") != std::string::npos) {
                EXPECT_EQ(r.status, 200) << how << " " << t.method << " " << t.path;
                EXPECT_TRUE(r.body["data"].empty()) << how << " " << t.path << ": " << r.raw;
                continue;
            }
            EXPECT_EQ(r.status, 404) << how << " " << t.method << " " << t.path << " -> " << r.raw;
            EXPECT_EQ(r.raw.find("Bea"), std::string::npos) << how << " " << t.path;
        }
    }

    void check_b_untouched() {
        const auto& d = b();
        const auto& who = d.account.token;
        auto c = s().call("GET", "/v1/contacts/" + d.contact, who);
        ASSERT_EQ(c.status, 200);
        EXPECT_EQ(c.body["first_name"], "Bea");
        EXPECT_EQ(c.body["groups"].size(), 1u);
        auto g = s().call("GET", "/v1/groups/" + d.group, who);
        EXPECT_EQ(g.body["name"], "B's group");
        EXPECT_EQ(g.body["total_contacts"], 2);
        credentials b_token;
        b_token.token = d.token_secret;
        EXPECT_EQ(s().call("GET", "/v1/contacts", b_token).status, 200);
        auto u = s().call("GET", "/v1/users/" + d.user, who);
        EXPECT_EQ(u.body["account_status"], "active");
        auto o = s().call("GET", "/v1/opt-outs/%2B14155559003", who);
        EXPECT_EQ(o.body["opted_out"], true) << o.raw;
        EXPECT_EQ(u.body["roles"].size(), 1u);
    }

    void check_lists_hold_only_a(const credentials& who) {
        const auto& d = b();
        for (const std::string path :
             {"/v1/contacts?limit=1000", "/v1/groups?limit=1000", "/v1/tokens?limit=1000",
              "/v1/users?limit=1000", "/v1/contacts/imports?limit=1000",
              "/v1/billing/transactions?limit=1000", "/v1/audit?limit=1000",
              "/v1/opt-outs?limit=1000"}) {
            auto r = s().call("GET", path, who);
            ASSERT_EQ(r.status, 200) << path;
            for (const auto& id : {d.contact, d.group, d.token_id, d.user, d.import_id,
                                   d.account.id, std::string("+14155559003")})
                EXPECT_EQ(r.raw.find(id), std::string::npos) << path << " shows B's " << id;
        }
        EXPECT_EQ(s().call("GET", "/v1/contacts?q=Bea", who).body["data"].size(), 0u);
        EXPECT_EQ(s().call("GET", "/v1/billing/balance", who).body["tenant_id"], a().id);
    }
};

TEST_F(isolation, with_an_api_token_every_resource_of_another_tenant_is_404) {
    check_all_refused(a().token, "token");
    check_b_untouched();
    check_lists_hold_only_a(a().token);
}

TEST_F(isolation, with_a_dashboard_session_every_resource_of_another_tenant_is_404) {
    check_all_refused(a().session, "cookie");
    check_b_untouched();
    check_lists_hold_only_a(a().session);
}

TEST_F(isolation, a_sub_user_is_confined_to_its_own_tenant_too) {
    auto& srv = s();
    srv.call("POST", "/v1/users", a().token,
             {{"username", "isolated_a_boss"},
              {"email", "boss@a.test"},
              {"password", "boss-password-1"},
              {"roles",
               {{{"role_name", "all"},
                 {"permissions",
                  {"contacts:read", "contacts:write", "users:manage", "tokens:manage"}}}}}});
    auto boss = srv.login("isolated_a_boss", "boss-password-1");
    ASSERT_FALSE(boss.cookie.empty());
    check_all_refused(boss, "sub-user");
    check_b_untouched();
}

TEST_F(isolation, the_tenant_header_is_for_admins_only) {
    credentials sneaky = a().token;
    sneaky.tenant = b().account.id;  // a tenant naming another tenant is ignored: it acts on itself
    auto r = s().call("GET", "/v1/contacts/" + b().contact, sneaky);
    EXPECT_EQ(r.status, 404);
    auto list = s().call("GET", "/v1/contacts?limit=1000", sneaky);
    EXPECT_EQ(list.raw.find(b().contact), std::string::npos);
}

// The contact list's statements from many connections share one lane's pipelined
// connection (decision 0012): each answer must still go to its own request, and a lost
// connection must cost no request anything.
TEST(pipelined_reads, answers_stay_with_their_tenant_on_one_lane_and_outlive_a_lost_connection) {
    api_server srv({"HERALD_HTTP_THREADS=1", "HERALD_AUTH_RATE_LIMIT_PER_TOKEN=0",
                    "HERALD_AUTH_RATE_LIMIT_PER_IP=0"});
    struct side {
        test::tenant_account account;
        std::set<std::string> phones;
    };
    side a{srv.make_tenant("lane_a"), {}}, b{srv.make_tenant("lane_b"), {}};
    for (int i = 0; i < 3; ++i) a.phones.insert("+1415555100" + std::to_string(i));
    for (int i = 0; i < 5; ++i) b.phones.insert("+1212555200" + std::to_string(i));
    for (side* t : {&a, &b})
        for (const auto& phone : t->phones)
            ASSERT_EQ(srv.call("POST", "/v1/contacts", t->account.token, {{"phone_number", phone}})
                          .status,
                      201);

    std::atomic<int> answered{0}, failed{0}, mixed{0};
    auto load = [&](int k) {
        test::http_client client(srv.port());
        for (int i = 0; i < 150; ++i) {
            const side& t = (i + k) % 2 ? a : b;
            auto r = client.get("/v1/contacts?limit=50", t.account.token.headers());
            auto body = json::parse(r.body, nullptr, false);
            if (r.status != 200 || !body.is_object()) {
                ++failed;
                continue;
            }
            std::set<std::string> got;
            for (const auto& c : body["data"]) got.insert(c["phone_number"].get<std::string>());
            if (got != t.phones) ++mixed;
            ++answered;
        }
    };
    auto db = test::pg::connect(srv.database());
    std::vector<std::thread> clients;
    for (int k = 0; k < 8; ++k) clients.emplace_back(load, k);
    // Mid-load, PostgreSQL ends the lane's connection; its reads go to the pool and the next
    // read opens a fresh one.
    while (answered < 300) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    auto killed = db.exec(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = 'herald lane' AND datname = current_database()");
    ASSERT_TRUE(killed) << killed.error().message;
    EXPECT_EQ(killed->front().get<std::int64_t>(0), 1);
    for (auto& t : clients) t.join();
    EXPECT_EQ(answered, 8 * 150);
    EXPECT_EQ(failed, 0);
    EXPECT_EQ(mixed, 0);
    // The lane opens a fresh connection with its next read, or, if an attempt failed (the
    // machine may be busy), with a read a second later: within three seconds of reads.
    std::int64_t lanes = 0;
    for (int i = 0; i < 30 && lanes != 1; ++i) {
        EXPECT_EQ(srv.call("GET", "/v1/contacts", a.account.token).status, 200);
        lanes = db.exec(
                      "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                      "'herald lane' AND datname = current_database()")
                    ->front()
                    .get<std::int64_t>(0);
        if (lanes != 1) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(lanes, 1) << "the lane reconnected";
}

}  // namespace
}  // namespace herald
