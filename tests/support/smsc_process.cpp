#include "support/smsc_process.hpp"

#include <chrono>
#include <cstdlib>

#include "support/http_client.hpp"
#include "support/run.hpp"

namespace herald::test {

smsc_process::smsc_process(const std::vector<std::string>& extra) {
    std::vector<std::string> argv{herald_binary(),
                                  "smsc-sim",
                                  "--port",
                                  "0",
                                  "--control-port",
                                  "0",
                                  "--record-numbers",
                                  "--latency",
                                  "20ms",
                                  "--log-level",
                                  "warn"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process = std::make_unique<background_process>(argv);
    if (!process->wait_for_output("control: http://127.0.0.1:", std::chrono::seconds(20)))
        std::abort();
    port = *process->number_after("listening on 127.0.0.1:");
    control = *process->number_after("control: http://127.0.0.1:");
}

nlohmann::json smsc_process::get(const std::string& path) const {
    http_client c(control);
    return nlohmann::json::parse(c.get(path).body);
}

void smsc_process::post(const std::string& path, const nlohmann::json& body) const {
    http_client c(control);
    c.request("POST", path, body.dump(), {"Content-Type: application/json"});
}

std::set<std::string> smsc_process::numbers() const {
    std::set<std::string> out;
    const auto answer = get("/numbers?list=1");  // outlives the loop
    for (const auto& n : answer["numbers"]) out.insert(n.get<std::string>());
    return out;
}

}  // namespace herald::test
