#pragma once
/// Each subcommand registers itself on the CLI; its callback stores the exit code.

#include <CLI/CLI.hpp>

namespace herald::app {

void register_serve(CLI::App& app, int& exit_code);
void register_migrate(CLI::App& app, int& exit_code);
void register_db(CLI::App& app, int& exit_code);
void register_config(CLI::App& app, int& exit_code);
void register_smsc_sim(CLI::App& app, int& exit_code);
void register_accounts(CLI::App& app, int& exit_code);

}  // namespace herald::app
