// herald migrate [--status]

#include <iostream>

#include "app/commands.hpp"
#include "app/context.hpp"
#include "core/log.hpp"
#include "db/migrate.hpp"
#include "db/param.hpp"
#include "store/maintenance.hpp"

namespace herald::app {

void register_migrate(CLI::App& app, int& exit_code) {
    auto* cmd = app.add_subcommand("migrate", "Apply pending schema migrations to the database");
    auto flags = std::make_shared<common_flags>();
    flags->attach(*cmd);
    auto status_only = std::make_shared<bool>(false);
    cmd->add_flag("--status", *status_only, "Only list applied and pending migrations");
    cmd->callback([flags, status_only, &exit_code] {
        auto cfg = flags->load();
        if (!cfg) {
            print_error("configuration error: " + cfg.error().message);
            exit_code = exit_usage;
            return;
        }
        core::setup_logging(cfg->log);
        auto migrations = db::load_migrations(db::builtin_migrations());
        auto target = open_database(*cfg);
        if (!migrations || !target) {
            print_error(!migrations ? migrations.error().message : target.error().message);
            exit_code = exit_failure;
            return;
        }
        auto conn = db::connection::open({target->conninfo, cfg->database.connect_timeout});
        if (!conn) {
            print_error(conn.error().message);
            exit_code = exit_failure;
            target->release();
            return;
        }
        if (*status_only) {
            auto st = db::migration_status(*conn, *migrations);
            if (!st) {
                print_error(st.error().message);
                exit_code = exit_failure;
            } else {
                for (const auto& m : *st)
                    std::cout << (m.modified  ? "MODIFIED "
                                  : m.applied ? "applied  "
                                              : "pending  ")
                              << m.file
                              << (m.applied_at ? "  " + db::format_timestamp(*m.applied_at) : "")
                              << "\n";
            }
        } else {
            auto report = db::migrate(*conn, *migrations);
            if (!report) {
                print_error(report.error().message);
                exit_code = exit_failure;
            } else {
                (void)store::ensure_partitions(*conn, std::chrono::system_clock::now());
                std::cout << (report->applied.empty()
                                  ? "schema is up to date"
                                  : "applied " + std::to_string(report->applied.size())
                                        + " migration(s)")
                          << " (version " << report->version << ")\n";
            }
        }
        target->release();
    });
}

}  // namespace herald::app
