#pragma once
/// What every subcommand shares: the configuration sources from common flags, and opening
/// the database (the embedded cluster or a configured URL).

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "core/config.hpp"
#include "db/embedded.hpp"

namespace herald::app {

/// Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.
inline constexpr int exit_ok = 0, exit_failure = 1, exit_usage = 2;

/// Flags shared by the subcommands that read configuration.
struct common_flags {
    std::optional<std::string> config_file;
    std::optional<std::string> data_dir;
    std::optional<std::string> database_url;
    std::optional<std::string> log_level;

    /// Adds --config, --data-dir, --database-url and --log-level to a subcommand.
    void attach(CLI::App& cmd);
    /// Loads the configuration from file, environment and these flags (plus `extra` flags).
    result<core::config> load(std::vector<core::config_sources::flag_value> extra = {}) const;
};

/// An open database: where to connect, and the embedded cluster if Herald runs it.
struct database_target {
    std::string conninfo;
    std::optional<db::embedded_cluster> cluster;
    bool started_here = false;  ///< this process started the embedded server

    /// Stops the embedded server if this process started it and nobody holds it.
    void release();
};

/// The configured database; starts the embedded cluster when no URL is set.
result<database_target> open_database(const core::config& cfg);

/// Locates the embedded cluster for a config without starting it.
result<db::embedded_cluster> locate_cluster(const core::config& cfg);

/// Prints "herald: <message>" to stderr.
void print_error(std::string_view message);

}  // namespace herald::app
