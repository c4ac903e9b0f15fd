// Pushes N submit_sm through one bind of Herald's ESME client to Herald's simulator on
// loopback and reports messages per second. The client and the simulator each get their own
// engine thread, in this one process.
//
//   bench_smpp_throughput [--messages N] [--window W] [--runs R] [--receipts]
//
// Prints each run and the median. With --receipts the simulator also sends a delivery
// receipt per message and a run ends when every receipt has arrived.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "smpp/client.hpp"
#include "smpp/engine.hpp"
#include "smpp/simulator.hpp"

using namespace herald::smpp;
using namespace std::chrono;

namespace {

struct options {
    int messages = 500'000;
    std::uint32_t window = 256;
    int runs = 5;
    bool receipts = false;
};

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> long {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return std::strtol(argv[++i], nullptr, 10);
        };
        if (a == "--messages") o.messages = int(next());
        else if (a == "--window") o.window = std::uint32_t(next());
        else if (a == "--runs") o.runs = int(next());
        else if (a == "--receipts") o.receipts = true;
        else {
            std::fprintf(stderr, "unknown argument %s\nusage: %s [--messages N] [--window W] [--runs R] [--receipts]\n",
                         a.c_str(), argv[0]);
            std::exit(2);
        }
    }
    return o;
}

double one_run(const options& o) {
    engine sim_engine(1), client_engine(1);
    simulator_config sc;
    sc.window = 1024;
    sc.receipt_latency = milliseconds(0);
    simulator sim(sim_engine, sc);
    if (!sim.start()) std::exit(1);

    std::atomic<int> answered{0}, receipts{0}, failed{0};
    client_config cc;
    cc.port = sim.port();
    cc.window = o.window;
    cc.max_queue = 50'000;
    client_handlers h;
    h.on_receipt = [&](delivery_report&&, ack_fn ack) {
        ack(true);
        receipts.fetch_add(1, std::memory_order_relaxed);
    };
    std::atomic<int> bound{0};
    h.on_state = [&](int n, const std::string&) { bound = n; };
    client c(client_engine, cc, h);
    c.start();
    while (bound.load() == 0) std::this_thread::sleep_for(milliseconds(1));

    outbound_sms sms{"Herald", "+14155550123", "Your verification code is 482913. It expires in 10 minutes.",
                     o.receipts, "", std::nullopt};
    auto done = [&](submit_result&& r) {
        if (r.outcome != submit_outcome::accepted) failed.fetch_add(1, std::memory_order_relaxed);
        answered.fetch_add(1, std::memory_order_relaxed);
    };
    auto start = steady_clock::now();
    for (int i = 0; i < o.messages; ++i) c.submit(sms, done);
    while (answered.load() < o.messages || (o.receipts && receipts.load() < o.messages))
        std::this_thread::sleep_for(microseconds(200));
    double secs = duration<double>(steady_clock::now() - start).count();
    if (failed.load() != 0) std::fprintf(stderr, "warning: %d submits failed\n", failed.load());
    c.stop(milliseconds(500));
    sim.stop();
    return o.messages / secs;
}

}  // namespace

int main(int argc, char** argv) {
    options o = parse(argc, argv);
    spdlog::set_level(spdlog::level::warn);
    std::printf("smpp_throughput: %d submit_sm per run, window %u, %s, %d runs\n", o.messages, o.window,
                o.receipts ? "with receipts" : "no receipts", o.runs);
    std::vector<double> rates;
    for (int r = 0; r < o.runs; ++r) {
        double rate = one_run(o);
        rates.push_back(rate);
        std::printf("  run %d: %.0f msg/s\n", r + 1, rate);
        std::fflush(stdout);
    }
    std::sort(rates.begin(), rates.end());
    std::printf("median: %.0f msg/s (min %.0f, max %.0f)\n", rates[rates.size() / 2], rates.front(), rates.back());
    return 0;
}
