// herald smsc-sim: the built-in SMSC simulator as its own process, with an HTTP control API.

#include <iostream>
#include <signal.h>

#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "app/context.hpp"
#include "core/config.hpp"
#include "core/errc.hpp"
#include "core/log.hpp"
#include "http/json.hpp"
#include "http/server.hpp"
#include "smpp/engine.hpp"
#include "smpp/simulator.hpp"

namespace herald::app {
namespace {

struct sim_flags {
    std::string listen = "127.0.0.1";
    int port = 2775;
    int control_port = -1;
    std::string system_id, password;
    std::string latency = "200ms", response_delay = "0ms";
    std::string outcomes = "delivered=100";
    std::vector<std::string> rules;
    bool decimal_ids = false;
    std::string receipt_ids = "same";
    std::string receipt_form = "both";
    bool record_numbers = false;
    double throttle_ratio = 0;
    std::string log_level = "info";
};

/// Turns the flags into a simulator config, or says which flag is wrong and why.
result<smpp::simulator_config> to_config(const sim_flags& f) {
    auto bad = [](std::string flag, std::string why) {
        return fail(core::errc::invalid_value, flag + ": " + why, flag);
    };
    smpp::simulator_config c;
    c.address = f.listen;
    if (f.port < 0 || f.port > 65535) return bad("--port", "must be between 0 and 65535");
    c.port = std::uint16_t(f.port);
    c.system_id = f.system_id;
    c.password = f.password;
    auto latency = core::parse_duration(f.latency);
    if (!latency) return bad("--latency", latency.error().message);
    c.receipt_latency = *latency;
    auto delay = core::parse_duration(f.response_delay);
    if (!delay) return bad("--response-delay", delay.error().message);
    c.response_delay = *delay;
    if (auto w = smpp::parse_outcome_weights(f.outcomes, c); !w)
        return bad("--outcomes", w.error().message);
    for (const auto& r : f.rules)
        if (auto x = smpp::parse_outcome_rules(r, c); !x) return bad("--rule", x.error().message);
    c.hex_ids = !f.decimal_ids;
    if (f.receipt_ids != "same" && f.receipt_ids != "upper" && f.receipt_ids != "decimal"
        && f.receipt_ids != "hex")
        return bad("--receipt-ids", "must be same, upper, decimal or hex");
    c.receipt_id_style = f.receipt_ids;
    if (f.receipt_form == "text")
        c.receipt_tlvs = false;
    else if (f.receipt_form == "tlv")
        c.receipt_text = false;
    else if (f.receipt_form != "both")
        return bad("--receipt-form", "must be both, text or tlv");
    c.record_numbers = f.record_numbers;
    if (f.throttle_ratio < 0 || f.throttle_ratio > 1)
        return bad("--throttle-ratio", "must be between 0 and 1");
    c.throttle_ratio = f.throttle_ratio;
    return c;
}

http::json stats_json(const smpp::simulator& sim) {
    auto s = sim.stats();
    return {{"binds", s.binds},
            {"binds_total", s.binds_total},
            {"submits", s.submits},
            {"accepted", s.accepted},
            {"throttled", s.throttled},
            {"refused", s.refused},
            {"receipts_sent", s.receipts_sent},
            {"receipts_pending", s.receipts_pending},
            {"mo_sent", s.mo_sent},
            {"disconnects", s.disconnects},
            {"outcomes", s.outcomes},
            {"distinct_numbers", sim.distinct_numbers()}};
}

}  // namespace

void add_simulator_control_routes(http::router& r, smpp::simulator& sim) {
    using http::json;
    r.add("GET", "/stats",
          [&sim](http::request&) { return http::json_response(200, stats_json(sim)); });
    r.add("GET", "/numbers", [&sim](http::request& req) {
        if (auto one = req.query("number"); one && !one->empty()) {  // one number's record
            auto last = sim.last_seen(*one);
            json out = {
                {"number", *one}, {"count", sim.count_for(*one)}, {"last_seen_us", nullptr}};
            if (last)
                out["last_seen_us"] =
                    std::chrono::duration_cast<std::chrono::microseconds>(last->time_since_epoch())
                        .count();
            return http::json_response(200, out);
        }
        json dups = json::object();
        for (auto& [n, c] : sim.duplicates()) dups["+" + n] = c;
        json out = {{"distinct", sim.distinct_numbers()}, {"duplicates", dups}};
        if (req.query("list") == "1") {  // every number, for tests across several SMSCs
            json all = json::array();
            for (auto& n : sim.numbers()) all.push_back("+" + n);
            out["numbers"] = std::move(all);
        }
        return http::json_response(200, out);
    });
    r.add("POST", "/mo", [&sim](http::request& req) {
        auto body = http::parse_json_object(req);
        if (!body) return http::error_response(body.error());
        for (const char* k : {"from", "to", "text"})
            if (!body->contains(k) || !(*body)[k].is_string())
                return http::error_response(422, "invalid_field",
                                            std::string(k) + " must be a string", k);
        auto sent = sim.send_mo((*body)["from"], (*body)["to"], (*body)["text"]);
        if (!sent) return http::error_response(409, "not_bound", sent.error().message);
        return http::json_response(202, {{"status", "sent"}});
    });
    r.add("POST", "/faults", [&sim](http::request& req) {
        auto body = http::parse_json_object(req);
        if (!body) return http::error_response(body.error());
        for (auto& [k, v] : body->items()) {
            if (k == "throttle_next" || k == "drop_after") {
                if (!v.is_number_unsigned())
                    return http::error_response(422, "invalid_field", k + " must be a whole number",
                                                k);
                if (k == "throttle_next")
                    sim.throttle_next(v.get<std::uint64_t>());
                else
                    sim.drop_after(v.get<std::uint64_t>());
            } else if (k == "response_delay" || k == "receipt_latency") {
                auto d = v.is_string() ? core::parse_duration(v.get<std::string>())
                                       : fail(core::errc::invalid_value,
                                              "expected a string such as \"250ms\"");
                if (!d)
                    return http::error_response(422, "invalid_field", k + ": " + d.error().message,
                                                k);
                if (k == "response_delay")
                    sim.set_response_delay(*d);
                else
                    sim.set_receipt_latency(*d);
            } else {
                return http::error_response(
                    422, "unknown_field",
                    "unknown fault \"" + k
                        + "\" (throttle_next, drop_after, response_delay, receipt_latency)",
                    k);
            }
        }
        return http::json_response(200, {{"status", "ok"}});
    });
    r.add("POST", "/reset", [&sim](http::request&) {
        sim.reset_counters();
        return http::json_response(200, {{"status", "ok"}});
    });
}

namespace {

int run_simulator(const sim_flags& f) {
    core::setup_logging({.level = f.log_level, .format = "text"});
    auto cfg = to_config(f);
    if (!cfg) {
        print_error(cfg.error().message);
        return exit_usage;
    }
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    smpp::engine eng(1, "smsc-sim");
    smpp::simulator sim(eng, *cfg);
    if (auto r = sim.start(); !r) {
        print_error(r.error().message);
        return exit_usage;
    }
    http::router routes;
    add_simulator_control_routes(routes, sim);
    std::unique_ptr<http::server> control;
    if (f.control_port >= 0) {
        control = std::make_unique<http::server>(
            http::server_options{.address = "127.0.0.1",
                                 .port = std::uint16_t(f.control_port),
                                 .threads = 2,
                                 .access_log = false},
            routes);
        if (auto r = control->start(); !r) {
            print_error(r.error().message);
            return exit_usage;
        }
    }
    std::cout << "SMSC simulator listening on " << f.listen << ":" << sim.port();
    if (control) std::cout << " (control: http://127.0.0.1:" << control->port() << "/stats)";
    std::cout << std::endl;
    int sig = 0;
    sigwait(&signals, &sig);
    if (control) control->stop(std::chrono::seconds(2));
    sim.stop();
    auto s = sim.stats();
    std::cout << "SMSC simulator stopped after " << s.submits << " submit_sm and "
              << s.receipts_sent << " receipts" << std::endl;
    return exit_ok;
}

}  // namespace

void register_smsc_sim(CLI::App& app, int& exit_code) {
    auto* cmd =
        app.add_subcommand("smsc-sim", "Run the built-in SMSC simulator (for tests and demos)");
    auto f = std::make_shared<sim_flags>();
    cmd->add_option("--listen", f->listen, "Address to accept SMPP binds on")
        ->capture_default_str();
    cmd->add_option("--port", f->port, "SMPP port (0 picks a free one)")->capture_default_str();
    cmd->add_option("--control-port", f->control_port,
                    "HTTP control API port on 127.0.0.1 (0 picks one; off when absent)");
    cmd->add_option("--system-id", f->system_id, "Require this system_id (any by default)");
    cmd->add_option("--password", f->password, "Require this password (any by default)");
    cmd->add_option("--latency", f->latency, "Delay before each delivery receipt")
        ->capture_default_str();
    cmd->add_option("--response-delay", f->response_delay, "Delay before each submit_sm_resp")
        ->capture_default_str();
    cmd->add_option(
           "--outcomes", f->outcomes,
           "Receipt outcome weights, e.g. delivered=90,undeliverable=5,expired=3,rejected=2")
        ->capture_default_str();
    cmd->add_option(
        "--rule", f->rules,
        "PREFIX=OUTCOME forcing an outcome for numbers starting with PREFIX (repeatable)");
    cmd->add_flag("--decimal-ids", f->decimal_ids, "Decimal message ids instead of hexadecimal");
    cmd->add_option("--receipt-ids", f->receipt_ids,
                    "How receipts spell ids: same, upper, decimal or hex")
        ->capture_default_str();
    cmd->add_option("--receipt-form", f->receipt_form, "Receipt form: both, text or tlv")
        ->capture_default_str();
    cmd->add_flag("--record-numbers", f->record_numbers,
                  "Count submits per number (see GET /numbers)");
    cmd->add_option("--throttle-ratio", f->throttle_ratio,
                    "Share of submits answered ESME_RTHROTTLED (0 to 1)")
        ->capture_default_str();
    cmd->add_option("--log-level", f->log_level, "trace, debug, info, warn, error or off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
        ->capture_default_str();
    cmd->callback([f, &exit_code] { exit_code = run_simulator(*f); });
}

}  // namespace herald::app
