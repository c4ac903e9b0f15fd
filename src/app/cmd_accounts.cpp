// herald user create / herald token create: bootstrap accounts from the shell, against the
// same database `serve` uses (the embedded cluster of --data-dir, or database.url).

#include <iostream>

#include "app/commands.hpp"
#include "app/context.hpp"
#include "core/log.hpp"
#include "db/migrate.hpp"
#include "db/param.hpp"
#include "db/transaction.hpp"
#include "store/accounts.hpp"
#include "store/audit.hpp"
#include "store/tokens.hpp"

namespace herald::app {
namespace {

/// Opens the configured database with the schema current, runs `fn`, and releases it.
int with_database(const common_flags& flags, const std::function<int(db::connection&)>& fn) {
    auto cfg = flags.load();
    if (!cfg) {
        print_error("configuration error: " + cfg.error().message);
        return exit_usage;
    }
    core::setup_logging({.level = cfg->log.level == "info" ? "warn" : cfg->log.level, .format = cfg->log.format});
    auto target = open_database(*cfg);
    if (!target) {
        print_error(target.error().message);
        return exit_failure;
    }
    int code = exit_failure;
    {
        auto conn = db::connection::open({target->conninfo, cfg->database.connect_timeout});
        auto migrations = db::load_migrations(db::builtin_migrations());
        if (!conn) print_error(conn.error().message);
        else if (auto m = db::migrate(*conn, *migrations); !m) print_error(m.error().message);
        else code = fn(*conn);
    }
    target->release();
    return code;
}

}  // namespace

void register_accounts(CLI::App& app, int& exit_code) {
    auto* user = app.add_subcommand("user", "Manage user accounts");
    user->require_subcommand(1);
    auto* create = user->add_subcommand("create", "Create an admin, or a tenant (client) account");
    auto flags = std::make_shared<common_flags>();
    flags->attach(*create);
    struct user_args {
        bool admin = false, password_stdin = false;
        std::string username, email, company;
    };
    auto ua = std::make_shared<user_args>();
    create->add_flag("--admin", ua->admin, "Create a platform admin instead of a tenant");
    create->add_option("--username", ua->username, "Login name (3-50 letters, digits, . _ -)")->required();
    create->add_option("--email", ua->email, "E-mail address")->required();
    create->add_option("--company", ua->company, "Company name (tenants)");
    create->add_flag("--password-stdin", ua->password_stdin, "Read the password from standard input")->required();
    create->callback([flags, ua, &exit_code] {
        std::string password;
        std::getline(std::cin, password);
        if (!password.empty() && password.back() == '\r') password.pop_back();
        exit_code = with_database(*flags, [&](db::connection& c) {
            auto tx = db::transaction::begin(c);
            if (!tx) return print_error(tx.error().message), exit_failure;
            store::new_user nu{ua->username, ua->email, password, ua->admin, std::nullopt,
                               ua->company.empty() ? std::nullopt : std::optional<std::string>(ua->company),
                               std::nullopt};
            auto u = store::create_user(c, nu);
            if (!u) {
                print_error(u.error().describe());
                return u.error().is(condition::invalid_input) || u.error().is(condition::duplicate) ? exit_usage
                                                                                                    : exit_failure;
            }
            store::audit_entry a;
            a.user_id = u->id;
            a.tenant_id = u->tenant_id;
            a.action = ua->admin ? "users.create_admin" : "tenants.create";
            a.details = R"({"via":"cli"})";
            a.target_type = "user";
            a.target_id = u->id.str();
            if (auto w = store::write_audit(c, a); !w) return print_error(w.error().message), exit_failure;
            if (auto done = tx->commit(); !done) return print_error(done.error().message), exit_failure;
            std::cout << "created " << u->role << " " << u->username << " (" << u->id.str() << ")\n";
            return exit_ok;
        });
    });

    auto* token = app.add_subcommand("token", "Manage API tokens");
    token->require_subcommand(1);
    auto* tcreate = token->add_subcommand("create", "Create an API token and print it (shown once)");
    auto tflags = std::make_shared<common_flags>();
    tflags->attach(*tcreate);
    struct token_args {
        std::string user, name, expires;
        std::vector<std::string> permissions;
    };
    auto ta = std::make_shared<token_args>();
    tcreate->add_option("--user", ta->user, "Username or e-mail of the token's owner")->required();
    tcreate->add_option("--name", ta->name, "A name to recognise the token by")->required();
    tcreate->add_option("--permissions", ta->permissions, "Permissions (default: all of the user's)")->delimiter(',');
    tcreate->add_option("--expires", ta->expires, "Expiry time, ISO 8601 (e.g. 2027-01-01T00:00:00Z)");
    tcreate->callback([tflags, ta, &exit_code] {
        exit_code = with_database(*tflags, [&](db::connection& c) {
            auto u = store::find_user_by_login(c, ta->user);
            if (!u) return print_error("no user \"" + ta->user + "\""), exit_usage;
            auto allowed = store::permissions_of(c, *u);
            if (!allowed) return print_error(allowed.error().message), exit_failure;
            std::vector<std::string> perms = ta->permissions;
            for (const auto& p : perms)
                if (!allowed->contains(p) && !(p != "admin" && allowed->contains("admin") && store::is_permission(p)))
                    return print_error("--permissions: " + u->username + " does not have \"" + p + "\""), exit_usage;
            if (perms.empty()) perms.assign(allowed->begin(), allowed->end());
            std::optional<std::chrono::system_clock::time_point> expires;
            if (!ta->expires.empty()) {
                expires = db::parse_timestamp(ta->expires);
                if (!expires) return print_error("--expires: expected a time such as 2027-01-01T00:00:00Z"), exit_usage;
            }
            auto tx = db::transaction::begin(c);
            if (!tx) return print_error(tx.error().message), exit_failure;
            auto t = store::create_token(c, u->id, u->tenant_id, ta->name, perms, expires);
            if (!t) {
                print_error(t.error().describe());
                return t.error().is(condition::invalid_input) ? exit_usage : exit_failure;
            }
            store::audit_entry a;
            a.user_id = u->id;
            a.tenant_id = u->tenant_id;
            a.action = "tokens.create";
            a.details = R"({"via":"cli","prefix":")" + t->record.prefix + "\"}";
            a.target_type = "api_token";
            a.target_id = t->record.id.str();
            if (auto w = store::write_audit(c, a); !w) return print_error(w.error().message), exit_failure;
            if (auto done = tx->commit(); !done) return print_error(done.error().message), exit_failure;
            std::cout << t->secret << std::endl;  // before the note on stderr
            std::cerr << "token " << t->record.prefix << "... for " << u->username
                      << " created; it is shown only this once.\n";
            return exit_ok;
        });
    });
}

}  // namespace herald::app
