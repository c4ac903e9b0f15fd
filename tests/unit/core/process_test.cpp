#include "core/process.hpp"

#include <gtest/gtest.h>

namespace herald::core {
namespace {

TEST(process, captures_output_and_exit_code) {
    auto r = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->exit_code, 3);
    EXPECT_NE(r->output.find("out"), std::string::npos);
    EXPECT_NE(r->output.find("err"), std::string::npos);
}

TEST(process, feeds_stdin_and_env) {
    auto r = run_process({"sh", "-c", "read x; echo \"$x-$HERALD_T\""},
                         {.env = {"HERALD_T=yes"}, .stdin_text = std::string("hello\n")});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->output, "hello-yes\n");
}

TEST(process, missing_program_is_an_error) {
    auto r = run_process({"/definitely/not/here"});
    EXPECT_FALSE(r);
}

TEST(process, timeout_kills_the_child) {
    auto start = std::chrono::steady_clock::now();
    auto r = run_process({"sleep", "30"}, {.timeout = std::chrono::milliseconds(200)});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->exit_code, 128 + 9);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(process, runs_as_another_user_only_when_root) {
    auto r = run_process({"id", "-un"}, {.as_user = "postgres"});
    if (running_as_root()) {
        ASSERT_TRUE(r);
        EXPECT_EQ(r->output, "postgres\n");
    } else {
        EXPECT_FALSE(r);  // switching users needs root; the error says why
    }
    EXPECT_FALSE(run_process({"id"}, {.as_user = "no-such-user-herald"}));
}

}  // namespace
}  // namespace herald::core
