// Measures what the machine itself costs, so that figures taken on different machines of the
// same kind can be compared: the SMPP calibration tells how fast Herald's own code runs, and
// this tells why a machine is slower (a slow core, slow system calls, slow wake-ups between
// threads, slow fsync, or slow fork, which PostgreSQL pays for every new connection).
//
//   bench_machine_probe [--runs R] [--dir D]
//
// Prints the median of R runs (default 5) of each probe. fdatasync writes a scratch file in
// D (default the current directory), which it removes.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <functional>
#include <string>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

/// Nanoseconds per step of `steps` calls of `step`.
double per_step(int steps, const std::function<void()>& step) {
    const auto t0 = clock_type::now();
    for (int i = 0; i < steps; ++i) step();
    return std::chrono::duration<double, std::nano>(clock_type::now() - t0).count() / steps;
}

double median(std::vector<double> v) {
    std::ranges::sort(v);
    return v[v.size() / 2];
}

struct probe {
    const char* name;
    const char* unit;
    double scale;  // from nanoseconds to `unit`
    std::function<double()> run;
};

/// A chain of dependent multiply-adds: the core's speed, free of memory and system calls.
double core_chain() {
    volatile double seed = 1.0;
    double x = seed;
    const double ns = per_step(50'000'000, [&x] { x = x * 0.999999 + 1e-9; });
    seed = x;
    return ns;
}

double system_call() {
    return per_step(1'000'000, [] { (void)syscall(SYS_getppid); });
}

/// One byte to another thread and back through two pipes: two wake-ups.
double thread_round_trip() {
    std::array<int, 2> there{}, back{};
    if (pipe(there.data()) != 0 || pipe(back.data()) != 0) return -1;
    constexpr int trips = 50'000;
    std::thread echo([&] {
        char c = 0;
        for (int i = 0; i < trips; ++i)
            if (read(there[0], &c, 1) != 1 || write(back[1], &c, 1) != 1) break;
    });
    char c = 0;
    const double ns = per_step(trips, [&] {
        if (write(there[1], &c, 1) != 1 || read(back[0], &c, 1) != 1) std::abort();
    });
    echo.join();
    for (int fd : {there[0], there[1], back[0], back[1]}) close(fd);
    return ns;
}

double fdatasync_8k(const std::string& dir) {
    const std::string path = dir + "/.herald-machine-probe";
    const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd < 0) return -1;
    std::array<char, 8192> page{};
    const double ns = per_step(300, [&] {
        if (pwrite(fd, page.data(), page.size(), 0) != ssize_t(page.size()) || fdatasync(fd) != 0)
            std::abort();
    });
    close(fd);
    unlink(path.c_str());
    return ns;
}

double fork_and_wait() {
    return per_step(100, [] {
        const pid_t child = fork();
        if (child == 0) _exit(0);
        int status = 0;
        if (child < 0 || waitpid(child, &status, 0) != child) std::abort();
    });
}

}  // namespace

int main(int argc, char** argv) {
    int runs = 5;
    std::string dir = ".";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--runs" && i + 1 < argc) {
            char* end = nullptr;
            const long n = std::strtol(argv[++i], &end, 10);
            runs = *end == '\0' && n > 0 && n <= 1000 ? int(n) : 0;
        } else if (a == "--dir" && i + 1 < argc) {
            dir = argv[++i];
        } else {
            std::fprintf(stderr, "usage: bench_machine_probe [--runs R] [--dir D]\n");
            return 2;
        }
    }
    if (runs < 1) {
        std::fprintf(stderr, "bench_machine_probe: --runs takes a whole number from 1 to 1000\n");
        return 2;
    }
    const std::vector<probe> probes = {
        {"core: dependent multiply-add", "ns", 1, core_chain},
        {"system call (getppid)", "ns", 1, system_call},
        {"thread round trip over pipes", "us", 1e-3, thread_round_trip},
        {"fdatasync of 8 KiB", "us", 1e-3, [&dir] { return fdatasync_8k(dir); }},
        {"fork and wait", "us", 1e-3, fork_and_wait},
    };
    for (const auto& p : probes) {
        std::vector<double> took;
        for (int r = 0; r < runs; ++r) took.push_back(p.run() * p.scale);
        if (*std::ranges::min_element(took) < 0) {
            std::printf("%-32s could not run\n", p.name);
            continue;
        }
        std::printf("%-32s %10.2f %s (min %.2f, max %.2f)\n", p.name, median(took), p.unit,
                    *std::ranges::min_element(took), *std::ranges::max_element(took));
    }
    return 0;
}
