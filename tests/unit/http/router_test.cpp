#include "http/router.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace herald::http {
namespace {

response call(const router& r, std::string method, std::string path,
              std::string* matched = nullptr) {
    request req;
    req.method = std::move(method);
    req.path = std::move(path);
    std::string m;
    response out;
    r.dispatch(req, m, [&](response&& resp) { out = std::move(resp); });
    if (matched) *matched = m;
    return out;
}

TEST(router, matches_literal_and_parameter_segments) {
    router r;
    r.add("GET", "/v1/contacts", [](request&) { return response(200, "text/plain", "list"); });
    r.add("GET", "/v1/contacts/{id}",
          [](request& q) { return response(200, "text/plain", std::string(q.param("id"))); });
    r.add("DELETE", "/v1/contacts/{id}", [](request&) { return response(204, "text/plain", ""); });
    std::string matched;
    EXPECT_EQ(call(r, "GET", "/v1/contacts", &matched).body, "list");
    EXPECT_EQ(matched, "/v1/contacts");
    EXPECT_EQ(call(r, "GET", "/v1/contacts/abc", &matched).body, "abc");
    EXPECT_EQ(matched, "/v1/contacts/{id}");
    EXPECT_EQ(call(r, "DELETE", "/v1/contacts/abc").status, 204);
    EXPECT_EQ(call(r, "HEAD", "/v1/contacts").status, 200);
}

TEST(router, unknown_path_is_404_and_wrong_method_is_405_with_allow) {
    router r;
    r.add("GET", "/v1/things/{id}", [](request&) { return response(200, "text/plain", ""); });
    r.add("PATCH", "/v1/things/{id}", [](request&) { return response(200, "text/plain", ""); });
    auto nf = call(r, "GET", "/v1/things");
    EXPECT_EQ(nf.status, 404);
    auto body = nlohmann::json::parse(nf.body);
    EXPECT_EQ(body["error"]["code"], "not_found");
    auto na = call(r, "POST", "/v1/things/1");
    EXPECT_EQ(na.status, 405);
    EXPECT_EQ(na.header("allow"), "GET, PATCH");
    EXPECT_EQ(call(r, "GET", "/v1/things/1/extra").status, 404);
    EXPECT_EQ(call(r, "GET", "/v1/things/").status, 404);
}

TEST(router, duplicate_registration_is_a_programming_error) {
    router r;
    r.add("GET", "/x", [](request&) { return response(); });
    EXPECT_THROW(r.add("GET", "/x", [](request&) { return response(); }), std::logic_error);
}

TEST(router, per_route_body_limits) {
    router r;
    r.add(
        "POST", "/v1/groups/{id}/import", [](request&) { return response(); }, 500u << 20);
    r.add_upload(
        "POST", "/v1/uploads", [](request&) { return response(); }, 1u << 20);
    EXPECT_EQ(r.body_rules_for("POST", "/v1/groups/g1/import").limit, 500u << 20);
    EXPECT_FALSE(r.body_rules_for("POST", "/v1/groups/g1/import").spool);
    EXPECT_EQ(r.body_rules_for("POST", "/v1/groups/g1").limit, 0u);
    EXPECT_TRUE(r.body_rules_for("POST", "/v1/uploads").spool);
}

TEST(router, body_rules_and_dispatch_agree_on_the_most_specific_route) {
    // The rules come from the route that will run, not the first pattern that matches; the
    // server hands that route to dispatch, which then does not search again.
    router r;
    r.add("POST", "/v1/things/{id}", [](request&) { return response(200, "text/plain", "id"); });
    r.add(
        "POST", "/v1/things/bulk", [](request&) { return response(200, "text/plain", "bulk"); },
        8u << 20);
    r.offload("POST", "/v1/things/bulk");
    auto rules = r.body_rules_for("POST", "/v1/things/bulk");
    EXPECT_EQ(rules.limit, 8u << 20);
    EXPECT_TRUE(rules.offload);
    ASSERT_NE(rules.target, nullptr);
    request req;
    req.method = "POST";
    req.path = "/v1/things/bulk";
    std::string matched;
    response out;
    r.dispatch(
        req, matched, [&](response&& resp) { out = std::move(resp); }, rules.target);
    EXPECT_EQ(out.body, "bulk");
    EXPECT_EQ(matched, "/v1/things/bulk");
    EXPECT_FALSE(r.body_rules_for("POST", "/v1/things/7").offload);
    EXPECT_EQ(r.body_rules_for("GET", "/v1/things/7").target, nullptr);
    EXPECT_THROW(r.offload("GET", "/v1/things/bulk"), std::logic_error);
}

TEST(request, query_and_headers) {
    request q;
    q.query_string = "limit=50&q=Ada+L%C3%BCbeck&empty=&flag";
    q.headers = {{"authorization", "Bearer x"}};
    EXPECT_EQ(q.query("limit"), "50");
    EXPECT_EQ(q.query("q"), "Ada Lübeck");
    EXPECT_EQ(q.query("empty"), "");
    EXPECT_EQ(q.query("flag"), "");
    EXPECT_FALSE(q.query("missing"));
    EXPECT_EQ(q.header("authorization"), "Bearer x");
    EXPECT_EQ(url_decode("%zz%4", false), "%zz%4");
    EXPECT_EQ(url_decode("a+b%2B", false), "a+b+");
}

TEST(errors, body_shape_is_stable) {
    auto r = error_response(422, "invalid_phone", "bad number", "to");
    auto j = nlohmann::json::parse(r.body);
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(j["error"]["code"], "invalid_phone");
    EXPECT_EQ(j["error"]["message"], "bad number");
    EXPECT_EQ(j["error"]["field"], "to");
    EXPECT_EQ(r.header("content-type"), "application/json");
}

}  // namespace
}  // namespace herald::http
