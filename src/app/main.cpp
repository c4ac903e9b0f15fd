// herald: the bulk and two-way SMS platform's single executable.

#include <iostream>

#include <CLI/CLI.hpp>

#include "app/commands.hpp"
#include "app/context.hpp"
#include "core/config.hpp"
#include "core/log.hpp"

int main(int argc, char** argv) {
    using namespace herald::app;
    CLI::App app{"Herald: bulk and two-way SMS over SMPP", "herald"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("herald ") + HERALD_VERSION);
    app.failure_message(CLI::FailureMessage::help);

    // Early, quiet logging until a command configures its own from the config.
    herald::core::setup_logging({.level = "warn", .format = "text"});

    int exit_code = exit_ok;
    register_serve(app, exit_code);
    register_migrate(app, exit_code);
    register_db(app, exit_code);
    register_config(app, exit_code);
    register_smsc_sim(app, exit_code);
    register_accounts(app, exit_code);

    // CLI11 would only say "a subcommand is required"; name the word it did not know.
    if (argc > 1 && argv[1][0] != '-') {
        bool known = false;
        for (const auto* sub : app.get_subcommands({})) known = known || sub->check_name(argv[1]);
        if (!known) {
            print_error(std::string("unknown command \"") + argv[1]
                        + "\"; run 'herald --help' to see the commands");
            return exit_usage;
        }
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e, std::cout, std::cerr);
        return exit_usage;
    }
    return exit_code;
}
