// herald serve: the API, dashboard, dispatcher and SMPP binds in one process.

#include <algorithm>
#include <condition_variable>
#include <iostream>
#include <signal.h>
#include <thread>

#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "app/context.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/redact.hpp"
#include "core/thread.hpp"
#include "db/migrate.hpp"
#include "db/pool.hpp"
#include "dispatch/dispatcher.hpp"
#include "dispatch/webhooks.hpp"
#include "http/api.hpp"
#include "http/health.hpp"
#include "http/metrics.hpp"
#include "http/server.hpp"
#include "smpp/engine.hpp"
#include "smpp/simulator.hpp"
#include "store/imports.hpp"
#include "store/maintenance.hpp"

namespace herald::app {
namespace {

/// Runs periodic upkeep (partitions ahead of time) until stopped.
class maintenance_loop {
  public:
    explicit maintenance_loop(db::pool& pool)
        : pool_(pool), thread_(core::named_thread("maintenance", [this] { run(); })) {}
    ~maintenance_loop() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        thread_.join();
    }

  private:
    void run() {
        std::unique_lock lock(mutex_);
        while (!stop_) {
            lock.unlock();
            auto r = pool_.run([](db::connection& c) {
                return store::ensure_partitions(c, std::chrono::system_clock::now());
            });
            if (!r) spdlog::warn("partition upkeep failed: {}", r.error().message);
            lock.lock();
            wake_.wait_for(lock, std::chrono::hours(6), [this] { return stop_; });
        }
    }
    db::pool& pool_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stop_ = false;
    std::thread thread_;
};

int serve(const core::config& cfg) {
    // Take SIGINT/SIGTERM with sigwait() in this thread; every thread started below
    // inherits the block, so no other thread is interrupted by them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    auto migrations = db::load_migrations(db::builtin_migrations());
    if (!migrations) {
        print_error(migrations.error().message);
        return exit_failure;
    }
    auto target = open_database(cfg);
    if (!target) {
        print_error(target.error().message);
        return exit_failure;
    }
    int code = exit_ok;
    {
        auto conn = db::connection::open({target->conninfo, cfg.database.connect_timeout});
        auto report = conn ? db::migrate(*conn, *migrations) : std::unexpected(conn.error());
        if (!report) {
            print_error(report.error().message);
            target->release();
            return exit_failure;
        }
        if (auto p = store::ensure_partitions(*conn, std::chrono::system_clock::now()); !p)
            spdlog::warn("partition upkeep failed: {}", p.error().message);
    }

    db::pool pool({.conninfo = target->conninfo,
                   .size = cfg.database.pool_size,
                   .connect_timeout = cfg.database.connect_timeout});
    if (auto stale = pool.run([](db::connection& c) {
            return store::fail_stale_imports(c, std::chrono::minutes(10));
        });
        stale && *stale > 0)
        spdlog::warn("{} contact import(s) were interrupted by a restart and are marked failed",
                     *stale);

    // Until connectors come from the database, messages go to an SMSC simulator inside this
    // process (the "no connector configured" default).
    smpp::simulator_config sim_cfg;
    sim_cfg.address = "127.0.0.1";
    sim_cfg.port = 0;
    sim_cfg.receipt_latency = cfg.simulator.receipt_latency;
    if (auto w = smpp::parse_outcome_weights(cfg.simulator.outcomes, sim_cfg); !w) {
        print_error("simulator.outcomes: " + w.error().message);
        target->release();
        return exit_usage;
    }
    if (auto r = smpp::parse_outcome_rules(cfg.simulator.rules, sim_cfg); !r) {
        print_error("simulator.rules: " + r.error().message);
        target->release();
        return exit_usage;
    }
    smpp::engine sim_engine(1, "smsc-sim", cfg.dispatch.nice);
    smpp::simulator simulator(sim_engine, sim_cfg);
    const bool builtin = cfg.dispatch.smsc.empty();
    if (builtin) {
        if (auto r = simulator.start(); !r) {
            print_error("cannot start the built-in SMSC simulator: " + r.error().message);
            target->release();
            return exit_failure;
        }
    }
    std::optional<http::server> sim_control;
    http::router sim_routes;
    if (builtin && cfg.simulator.control_port != 0) {
        add_simulator_control_routes(sim_routes, simulator);
        sim_control.emplace(http::server_options{.address = "127.0.0.1",
                                                 .port = cfg.simulator.control_port,
                                                 .threads = 1,
                                                 .access_log = false},
                            sim_routes);
        if (auto r = sim_control->start(); !r) {
            print_error("simulator.control_port: " + r.error().message);
            target->release();
            return exit_usage;
        }
    }
    std::unique_ptr<dispatch::dispatcher> dispatcher;
    core::set_clock_offset(std::chrono::seconds(cfg.dispatch.clock_offset));
    if (cfg.dispatch.clock_offset != 0)
        spdlog::warn("dispatch.clock_offset is {} s: quiet hours read a shifted clock",
                     cfg.dispatch.clock_offset);
    if (cfg.dispatch.enabled) {
        dispatch::dispatcher_options d;
        d.node_id = "node-" + core::uuid_v7().str();
        d.claim_batch = cfg.dispatch.claim_batch;
        d.lease = std::chrono::ceil<std::chrono::seconds>(cfg.dispatch.lease);
        if (builtin) {
            d.connector.name = "simulator";
            d.connector.host = "127.0.0.1";
            d.connector.port = simulator.port();
            d.connector.system_id = "herald";
        } else {
            const auto colon = cfg.dispatch.smsc.rfind(':');
            d.connector.name = "smsc";
            d.connector.host = cfg.dispatch.smsc.substr(0, colon);
            d.connector.port = std::uint16_t(std::stoi(cfg.dispatch.smsc.substr(colon + 1)));
            d.connector.system_id = cfg.dispatch.smsc_system_id;
            d.connector.password = cfg.dispatch.smsc_password;
        }
        d.connector.binds = cfg.dispatch.binds;
        d.connector.window = std::uint32_t(cfg.dispatch.window);
        d.nice = cfg.dispatch.nice;
        dispatcher = std::make_unique<dispatch::dispatcher>(pool, d);
        dispatcher->start();
    }
    std::unique_ptr<dispatch::webhook_sender> webhooks;
    if (cfg.dispatch.enabled) {
        using std::chrono::ceil;
        using std::chrono::seconds;
        webhooks = std::make_unique<dispatch::webhook_sender>(
            pool,
            dispatch::webhook_options{.node_id = "node-" + core::uuid_v7().str(),
                                      .concurrency = cfg.webhooks.concurrency,
                                      .timeout = cfg.webhooks.timeout,
                                      .retry_base = ceil<seconds>(cfg.webhooks.retry_base),
                                      .retry_max = ceil<seconds>(cfg.webhooks.retry_max),
                                      .give_up_after = ceil<seconds>(cfg.webhooks.give_up_after),
                                      .lease = ceil<seconds>(cfg.webhooks.timeout) + seconds(60)});
        webhooks->start();
    }

    const auto spool = cfg.data_dir / "spool";
    // Single sends go straight to this node's dispatcher (decision 0021).
    std::optional<http::send_handoff> handoff;
    if (dispatcher)
        handoff = http::send_handoff{
            .lease = {.owner = dispatcher->node_id(), .lease = dispatcher->lease()},
            .take = [d = dispatcher.get()](auto messages) { d->hand_over(std::move(messages)); }};
    http::api api(pool, {.session_ttl =
                             std::chrono::duration_cast<std::chrono::seconds>(cfg.auth.session_ttl),
                         .secure_cookies = cfg.auth.secure_cookies,
                         .self_signup = cfg.auth.self_signup,
                         .rate_per_token = cfg.auth.rate_limit_per_token,
                         .rate_per_ip = cfg.auth.rate_limit_per_ip,
                         .spool_dir = spool,
                         .import_max_bytes = cfg.imports.max_bytes,
                         .import_workers = cfg.imports.workers,
                         .import_threads = cfg.imports.threads,
                         .max_segments = cfg.dispatch.max_segments,
                         .on_queued =
                             [&dispatcher] {
                                 if (dispatcher) dispatcher->wake();
                             },
                         .handoff = std::move(handoff),
                         .connector_health =
                             [&dispatcher] {
                                 std::vector<http::connector_status> out;
                                 if (!dispatcher) return out;
                                 for (auto& h : dispatcher->health())
                                     out.push_back({.name = h.name,
                                                    .binds_held = h.binds_held,
                                                    .binds_up = h.binds_up,
                                                    .in_flight = h.in_flight,
                                                    .queued = h.queued,
                                                    .tps_now = h.tps_now,
                                                    .submitted = h.submitted,
                                                    .errors = h.errors,
                                                    .reconnects = h.reconnects,
                                                    .last_error = h.last_error});
                                 return out;
                             },
                         .version = HERALD_VERSION});
    api.metrics().add_collector([&dispatcher](std::string& out) {
        if (!dispatcher) return;
        const auto s = dispatcher->stats();
        out +=
            "# HELP herald_dispatch_messages_total Messages through this node's dispatcher, by "
            "what happened.\n# TYPE herald_dispatch_messages_total counter\n";
        for (auto [event, n] : {std::pair{"claimed", s.claimed},
                                {"handed", s.handed},
                                {"sent", s.sent},
                                {"retried", s.retried},
                                {"failed", s.failed},
                                {"suppressed", s.suppressed},
                                {"no_route", s.no_route},
                                {"receipt", s.receipts},
                                {"receipt_unmatched", s.receipts_unmatched}})
            out += std::string("herald_dispatch_messages_total{event=\"") + event + "\"} "
                   + std::to_string(n) + "\n";
        out +=
            "# HELP herald_dispatch_busy_seconds_total Time each dispatcher loop spent on its "
            "work; wait_room is the claimer waiting for outcomes to commit.\n"
            "# TYPE herald_dispatch_busy_seconds_total counter\n";
        for (auto [loop, us] : {std::pair{"claim", s.claim_us},
                                {"submit", s.submit_us},
                                {"wait_room", s.room_wait_us},
                                {"outcomes", s.outcome_write_us},
                                {"receipts", s.receipt_write_us},
                                {"expand", s.expand_us}})
            out += std::string("herald_dispatch_busy_seconds_total{loop=\"") + loop + "\"} "
                   + std::to_string(double(us) / 1e6) + "\n";
    });
    http::router routes;
    http::add_health_routes(routes, pool, migrations->empty() ? 0 : migrations->back().version);
    api.register_routes(routes);

    http::server server(
        {.address = cfg.http.listen,
         .port = cfg.http.port,
         // Two threads per core, and no more than database connections: a request runs on
         // its connection's thread and rarely waits for the pool (decisions 0010, 0012).
         .threads = cfg.http.threads > 0 ? cfg.http.threads
                                         : std::clamp(2 * int(std::thread::hardware_concurrency()),
                                                      1, cfg.database.pool_size),
         .body_limit = cfg.http.body_limit,
         .read_timeout = cfg.http.read_timeout,
         .idle_timeout = cfg.http.idle_timeout,
         .access_log = cfg.http.access_log,
         .spool_dir = spool,
         .on_response =
             [&api](const http::request& req, const http::response& resp, std::string_view route,
                    std::chrono::nanoseconds took) {
                 api.metrics().observe_request(route, req.method, resp.status, took);
             }},
        routes);
    if (auto r = server.start(); !r) {
        print_error(r.error().message);
        target->release();
        return exit_usage;
    }
    {
        maintenance_loop upkeep(pool);
        const std::string host = cfg.http.listen == "0.0.0.0" ? "127.0.0.1" : cfg.http.listen;
        std::cout << "Herald is running.\n"
                  << "  HTTP:     http://" << host << ":" << server.port()
                  << "/  (health: /readyz)\n"
                  << "  Database: "
                  << (target->cluster ? "embedded cluster in " + target->cluster->pgdata().string()
                                            + "\n            psql \"" + target->conninfo + "\""
                                      : core::redact_connection_string(target->conninfo))
                  << "\n"
                  << "  SMSC:     "
                  << (builtin
                          ? "built-in simulator on 127.0.0.1:" + std::to_string(simulator.port())
                          : cfg.dispatch.smsc)
                  << (sim_control ? " (control API: http://127.0.0.1:"
                                        + std::to_string(sim_control->port()) + "/)"
                                  : std::string())
                  << (cfg.dispatch.enabled ? "" : " (dispatcher off on this node)") << "\n"
                  << "Press Ctrl-C to stop." << std::endl;

        int sig = 0;
        sigwait(&signals, &sig);
        spdlog::info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        std::cout << "Shutting down..." << std::endl;
        server.stop(std::chrono::seconds(10));
        if (dispatcher) dispatcher->stop();
        if (webhooks) webhooks->stop();
        if (sim_control) sim_control->stop(std::chrono::seconds(1));
        if (builtin) simulator.stop();
    }
    target->release();
    std::cout << "Herald stopped." << std::endl;
    return code;
}

}  // namespace

void register_serve(CLI::App& app, int& exit_code) {
    auto* cmd =
        app.add_subcommand("serve", "Run Herald: HTTP API, dashboard, dispatcher and SMPP binds");
    auto flags = std::make_shared<common_flags>();
    flags->attach(*cmd);
    auto port = std::make_shared<std::optional<std::string>>();
    auto listen = std::make_shared<std::optional<std::string>>();
    cmd->add_option("--http-port", *port, "HTTP port (0 picks a free one)");
    cmd->add_option("--http-listen", *listen, "Address to listen on (default 127.0.0.1)");
    cmd->callback([flags, port, listen, &exit_code] {
        std::vector<core::config_sources::flag_value> extra;
        if (*port) extra.push_back({"http.port", **port, "--http-port"});
        if (*listen) extra.push_back({"http.listen", **listen, "--http-listen"});
        auto cfg = flags->load(std::move(extra));
        if (!cfg) {
            print_error("configuration error: " + cfg.error().message);
            exit_code = exit_usage;
            return;
        }
        core::setup_logging(cfg->log);
        exit_code = serve(*cfg);
    });
}

}  // namespace herald::app
