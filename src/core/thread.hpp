#pragma once
/// Threads that carry a name, as `top -H`, `ps -L` and `perf` show it (the operations guide
/// lists Herald's).

#include <thread>
#include <utility>

namespace herald::core {

/// Names the calling thread (the kernel keeps the first 15 characters).
void name_this_thread(const char* name) noexcept;

/// Starts `fn` on a new thread named `name`, a string literal.
template <class Fn>
std::thread named_thread(const char* name, Fn&& fn) {
    return std::thread([name, fn = std::forward<Fn>(fn)]() mutable {
        name_this_thread(name);
        fn();
    });
}

}  // namespace herald::core
