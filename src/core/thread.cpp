#include "core/thread.hpp"

#include <cerrno>
#include <cstring>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

namespace herald::core {

void name_this_thread(const char* name) noexcept {
    char shortened[16] = {};  // pthread_setname_np refuses longer names
    std::strncpy(shortened, name, sizeof shortened - 1);
    (void)pthread_setname_np(pthread_self(), shortened);
}

void lower_this_thread(int nice) noexcept {
    // PRIO_PROCESS with a thread id sets that thread alone (see setpriority(2), BUGS).
    const auto tid = id_t(::syscall(SYS_gettid));
    if (::setpriority(PRIO_PROCESS, tid, nice) != 0)
        spdlog::warn("cannot set nice {} for this thread: {}", nice, std::strerror(errno));
}

}  // namespace herald::core
