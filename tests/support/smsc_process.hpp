#pragma once
/// `herald smsc-sim` as a separate process (so it outlives a killed server and can itself be
/// killed), recording every number it is sent, with its control API.

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/background.hpp"

namespace herald::test {

struct smsc_process {
    std::unique_ptr<background_process> process;
    int port = 0, control = 0;

    /// `extra`: more `herald smsc-sim` options (such as "--receipt-ids", "decimal").
    explicit smsc_process(const std::vector<std::string>& extra = {});
    nlohmann::json get(const std::string& path) const;
    void post(const std::string& path, const nlohmann::json& body) const;
    /// Every number it was sent.
    std::set<std::string> numbers() const;
};

}  // namespace herald::test
