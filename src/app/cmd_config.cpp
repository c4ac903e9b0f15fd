// herald config show|check|reference

#include <iostream>

#include "app/commands.hpp"
#include "app/context.hpp"

namespace herald::app {

void register_config(CLI::App& app, int& exit_code) {
    auto* cmd = app.add_subcommand("config", "Inspect Herald's configuration");
    cmd->require_subcommand(1);
    auto flags = std::make_shared<common_flags>();

    auto* show =
        cmd->add_subcommand("show", "Print the effective configuration (secrets redacted)");
    flags->attach(*show);
    show->callback([flags, &exit_code] {
        auto cfg = flags->load();
        if (!cfg) {
            print_error("configuration error: " + cfg.error().message);
            exit_code = exit_usage;
            return;
        }
        std::cout << core::describe(*cfg);
    });

    auto* check =
        cmd->add_subcommand("check", "Validate the configuration and exit 0 if it is good");
    flags->attach(*check);
    check->callback([flags, &exit_code] {
        auto cfg = flags->load();
        if (!cfg) {
            print_error("configuration error: " + cfg.error().message);
            exit_code = exit_usage;
            return;
        }
        std::cout << "configuration is valid\n";
    });

    auto* reference = cmd->add_subcommand("reference", "Print every setting as a Markdown table");
    reference->callback([] {
        std::cout << "| Key | Environment | Default | Meaning |\n|---|---|---|---|\n";
        for (const auto& s : core::list_settings())
            std::cout << "| `" << s.key << "` | `" << s.env << "` | `" << s.default_value << "` | "
                      << s.help << " |\n";
    });
}

}  // namespace herald::app
