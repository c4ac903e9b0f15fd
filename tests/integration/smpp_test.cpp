// Herald's ESME client against the built-in simulator over real TCP on loopback.

#include <condition_variable>
#include <mutex>
#include <set>
#include <signal.h>
#include <thread>

#include <gtest/gtest.h>

#include "smpp/client.hpp"
#include "smpp/engine.hpp"
#include "smpp/simulator.hpp"

namespace herald::smpp {
namespace {

using namespace std::chrono_literals;

/// Collects submit results and receipts from the engine threads.
struct collector {
    std::mutex m;
    std::condition_variable cv;
    std::vector<submit_result> results;
    std::vector<delivery_report> receipts;
    std::vector<inbound_message> inbound;
    int bound = 0;

    submit_callback callback() {
        return [this](submit_result&& r) {
            std::lock_guard l(m);
            results.push_back(std::move(r));
            cv.notify_all();
        };
    }
    client_handlers handlers() {
        client_handlers h;
        h.on_receipt = [this](delivery_report&& r, ack_fn ack) {
            {
                std::lock_guard l(m);
                receipts.push_back(std::move(r));
                cv.notify_all();
            }
            ack(true);
        };
        h.on_inbound = [this](inbound_message&& in, ack_fn ack) {
            {
                std::lock_guard l(m);
                inbound.push_back(std::move(in));
                cv.notify_all();
            }
            ack(true);
        };
        h.on_state = [this](int n, const std::string&) {
            std::lock_guard l(m);
            bound = n;
            cv.notify_all();
        };
        return h;
    }
    template <class Pred>
    bool wait(Pred p, std::chrono::milliseconds timeout = 20s) {
        std::unique_lock l(m);
        return cv.wait_for(l, timeout, [&] { return p(*this); });
    }
    std::size_t count(submit_outcome o) {
        std::lock_guard l(m);
        return std::size_t(
            std::count_if(results.begin(), results.end(), [&](auto& r) { return r.outcome == o; }));
    }
};

client_config config_for(std::uint16_t port) {
    client_config c;
    c.name = "sim";
    c.port = port;
    c.system_id = "herald";
    c.password = "secret";
    c.window = 50;
    c.reconnect_min = 50ms;
    c.reconnect_max = 500ms;
    c.throttle_backoff = 100ms;
    c.response_timeout = 5s;
    return c;
}

outbound_sms sms(int i, std::string text = "hello") {
    return {"Herald",    "+1415555" + std::to_string(1000 + i), std::move(text), true, "",
            std::nullopt};
}

simulator_config sim_config() {
    simulator_config s;
    s.system_id = "herald";
    s.password = "secret";
    s.receipt_latency = 20ms;
    s.record_numbers = true;
    return s;
}

TEST(smpp_client, submits_and_receives_every_receipt) {
    engine eng;
    simulator sim(eng, sim_config());
    ASSERT_TRUE(sim.start());
    collector got;
    client c(eng, config_for(sim.port()), got.handlers());
    c.start();
    ASSERT_TRUE(got.wait([](auto& g) { return g.bound == 1; }));
    constexpr int n = 2000;
    for (int i = 0; i < n; ++i) ASSERT_TRUE(c.submit(sms(i), got.callback()));
    ASSERT_TRUE(got.wait([](auto& g) { return g.results.size() == n && g.receipts.size() == n; }));
    EXPECT_EQ(got.count(submit_outcome::accepted), std::size_t(n));
    std::set<std::string> submitted_keys, receipt_keys;
    for (auto& r : got.results) {
        ASSERT_EQ(r.message_ids.size(), 1u);
        submitted_keys.insert(submit_id_key(r.message_ids[0], id_format::exact));
        EXPECT_EQ(r.segments, 1u);
    }
    for (auto& r : got.receipts) {
        receipt_keys.insert(r.id_key);
        EXPECT_EQ(r.receipt.outcome, receipt_outcome::delivered);
    }
    EXPECT_EQ(submitted_keys.size(), std::size_t(n));  // unique ids
    EXPECT_EQ(submitted_keys, receipt_keys);           // every receipt matches a submit
    auto st = sim.stats();
    EXPECT_EQ(st.submits, std::uint64_t(n));
    EXPECT_EQ(sim.distinct_numbers(), std::size_t(n));
    EXPECT_TRUE(sim.duplicates().empty());
    auto cs = c.stats();
    EXPECT_EQ(cs.accepted, std::uint64_t(n));
    EXPECT_EQ(cs.receipts, std::uint64_t(n));
    EXPECT_EQ(cs.binds_bound, 1);
}

TEST(smpp_client, outcome_rules_and_mix_reach_the_receipts) {
    engine eng;
    auto cfg = sim_config();
    cfg.rules = {{"+1415555100", sim_outcome::undeliverable},
                 {"14155551011", sim_outcome::expired},
                 {"+1415555102", sim_outcome::refuse}};
    simulator sim(eng, cfg);
    ASSERT_TRUE(sim.start());
    collector got;
    client c(eng, config_for(sim.port()), got.handlers());
    c.start();
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(c.submit(sms(i), got.callback()));  // 1000..1029
    ASSERT_TRUE(
        got.wait([](auto& g) { return g.results.size() == 30 && g.receipts.size() == 20; }));
    EXPECT_EQ(got.count(submit_outcome::rejected), 10u);  // 1020..1029 refused at submit
    for (auto& r : got.results) {
        if (r.outcome == submit_outcome::rejected) {
            EXPECT_EQ(r.command_status, status::invalid_destination);
        }
    }
    std::map<receipt_outcome, int> outcomes;
    for (auto& r : got.receipts) ++outcomes[r.receipt.outcome];
    EXPECT_EQ(outcomes[receipt_outcome::undelivered], 10);  // 1000..1009
    EXPECT_EQ(outcomes[receipt_outcome::expired], 1);    // 1011: the longest prefix wins over none
    EXPECT_EQ(outcomes[receipt_outcome::delivered], 9);  // 1010 and 1012..1019 follow the mix
}

TEST(smpp_client, refused_credentials_are_reported_and_retried) {
    engine eng;
    simulator sim(eng, sim_config());
    ASSERT_TRUE(sim.start());
    auto cfg = config_for(sim.port());
    cfg.password = "wrong";
    collector got;
    client c(eng, cfg, got.handlers());
    c.start();
    std::this_thread::sleep_for(300ms);
    auto st = c.stats();
    EXPECT_EQ(st.binds_bound, 0);
    EXPECT_NE(st.last_error.find("ESME_RINVPASWD"), std::string::npos) << st.last_error;
    EXPECT_GE(st.reconnects, 1u);  // it keeps trying, with backoff
    EXPECT_EQ(sim.stats().binds_total, 0u);
}

TEST(smpp_client, long_messages_go_in_parts_each_with_its_id_and_receipt) {
    for (auto method : {long_method::udh, long_method::sar, long_method::payload}) {
        engine eng;
        simulator sim(eng, sim_config());
        ASSERT_TRUE(sim.start());
        auto cfg = config_for(sim.port());
        cfg.coding.long_method = method;
        collector got;
        client c(eng, cfg, got.handlers());
        c.start();
        ASSERT_TRUE(c.submit(sms(1, std::string(400, 'x')), got.callback()));
        const std::size_t parts = method == long_method::payload ? 1 : 3;
        ASSERT_TRUE(got.wait([&](auto& g) {
            return g.results.size() == 1 && g.receipts.size() == parts;
        })) << to_string(method);
        EXPECT_EQ(got.results[0].outcome, submit_outcome::accepted);
        EXPECT_EQ(got.results[0].message_ids.size(), parts);
        EXPECT_EQ(got.results[0].segments, 3u);
        EXPECT_EQ(sim.stats().submits, parts);
    }
}

TEST(smpp_client, inbound_messages_reach_the_callback_as_utf8) {
    engine eng;
    simulator sim(eng, sim_config());
    ASSERT_TRUE(sim.start());
    collector got;
    client c(eng, config_for(sim.port()), got.handlers());
    c.start();
    ASSERT_TRUE(got.wait([](auto& g) { return g.bound == 1; }));
    ASSERT_TRUE(sim.send_mo("+14155550123", "12345", "STOP"));
    ASSERT_TRUE(sim.send_mo("+447400123456", "12345", "Arrêtez 😀"));
    ASSERT_TRUE(got.wait([](auto& g) { return g.inbound.size() == 2; }));
    EXPECT_EQ(got.inbound[0].text, "STOP");
    EXPECT_EQ(got.inbound[0].from, "+14155550123");
    EXPECT_EQ(got.inbound[0].to, "12345");
    EXPECT_EQ(got.inbound[1].text, "Arrêtez 😀");
    EXPECT_EQ(got.inbound[1].data_coding, coding::ucs2);
}

TEST(smpp_client, dropped_connection_mid_window_loses_nothing) {
    engine eng;
    auto scfg = sim_config();
    scfg.response_delay = 5ms;  // keep a window's worth in flight
    simulator sim(eng, scfg);
    ASSERT_TRUE(sim.start());
    collector got;
    client c(eng, config_for(sim.port()), got.handlers());
    c.start();
    ASSERT_TRUE(got.wait([](auto& g) { return g.bound == 1; }));
    sim.drop_after(300);
    constexpr int n = 1000;
    for (int i = 0; i < n; ++i) ASSERT_TRUE(c.submit(sms(i), got.callback()));
    // Every message completes: accepted, or reported failed so the caller can retry it.
    ASSERT_TRUE(got.wait([](auto& g) { return g.results.size() == n; }, 30s));
    auto accepted = got.count(submit_outcome::accepted), failed = got.count(submit_outcome::failed);
    EXPECT_EQ(accepted + failed, std::size_t(n));
    EXPECT_GT(failed, 0u);       // the window in flight at the drop
    EXPECT_LE(failed, 50u + 1);  // at most one window (50), plus the PDU that triggered it
    EXPECT_GE(c.stats().reconnects, 1u);
    EXPECT_EQ(sim.stats().disconnects, 1u);
    // Retrying the failed ones after the reconnect completes everything.
    {
        std::lock_guard l(got.m);
        for (auto& r : got.results) {
            if (r.outcome == submit_outcome::failed) {
                EXPECT_FALSE(r.error.empty());  // each failure says why
            }
        }
    }
    std::size_t before = got.results.size();
    for (std::size_t i = 0; i < failed; ++i)
        ASSERT_TRUE(c.submit(sms(5000 + int(i)), got.callback()));
    ASSERT_TRUE(got.wait([&](auto& g) { return g.results.size() == before + failed; }, 30s));
    EXPECT_EQ(got.count(submit_outcome::accepted), accepted + failed);
}

TEST(smpp_client, throttling_slows_down_and_still_completes) {
    engine eng;
    simulator sim(eng, sim_config());
    ASSERT_TRUE(sim.start());
    collector got;
    auto cfg = config_for(sim.port());
    cfg.throttle_backoff = 200ms;
    client c(eng, cfg, got.handlers());
    c.start();
    ASSERT_TRUE(got.wait([](auto& g) { return g.bound == 1; }));
    sim.throttle_next(40);
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 300; ++i) ASSERT_TRUE(c.submit(sms(i), got.callback()));
    ASSERT_TRUE(got.wait([](auto& g) { return g.results.size() == 300; }, 30s));
    EXPECT_EQ(got.count(submit_outcome::accepted), 300u);
    EXPECT_GE(c.stats().throttled, 40u);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);  // it did back off
    EXPECT_EQ(sim.stats().throttled, 40u);
}

TEST(smpp_client, rate_limit_bounds_the_pace) {
    engine eng;
    simulator sim(eng, sim_config());
    ASSERT_TRUE(sim.start());
    collector got;
    auto cfg = config_for(sim.port());
    cfg.tps = 200;  // burst of 10, then 200/s
    client c(eng, cfg, got.handlers());
    c.start();
    ASSERT_TRUE(got.wait([](auto& g) { return g.bound == 1; }));
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 110; ++i) ASSERT_TRUE(c.submit(sms(i), got.callback()));
    ASSERT_TRUE(got.wait([](auto& g) { return g.results.size() == 110; }));
    // 100 messages beyond the burst cannot go faster than 200/s: at least 0.5 s.
    EXPECT_GE(std::chrono::steady_clock::now() - start, 490ms);
}

TEST(smpp_client, a_full_queue_pushes_back) {
    engine eng;
    auto scfg = sim_config();
    scfg.response_delay = 300ms;
    simulator sim(eng, scfg);
    ASSERT_TRUE(sim.start());
    collector got;
    auto cfg = config_for(sim.port());
    cfg.window = 1;
    cfg.max_queue = 5;
    client c(eng, cfg, got.handlers());
    c.start();
    ASSERT_TRUE(got.wait([](auto& g) { return g.bound == 1; }));
    int taken = 0;
    for (int i = 0; i < 20; ++i)
        if (c.submit(sms(i), got.callback(), 0ms)) ++taken;
    EXPECT_GE(taken, 5);
    EXPECT_LE(taken, 7);  // the queue (5) plus what the bind already took
    // Waiting submits get through as the queue drains.
    EXPECT_TRUE(c.submit(sms(99), got.callback(), 10s));
}

TEST(smpp_client, receipt_ids_in_another_base_still_match) {
    engine eng;
    auto scfg = sim_config();
    scfg.hex_ids = true;
    scfg.receipt_id_style = "decimal";
    scfg.receipt_tlvs = false;  // only the text form, which spells the id in decimal
    simulator sim(eng, scfg);
    ASSERT_TRUE(sim.start());
    collector got;
    auto cfg = config_for(sim.port());
    cfg.receipt_ids = id_format::decimal_in_receipt;
    client c(eng, cfg, got.handlers());
    c.start();
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.submit(sms(i), got.callback()));
    ASSERT_TRUE(
        got.wait([](auto& g) { return g.results.size() == 20 && g.receipts.size() == 20; }));
    std::set<std::string> submitted, receipted;
    for (auto& r : got.results) submitted.insert(submit_id_key(r.message_ids[0], cfg.receipt_ids));
    for (auto& r : got.receipts) {
        receipted.insert(r.id_key);
        EXPECT_EQ(r.receipt.message_id.find_first_not_of("0123456789"),
                  std::string::npos);  // decimal on the wire
    }
    EXPECT_EQ(submitted, receipted);
}

TEST(smpp_client, reconnects_when_the_smsc_comes_back) {
    engine eng;
    std::uint16_t port;
    {
        simulator probe(eng, sim_config());
        ASSERT_TRUE(probe.start());
        port = probe.port();
        probe.stop();
    }
    collector got;
    client c(eng, config_for(port), got.handlers());
    c.start();
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(c.stats().binds_bound, 0);
    EXPECT_GE(c.stats().reconnects, 1u);
    auto cfg = sim_config();
    cfg.port = port;
    simulator sim(eng, cfg);
    ASSERT_TRUE(sim.start());
    ASSERT_TRUE(got.wait([](auto& g) { return g.bound == 1; }, 10s));
    ASSERT_TRUE(c.submit(sms(1), got.callback()));
    ASSERT_TRUE(got.wait([](auto& g) { return g.results.size() == 1; }));
    EXPECT_EQ(got.results[0].outcome, submit_outcome::accepted);
}

TEST(smpp_client, with_no_bind_up_waiting_messages_fail_as_unsent) {
    engine eng;
    auto cfg = sim_config();
    auto sim = std::make_unique<simulator>(eng, cfg);
    ASSERT_TRUE(sim->start());
    const auto port = sim->port();
    auto ccfg = config_for(port);
    ccfg.unbound_grace = 300ms;
    collector got;
    client c(eng, ccfg, got.handlers());
    c.start();
    ASSERT_TRUE(got.wait([](auto& g) { return g.bound == 1; }, 10s));
    // The SMSC stops answering: 50 fill the window, 30 wait behind them. Then it goes.
    sim->set_response_delay(60s);
    for (int i = 0; i < 80; ++i) ASSERT_TRUE(c.submit(sms(i), got.callback()));
    std::this_thread::sleep_for(300ms);
    sim->stop();
    sim.reset();
    ASSERT_TRUE(got.wait([](auto& g) { return g.results.size() == 80; }, 10s));
    int unsent = 0;
    for (const auto& r : got.results) {
        EXPECT_EQ(r.outcome, submit_outcome::failed);
        unsent += r.unsent;
    }
    EXPECT_EQ(unsent, 30) << "only those never written are unsent";
    // Still down: a new message fails at once rather than waiting.
    ASSERT_TRUE(c.submit(sms(100), got.callback()));
    ASSERT_TRUE(got.wait([](auto& g) { return g.results.size() == 81; }, 5s));
    EXPECT_TRUE(got.results.back().unsent);
    // The SMSC is back: messages go again.
    cfg.port = port;
    simulator again(eng, cfg);
    ASSERT_TRUE(again.start());
    ASSERT_TRUE(got.wait([](auto& g) { return g.bound == 1; }, 10s));
    ASSERT_TRUE(c.submit(sms(101), got.callback()));
    ASSERT_TRUE(got.wait([](auto& g) { return g.results.size() == 82; }));
    EXPECT_EQ(got.results.back().outcome, submit_outcome::accepted);
}

TEST(smpp_client, several_binds_share_the_queue) {
    engine eng;
    simulator sim(eng, sim_config());
    ASSERT_TRUE(sim.start());
    collector got;
    auto cfg = config_for(sim.port());
    cfg.binds = 3;
    client c(eng, cfg, got.handlers());
    c.start();
    ASSERT_TRUE(got.wait([](auto& g) { return g.bound == 3; }));
    EXPECT_EQ(sim.stats().binds, 3u);
    for (int i = 0; i < 600; ++i) ASSERT_TRUE(c.submit(sms(i), got.callback()));
    ASSERT_TRUE(got.wait([](auto& g) { return g.results.size() == 600; }));
    EXPECT_EQ(got.count(submit_outcome::accepted), 600u);
    c.stop();
    EXPECT_EQ(c.stats().binds_bound, 0);
    EXPECT_FALSE(c.submit(sms(1), got.callback(), 0ms));  // stopped: refused, not lost
}

TEST(smpp_simulator, receipts_spread_over_the_binds_and_wait_in_the_simulator_for_window_room) {
    // Receipts go to the receiver with room, round the binds, as an SMSC's do. While the ESME
    // leaves them unanswered each bind holds one window of them; the rest wait in the
    // simulator and all come once the ESME answers.
    auto scfg = sim_config();
    scfg.window = 16;
    scfg.receipt_latency = 1ms;
    engine eng;
    simulator sim(eng, scfg);
    ASSERT_TRUE(sim.start());
    collector got;
    std::vector<ack_fn> unanswered;
    bool answer_at_once = false;
    auto handlers = got.handlers();
    handlers.on_receipt = [&](delivery_report&& r, ack_fn ack) {
        bool now;
        {
            std::lock_guard l(got.m);
            got.receipts.push_back(std::move(r));
            now = answer_at_once;
            if (!now) unanswered.push_back(std::move(ack));
            got.cv.notify_all();
        }
        if (now) ack(true);
    };
    auto cfg = config_for(sim.port());
    cfg.binds = 3;
    client c(eng, cfg, handlers);
    c.start();
    ASSERT_TRUE(got.wait([](auto& g) { return g.bound == 3; }));
    constexpr int n = 500;
    for (int i = 0; i < n; ++i) ASSERT_TRUE(c.submit(sms(i), got.callback()));
    ASSERT_TRUE(got.wait([](auto& g) { return g.results.size() == n; }));
    // Three windows' worth arrive, and no more while none is answered.
    ASSERT_TRUE(got.wait([](auto& g) { return g.receipts.size() == 48; }, 5s))
        << got.receipts.size() << " receipts";
    std::this_thread::sleep_for(300ms);
    {
        std::lock_guard l(got.m);
        EXPECT_EQ(got.receipts.size(), 48u);
    }
    EXPECT_EQ(sim.stats().receipts_pending, std::uint64_t(n));
    std::vector<ack_fn> acks;
    {
        std::lock_guard l(got.m);
        answer_at_once = true;
        acks.swap(unanswered);
    }
    for (auto& a : acks) a(true);
    ASSERT_TRUE(got.wait([](auto& g) { return g.receipts.size() == n; }))
        << got.receipts.size() << " receipts";
    for (int i = 0; i < 200 && sim.stats().receipts_pending > 0; ++i)
        std::this_thread::sleep_for(10ms);  // the last answers reach the simulator
    EXPECT_EQ(sim.stats().receipts_pending, 0u);
    std::set<std::string> keys;
    for (auto& r : got.receipts) keys.insert(r.id_key);
    EXPECT_EQ(keys.size(), std::size_t(n));  // each once
    c.stop();
}

}  // namespace
}  // namespace herald::smpp

// ---- herald smsc-sim, the simulator as a process with its control API ----

#include <nlohmann/json.hpp>

#include "support/background.hpp"
#include "support/http_client.hpp"
#include "support/run.hpp"

namespace herald::smpp {
namespace {

TEST(smsc_sim_command, serves_binds_and_is_controlled_over_http) {
    test::background_process sim({test::herald_binary(), "smsc-sim", "--port", "0",
                                  "--control-port", "0", "--system-id", "acme", "--password", "pw",
                                  "--latency", "10ms", "--record-numbers", "--rule",
                                  "+1555=undeliverable", "--log-level", "warn"});
    ASSERT_TRUE(sim.wait_for_output("SMSC simulator listening", 20s)) << sim.output();
    auto port = sim.number_after("listening on 127.0.0.1:");
    auto control = sim.number_after("control: http://127.0.0.1:");
    ASSERT_TRUE(port && control) << sim.output();

    engine eng;
    collector got;
    auto cfg = config_for(std::uint16_t(*port));
    cfg.system_id = "acme";
    cfg.password = "pw";
    client c(eng, cfg, got.handlers());
    c.start();
    ASSERT_TRUE(got.wait([](auto& g) { return g.bound == 1; }));
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.submit(sms(i), got.callback()));
    ASSERT_TRUE(c.submit({"Herald", "+15550001111", "x", true, "", std::nullopt}, got.callback()));
    ASSERT_TRUE(
        got.wait([](auto& g) { return g.results.size() == 11 && g.receipts.size() == 11; }));
    std::size_t undelivered = 0;
    for (auto& r : got.receipts) undelivered += r.receipt.outcome == receipt_outcome::undelivered;
    EXPECT_EQ(undelivered, 1u);

    test::http_client http(*control);
    auto stats = nlohmann::json::parse(http.get("/stats").body);
    EXPECT_EQ(stats["submits"], 11);
    EXPECT_EQ(stats["binds"], 1);
    EXPECT_EQ(stats["distinct_numbers"], 11);

    auto mo = http.request("POST", "/mo", R"({"from":"+14155550123","to":"12345","text":"STOP"})",
                           {"Content-Type: application/json"});
    EXPECT_EQ(mo.status, 202) << mo.body;
    ASSERT_TRUE(got.wait([](auto& g) { return g.inbound.size() == 1; }));
    EXPECT_EQ(got.inbound[0].text, "STOP");

    EXPECT_EQ(
        http.request("POST", "/mo", R"({"from":1})", {"Content-Type: application/json"}).status,
        422);
    EXPECT_EQ(http.request("POST", "/mo", "{oops", {"Content-Type: application/json"}).status, 400);
    auto unknown =
        http.request("POST", "/faults", R"({"explode":true})", {"Content-Type: application/json"});
    EXPECT_EQ(unknown.status, 422);
    EXPECT_NE(unknown.body.find("unknown fault"), std::string::npos);
    auto drop =
        http.request("POST", "/faults", R"({"drop_after":0})", {"Content-Type: application/json"});
    EXPECT_EQ(drop.status, 200);
    ASSERT_TRUE(got.wait([](auto& g) { return g.bound == 0; }, 10s));
    ASSERT_TRUE(got.wait([](auto& g) { return g.bound == 1; }, 10s));  // and it reconnects
    c.stop();
    sim.signal(SIGTERM);
    EXPECT_EQ(sim.wait(10s), 0);
    EXPECT_TRUE(sim.wait_for_output("SMSC simulator stopped after 11 submit_sm", 1s))
        << sim.output();
}

TEST(smsc_sim_command, bad_arguments_exit_2_with_the_reason) {
    struct bad {
        std::vector<std::string> args;
        std::string says;
    };
    for (const auto& b : std::vector<bad>{
             {{"--port", "70000"}, "--port: must be between 0 and 65535"},
             {{"--latency", "soon"}, "--latency: expected a duration"},
             {{"--outcomes", "delivered=lots"}, "--outcomes: weight of delivered must be a number"},
             {{"--outcomes", "lost=1"}, "unknown outcome \"lost\""},
             {{"--outcomes", "delivered=0"}, "at least one weight"},
             {{"--rule", "+1555"}, "must be PREFIX=OUTCOME"},
             {{"--rule", "1x=delivered"}, "must be digits"},
             {{"--receipt-ids", "octal"}, "must be same, upper, decimal or hex"},
             {{"--receipt-form", "xml"}, "must be both, text or tlv"},
             {{"--throttle-ratio", "2"}, "must be between 0 and 1"},
             {{"--listen", "not-an-ip"}, "not an IP address"},
             {{"--log-level", "loud"}, "--log-level"},
         }) {
        std::vector<std::string> args = {"smsc-sim"};
        if (b.args[0] != "--port") args.insert(args.end(), {"--port", "0"});
        args.insert(args.end(), b.args.begin(), b.args.end());
        auto r = test::run_herald(args);
        EXPECT_EQ(r.exit_code, 2) << b.args[0] << ": " << r.output;
        EXPECT_NE(r.output.find(b.says), std::string::npos) << r.output;
    }
}

}  // namespace
}  // namespace herald::smpp
