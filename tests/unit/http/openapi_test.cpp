// docs/openapi.yaml describes exactly the routes the server registers.

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "db/pool.hpp"
#include "http/api.hpp"
#include "http/health.hpp"
#include "http/router.hpp"

namespace herald::http {
namespace {

std::set<std::string> spec_routes() {
    std::ifstream in(std::string(HERALD_SOURCE_DIR) + "/docs/openapi.yaml");
    EXPECT_TRUE(in) << "docs/openapi.yaml is missing";
    std::set<std::string> out;
    std::string line, path;
    bool in_paths = false;
    std::regex path_re(R"(^  (/[^:]*):\s*$)"), method_re(R"(^    (get|post|put|patch|delete):\s*$)");
    while (std::getline(in, line)) {
        if (line == "paths:") {
            in_paths = true;
            continue;
        }
        if (in_paths && !line.empty() && line[0] != ' ' && line[0] != '#') in_paths = false;
        if (!in_paths) continue;
        std::smatch m;
        if (std::regex_match(line, m, path_re)) path = m[1];
        else if (std::regex_match(line, m, method_re)) {
            std::string method = m[1];
            for (auto& c : method) c = char(std::toupper(static_cast<unsigned char>(c)));
            out.insert(method + " " + path);
        }
    }
    return out;
}

TEST(openapi, every_registered_route_is_documented_and_nothing_else) {
    db::pool pool({.conninfo = "host=/nonexistent", .size = 1});
    api a(pool, {.spool_dir = "/tmp/herald-openapi-test"});
    router r;
    add_health_routes(r, pool, 1);
    a.register_routes(r);
    std::set<std::string> registered;
    for (const auto& route : r.routes()) registered.insert(route.method + " " + route.pattern);
    auto documented = spec_routes();
    EXPECT_GT(registered.size(), 40u);
    for (const auto& x : registered) EXPECT_TRUE(documented.contains(x)) << "not in docs/openapi.yaml: " << x;
    for (const auto& x : documented) EXPECT_TRUE(registered.contains(x)) << "documented but not served: " << x;
}

TEST(openapi, is_version_3_1) {
    std::ifstream in(std::string(HERALD_SOURCE_DIR) + "/docs/openapi.yaml");
    std::string first;
    std::getline(in, first);
    EXPECT_EQ(first, "openapi: 3.1.0");
}

}  // namespace
}  // namespace herald::http
