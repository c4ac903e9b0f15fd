#include "app/context.hpp"

#include <iostream>

#include <spdlog/spdlog.h>

namespace herald::app {

void common_flags::attach(CLI::App& cmd) {
    cmd.add_option("-c,--config", config_file, "TOML configuration file")->check(CLI::ExistingFile);
    cmd.add_option("--data-dir", data_dir, "Folder for Herald's state (default ./var)");
    cmd.add_option("--database-url", database_url,
                   "PostgreSQL URL; without it Herald runs its own cluster in the data folder");
    cmd.add_option("--log-level", log_level, "trace, debug, info, warn, error or off");
}

result<core::config> common_flags::load(std::vector<core::config_sources::flag_value> extra) const {
    core::config_sources src;
    if (config_file) src.file = *config_file;
    src.environment = core::process_environment();
    if (data_dir) src.flags.push_back({"data_dir", *data_dir, "--data-dir"});
    if (database_url) src.flags.push_back({"database.url", *database_url, "--database-url"});
    if (log_level) src.flags.push_back({"log.level", *log_level, "--log-level"});
    for (auto& f : extra) src.flags.push_back(std::move(f));
    return core::load_config(src);
}

result<db::embedded_cluster> locate_cluster(const core::config& cfg) {
    return db::embedded_cluster::locate({.data_dir = cfg.data_dir,
                                         .bin_dir = cfg.embedded.bin_dir,
                                         .os_user = cfg.embedded.os_user});
}

result<database_target> open_database(const core::config& cfg) {
    database_target t;
    if (!cfg.database.url.empty()) {
        t.conninfo = cfg.database.url;
        return t;
    }
    auto cluster = locate_cluster(cfg);
    if (!cluster) return std::unexpected(cluster.error());
    auto started = cluster->ensure_running();
    if (!started) return std::unexpected(started.error());
    t.conninfo = cluster->conninfo();
    t.started_here = *started;
    t.cluster = std::move(*cluster);
    return t;
}

void database_target::release() {
    if (!cluster || !started_here || cluster->held()) return;
    if (auto r = cluster->stop(); !r)
        spdlog::warn("stopping the embedded PostgreSQL: {}", r.error().message);
    else
        spdlog::info("embedded PostgreSQL stopped");
    started_here = false;
}

void print_error(std::string_view message) {
    std::cerr << "herald: " << message << std::endl;
}

}  // namespace herald::app
