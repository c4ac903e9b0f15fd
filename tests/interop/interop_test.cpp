// SMPP interop with an independent implementation: node-smpp (npm "smpp").

#include <condition_variable>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/process.hpp"
#include "smpp/client.hpp"
#include "smpp/codec.hpp"
#include "smpp/engine.hpp"
#include "smpp/simulator.hpp"
#include "support/api_server.hpp"
#include "support/background.hpp"
#include "support/pg.hpp"
#include "support/smpp_builders.hpp"

namespace herald::smpp {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

std::string script(const std::string& name) {
    return std::string(HERALD_SOURCE_DIR) + "/tests/interop/" + name;
}

std::vector<json> json_lines(const std::string& text) {
    std::vector<json> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        auto j = json::parse(line, nullptr, false);
        if (!j.is_discarded()) out.push_back(std::move(j));
    }
    return out;
}

TEST(interop, herald_client_against_a_node_smpp_server) {
    test::background_process node({"node", script("smpp_server.js")});
    ASSERT_TRUE(node.wait_for_output("listening", 20s)) << node.output();
    auto port = json_lines(node.output()).front()["port"].get<int>();

    engine eng;
    std::mutex m;
    std::condition_variable cv;
    std::vector<submit_result> results;
    std::vector<delivery_report> receipts;
    std::vector<inbound_message> inbound;
    client_handlers h;
    h.on_receipt = [&](delivery_report&& r, ack_fn ack) {
        std::lock_guard l(m);
        receipts.push_back(std::move(r));
        ack(true);
        cv.notify_all();
    };
    h.on_inbound = [&](inbound_message&& in, ack_fn ack) {
        std::lock_guard l(m);
        inbound.push_back(std::move(in));
        ack(true);
        cv.notify_all();
    };
    client_config cfg;
    cfg.port = std::uint16_t(port);
    cfg.system_id = "interop";
    cfg.password = "pw";
    cfg.reconnect_min = 100ms;
    client c(eng, cfg, h);
    c.start();
    auto done = [&](submit_result&& r) {
        std::lock_guard l(m);
        results.push_back(std::move(r));
        cv.notify_all();
    };
    const std::string gsm = "Hello €uro [x]", ucs2 = "Привет 😀", long_text(200, 'a');
    ASSERT_TRUE(c.submit({"Herald", "+14155550001", gsm, true, "", std::nullopt}, done));
    ASSERT_TRUE(c.submit({"Herald", "+14155550002", ucs2, true, "", std::nullopt}, done));
    ASSERT_TRUE(c.submit({"Herald", "+14155550003", long_text, true, "", std::nullopt}, done));
    {
        std::unique_lock l(m);
        ASSERT_TRUE(cv.wait_for(l, 20s, [&] {
            return results.size() == 3 && receipts.size() == 4 && inbound.size() == 1;
        })) << node.output();
    }
    for (auto& r : results) EXPECT_EQ(r.outcome, submit_outcome::accepted) << r.error;

    // Receipts in both forms, each matched to its submit.
    std::set<std::string> ids, receipted;
    for (auto& r : results)
        for (auto& id : r.message_ids) ids.insert(id);
    for (auto& r : receipts) receipted.insert(r.id_key);
    EXPECT_EQ(ids, receipted);
    int text_form = 0, tlv_form = 0;
    for (auto& r : receipts) {
        if (r.receipt.outcome == receipt_outcome::delivered) ++text_form;   // text: stat:DELIVRD
        if (r.receipt.outcome == receipt_outcome::undelivered) ++tlv_form;  // TLV: message_state 5
    }
    EXPECT_EQ(text_form, 2);
    EXPECT_EQ(tlv_form, 2);

    // The inbound message arrived as UTF-8.
    EXPECT_EQ(inbound[0].text, "СТОП 😀");
    EXPECT_EQ(inbound[0].from, "+14155550123");

    // The bytes node-smpp saw.
    std::vector<json> submits;
    for (auto& j : json_lines(node.output()))
        if (j["event"] == "pdu" && j["command"] == "submit_sm") submits.push_back(j);
    ASSERT_EQ(submits.size(), 4u);
    auto peer_saw = [](const json& j) {
        auto pdu = decode(test::from_hex(j["raw"].get<std::string>()));
        EXPECT_TRUE(pdu);
        return std::get<submit_sm>(pdu->body);
    };
    auto one = peer_saw(submits[0]);
    EXPECT_EQ(one.data_coding, 0);
    EXPECT_EQ(test::to_hex(one.short_message),
              "48656c6c6f201b6575726f201b3c781b3e");  // GSM 03.38, escapes for € [ ]
    EXPECT_EQ(one.destination_addr, "14155550001");
    EXPECT_EQ(one.dest_addr_ton, 1);
    EXPECT_EQ(one.registered_delivery, 1);
    EXPECT_EQ(submits[0]["text"], gsm);  // node-smpp's own GSM decoder agrees
    auto two = peer_saw(submits[1]);
    EXPECT_EQ(two.data_coding, 8);
    EXPECT_EQ(test::to_hex(two.short_message),
              "041f044004380432043504420020d83dde00");  // UCS-2 BE, surrogates
    EXPECT_EQ(submits[1]["text"], ucs2);
    auto p1 = peer_saw(submits[2]), p2 = peer_saw(submits[3]);
    EXPECT_EQ(p1.esm_class & 0x40, 0x40);
    // UDH: length 5, IEI 0 (concatenation, 8-bit reference), IE length 3, ref, total 2, seq.
    EXPECT_EQ(test::to_hex(p1.short_message.substr(0, 3)), "050003");
    EXPECT_EQ(p1.short_message[4], 2);
    EXPECT_EQ(p1.short_message[5], 1);
    EXPECT_EQ(p2.short_message[5], 2);
    EXPECT_EQ(p1.short_message[3], p2.short_message[3]);  // same reference
    EXPECT_EQ(p1.short_message.size() - 6, 153u);
    EXPECT_EQ(p2.short_message.size() - 6, 47u);
    EXPECT_EQ(p1.short_message.substr(6) + p2.short_message.substr(6), long_text);
    c.stop();
}

/// Makes the node-smpp SMSC on `port` the server's only connector, routes every +1 number
/// to it, and (unless told not to) waits until it is bound.
bool route_everything_to(test::api_server& s, int port, bool wait_for_bind = true) {
    const auto& admin = s.admin();
    if (s.call("POST", "/v1/admin/connectors", admin,
               {{"name", "node"},
                {"host", "127.0.0.1"},
                {"port", port},
                {"system_id", "interop"},
                {"password", "pw"},
                {"binds", 1},
                {"window", 16}})
                .status
            != 201
        || s.call("PUT", "/v1/admin/routes/%2B1", admin, {{"connectors", {"node"}}}).status != 200)
        return false;
    for (int i = 0; i < 200 && wait_for_bind; ++i) {
        auto health = s.call("GET", "/v1/admin/connectors", admin).body["data"][0]["health"];
        if (!health.is_null() && health["bound"] == true) return true;
        std::this_thread::sleep_for(50ms);
    }
    return !wait_for_bind;
}

/// A tenant with 100 credits and the default sender ID "Acme".
test::tenant_account tenant_with_sender(test::api_server& s, const std::string& name) {
    auto t = s.make_tenant(name, 100);
    s.call("PUT", "/v1/admin/tenants/" + t.id + "/sender-ids/Acme", s.admin(),
           {{"is_default", true}});
    return t;
}

// Until a connector exists, everything goes to the built-in simulator. A message sent just
// after the first connector is added, before this node has read it or bound to it, must wait
// for that connector rather than be "delivered" by the simulator.
TEST(interop, a_message_sent_as_the_first_connector_is_added_waits_for_it) {
    test::background_process node({"node", script("smpp_server.js")});
    ASSERT_TRUE(node.wait_for_output("listening", 20s)) << node.output();
    const int port = json_lines(node.output()).front()["port"].get<int>();
    test::api_server s;
    auto t = tenant_with_sender(s, "first");
    ASSERT_TRUE(route_everything_to(s, port, /*wait_for_bind=*/false));
    auto r = s.call("POST", "/v1/messages", t.token, {{"to", "+14155550400"}, {"body", "hi"}});
    ASSERT_EQ(r.status, 202) << r.raw;
    const std::string id = r.body["id"];
    std::string status;
    for (int k = 0; k < 300; ++k) {
        status = s.call("GET", "/v1/messages/" + id, t.token).body["status"];
        if (status == "delivered" || status == "undelivered") break;
        std::this_thread::sleep_for(50ms);
    }
    // node-smpp answers its first submit with a receipt saying undeliverable; the simulator
    // would have said delivered.
    EXPECT_EQ(status, "undelivered");
    int submits = 0;
    for (const auto& j : json_lines(node.output()))
        submits += j["event"] == "pdu" && j["command"] == "submit_sm";
    EXPECT_EQ(submits, 1) << node.output();
}

// A careless SMSC (node-smpp in "hostile" mode) answers with message ids that are not UTF-8
// and with receipts whose err: field is longer than its column. Herald stores what it can of
// them, every message reaches its final status, and dispatch goes on: one such answer must
// never stop the writer that persists everyone's outcomes and receipts.
TEST(interop, a_careless_smsc_cannot_stall_dispatch_with_what_it_answers) {
    test::background_process node({"node", script("smpp_server.js"), "hostile"});
    ASSERT_TRUE(node.wait_for_output("listening", 20s)) << node.output();
    const int port = json_lines(node.output()).front()["port"].get<int>();
    test::api_server s;
    ASSERT_TRUE(route_everything_to(s, port)) << node.output();
    auto t = tenant_with_sender(s, "careless");
    std::vector<std::string> ids;
    for (int i = 0; i < 6; ++i) {
        auto r = s.call("POST", "/v1/messages", t.token,
                        {{"to", "+1415555020" + std::to_string(i)}, {"body", "hello"}});
        ASSERT_EQ(r.status, 202) << r.raw;
        ids.push_back(r.body["id"]);
    }
    std::vector<json> final(ids.size());
    for (int k = 0; k < 600; ++k) {
        int done = 0;
        for (std::size_t i = 0; i < ids.size(); ++i) {
            final[i] = s.call("GET", "/v1/messages/" + ids[i], t.token).body;
            done += final[i]["status"] == "undelivered";
        }
        if (done == int(ids.size())) break;
        std::this_thread::sleep_for(50ms);
    }
    int long_errors = 0;
    for (const auto& m : final) {
        EXPECT_EQ(m["status"], "undelivered") << m.dump() << "\n" << s.process().output();
        if (m["error_code"].is_string()) {
            const std::string code = m["error_code"];
            EXPECT_LE(code.size(), 50u) << code;
            long_errors += code.starts_with("EEEE");
        }
    }
    EXPECT_EQ(long_errors, 3) << "the err: fields, cut to their column";
}

// Should an outcome still be impossible to store (here a trigger refuses one SMSC message id
// for real), the writer stores the rest one at a time and sets that one aside, instead of
// retrying the whole batch forever while every other outcome and receipt waits behind it.
TEST(interop, an_outcome_that_cannot_be_stored_is_set_aside_and_the_rest_go_on) {
    test::background_process node({"node", script("smpp_server.js")});
    ASSERT_TRUE(node.wait_for_output("listening", 20s)) << node.output();
    const int port = json_lines(node.output()).front()["port"].get<int>();
    test::api_server s;
    {
        auto db = test::pg::connect(s.database());
        ASSERT_TRUE(db.exec(R"(
            CREATE FUNCTION refuse_nd3() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.external_message_id = 'nd3' THEN RAISE EXCEPTION 'nd3 is refused'; END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_nd3 BEFORE INSERT ON sms_message_parts
              FOR EACH ROW EXECUTE FUNCTION refuse_nd3())"));
    }
    ASSERT_TRUE(route_everything_to(s, port)) << node.output();
    auto t = tenant_with_sender(s, "setaside");
    // One at a time, so that the third submit is the one the SMSC calls nd3.
    std::vector<std::string> ids;
    auto status_of = [&](const std::string& id) {
        return s.call("GET", "/v1/messages/" + id, t.token).body["status"].get<std::string>();
    };
    for (int i = 0; i < 6; ++i) {
        auto r = s.call("POST", "/v1/messages", t.token,
                        {{"to", "+1415555030" + std::to_string(i)}, {"body", "hello"}});
        ASSERT_EQ(r.status, 202) << r.raw;
        ids.push_back(r.body["id"]);
        // Handed to the dispatcher as it is accepted, it goes from queued to sent (decision
        // 0021); the one set aside stays queued.
        const auto set_aside = [&] {
            return s.process().output().find("is set aside") != std::string::npos;
        };
        for (int k = 0; k < 200 && status_of(ids.back()) == "queued" && !(i == 2 && set_aside());
             ++k)
            std::this_thread::sleep_for(20ms);
    }
    std::vector<std::string> final(ids.size());
    for (int k = 0; k < 300; ++k) {
        int done = 0;
        for (std::size_t i = 0; i < ids.size(); ++i) {
            final[i] = status_of(ids[i]);
            done += final[i] == "delivered" || final[i] == "undelivered";
        }
        if (done == 5) break;
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(final[2], "queued") << "set aside until its lease ends";
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i == 2) continue;
        EXPECT_TRUE(final[i] == "delivered" || final[i] == "undelivered") << final[i];
    }
    EXPECT_NE(s.process().output().find("cannot be stored and is set aside"), std::string::npos)
        << s.process().output();
}

TEST(interop, node_smpp_client_against_the_simulator) {
    engine eng;
    simulator_config cfg;
    cfg.system_id = "node";
    cfg.password = "nodepw";
    cfg.receipt_latency = 20ms;
    simulator sim(eng, cfg);
    ASSERT_TRUE(sim.start());
    auto run = core::run_process({"node", script("smpp_client.js"), std::to_string(sim.port())},
                                 {.timeout = std::chrono::seconds(60)});
    ASSERT_TRUE(run);
    ASSERT_EQ(run->exit_code, 0) << run->output;
    auto lines = json_lines(run->output);
    ASSERT_EQ(lines.size(), 1u) << run->output;
    auto& out = lines[0];
    ASSERT_EQ(out["submitted"].size(), 3u) << run->output;
    std::set<std::string> ids;
    for (auto& s : out["submitted"]) {
        EXPECT_EQ(s["status"], 0);
        ids.insert(s["message_id"].get<std::string>());
    }
    EXPECT_EQ(ids.size(), 3u);
    ASSERT_EQ(out["receipts"].size(), 3u);
    for (auto& r : out["receipts"]) {
        EXPECT_EQ(r["esm_class"], 4);
        EXPECT_EQ(r["message_state"], 2);
        std::string id = r["receipted_message_id"];
        EXPECT_TRUE(ids.contains(id)) << id;
        std::string text = r["text"];
        EXPECT_NE(text.find("id:" + id), std::string::npos) << text;
        EXPECT_NE(text.find("stat:DELIVRD"), std::string::npos) << text;
    }
    auto st = sim.stats();
    EXPECT_EQ(st.submits, 3u);
    // The client may close as soon as it has the third receipt, before its answer to it
    // reaches the simulator: that receipt then still counts as pending.
    EXPECT_EQ(st.receipts_sent + st.receipts_pending, 3u);
    EXPECT_GE(st.receipts_sent, 2u);
}

TEST(interop, the_simulator_refuses_wrong_credentials_from_node) {
    engine eng;
    simulator_config cfg;
    cfg.system_id = "someone-else";
    cfg.password = "x";
    simulator sim(eng, cfg);
    ASSERT_TRUE(sim.start());
    auto run = core::run_process({"node", script("smpp_client.js"), std::to_string(sim.port())},
                                 {.timeout = std::chrono::seconds(60)});
    ASSERT_TRUE(run);
    EXPECT_EQ(run->exit_code, 4) << run->output;  // bind failed
    EXPECT_NE(run->output.find("bind failed 15"), std::string::npos)
        << run->output;  // ESME_RINVSYSID
}

}  // namespace
}  // namespace herald::smpp
