#include "support/run.hpp"

#include <cstdlib>
#include <iostream>

namespace herald::test {

std::string herald_binary() {
    return HERALD_BINARY;
}

core::process_result run_herald(const std::vector<std::string>& args,
                                const std::vector<std::string>& env,
                                std::chrono::milliseconds timeout) {
    std::vector<std::string> argv = {herald_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = core::run_process(argv, {.env = env, .timeout = timeout});
    if (!r) {
        std::cerr << "cannot run herald: " << r.error().message << std::endl;
        std::abort();
    }
    return *r;
}

}  // namespace herald::test
