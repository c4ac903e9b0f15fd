// The herald executable: usage and configuration errors exit non-zero with a clear message,
// every subcommand has --help, and `serve` comes up ready on a fresh data folder.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <signal.h>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>

#include "db/embedded.hpp"
#include "support/background.hpp"
#include "support/http_client.hpp"
#include "support/pg.hpp"
#include "support/run.hpp"

namespace herald {
namespace {

using test::run_herald;

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

/// Each thread of a process with its nice value, from /proc.
std::vector<std::pair<std::string, int>> thread_nices(pid_t pid) {
    std::vector<std::pair<std::string, int>> out;
    const auto tasks = std::filesystem::path("/proc") / std::to_string(pid) / "task";
    for (const auto& t : std::filesystem::directory_iterator(tasks)) {
        std::string name, stat;
        std::getline(std::ifstream(t.path() / "comm"), name);
        std::getline(std::ifstream(t.path() / "stat"), stat);
        // The fields after the name's closing parenthesis start at field 3; nice is field 19.
        std::istringstream rest(stat.substr(stat.rfind(')') + 1));
        std::vector<std::string> fields{std::istream_iterator<std::string>(rest), {}};
        if (fields.size() > 16) out.emplace_back(name, std::stoi(fields[16]));
    }
    return out;
}

std::string write_config(const std::string& name, const std::string& text) {
    auto path = test::temp_dir("cli") + "/" + name;
    std::ofstream(path) << text;
    return path;
}

TEST(cli, every_subcommand_has_help) {
    for (std::vector<std::string> args : {std::vector<std::string>{"--help"},
                                          {"serve", "--help"},
                                          {"migrate", "--help"},
                                          {"db", "--help"},
                                          {"db", "start", "--help"},
                                          {"db", "stop", "--help"},
                                          {"db", "status", "--help"},
                                          {"db", "psql", "--help"},
                                          {"config", "--help"},
                                          {"config", "show", "--help"},
                                          {"config", "check", "--help"}}) {
        auto r = run_herald(args);
        EXPECT_EQ(r.exit_code, 0) << args[0];
        EXPECT_TRUE(contains(r.output, "Usage")) << r.output;
    }
    auto serve = run_herald({"serve", "--help"});
    EXPECT_TRUE(contains(serve.output, "--data-dir"));
    EXPECT_TRUE(contains(serve.output, "--http-port"));
}

struct usage_case {
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string says;
};

class bad_usage : public ::testing::TestWithParam<usage_case> {};

TEST_P(bad_usage, exits_2_with_a_clear_message) {
    auto r = run_herald(GetParam().args, GetParam().env);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_TRUE(contains(r.output, GetParam().says)) << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    arguments, bad_usage,
    ::testing::Values(
        usage_case{{}, {}, "A subcommand is required"}, usage_case{{"launch"}, {}, "launch"},
        usage_case{{"serve", "--http-port"}, {}, "--http-port"},
        usage_case{{"serve", "--http-port", "http"}, {}, "--http-port: expected a whole number"},
        usage_case{
            {"serve", "--http-port", "70000"}, {}, "--http-port: must be between 0 and 65535"},
        usage_case{{"serve", "--no-such-flag"}, {}, "--no-such-flag"},
        usage_case{
            {"serve", "--config", "/nonexistent/herald.toml"}, {}, "/nonexistent/herald.toml"},
        usage_case{{"serve", "--log-level", "chatty"}, {}, "--log-level: must be one of"},
        usage_case{{"serve", "--http-listen", "localhost:80"},
                   {},
                   "--http-listen: expected an IP address"},
        usage_case{{"config", "check"},
                   {"HERALD_HTTP_PORT=eighty"},
                   "environment HERALD_HTTP_PORT: expected a whole number"},
        usage_case{
            {"config", "check"}, {"HERALD_DATABASE_POOL_SIZE=0"}, "HERALD_DATABASE_POOL_SIZE"},
        usage_case{{"config", "check", "--database-url", "mysql://root@db"},
                   {},
                   "--database-url: expected a postgresql://"},
        usage_case{
            {"db", "status"}, {"HERALD_DATABASE_URL=postgresql://x/y"}, "database.url is set"},
        usage_case{{"db"}, {}, "A subcommand is required"}),
    [](const auto& p) { return "case_" + std::to_string(p.index); });

TEST(cli, config_file_errors_name_file_and_line) {
    auto file = write_config("bad.toml", "[http]\nport = 8080\nthreads = \"many\"\n");
    auto r = run_herald({"config", "check", "--config", file});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_TRUE(contains(r.output, "bad.toml:3: http.threads: expected a whole number"))
        << r.output;

    auto typo = write_config("typo.toml", "[htp]\nport = 8080\n");
    r = run_herald({"config", "check", "--config", typo});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_TRUE(contains(r.output, "unknown setting \"htp.port\"")) << r.output;

    auto broken = write_config("broken.toml", "port = = 1\n");
    r = run_herald({"config", "check", "--config", broken});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_TRUE(contains(r.output, "broken.toml:1")) << r.output;
}

TEST(cli, precedence_file_then_env_then_flags) {
    auto file = write_config("p.toml", "data_dir = \"/srv/file\"\n[http]\nport = 1000\n");
    auto r = run_herald({"config", "show", "--config", file});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "http.port = \"1000\""));
    r = run_herald({"config", "show", "--config", file}, {"HERALD_HTTP_PORT=2000"});
    EXPECT_TRUE(contains(r.output, "http.port = \"2000\""));
    EXPECT_TRUE(contains(r.output, "data_dir = \"/srv/file\""));
    r = run_herald({"config", "show", "--config", file, "--data-dir", "/srv/flag"},
                   {"HERALD_DATA_DIR=/srv/env"});
    EXPECT_TRUE(contains(r.output, "data_dir = \"/srv/flag\"")) << r.output;
}

TEST(cli, config_show_never_prints_the_password) {
    auto r = run_herald({"config", "show"},
                        {"HERALD_DATABASE_URL=postgresql://herald:hunter2@db.internal/herald"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_FALSE(contains(r.output, "hunter2"));
    EXPECT_TRUE(contains(r.output, "herald:***@db.internal"));
}

TEST(cli, config_reference_lists_every_setting_in_the_docs) {
    std::ifstream doc(std::string(HERALD_SOURCE_DIR) + "/docs/configuration.md");
    std::string text((std::istreambuf_iterator<char>(doc)), std::istreambuf_iterator<char>());
    auto r = run_herald({"config", "reference"});
    ASSERT_EQ(r.exit_code, 0);
    std::istringstream lines(r.output);
    int rows = 0;
    for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("| `")) continue;
        ++rows;
        EXPECT_TRUE(contains(text, line)) << "docs/configuration.md lacks: " << line;
    }
    EXPECT_GE(rows, 14);
}

TEST(cli, migrate_applies_and_reports_status_against_a_url) {
    auto url = test::pg::instance().empty_database();
    auto r = run_herald({"migrate", "--database-url", url});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "applied")) << r.output;
    r = run_herald({"migrate", "--database-url", url});
    EXPECT_TRUE(contains(r.output, "schema is up to date")) << r.output;
    r = run_herald({"migrate", "--status", "--database-url", url});
    EXPECT_TRUE(contains(r.output, "applied  0001_core.sql")) << r.output;
}

TEST(cli, migrate_reports_an_unreachable_database) {
    auto r = run_herald({"migrate", "--database-url", "postgresql://herald@127.0.0.1:1/herald"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(contains(r.output, "cannot connect to PostgreSQL")) << r.output;
}

TEST(cli, serve_on_a_fresh_data_dir_becomes_ready_and_stops_cleanly) {
    std::string data = test::temp_dir("serve");
    test::background_process serve(
        {test::herald_binary(), "serve", "--data-dir", data, "--http-port", "0"});
    ASSERT_TRUE(serve.wait_for_output("Herald is running.", std::chrono::seconds(90)))
        << serve.output();
    auto port = serve.number_after("http://127.0.0.1:");
    ASSERT_TRUE(port) << serve.output();
    EXPECT_TRUE(contains(serve.output(), "psql \"host="));

    test::http_client http(*port);
    auto ready = http.get("/readyz");
    EXPECT_EQ(ready.status, 200) << ready.body;
    EXPECT_TRUE(contains(ready.body, "\"status\":\"ready\""));
    EXPECT_FALSE(ready.header("x-request-id").empty());
    EXPECT_EQ(ready.header("x-content-type-options"), "nosniff");
    EXPECT_EQ(http.get("/healthz").status, 200);

    // The dispatcher and the built-in simulator run niced (dispatch.nice, 5 by default);
    // the threads that accept requests do not.
    std::set<std::string> niced;
    for (const auto& [name, nice] : thread_nices(serve.pid())) {
        if (name.starts_with("dispatch-") || name == "smsc-sim") {
            EXPECT_EQ(nice, 5) << name;
            niced.insert(name);
        } else if (name.starts_with("http-")) {
            EXPECT_EQ(nice, 0) << name;
        }
    }
    EXPECT_EQ(niced, (std::set<std::string>{"dispatch-claim", "dispatch-dlr", "dispatch-plan",
                                            "dispatch-send", "dispatch-smpp", "dispatch-write",
                                            "smsc-sim"}));

    // A second serve on the same port fails with a clear message instead of hanging.
    auto clash = run_herald({"serve", "--data-dir", data, "--http-port", std::to_string(*port)});
    EXPECT_EQ(clash.exit_code, 2);
    EXPECT_TRUE(contains(clash.output, "cannot listen on 127.0.0.1:" + std::to_string(*port)))
        << clash.output;

    serve.signal(SIGTERM);
    auto code = serve.wait(std::chrono::seconds(30));
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 0) << serve.output();
    EXPECT_TRUE(contains(serve.output(), "Herald stopped."));
    auto cluster = db::embedded_cluster::locate({.data_dir = data});
    EXPECT_EQ(cluster->state(), db::cluster_state::stopped);

    // Restart on the same data: the cluster is reused and the schema is current.
    test::background_process again(
        {test::herald_binary(), "serve", "--data-dir", data, "--http-port", "0"});
    ASSERT_TRUE(again.wait_for_output("Herald is running.", std::chrono::seconds(60)))
        << again.output();
    EXPECT_FALSE(contains(again.output(), "creating the embedded PostgreSQL cluster"));
    EXPECT_FALSE(contains(again.output(), "applied migration"));
    again.signal(SIGINT);
    EXPECT_EQ(again.wait(std::chrono::seconds(30)), 0);
    std::filesystem::remove_all(data);
}

TEST(cli, db_commands_manage_the_cluster) {
    std::string data = test::temp_dir("dbcmd");
    auto status = run_herald({"db", "status", "--data-dir", data});
    EXPECT_EQ(status.exit_code, 4) << status.output;
    EXPECT_TRUE(contains(status.output, "state:      absent"));

    auto start = run_herald({"db", "start", "--data-dir", data});
    ASSERT_EQ(start.exit_code, 0) << start.output;
    EXPECT_TRUE(contains(start.output, "started"));
    EXPECT_EQ(run_herald({"db", "status", "--data-dir", data}).exit_code, 0);
    EXPECT_TRUE(
        contains(run_herald({"db", "start", "--data-dir", data}).output, "already running"));

    auto psql = run_herald({"db", "psql", "--data-dir", data, "--", "-tAc", "SELECT 40 + 2"});
    EXPECT_EQ(psql.exit_code, 0) << psql.output;
    EXPECT_TRUE(contains(psql.output, "42")) << psql.output;

    // A held cluster survives a serve that comes and goes.
    test::background_process serve(
        {test::herald_binary(), "serve", "--data-dir", data, "--http-port", "0"});
    ASSERT_TRUE(serve.wait_for_output("Herald is running.", std::chrono::seconds(60)))
        << serve.output();
    serve.signal(SIGTERM);
    EXPECT_EQ(serve.wait(std::chrono::seconds(30)), 0);
    EXPECT_EQ(run_herald({"db", "status", "--data-dir", data}).exit_code, 0);

    auto stop = run_herald({"db", "stop", "--data-dir", data});
    EXPECT_EQ(stop.exit_code, 0) << stop.output;
    EXPECT_EQ(run_herald({"db", "status", "--data-dir", data}).exit_code, 3);
    auto no_psql = run_herald({"db", "psql", "--data-dir", data});
    EXPECT_EQ(no_psql.exit_code, 1);
    EXPECT_TRUE(contains(no_psql.output, "not running"));
    std::filesystem::remove_all(data);
}

}  // namespace
}  // namespace herald
