#pragma once
/// Each subcommand registers itself on the CLI; its callback stores the exit code.

#include <CLI/CLI.hpp>

namespace herald::http {
class router;
}
namespace herald::smpp {
class simulator;
}

namespace herald::app {

/// The simulator's HTTP control API (stats, numbers, inbound, faults, reset), shared by
/// `herald smsc-sim` and the simulator built into `herald serve`.
void add_simulator_control_routes(http::router& r, smpp::simulator& sim);

void register_serve(CLI::App& app, int& exit_code);
void register_migrate(CLI::App& app, int& exit_code);
void register_db(CLI::App& app, int& exit_code);
void register_config(CLI::App& app, int& exit_code);
void register_smsc_sim(CLI::App& app, int& exit_code);
void register_accounts(CLI::App& app, int& exit_code);

}  // namespace herald::app
