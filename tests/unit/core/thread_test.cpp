#include "core/thread.hpp"

#include <cerrno>
#include <pthread.h>
#include <string>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

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

int nice_of_this_thread() {
    errno = 0;
    return ::getpriority(PRIO_PROCESS, id_t(::syscall(SYS_gettid)));
}

TEST(thread, a_nice_value_applies_to_that_thread_alone) {
    const int before = nice_of_this_thread();
    ASSERT_EQ(before, 0) << "the test runner itself runs niced";
    int seen = -100, unset = -100;
    named_thread(
        "niced", [&] { seen = nice_of_this_thread(); }, 7)
        .join();
    named_thread("plain", [&] { unset = nice_of_this_thread(); }).join();
    EXPECT_EQ(seen, 7);
    EXPECT_EQ(unset, 0);                  // new threads start from the creator's, not 7
    EXPECT_EQ(nice_of_this_thread(), 0);  // the caller is left as it was
}

}  // namespace
}  // namespace herald::core
