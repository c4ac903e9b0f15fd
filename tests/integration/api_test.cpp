// The HTTP API end to end: a real `herald serve` process on a real PostgreSQL. Each test
// makes its own tenants, so they share one server.

#include <fstream>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "db/param.hpp"
#include "support/api_server.hpp"

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

// ---------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------

TEST(api_auth, login_sets_a_strict_http_only_cookie_and_returns_a_csrf_token) {
    auto& s = server();
    auto t = s.make_tenant(unique("login"));
    auto r =
        s.call("POST", "/v1/auth/login", {}, {{"login", t.username}, {"password", t.password}});
    ASSERT_EQ(r.status, 200) << r.raw;
    std::string cookie;
    for (auto& [k, v] : r.http.headers)
        if (k == "set-cookie" && v.starts_with("herald_session=")) cookie = v;
    EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
    EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
    EXPECT_FALSE(r.body["csrf_token"].get<std::string>().empty());
    EXPECT_EQ(r.body["user"]["username"], t.username);
    // last_login is recorded.
    auto me = s.call("GET", "/v1/auth/me", t.session);
    ASSERT_EQ(me.status, 200);
    EXPECT_FALSE(me.body["last_login"].is_null());
    EXPECT_EQ(me.body["authenticated_by"], "session");
    // Logging in by e-mail works too.
    EXPECT_EQ(s.call("POST", "/v1/auth/login", {},
                     {{"login", t.username + "@tenant.test"}, {"password", t.password}})
                  .status,
              200);
}

TEST(api_auth, wrong_credentials_are_401_and_repeated_failures_are_429) {
    auto& s = server();
    auto t = s.make_tenant(unique("lock"));
    auto bad = s.call("POST", "/v1/auth/login", {},
                      {{"login", t.username}, {"password", "nope-nope-nope"}});
    EXPECT_EQ(bad.status, 401);
    EXPECT_EQ(bad.error_code(), "invalid_credentials");
    auto unknown = s.call("POST", "/v1/auth/login", {},
                          {{"login", "nobody-here"}, {"password", "whatever123"}});
    EXPECT_EQ(unknown.status, 401);
    EXPECT_EQ(unknown.body["error"]["message"],
              bad.body["error"]["message"]);  // no hint which was wrong
    for (int i = 0; i < 4; ++i)
        s.call("POST", "/v1/auth/login", {},
               {{"login", t.username}, {"password", "nope-nope-nope"}});
    auto locked =
        s.call("POST", "/v1/auth/login", {}, {{"login", t.username}, {"password", t.password}});
    EXPECT_EQ(locked.status, 429) << locked.raw;
    EXPECT_EQ(locked.error_code(), "too_many_login_attempts");
    EXPECT_FALSE(locked.http.header("retry-after").empty());
    // Failures are audited.
    auto audit =
        s.call("GET", "/v1/admin/audit?action=auth.login_failed&tenant_id=" + t.id, s.admin());
    EXPECT_GE(audit.body["data"].size(), 5u);
}

TEST(api_auth, login_validation) {
    auto& s = server();
    EXPECT_EQ(s.call("POST", "/v1/auth/login", {}, {{"login", "x"}}).status, 422);
    EXPECT_EQ(s.call("POST", "/v1/auth/login", {}, {{"login", "x"}, {"password", 5}}).status, 422);
    auto extra = s.call("POST", "/v1/auth/login", {},
                        {{"login", "x"}, {"password", "y"}, {"remember", true}});
    EXPECT_EQ(extra.status, 422);
    EXPECT_EQ(extra.body["error"]["field"], "remember");
    EXPECT_EQ(s.send("POST", "/v1/auth/login", {}, "{not json", "application/json").status, 400);
    EXPECT_EQ(
        s.send("POST", "/v1/auth/login", {}, "login=x", "application/x-www-form-urlencoded").status,
        415);
}

TEST(api_auth, no_or_bad_credentials_are_401) {
    auto& s = server();
    EXPECT_EQ(s.call("GET", "/v1/contacts", {}).status, 401);
    credentials bogus;
    bogus.token = "hld_not-a-real-token";
    auto r = s.call("GET", "/v1/contacts", bogus);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.error_code(), "unauthenticated");
    credentials cookie;
    cookie.cookie = "forged";
    EXPECT_EQ(s.call("GET", "/v1/contacts", cookie).status, 401);
    auto basic = s.call("GET", "/v1/contacts", {}, nullptr, {"Authorization: Basic eDp5"});
    EXPECT_EQ(basic.status, 401);
}

TEST(api_auth, cookie_requests_that_change_things_need_the_csrf_token) {
    auto& s = server();
    auto t = s.make_tenant(unique("csrf"));
    credentials no_csrf = t.session;
    no_csrf.csrf.clear();
    EXPECT_EQ(s.call("GET", "/v1/contacts", no_csrf).status, 200);  // reads are fine
    auto r = s.call("POST", "/v1/groups", no_csrf, {{"name", "g"}});
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.error_code(), "csrf_failed");
    credentials wrong = t.session;
    wrong.csrf = "wrong";
    EXPECT_EQ(s.call("POST", "/v1/groups", wrong, {{"name", "g"}}).status, 403);
    EXPECT_EQ(s.call("POST", "/v1/groups", t.session, {{"name", "g"}}).status, 201);
    // Bearer tokens need no CSRF token.
    EXPECT_EQ(s.call("POST", "/v1/groups", t.token, {{"name", "g2"}}).status, 201);
}

TEST(api_auth, logout_ends_the_session) {
    auto& s = server();
    auto t = s.make_tenant(unique("logout"));
    EXPECT_EQ(s.call("POST", "/v1/auth/logout", t.session).status, 204);
    EXPECT_EQ(s.call("GET", "/v1/auth/me", t.session).status, 401);
}

TEST(api_auth, password_change_and_admin_reset) {
    auto& s = server();
    auto t = s.make_tenant(unique("pw"));
    auto other = s.login(t.username, t.password);
    auto wrong =
        s.call("POST", "/v1/auth/password", t.session,
               {{"current_password", "not-it-at-all"}, {"new_password", "a-new-password-1"}});
    EXPECT_EQ(wrong.status, 403);
    auto weak = s.call("POST", "/v1/auth/password", t.session,
                       {{"current_password", t.password}, {"new_password", "short"}});
    EXPECT_EQ(weak.status, 422);
    EXPECT_EQ(weak.error_code(), "weak_password");
    EXPECT_EQ(s.call("POST", "/v1/auth/password", t.session,
                     {{"current_password", t.password}, {"new_password", "a-new-password-1"}})
                  .status,
              204);
    EXPECT_EQ(s.call("GET", "/v1/auth/me", other).status, 401);      // other sessions ended
    EXPECT_EQ(s.call("GET", "/v1/auth/me", t.session).status, 200);  // this one stays
    EXPECT_TRUE(s.login(t.username, t.password).cookie.empty());
    EXPECT_FALSE(s.login(t.username, "a-new-password-1").cookie.empty());
    // An admin resets it.
    EXPECT_EQ(s.call("POST", "/v1/admin/users/" + t.id + "/password", s.admin(),
                     {{"password", "reset-by-admin-1"}})
                  .status,
              204);
    EXPECT_FALSE(s.login(t.username, "reset-by-admin-1").cookie.empty());
    EXPECT_EQ(s.call("POST", "/v1/admin/users/" + t.id + "/password", t.token,
                     {{"password", "reset-by-admin-1"}})
                  .status,
              403);
}

TEST(api_auth, signup_is_off_by_default) {
    auto r =
        server().call("POST", "/v1/signup", {},
                      {{"username", "x"}, {"email", "x@x.x"}, {"password", "long-password-1"}});
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.error_code(), "signup_disabled");
}

// ---------------------------------------------------------------------------------------
// Tokens, sub-users and permissions
// ---------------------------------------------------------------------------------------

TEST(api_tokens, created_once_listed_by_prefix_limited_and_revocable) {
    auto& s = server();
    auto t = s.make_tenant(unique("tok"));
    auto made = s.call("POST", "/v1/tokens", t.token,
                       {{"name", "reader"}, {"permissions", {"contacts:read"}}});
    ASSERT_EQ(made.status, 201) << made.raw;
    std::string secret = made.body["token"];
    EXPECT_TRUE(secret.starts_with("hld_"));
    EXPECT_EQ(made.body["prefix"], secret.substr(0, 12));
    auto list = s.call("GET", "/v1/tokens", t.token);
    ASSERT_EQ(list.status, 200);
    EXPECT_EQ(list.raw.find(secret), std::string::npos);  // never shown again
    credentials reader;
    reader.token = secret;
    EXPECT_EQ(s.call("GET", "/v1/contacts", reader).status, 200);
    auto denied = s.call("POST", "/v1/groups", reader, {{"name", "x"}});
    EXPECT_EQ(denied.status, 403);
    EXPECT_EQ(denied.error_code(), "forbidden");
    // last_used is recorded (batched).
    std::this_thread::sleep_for(std::chrono::seconds(6));
    auto again = s.call("GET", "/v1/tokens", t.token);
    bool used = false;
    for (auto& tok : again.body["data"])
        if (tok["id"] == made.body["id"]) used = !tok["last_used"].is_null();
    EXPECT_TRUE(used);
    // Revoked: 401 at once on this node.
    EXPECT_EQ(s.call("DELETE", "/v1/tokens/" + made.body["id"].get<std::string>(), t.token).status,
              204);
    auto revoked = s.call("GET", "/v1/contacts", reader);
    EXPECT_EQ(revoked.status, 401);
    EXPECT_NE(revoked.body["error"]["message"].get<std::string>().find("revoked"),
              std::string::npos);
}

TEST(api_tokens, expiry_and_validation) {
    auto& s = server();
    auto t = s.make_tenant(unique("exp"));
    EXPECT_EQ(s.call("POST", "/v1/tokens", t.token,
                     {{"name", "old"}, {"expires_at", "2001-01-01T00:00:00Z"}})
                  .status,
              422);
    EXPECT_EQ(
        s.call("POST", "/v1/tokens", t.token, {{"name", "x"}, {"expires_at", "next week"}}).status,
        422);
    EXPECT_EQ(
        s.call("POST", "/v1/tokens", t.token, {{"name", "x"}, {"permissions", {"launch:missiles"}}})
            .status,
        422);
    EXPECT_EQ(
        s.call("POST", "/v1/tokens", t.token, {{"name", "x"}, {"permissions", {"admin"}}}).status,
        422);
    EXPECT_EQ(s.call("POST", "/v1/tokens", t.token, {{"permissions", {"contacts:read"}}}).status,
              422);
    auto soon = std::chrono::system_clock::now() + std::chrono::seconds(2);
    auto made = s.call("POST", "/v1/tokens", t.token,
                       {{"name", "short-lived"}, {"expires_at", db::format_timestamp(soon)}});
    ASSERT_EQ(made.status, 201) << made.raw;
    credentials c;
    c.token = made.body["token"];
    EXPECT_EQ(s.call("GET", "/v1/contacts", c).status, 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    auto expired = s.call("GET", "/v1/contacts", c);
    EXPECT_EQ(expired.status, 401);
}

TEST(api_users, sub_users_get_named_roles_with_permissions) {
    auto& s = server();
    auto t = s.make_tenant(unique("team"));
    std::string name = unique("clerk");
    auto made =
        s.call("POST", "/v1/users", t.token,
               {{"username", name},
                {"email", name + "@team.test"},
                {"password", "clerk-password-1"},
                {"roles", {{{"role_name", "viewer"}, {"permissions", {"contacts:read"}}}}}});
    ASSERT_EQ(made.status, 201) << made.raw;
    EXPECT_EQ(made.body["tenant_id"], t.id);
    std::string clerk_id = made.body["id"];
    auto clerk = s.login(name, "clerk-password-1");
    ASSERT_FALSE(clerk.cookie.empty());
    EXPECT_EQ(s.call("GET", "/v1/contacts", clerk).status, 200);
    EXPECT_EQ(s.call("POST", "/v1/contacts", clerk, {{"phone_number", "+14155550100"}}).status,
              403);
    EXPECT_EQ(s.call("GET", "/v1/billing/balance", clerk).status, 403);
    // Granting a role changes what the clerk may do.
    auto grant = s.call("PUT", "/v1/users/" + clerk_id + "/roles/editor", t.token,
                        {{"permissions", {"contacts:write"}}});
    ASSERT_EQ(grant.status, 200) << grant.raw;
    EXPECT_EQ(s.call("POST", "/v1/contacts", clerk, {{"phone_number", "+14155550100"}}).status,
              201);
    auto detail = s.call("GET", "/v1/users/" + clerk_id, t.token);
    EXPECT_EQ(detail.body["roles"].size(), 2u);
    EXPECT_EQ(s.call("DELETE", "/v1/users/" + clerk_id + "/roles/editor", t.token).status, 204);
    EXPECT_EQ(s.call("POST", "/v1/contacts", clerk, {{"phone_number", "+14155550101"}}).status,
              403);
    // A clerk cannot hand out permissions it does not have.
    EXPECT_EQ(s.call("PUT", "/v1/users/" + clerk_id + "/roles/boss", clerk,
                     {{"permissions", {"billing:read"}}})
                  .status,
              403);
    // Users are listed for the tenant; bad input is refused.
    EXPECT_GE(s.call("GET", "/v1/users", t.token).body["data"].size(), 2u);
    EXPECT_EQ(s.call("POST", "/v1/users", t.token,
                     {{"username", "x"}, {"email", "bad"}, {"password", "clerk-password-1"}})
                  .status,
              422);
    auto dup =
        s.call("POST", "/v1/users", t.token,
               {{"username", name}, {"email", "o@o.test"}, {"password", "clerk-password-1"}});
    EXPECT_EQ(dup.status, 409);
    EXPECT_EQ(dup.body["error"]["field"], "username");
    // Suspending the clerk: it can still read.
    EXPECT_EQ(
        s.call("PATCH", "/v1/users/" + clerk_id, t.token, {{"account_status", "suspended"}}).status,
        200);
    EXPECT_EQ(s.call("GET", "/v1/contacts", clerk).status, 200);
    EXPECT_EQ(
        s.call("PATCH", "/v1/users/" + t.id, t.token, {{"account_status", "suspended"}}).status,
        403);
}

// ---------------------------------------------------------------------------------------
// Contacts and groups
// ---------------------------------------------------------------------------------------

TEST(api_contacts, create_normalises_numbers_and_validates) {
    auto& s = server();
    auto t = s.make_tenant(unique("ct"));
    auto r = s.call("POST", "/v1/contacts", t.token,
                    {{"phone_number", "07400 123456"},
                     {"country_code", "GB"},
                     {"first_name", "Ann"},
                     {"last_name", "Lee"},
                     {"email", "ann@lee.test"},
                     {"time_zone", "Europe/London"},
                     {"custom_fields", {{"balance", "12.50"}, {"vip", true}}}});
    ASSERT_EQ(r.status, 201) << r.raw;
    EXPECT_EQ(r.body["phone_number"], "+447400123456");
    EXPECT_EQ(r.body["country_code"], "GB");
    EXPECT_EQ(r.body["custom_fields"]["vip"], true);
    EXPECT_EQ(r.body["status"], "active");

    struct bad {
        json body;
        std::string code, field;
    };
    for (const auto& b : std::vector<bad>{
             {{{"phone_number", "hello"}}, "not_a_number", "phone_number"},
             {{{"phone_number", "555-0123"}, {"country_code", "US"}}, "too_short", "phone_number"},
             {{{"phone_number", "+1 099 555 0123"}}, "invalid_for_region", "phone_number"},
             {{{"phone_number", "4155550123"}}, "invalid_country_code", "phone_number"},
             {{{"first_name", "Bo"}}, "invalid_value", "phone_number"},
             {{{"phone_number", "+14155550123"}, {"time_zone", "Mars/Base"}},
              "invalid_value",
              "time_zone"},
             {{{"phone_number", "+14155550123"}, {"custom_fields", {1, 2}}},
              "invalid_value",
              "custom_fields"},
             {{{"phone_number", "+14155550123"}, {"custom_fields", {{"x", {{"nested", 1}}}}}},
              "invalid_value",
              "custom_fields.x"},
             {{{"phone_number", "+14155550123"}, {"status", "happy"}}, "invalid_value", "status"},
             {{{"phone_number", "+14155550123"}, {"first_name", std::string(51, 'a')}},
              "invalid_value",
              "first_name"},
             {{{"phone_number", "+14155550123"}, {"groups", {"not-an-id"}}},
              "invalid_value",
              "groups"},
             {{{"phone_number", "+14155550123"}, {"nickname", "x"}}, "invalid_value", "nickname"},
         }) {
        auto e = s.call("POST", "/v1/contacts", t.token, b.body);
        EXPECT_EQ(e.status, 422) << b.body.dump() << " -> " << e.raw;
        EXPECT_EQ(e.error_code(), b.code) << b.body.dump() << " -> " << e.raw;
        EXPECT_EQ(e.body["error"]["field"], b.field) << b.body.dump();
    }
    auto no_group = s.call(
        "POST", "/v1/contacts", t.token,
        {{"phone_number", "+14155550123"}, {"groups", {"01234567-89ab-cdef-0123-456789abcdef"}}});
    EXPECT_EQ(no_group.status, 404);
    EXPECT_EQ(no_group.body["error"]["field"], "groups");
    auto dup = s.call("POST", "/v1/contacts", t.token, {{"phone_number", "+44 7400 123456"}});
    EXPECT_EQ(dup.status, 409);
    EXPECT_EQ(dup.body["error"]["field"], "phone_number");
}

TEST(api_contacts, read_update_delete) {
    auto& s = server();
    auto t = s.make_tenant(unique("crud"));
    auto c = s.call("POST", "/v1/contacts", t.token,
                    {{"phone_number", "+14155550150"}, {"first_name", "Old"}});
    std::string id = c.body["id"];
    auto got = s.call("GET", "/v1/contacts/" + id, t.token);
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(got.body["first_name"], "Old");
    auto patched = s.call("PATCH", "/v1/contacts/" + id, t.token,
                          {{"first_name", "New"},
                           {"email", nullptr},
                           {"status", "unsubscribed"},
                           {"custom_fields", {{"k", "v"}}}});
    ASSERT_EQ(patched.status, 200) << patched.raw;
    EXPECT_EQ(patched.body["first_name"], "New");
    EXPECT_EQ(patched.body["status"], "unsubscribed");
    EXPECT_EQ(patched.body["custom_fields"]["k"], "v");
    EXPECT_EQ(s.call("PATCH", "/v1/contacts/" + id, t.token, {{"phone_number", "bad"}}).status,
              422);
    EXPECT_EQ(s.call("DELETE", "/v1/contacts/" + id, t.token).status, 204);
    EXPECT_EQ(s.call("GET", "/v1/contacts/" + id, t.token).status, 404);
    EXPECT_EQ(s.call("DELETE", "/v1/contacts/" + id, t.token).status, 404);
    EXPECT_EQ(s.call("GET", "/v1/contacts/not-a-uuid", t.token).status, 404);
}

TEST(api_contacts, lists_page_search_and_filter) {
    auto& s = server();
    auto t = s.make_tenant(unique("list"));
    auto g = s.call("POST", "/v1/groups", t.token, {{"name", "vip"}});
    std::string gid = g.body["id"];
    std::vector<std::string> names = {"Ada", "Bob", "Cyd", "Dee", "Eve", "Fay", "Gus"};
    for (std::size_t i = 0; i < names.size(); ++i) {
        json body = {{"phone_number", "+1415555020" + std::to_string(i)}, {"first_name", names[i]}};
        if (i % 2 == 0) body["groups"] = {gid};
        if (i == 6) body["status"] = "invalid";
        ASSERT_EQ(s.call("POST", "/v1/contacts", t.token, body).status, 201);
    }
    std::set<std::string> seen;
    std::string cursor;
    int pages = 0;
    do {
        auto page = s.call(
            "GET", "/v1/contacts?limit=3" + (cursor.empty() ? "" : "&after=" + cursor), t.token);
        ASSERT_EQ(page.status, 200);
        for (auto& c : page.body["data"]) seen.insert(c["first_name"]);
        cursor =
            page.body["next_cursor"].is_null() ? "" : page.body["next_cursor"].get<std::string>();
        ++pages;
    } while (!cursor.empty());
    EXPECT_EQ(pages, 3);
    EXPECT_EQ(seen.size(), 7u);
    EXPECT_EQ(s.call("GET", "/v1/contacts?q=cyd", t.token).body["data"].size(), 1u);
    EXPECT_EQ(s.call("GET", "/v1/contacts?q=55502", t.token).body["data"].size(), 7u);
    EXPECT_EQ(s.call("GET", "/v1/contacts?group_id=" + gid, t.token).body["data"].size(), 4u);
    EXPECT_EQ(s.call("GET", "/v1/contacts?status=invalid", t.token).body["data"].size(), 1u);
    EXPECT_EQ(s.call("GET", "/v1/contacts?q=%25", t.token).body["data"].size(),
              0u);  // wildcards are literal
    EXPECT_EQ(s.call("GET", "/v1/contacts?limit=0", t.token).status, 422);
    EXPECT_EQ(s.call("GET", "/v1/contacts?limit=5000", t.token).status, 422);
    EXPECT_EQ(s.call("GET", "/v1/contacts?after=garbage", t.token).status, 422);
    EXPECT_EQ(s.call("GET", "/v1/contacts?status=nope", t.token).status, 422);
}

TEST(api_groups, crud_membership_totals_and_export) {
    auto& s = server();
    auto t = s.make_tenant(unique("grp"));
    auto g = s.call("POST", "/v1/groups", t.token, {{"name", "Debtors"}, {"description", "Q4"}});
    ASSERT_EQ(g.status, 201);
    std::string gid = g.body["id"];
    EXPECT_EQ(s.call("POST", "/v1/groups", t.token, {{"name", "Debtors"}}).status, 409);
    EXPECT_EQ(s.call("POST", "/v1/groups", t.token, {{"name", ""}}).status, 422);
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        auto c = s.call("POST", "/v1/contacts", t.token,
                        {{"phone_number", "+1415555030" + std::to_string(i)},
                         {"custom_fields", {{"balance", std::to_string(i * 10)}}}});
        ids.push_back(c.body["id"]);
    }
    auto added = s.call("POST", "/v1/groups/" + gid + "/contacts", t.token, {{"contact_ids", ids}});
    ASSERT_EQ(added.status, 200) << added.raw;
    EXPECT_EQ(added.body["added"], 3);
    EXPECT_EQ(s.call("POST", "/v1/groups/" + gid + "/contacts", t.token, {{"contact_ids", ids}})
                  .body["added"],
              0);
    EXPECT_EQ(s.call("GET", "/v1/groups/" + gid, t.token).body["total_contacts"], 3);
    EXPECT_EQ(s.call("DELETE", "/v1/groups/" + gid + "/contacts/" + ids[0], t.token).status, 204);
    EXPECT_EQ(s.call("DELETE", "/v1/groups/" + gid + "/contacts/" + ids[0], t.token).status, 404);
    EXPECT_EQ(s.call("GET", "/v1/groups/" + gid, t.token).body["total_contacts"], 2);
    auto renamed = s.call("PATCH", "/v1/groups/" + gid, t.token,
                          {{"name", "Late payers"}, {"description", nullptr}});
    EXPECT_EQ(renamed.body["name"], "Late payers");
    EXPECT_TRUE(renamed.body["description"].is_null());
    auto csv = s.call("GET", "/v1/groups/" + gid + "/export", t.token);
    ASSERT_EQ(csv.status, 200);
    EXPECT_EQ(csv.http.header("content-type"), "text/csv; charset=utf-8");
    EXPECT_TRUE(
        csv.raw.starts_with("phone_number,first_name,last_name,email,status,time_zone,balance\n"))
        << csv.raw;
    EXPECT_NE(csv.raw.find("+14155550301,,,,active,,10"), std::string::npos) << csv.raw;
    EXPECT_EQ(csv.raw.find("+14155550300"), std::string::npos);
    EXPECT_EQ(s.call("GET", "/v1/groups?q=late", t.token).body["data"].size(), 1u);
    EXPECT_EQ(s.call("DELETE", "/v1/groups/" + gid, t.token).status, 204);
    EXPECT_EQ(s.call("GET", "/v1/contacts/" + ids[1], t.token).status, 200);  // contacts stay
}

// ---------------------------------------------------------------------------------------
// Imports
// ---------------------------------------------------------------------------------------

TEST(api_imports, bad_rows_are_reported_and_good_rows_imported) {
    auto& s = server();
    auto t = s.make_tenant(unique("imp"));
    auto g = s.call("POST", "/v1/groups", t.token, {{"name", "imported"}});
    std::string gid = g.body["id"];
    std::string csv = "\xEF\xBB\xBFPhone,First Name,Surname,Plan,Email\r\n";
    csv += "+14155550401,Ann,Lee,gold,ann@x.test\r\n";  // 2 good
    csv += "not a number,Bad,Row,x,\r\n";               // 3 invalid number
    csv += ",Missing,Phone,x,\r\n";                     // 4 missing phone
    csv += "(415) 555-0402,Bo,Ng,silver,\r\n";          // 5 good (default region US)
    csv += "+14155550403,\"Broken,quote,x,\r\n";        // 6 unclosed quote
    csv += "+14155550404," + std::string(10 * 1024 * 1024, 'z') + ",x,y,\r\n";  // 7 a 10 MB line
    csv += "+14155550405,\"Cy, Jr.\",Doe,bronze,\r\n";   // 8 good, quoted comma
    csv += "+14155550401,Ann,Again,gold,\r\n";           // 9 repeat of line 2
    csv += "+447400123456,Di,Uk,gold,not-an-email\r\n";  // 10 bad email
    csv += "+447400123457,Ed,Uk,gold,\r\n";              // 11 good
    auto up = s.send("POST", "/v1/contacts/import?default_region=US&group_id=" + gid, t.token, csv,
                     "text/csv");
    ASSERT_EQ(up.status, 202) << up.raw;
    EXPECT_FALSE(up.http.header("location").empty());
    auto job = test::wait_for_import(s, t.token, up.body["id"]);
    ASSERT_EQ(job["status"], "completed") << job.dump();
    EXPECT_EQ(job["rows_read"], 10);
    EXPECT_EQ(job["imported"], 4);
    EXPECT_EQ(job["duplicates"], 1);
    EXPECT_EQ(job["rejected"], 5);
    EXPECT_DOUBLE_EQ(job["progress"].get<double>(), 1.0);

    auto rejects = s.call(
        "GET", "/v1/contacts/imports/" + up.body["id"].get<std::string>() + "/rejects", t.token);
    ASSERT_EQ(rejects.status, 200);
    EXPECT_TRUE(rejects.raw.starts_with("line,reason,raw\n")) << rejects.raw.substr(0, 200);
    EXPECT_NE(rejects.raw.find("3,"), std::string::npos);
    EXPECT_NE(rejects.raw.find("is not a phone number"), std::string::npos);
    EXPECT_NE(rejects.raw.find("4,missing phone number"), std::string::npos);
    EXPECT_NE(rejects.raw.find("6,quote opened at column 2 is never closed"), std::string::npos)
        << rejects.raw.substr(0, 2000);
    EXPECT_NE(rejects.raw.find("7,line is longer than 65536 bytes"), std::string::npos);
    EXPECT_NE(rejects.raw.find("10,\"email"), std::string::npos) << rejects.raw.substr(0, 3000);
    EXPECT_LT(rejects.raw.size(),
              20'000u);  // the report holds a preview of the long line, not all of it

    auto members = s.call("GET", "/v1/contacts?group_id=" + gid, t.token);
    EXPECT_EQ(members.body["data"].size(), 4u);
    EXPECT_EQ(s.call("GET", "/v1/groups/" + gid, t.token).body["total_contacts"], 4);
    auto cy = s.call("GET", "/v1/contacts?q=Jr.", t.token);
    ASSERT_EQ(cy.body["data"].size(), 1u);
    EXPECT_EQ(cy.body["data"][0]["first_name"], "Cy, Jr.");
    EXPECT_EQ(cy.body["data"][0]["last_name"], "Doe");
    EXPECT_EQ(cy.body["data"][0]["custom_fields"]["Plan"], "bronze");
    auto ann = s.call("GET", "/v1/contacts?q=Ann", t.token);
    EXPECT_EQ(ann.body["data"][0]["last_name"], "Lee");  // the first line with the number won
}

TEST(api_imports, duplicates_against_existing_contacts_skip_or_update) {
    auto& s = server();
    auto t = s.make_tenant(unique("dup"));
    s.call("POST", "/v1/contacts", t.token,
           {{"phone_number", "+14155550501"}, {"first_name", "Original"}});
    std::string csv = "phone;first_name;tier\n+14155550501;Changed;2\n+14155550502;Fresh;1\n";
    auto skip = s.send("POST", "/v1/contacts/import", t.token, csv, "text/csv");
    auto j1 = test::wait_for_import(s, t.token, skip.body["id"]);
    EXPECT_EQ(j1["imported"], 1);
    EXPECT_EQ(j1["skipped"], 1);
    EXPECT_EQ(s.call("GET", "/v1/contacts?q=Original", t.token).body["data"].size(), 1u);
    auto update =
        s.send("POST", "/v1/contacts/import?on_duplicate=update", t.token, csv, "text/csv");
    auto j2 = test::wait_for_import(s, t.token, update.body["id"]);
    EXPECT_EQ(j2["updated"], 2);
    auto changed = s.call("GET", "/v1/contacts?q=Changed", t.token);
    ASSERT_EQ(changed.body["data"].size(), 1u);
    EXPECT_EQ(changed.body["data"][0]["custom_fields"]["tier"], "2");
}

// Batches are copied straight into contacts until one meets a number the tenant already has
// (decision 0013): here the first two batches of 16,384 rows are, and the third meets two
// existing numbers. It goes through the stage table instead, and the counts, the group and
// the old contacts are right.
TEST(api_imports, existing_numbers_in_a_later_batch_are_skipped_exactly) {
    auto& s = server();
    auto t = s.make_tenant(unique("latedup"));
    const std::string gid = s.call("POST", "/v1/groups", t.token, {{"name", "late"}}).body["id"];
    auto number = [](int i) { return "+1415" + std::to_string(2000000 + i); };
    for (int i : {35000, 39999})
        ASSERT_EQ(s.call("POST", "/v1/contacts", t.token,
                         {{"phone_number", number(i)}, {"first_name", "Kept"}})
                      .status,
                  201);
    std::string csv = "phone,first_name\n";
    for (int i = 0; i < 40000; ++i) csv += number(i) + ",New\n";
    auto up = s.send("POST", "/v1/contacts/import?group_id=" + gid, t.token, csv, "text/csv");
    ASSERT_EQ(up.status, 202) << up.raw;
    auto job = test::wait_for_import(s, t.token, up.body["id"]);
    EXPECT_EQ(job["status"], "completed") << job.dump();
    EXPECT_EQ(job["imported"], 39998);
    EXPECT_EQ(job["skipped"], 2);
    EXPECT_EQ(job["rejected"], 0);
    EXPECT_EQ(s.call("GET", "/v1/groups/" + gid, t.token).body["total_contacts"], 40000);
    auto kept = s.call("GET", "/v1/contacts?q=Kept", t.token);
    EXPECT_EQ(kept.body["data"].size(), 2u);
    auto all = s.call("GET", "/v1/contacts?limit=1&q=" + number(39999).substr(1), t.token);
    ASSERT_EQ(all.body["data"].size(), 1u);
    EXPECT_EQ(all.body["data"][0]["first_name"], "Kept");
}

TEST(api_imports, a_file_without_a_phone_column_fails_clearly) {
    auto& s = server();
    auto t = s.make_tenant(unique("nophone"));
    auto up = s.send("POST", "/v1/contacts/import", t.token, "name,email\nAnn,a@b.c\n", "text/csv");
    ASSERT_EQ(up.status, 202);
    auto job = test::wait_for_import(s, t.token, up.body["id"]);
    EXPECT_EQ(job["status"], "failed");
    EXPECT_NE(job["error"].get<std::string>().find("no phone number column"), std::string::npos)
        << job.dump();
    // An explicit mapping fixes it.
    auto mapped = s.send("POST", "/v1/contacts/import?map.phone_number=Handy&default_region=DE",
                         t.token, "Handy,First Name\n0151 23456789,Jo\n", "text/csv");
    auto done = test::wait_for_import(s, t.token, mapped.body["id"]);
    EXPECT_EQ(done["imported"], 1) << done.dump();
    EXPECT_EQ(s.call("GET", "/v1/contacts?q=Jo", t.token).body["data"][0]["phone_number"],
              "+4915123456789");
}

TEST(api_imports, options_are_validated_before_anything_runs) {
    auto& s = server();
    auto t = s.make_tenant(unique("opts"));
    auto e1 = s.send("POST", "/v1/contacts/import?on_duplicate=merge", t.token,
                     "phone\n+14155550601\n", "text/csv");
    EXPECT_EQ(e1.status, 422);
    EXPECT_EQ(e1.body["error"]["field"], "on_duplicate");
    EXPECT_EQ(
        s.send("POST", "/v1/contacts/import?default_region=XX", t.token, "phone\n1\n", "text/csv")
            .status,
        422);
    EXPECT_EQ(
        s.send("POST", "/v1/contacts/import?map.nickname=x", t.token, "phone\n1\n", "text/csv")
            .status,
        422);
    EXPECT_EQ(s.send("POST", "/v1/contacts/import?group_id=01234567-89ab-cdef-0123-456789abcdef",
                     t.token, "phone\n1\n", "text/csv")
                  .status,
              404);
    EXPECT_EQ(s.send("POST", "/v1/contacts/import", t.token, "", "text/csv").status, 422);
    EXPECT_EQ(
        s.call("GET", "/v1/contacts/imports/01234567-89ab-cdef-0123-456789abcdef", t.token).status,
        404);
    EXPECT_EQ(s.call("GET", "/v1/contacts/imports", t.token).status, 200);
}

// ---------------------------------------------------------------------------------------
// Billing, prices, admin
// ---------------------------------------------------------------------------------------

TEST(api_billing, admin_credits_tenant_reads_balance_and_ledger) {
    auto& s = server();
    auto t = s.make_tenant(unique("bill"), 10);
    auto credit = s.call("POST", "/v1/admin/tenants/" + t.id + "/credits", s.admin(),
                         {{"credits", 500},
                          {"amount", "49.99"},
                          {"payment_method", "card"},
                          {"description", "top-up"}});
    ASSERT_EQ(credit.status, 201) << credit.raw;
    EXPECT_EQ(credit.body["credits_before"], 10);
    EXPECT_EQ(credit.body["credits_after"], 510);
    EXPECT_EQ(credit.body["amount"], "49.99");
    EXPECT_EQ(s.call("GET", "/v1/billing/balance", t.token).body["sms_credits"], 510);
    auto ledger = s.call("GET", "/v1/billing/transactions", t.token);
    ASSERT_EQ(ledger.body["data"].size(), 2u);
    int sum = 0;
    for (auto& row : ledger.body["data"]) {
        sum += row["credits"].get<int>();
        EXPECT_EQ(row["credits_before"].get<int>() + row["credits"].get<int>(),
                  row["credits_after"].get<int>());
    }
    EXPECT_EQ(sum, 510);
    // Tenants cannot credit themselves; bad input is refused.
    EXPECT_EQ(
        s.call("POST", "/v1/admin/tenants/" + t.id + "/credits", t.token, {{"credits", 5}}).status,
        403);
    EXPECT_EQ(s.call("POST", "/v1/admin/tenants/" + t.id + "/credits", s.admin(), {{"credits", -5}})
                  .status,
              422);
    EXPECT_EQ(s.call("POST", "/v1/admin/tenants/" + t.id + "/credits", s.admin(),
                     {{"credits", 5}, {"amount", "lots"}})
                  .status,
              422);
    EXPECT_EQ(s.call("POST", "/v1/admin/tenants/01234567-89ab-cdef-0123-456789abcdef/credits",
                     s.admin(), {{"credits", 5}})
                  .status,
              404);
}

TEST(api_billing, prices_by_country_with_a_default) {
    auto& s = server();
    auto t = s.make_tenant(unique("price"));
    EXPECT_EQ(s.call("PUT", "/v1/admin/prices/NG", s.admin(), {{"credits_per_segment", 3}}).status,
              200);
    EXPECT_EQ(s.call("PUT", "/v1/admin/prices/ng", s.admin(), {{"credits_per_segment", 3}}).status,
              422);
    EXPECT_EQ(s.call("PUT", "/v1/admin/prices/GB", s.admin(), {{"credits_per_segment", 0}}).status,
              422);
    EXPECT_EQ(s.call("PUT", "/v1/admin/prices/GB", t.token, {{"credits_per_segment", 1}}).status,
              403);
    auto prices = s.call("GET", "/v1/prices", t.token);
    bool ng = false, fallback = false;
    for (auto& p : prices.body["data"]) {
        ng = ng || (p["country_code"] == "NG" && p["credits_per_segment"] == 3);
        fallback = fallback || p["country_code"] == "*";
    }
    EXPECT_TRUE(ng && fallback);
    EXPECT_EQ(s.call("DELETE", "/v1/admin/prices/NG", s.admin()).status, 204);
    EXPECT_EQ(s.call("DELETE", "/v1/admin/prices/NG", s.admin()).status, 404);
    EXPECT_EQ(s.call("DELETE", "/v1/admin/prices/*", s.admin()).status, 422);
}

TEST(api_admin, tenants_status_settings_and_acting_for_a_tenant) {
    auto& s = server();
    auto t = s.make_tenant(unique("adm"));
    EXPECT_GE(s.call("GET", "/v1/admin/tenants", s.admin()).body["data"].size(), 1u);
    EXPECT_EQ(s.call("GET", "/v1/admin/tenants/" + t.id, s.admin()).body["username"], t.username);
    EXPECT_EQ(s.call("GET", "/v1/admin/tenants", t.token).status, 403);
    // Admins act on a tenant's data by naming it.
    s.call("POST", "/v1/contacts", t.token, {{"phone_number", "+14155550701"}});
    auto missing = s.call("GET", "/v1/contacts", s.admin());
    EXPECT_EQ(missing.status, 400);
    EXPECT_EQ(missing.error_code(), "tenant_required");
    credentials as_tenant = s.admin();
    as_tenant.tenant = t.id;
    auto seen = s.call("GET", "/v1/contacts", as_tenant);
    EXPECT_EQ(seen.body["data"].size(), 1u);
    auto made = s.call("POST", "/v1/contacts", as_tenant, {{"phone_number", "+14155550702"}});
    EXPECT_EQ(made.status, 201);
    auto audit = s.call("GET", "/v1/audit?action=contacts.create", t.token);
    bool by_admin = false;
    for (auto& row : audit.body["data"])
        by_admin = by_admin || (row["target_id"] == made.body["id"] && row["user_id"] != t.id);
    EXPECT_TRUE(by_admin);  // audited as the admin's action, on the tenant's trail
    // Settings and status.
    auto patched =
        s.call("PATCH", "/v1/admin/tenants/" + t.id, s.admin(),
               {{"settings", {{"allow_negative_credits", true}}}, {"account_status", "suspended"}});
    ASSERT_EQ(patched.status, 200) << patched.raw;
    EXPECT_EQ(patched.body["settings"]["allow_negative_credits"], true);
    EXPECT_EQ(patched.body["account_status"], "suspended");
    EXPECT_EQ(s.call("GET", "/v1/auth/me", t.token).body["effective_status"], "suspended");
    EXPECT_EQ(s.call("GET", "/v1/contacts", t.token).status, 200);  // suspended tenants still read
    EXPECT_EQ(
        s.call("PATCH", "/v1/admin/tenants/" + t.id, s.admin(), {{"settings", {{"colour", "red"}}}})
            .status,
        422);
    EXPECT_EQ(
        s.call("PATCH", "/v1/admin/tenants/" + t.id, s.admin(), {{"account_status", "asleep"}})
            .status,
        422);
    s.call("PATCH", "/v1/admin/tenants/" + t.id, s.admin(), {{"account_status", "closed"}});
    EXPECT_EQ(s.call("GET", "/v1/contacts", t.token).status, 401);
    // Creating tenants validates.
    EXPECT_EQ(s.call("POST", "/v1/admin/tenants", s.admin(),
                     {{"username", "zz"}, {"email", "z@z.z"}, {"password", "long-password-1"}})
                  .status,
              422);
    EXPECT_EQ(
        s.call("POST", "/v1/admin/tenants", s.admin(),
               {{"username", t.username}, {"email", "n@n.test"}, {"password", "long-password-1"}})
            .status,
        409);
}

// ---------------------------------------------------------------------------------------
// Audit
// ---------------------------------------------------------------------------------------

TEST(api_audit, every_mutating_action_is_recorded_with_where_it_came_from) {
    auto& s = server();
    auto t = s.make_tenant(unique("aud"));
    auto g = s.call("POST", "/v1/groups", t.token, {{"name", "g"}});
    auto c = s.call("POST", "/v1/contacts", t.token, {{"phone_number", "+14155550801"}});
    s.call("PATCH", "/v1/contacts/" + c.body["id"].get<std::string>(), t.token,
           {{"first_name", "X"}});
    s.call("POST", "/v1/groups/" + g.body["id"].get<std::string>() + "/contacts", t.token,
           {{"contact_ids", {c.body["id"]}}});
    s.call("DELETE", "/v1/contacts/" + c.body["id"].get<std::string>(), t.token);
    auto tok = s.call("POST", "/v1/tokens", t.token, {{"name", "temp"}});
    s.call("DELETE", "/v1/tokens/" + tok.body["id"].get<std::string>(), t.token);
    s.call("PATCH", "/v1/groups/" + g.body["id"].get<std::string>(), t.token, {{"name", "h"}});
    s.call("DELETE", "/v1/groups/" + g.body["id"].get<std::string>(), t.token);
    auto audit = s.call("GET", "/v1/audit?limit=100", t.token);
    ASSERT_EQ(audit.status, 200);
    std::set<std::string> actions;
    for (auto& row : audit.body["data"]) {
        actions.insert(row["action"]);
        EXPECT_EQ(row["tenant_id"], t.id);
        EXPECT_EQ(row["ip_address"], "127.0.0.1");
        EXPECT_EQ(row["user_agent"], "herald-tests");
        EXPECT_EQ(row.dump().find(tok.body["token"].get<std::string>()),
                  std::string::npos);  // no secret
    }
    for (const char* a : {"tenants.create", "auth.login", "tokens.create", "groups.create",
                          "contacts.create", "contacts.update", "groups.add_contacts",
                          "contacts.delete", "tokens.revoke", "groups.update", "groups.delete"})
        EXPECT_TRUE(actions.contains(a)) << a;
    EXPECT_EQ(s.call("GET", "/v1/audit?action=contacts.", t.token).body["data"].size(), 3u);
    EXPECT_EQ(s.call("GET", "/v1/audit?since=garbage", t.token).status, 422);
    // An admin sees everyone's trail; a tenant only its own.
    auto other = s.make_tenant(unique("aud2"));
    auto theirs = s.call("GET", "/v1/audit?limit=1000", other.token);
    for (auto& row : theirs.body["data"]) EXPECT_EQ(row["tenant_id"], other.id);
    EXPECT_GE(s.call("GET", "/v1/admin/audit?tenant_id=" + t.id + "&limit=1000", s.admin())
                  .body["data"]
                  .size(),
              audit.body["data"].size());
    EXPECT_EQ(s.call("GET", "/v1/admin/audit", t.token).status, 403);
}

// ---------------------------------------------------------------------------------------
// Server behaviour
// ---------------------------------------------------------------------------------------

TEST(api_server_behaviour, errors_headers_limits_and_metrics) {
    auto& s = server();
    auto t = s.make_tenant(unique("srv"));
    auto nf = s.call("GET", "/v1/nothing-here", t.token);
    EXPECT_EQ(nf.status, 404);
    EXPECT_EQ(nf.error_code(), "not_found");
    EXPECT_TRUE(nf.body["error"].contains("field"));
    auto na = s.call("PUT", "/v1/contacts", t.token);
    EXPECT_EQ(na.status, 405);
    EXPECT_NE(na.http.header("allow").find("GET"), std::string::npos);
    auto big = s.send("POST", "/v1/groups", t.token,
                      "{\"name\":\"" + std::string(2 << 20, 'x') + "\"}", "application/json");
    EXPECT_EQ(big.status, 413);
    auto r = s.call("GET", "/v1/contacts", t.token, nullptr, {"X-Request-Id: my-trace-42"});
    EXPECT_EQ(r.http.header("x-request-id"), "my-trace-42");
    EXPECT_EQ(r.http.header("x-frame-options"), "DENY");
    EXPECT_EQ(r.http.header("cache-control"), "no-store");
    auto metrics = s.call("GET", "/metrics", {});
    ASSERT_EQ(metrics.status, 200);
    EXPECT_NE(
        metrics.raw.find(
            "herald_http_requests_total{route=\"/v1/contacts\",method=\"GET\",status=\"200\"}"),
        std::string::npos);
    EXPECT_NE(
        metrics.raw.find("herald_http_request_duration_seconds_bucket{route=\"/v1/contacts\""),
        std::string::npos);
    EXPECT_NE(metrics.raw.find("herald_db_pool_connections{state=\"open\"}"), std::string::npos);
    EXPECT_NE(metrics.raw.find("herald_build_info{version="), std::string::npos);
    EXPECT_EQ(metrics.raw.find("/v1/contacts/01"), std::string::npos);  // ids never become labels
}

}  // namespace
}  // namespace herald

// ---- a server with tight limits and self-service sign-up ----

namespace herald {
namespace {

TEST(api_limits, requests_beyond_the_per_token_rate_get_429_with_retry_after) {
    api_server s({"HERALD_AUTH_RATE_LIMIT_PER_TOKEN=5", "HERALD_AUTH_SELF_SIGNUP=true"});
    auto t = s.make_tenant("limited");
    int ok = 0, limited = 0;
    std::string retry;
    for (int i = 0; i < 30; ++i) {
        auto r = s.call("GET", "/v1/contacts", t.token);
        if (r.status == 200) ++ok;
        if (r.status == 429) {
            ++limited;
            retry = r.http.header("retry-after");
            EXPECT_EQ(r.error_code(), "rate_limited");
        }
    }
    EXPECT_GT(limited, 0);
    EXPECT_GE(ok, 5);
    EXPECT_FALSE(retry.empty());
    // Another token has its own budget.
    auto other = s.make_tenant("unlimited");
    EXPECT_EQ(s.call("GET", "/v1/contacts", other.token).status, 200);

    // Self-service sign-up, when turned on, creates a tenant that can log in.
    auto signup = s.call("POST", "/v1/signup", {},
                         {{"username", "newco"},
                          {"email", "hello@newco.test"},
                          {"password", "newco-password-1"},
                          {"company_name", "NewCo"}});
    ASSERT_EQ(signup.status, 201) << signup.raw;
    EXPECT_EQ(signup.body["role"], "client");
    EXPECT_EQ(signup.body["sms_credits"], 0);
    EXPECT_FALSE(s.login("newco", "newco-password-1").cookie.empty());
    EXPECT_EQ(
        s.call("POST", "/v1/signup", {},
               {{"username", "newco"}, {"email", "x@newco.test"}, {"password", "newco-password-1"}})
            .status,
        409);
    EXPECT_EQ(s.call("POST", "/v1/signup", {},
                     {{"username", "weak"}, {"email", "w@newco.test"}, {"password", "short"}})
                  .status,
              422);
}

TEST(api_cli, user_and_token_commands_bootstrap_and_report_errors) {
    auto& s = server();
    auto made = s.cli({"user", "create", "--username", "cli_tenant", "--email", "cli@tenant.test",
                       "--company", "CLI Co", "--password-stdin"},
                      "cli-password-123\n");
    ASSERT_EQ(made.exit_code, 0) << made.output;
    EXPECT_NE(made.output.find("created client cli_tenant"), std::string::npos);
    auto tok = s.cli({"token", "create", "--user", "cli_tenant", "--name", "ci", "--permissions",
                      "contacts:read,billing:read"});
    ASSERT_EQ(tok.exit_code, 0) << tok.output;
    credentials c;
    c.token = tok.output.substr(0, tok.output.find('\n'));
    EXPECT_TRUE(c.token.starts_with("hld_"));
    EXPECT_EQ(s.call("GET", "/v1/billing/balance", c).status, 200);
    EXPECT_EQ(s.call("POST", "/v1/groups", c, {{"name", "x"}}).status, 403);

    auto dup = s.cli({"user", "create", "--username", "cli_tenant", "--email", "other@tenant.test",
                      "--password-stdin"},
                     "cli-password-123\n");
    EXPECT_EQ(dup.exit_code, 2);
    EXPECT_NE(dup.output.find("username exists"), std::string::npos) << dup.output;
    auto weak = s.cli({"user", "create", "--username", "cli_weak", "--email", "w@tenant.test",
                       "--password-stdin"},
                      "short\n");
    EXPECT_EQ(weak.exit_code, 2);
    EXPECT_NE(weak.output.find("at least 10 characters"), std::string::npos) << weak.output;
    auto no_flag = s.cli({"user", "create", "--username", "x1x", "--email", "x@x.test"});
    EXPECT_EQ(no_flag.exit_code, 2);
    EXPECT_NE(no_flag.output.find("--password-stdin"), std::string::npos);
    auto nobody = s.cli({"token", "create", "--user", "nobody-at-all", "--name", "x"});
    EXPECT_EQ(nobody.exit_code, 2);
    EXPECT_NE(nobody.output.find("no user"), std::string::npos);
    auto not_held =
        s.cli({"token", "create", "--user", "cli_tenant", "--name", "x", "--permissions", "admin"});
    EXPECT_EQ(not_held.exit_code, 2);
    auto bad_time =
        s.cli({"token", "create", "--user", "cli_tenant", "--name", "x", "--expires", "tomorrow"});
    EXPECT_EQ(bad_time.exit_code, 2);
    // Both left audit rows.
    auto audit = s.call("GET", "/v1/admin/audit?action=tokens.create&limit=1000", s.admin());
    bool via_cli = false;
    for (auto& row : audit.body["data"])
        via_cli = via_cli || row["details"].value("via", "") == "cli";
    EXPECT_TRUE(via_cli);
}

}  // namespace
}  // namespace herald
