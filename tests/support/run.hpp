#pragma once
/// Running the herald executable from tests.

#include <string>
#include <vector>

#include "core/process.hpp"

namespace herald::test {

/// Path of the built herald binary (set by CMake).
std::string herald_binary();

/// Runs herald with arguments (and extra NAME=VALUE environment); fails the test binary if it
/// cannot be started at all.
core::process_result run_herald(const std::vector<std::string>& args,
                                const std::vector<std::string>& env = {},
                                std::chrono::milliseconds timeout = std::chrono::seconds(120));

}  // namespace herald::test
