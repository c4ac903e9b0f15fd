#pragma once
/// Threads that carry a name, as `top -H`, `ps -L` and `perf` show it (the operations guide
/// lists Herald's).

#include <thread>
#include <utility>

namespace herald::core {

/// Names the calling thread (the kernel keeps the first 15 characters).
void name_this_thread(const char* name) noexcept;

/// Gives the calling thread the nice value `nice` (0 to 19): when the CPUs are short, it
/// runs after the threads of this process with a lower one. Linux keeps a nice value per
/// thread, and raising it needs no privilege. Logs a warning when refused.
void lower_this_thread(int nice) noexcept;

/// Starts `fn` on a new thread named `name`, a string literal, at nice value `nice`.
template <class Fn>
std::thread named_thread(const char* name, Fn&& fn, int nice = 0) {
    return std::thread([name, nice, fn = std::forward<Fn>(fn)]() mutable {
        name_this_thread(name);
        if (nice != 0) lower_this_thread(nice);
        fn();
    });
}

}  // namespace herald::core
