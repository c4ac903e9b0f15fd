#include "core/thread.hpp"

#include <cstring>
#include <pthread.h>

namespace herald::core {

void name_this_thread(const char* name) noexcept {
    char shortened[16] = {};  // pthread_setname_np refuses longer names
    std::strncpy(shortened, name, sizeof shortened - 1);
    (void)pthread_setname_np(pthread_self(), shortened);
}

}  // namespace herald::core
