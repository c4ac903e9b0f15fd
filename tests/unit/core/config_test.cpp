#include "core/config.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "core/errc.hpp"
#include "core/redact.hpp"
#include "support/pg.hpp"

namespace herald::core {
namespace {

std::string write_file(const std::string& name, const std::string& text) {
    // A folder of this process's own, removed when the tests end.
    static const std::filesystem::path dir = test::temp_dir("config-test");
    auto p = dir / name;
    std::ofstream(p) << text;
    return p.string();
}

TEST(config, defaults_are_valid) {
    auto c = load_config({});
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->http.port, 8080);
    EXPECT_EQ(c->http.listen, "127.0.0.1");
    EXPECT_EQ(c->data_dir, "var");
    EXPECT_TRUE(c->database.url.empty());
}

TEST(config, precedence_is_file_then_environment_then_flags) {
    auto file = write_file("precedence.toml",
                           "data_dir = \"/srv/from-file\"\n[http]\nport = 1000\nthreads = 3\n");
    config_sources src;
    src.file = file;
    auto c = load_config(src);
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->http.port, 1000);
    EXPECT_EQ(c->http.threads, 3);
    EXPECT_EQ(c->data_dir, "/srv/from-file");

    src.environment = {"HERALD_HTTP_PORT=2000", "PATH=/bin", "HERALD_UNRELATED_THING=1"};
    c = load_config(src);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->http.port, 2000);
    EXPECT_EQ(c->http.threads, 3);

    src.flags = {{"http.port", "3000", "--http-port"}};
    c = load_config(src);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->http.port, 3000);
}

TEST(config, durations_and_sizes_parse_with_units) {
    config_sources src;
    src.environment = {"HERALD_HTTP_READ_TIMEOUT=250ms", "HERALD_HTTP_IDLE_TIMEOUT=2m",
                       "HERALD_HTTP_BODY_LIMIT=2MiB", "HERALD_DATABASE_CONNECT_TIMEOUT=3"};
    auto c = load_config(src);
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->http.read_timeout, std::chrono::milliseconds(250));
    EXPECT_EQ(c->http.idle_timeout, std::chrono::minutes(2));
    EXPECT_EQ(c->http.body_limit, 2u * 1024 * 1024);
    EXPECT_EQ(c->database.connect_timeout, std::chrono::seconds(3));
}

struct bad_value {
    std::string env, says;
};

class bad_environment : public ::testing::TestWithParam<bad_value> {};

TEST_P(bad_environment, names_the_variable_and_the_reason) {
    config_sources src;
    src.environment = {GetParam().env};
    auto c = load_config(src);
    ASSERT_FALSE(c) << GetParam().env;
    EXPECT_EQ(c.error().code, errc::invalid_value);
    const std::string name = GetParam().env.substr(0, GetParam().env.find('='));
    EXPECT_NE(c.error().message.find("environment " + name), std::string::npos)
        << c.error().message;
    EXPECT_NE(c.error().message.find(GetParam().says), std::string::npos) << c.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    values, bad_environment,
    ::testing::Values(bad_value{"HERALD_HTTP_PORT=abc", "expected a whole number"},
                      bad_value{"HERALD_HTTP_PORT=70000", "between 0 and 65535"},
                      bad_value{"HERALD_HTTP_PORT=-1", "between 0 and 65535"},
                      bad_value{"HERALD_HTTP_PORT=80 80", "expected a whole number"},
                      bad_value{"HERALD_DATABASE_POOL_SIZE=0", "between 1 and 500"},
                      bad_value{"HERALD_DISPATCH_NICE=20", "between 0 and 19"},
                      bad_value{"HERALD_DISPATCH_NICE=-5", "between 0 and 19"},
                      bad_value{"HERALD_HTTP_READ_TIMEOUT=fast", "expected a duration"},
                      bad_value{"HERALD_HTTP_READ_TIMEOUT=10y", "unknown duration unit"},
                      bad_value{"HERALD_HTTP_READ_TIMEOUT=1ms", "between 100ms"},
                      bad_value{"HERALD_HTTP_BODY_LIMIT=lots", "expected a size"},
                      bad_value{"HERALD_HTTP_BODY_LIMIT=5TB", "unknown size unit"},
                      bad_value{"HERALD_HTTP_BODY_LIMIT=99999999999999999999", "too large"},
                      bad_value{"HERALD_LOG_LEVEL=loud", "must be one of trace, debug"},
                      bad_value{"HERALD_LOG_FORMAT=xml", "must be one of text, json"},
                      bad_value{"HERALD_DATA_DIR=", "must not be empty"},
                      bad_value{"HERALD_DATABASE_URL=mysql://x", "expected a postgresql:// URL"}),
    [](const auto& p) { return "case_" + std::to_string(p.index); });

TEST(config, file_errors_name_file_line_and_key) {
    config_sources src;
    src.file = write_file("unknown.toml", "[http]\nport = 8080\nprot = 9\n");
    auto c = load_config(src);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, errc::unknown_key);
    EXPECT_NE(c.error().message.find("unknown.toml:3"), std::string::npos) << c.error().message;
    EXPECT_NE(c.error().message.find("http.prot"), std::string::npos);

    src.file = write_file("badvalue.toml", "[http]\n\nport = \"eighty\"\n");
    c = load_config(src);
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message.find("badvalue.toml:3: http.port: expected a whole number"),
              std::string::npos)
        << c.error().message;

    src.file = write_file("syntax.toml", "[http\nport = 1\n");
    c = load_config(src);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, errc::syntax_error);
    EXPECT_NE(c.error().message.find("syntax.toml:1"), std::string::npos) << c.error().message;

    src.file = write_file("array.toml", "[http]\nport = [1, 2]\n");
    c = load_config(src);
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message.find("expected a single value"), std::string::npos);

    src.file = "/nonexistent/herald.toml";
    c = load_config(src);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, errc::unreadable_file);
}

TEST(config, flag_errors_name_the_flag) {
    config_sources src;
    src.flags = {{"http.port", "x", "--http-port"}};
    auto c = load_config(src);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().message.rfind("--http-port: ", 0), 0u) << c.error().message;
    EXPECT_EQ(c.error().field, "http.port");
}

TEST(config, describe_redacts_the_database_password) {
    config_sources src;
    src.environment = {"HERALD_DATABASE_URL=postgresql://app:s3cret@db.example:5432/herald"};
    auto c = load_config(src);
    ASSERT_TRUE(c);
    auto text = describe(*c);
    EXPECT_EQ(text.find("s3cret"), std::string::npos);
    EXPECT_NE(text.find("postgresql://app:***@db.example:5432/herald"), std::string::npos);
}

TEST(config, every_setting_is_listed_with_env_and_default) {
    auto all = list_settings();
    EXPECT_GE(all.size(), 14u);
    for (const auto& s : all) {
        EXPECT_FALSE(s.help.empty()) << s.key;
        EXPECT_EQ(s.env.rfind("HERALD_", 0), 0u) << s.key;
    }
}

TEST(redact, hides_passwords_in_every_form) {
    EXPECT_EQ(redact_connection_string("postgres://u:pw@h/db"), "postgres://u:***@h/db");
    EXPECT_EQ(redact_connection_string("postgres://u@h/db"), "postgres://u@h/db");
    EXPECT_EQ(redact_connection_string("host=h password=pw user=u"), "host=h password=*** user=u");
    EXPECT_EQ(redact_connection_string("host=h password='p w' user=u"),
              "host=h password=*** user=u");
    EXPECT_EQ(redact_connection_string("postgres://h/db?password=pw&sslmode=require"),
              "postgres://h/db?password=***&sslmode=require");
}

}  // namespace
}  // namespace herald::core
