#include "core/thread.hpp"

#include <pthread.h>
#include <string>

#include <gtest/gtest.h>

namespace herald::core {
namespace {

std::string name_seen_by(const char* name) {
    std::string got;
    named_thread(name, [&] {
        char buf[64] = {};
        if (pthread_getname_np(pthread_self(), buf, sizeof buf) == 0) got = buf;
    }).join();
    return got;
}

TEST(thread, names_threads_as_the_kernel_shows_them) {
    EXPECT_EQ(name_seen_by("http-sends"), "http-sends");
    EXPECT_EQ(name_seen_by("a-name-longer-than-fifteen"), "a-name-longer-t");  // cut, not refused
}

}  // namespace
}  // namespace herald::core
