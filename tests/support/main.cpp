// gtest main for Herald's test binaries: quiet logs unless HERALD_TEST_LOG is set.

#include <cstdlib>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

int main(int argc, char** argv) {
    testing::InitGoogleTest(&argc, argv);
    const char* level = std::getenv("HERALD_TEST_LOG");
    spdlog::set_level(level ? spdlog::level::from_str(level) : spdlog::level::warn);
    return RUN_ALL_TESTS();
}
