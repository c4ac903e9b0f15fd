// herald db start|stop|status|psql: manage the embedded PostgreSQL cluster.

#include <iostream>

#include "app/commands.hpp"
#include "app/context.hpp"
#include "core/errc.hpp"
#include "core/log.hpp"
#include "core/process.hpp"

namespace herald::app {
namespace {

/// Loads the config and locates the cluster; fails when a database URL is configured,
/// since then there is no embedded cluster to manage.
result<db::embedded_cluster> cluster_for(const common_flags& flags, int& exit_code) {
    auto cfg = flags.load();
    if (!cfg) {
        exit_code = exit_usage;
        return fail(cfg.error().code, "configuration error: " + cfg.error().message);
    }
    core::setup_logging(cfg->log);
    if (!cfg->database.url.empty()) {
        exit_code = exit_usage;
        return fail(core::errc::invalid_value,
                    "database.url is set, so Herald uses that server and runs no embedded cluster");
    }
    auto cluster = locate_cluster(*cfg);
    if (!cluster) exit_code = exit_failure;
    return cluster;
}

}  // namespace

void register_db(CLI::App& app, int& exit_code) {
    auto* cmd = app.add_subcommand("db", "Manage the embedded PostgreSQL cluster");
    cmd->require_subcommand(1);
    auto flags = std::make_shared<common_flags>();

    auto* start = cmd->add_subcommand(
        "start", "Create (if needed) and start the cluster; it stays up until 'db stop'");
    flags->attach(*start);
    start->callback([flags, &exit_code] {
        auto cluster = cluster_for(*flags, exit_code);
        if (!cluster) return print_error(cluster.error().message);
        auto r = cluster->ensure_running();
        if (!r) {
            exit_code = exit_failure;
            return print_error(r.error().message);
        }
        cluster->set_held(true);
        std::cout << (*r ? "started" : "already running") << "\n"
                  << "connect with: psql \"" << cluster->conninfo() << "\"\n";
    });

    auto* stop = cmd->add_subcommand("stop", "Stop the cluster (fast shutdown; no data is lost)");
    flags->attach(*stop);
    stop->callback([flags, &exit_code] {
        auto cluster = cluster_for(*flags, exit_code);
        if (!cluster) return print_error(cluster.error().message);
        if (auto r = cluster->stop(); !r) {
            exit_code = exit_failure;
            return print_error(r.error().message);
        }
        cluster->set_held(false);
        std::cout << "stopped\n";
    });

    auto* status = cmd->add_subcommand(
        "status", "Show whether the cluster exists and runs (exit 0 running, 3 stopped, 4 absent)");
    flags->attach(*status);
    status->callback([flags, &exit_code] {
        auto cluster = cluster_for(*flags, exit_code);
        if (!cluster) return print_error(cluster.error().message);
        auto state = cluster->state();
        std::cout << "state:      " << db::to_string(state) << "\n"
                  << "data:       " << cluster->pgdata().string() << "\n"
                  << "socket:     " << cluster->socket_dir().string() << "\n"
                  << "binaries:   " << cluster->bin_dir() << "\n"
                  << "runs as:    "
                  << (cluster->run_as().empty() ? "current user" : cluster->run_as()) << "\n"
                  << "log:        " << cluster->log_file().string() << "\n"
                  << "connect:    psql \"" << cluster->conninfo() << "\"\n";
        exit_code = state == db::cluster_state::running   ? exit_ok
                    : state == db::cluster_state::stopped ? 3
                                                          : 4;
    });

    auto* psql = cmd->add_subcommand(
        "psql", "Open psql on Herald's database (arguments after -- go to psql)");
    flags->attach(*psql);
    auto extra = std::make_shared<std::vector<std::string>>();
    psql->add_option("args", *extra, "Arguments passed to psql");
    psql->callback([flags, extra, &exit_code] {
        auto cluster = cluster_for(*flags, exit_code);
        if (!cluster) return print_error(cluster.error().message);
        if (cluster->state() != db::cluster_state::running) {
            exit_code = exit_failure;
            return print_error(
                "the embedded cluster is not running; start it with 'herald db start' "
                "or 'herald serve'");
        }
        std::vector<std::string> argv = {"psql", cluster->conninfo()};
        argv.insert(argv.end(), extra->begin(), extra->end());
        auto err = core::exec_process(argv);
        exit_code = exit_failure;
        print_error(err.message);
    });
}

}  // namespace herald::app
