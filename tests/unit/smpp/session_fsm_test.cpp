// The session state machine driven by scripted bytes and a fake clock: no sockets.

#include "smpp/session_fsm.hpp"

#include <gtest/gtest.h>

#include "support/smpp_builders.hpp"

namespace herald::smpp {
namespace {

using namespace std::chrono_literals;

/// A session under test plus a helper peer view of what it wrote.
struct harness {
    steady_time now{};
    session_fsm fsm;

    explicit harness(session_options o) : fsm(std::move(o), now) {}

    /// Decodes everything the session wrote since last time.
    std::vector<message> written() {
        std::vector<message> out;
        std::string bytes = fsm.take_output();
        std::size_t pos = 0;
        while (pos < bytes.size()) {
            auto f = find_frame(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()) + pos,
                                          bytes.size() - pos));
            EXPECT_EQ(f.kind, frame::complete);
            if (f.kind != frame::complete) break;
            auto m = decode(std::string_view(bytes).substr(pos, f.length));
            EXPECT_TRUE(m);
            out.push_back(*m);
            pos += f.length;
        }
        return out;
    }
    std::vector<session_event> events() {
        std::vector<session_event> out;
        while (auto e = fsm.next_event()) out.push_back(std::move(*e));
        return out;
    }
    void receive(const message& m) { fsm.feed(encode(m), now); }
    void advance(std::chrono::milliseconds d) {
        now += d;
        fsm.tick(now);
    }
};

session_options esme(std::uint32_t window = 3) {
    session_options o;
    o.role = role::esme;
    o.window = window;
    o.response_timeout = 1000ms;
    o.enquire_link_interval = 5000ms;
    o.bind_timeout = 2000ms;
    return o;
}

/// The first event of type T, copied (events() returns a temporary).
template <class T>
std::optional<T> first(const std::vector<session_event>& evs) {
    for (auto& e : evs)
        if (auto* p = std::get_if<T>(&e)) return *p;
    return std::nullopt;
}

/// An ESME that has completed a transceiver bind.
harness bound_esme(std::uint32_t window = 3) {
    harness h(esme(window));
    h.fsm.bind(bind_mode::transceiver, {"sys", "pw", "", 0, 0, ""}, h.now);
    auto sent = h.written();
    EXPECT_EQ(sent.size(), 1u);
    h.receive({status::ok, sent[0].sequence_number, bind_transceiver_resp{"smsc", {}}});
    auto evs = h.events();
    EXPECT_TRUE(first<event::bound>(evs));
    return h;
}

TEST(session_fsm, esme_binds) {
    harness h(esme());
    EXPECT_FALSE(h.fsm.can_send());
    h.fsm.bind(bind_mode::transceiver, {"sys", "pw", "VMA", 1, 1, ""}, h.now);
    EXPECT_EQ(h.fsm.state(), session_state::binding);
    auto sent = h.written();
    ASSERT_EQ(sent.size(), 1u);
    auto& b = std::get<bind_transceiver>(sent[0].body);
    EXPECT_EQ(b.system_id, "sys");
    EXPECT_EQ(b.password, "pw");
    h.receive({status::ok, sent[0].sequence_number, bind_transceiver_resp{"smsc", {}}});
    auto evs = h.events();
    auto bound = first<event::bound>(evs);
    ASSERT_TRUE(bound);
    EXPECT_EQ(bound->system_id, "smsc");
    EXPECT_EQ(h.fsm.state(), session_state::bound);
    EXPECT_TRUE(h.fsm.can_send());
}

TEST(session_fsm, refused_bind_closes) {
    harness h(esme());
    h.fsm.bind(bind_mode::transmitter, {"sys", "bad", "", 0, 0, ""}, h.now);
    auto seq = h.written()[0].sequence_number;
    h.receive({status::invalid_password, seq, bind_transmitter_resp{}});
    auto evs = h.events();
    auto failed = first<event::bind_failed>(evs);
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->command_status, status::invalid_password);
    EXPECT_TRUE(first<event::closed>(evs));
    EXPECT_EQ(h.fsm.state(), session_state::closed);
}

TEST(session_fsm, bind_times_out) {
    harness h(esme());
    h.fsm.bind(bind_mode::transceiver, {"sys", "pw", "", 0, 0, ""}, h.now);
    h.written();
    h.advance(1999ms);
    EXPECT_EQ(h.fsm.state(), session_state::binding);
    h.advance(2ms);
    auto evs = h.events();
    EXPECT_TRUE(first<event::bind_failed>(evs));
    EXPECT_EQ(h.fsm.state(), session_state::closed);
}

TEST(session_fsm, window_limits_outstanding_requests_and_matches_by_sequence) {
    auto h = bound_esme(3);
    std::vector<std::uint32_t> seqs;
    for (std::uint64_t t = 1; t <= 3; ++t) {
        ASSERT_TRUE(h.fsm.can_send());
        seqs.push_back(h.fsm.send(test::sample_submit(), t * 100, h.now));
    }
    EXPECT_FALSE(h.fsm.can_send());  // window of 3 is full: back-pressure
    EXPECT_EQ(h.fsm.in_flight(), 3u);
    EXPECT_EQ(h.written().size(), 3u);
    // Answers out of order still reach the right request.
    h.receive({status::ok, seqs[1], submit_sm_resp{"id-b"}});
    auto evs = h.events();
    auto r = first<event::response>(evs);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->token, 200u);
    EXPECT_EQ(std::get<submit_sm_resp>(r->msg.body).message_id, "id-b");
    EXPECT_TRUE(h.fsm.can_send());
    EXPECT_EQ(h.fsm.in_flight(), 2u);
}

TEST(session_fsm, expired_requests_complete_as_timeouts) {
    auto h = bound_esme();
    h.fsm.send(test::sample_submit(), 1, h.now);
    h.advance(500ms);
    auto s2 = h.fsm.send(test::sample_submit(), 2, h.now);
    h.advance(501ms);  // the first is 1001 ms old
    auto evs = h.events();
    ASSERT_EQ(evs.size(), 1u);
    auto* f = std::get_if<event::failed>(&evs[0]);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->token, 1u);
    EXPECT_TRUE(f->timed_out);
    // A late answer to the expired one is ignored; the second still completes.
    h.receive({status::ok, s2, submit_sm_resp{"x"}});
    EXPECT_TRUE(first<event::response>(h.events()));
    EXPECT_EQ(h.fsm.in_flight(), 0u);
    EXPECT_EQ(h.fsm.state(), session_state::bound);
}

TEST(session_fsm, answers_enquire_link_by_itself) {
    auto h = bound_esme();
    h.written();
    h.receive({status::ok, 77, enquire_link{}});
    auto out = h.written();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<enquire_link_resp>(out[0].body));
    EXPECT_EQ(out[0].sequence_number, 77u);
    EXPECT_TRUE(h.events().empty());
}

TEST(session_fsm, sends_enquire_link_when_idle_and_closes_a_dead_link) {
    auto h = bound_esme();
    h.written();
    h.advance(4999ms);
    EXPECT_TRUE(h.written().empty());
    h.advance(1ms);
    auto out = h.written();
    ASSERT_EQ(out.size(), 1u);
    ASSERT_TRUE(std::holds_alternative<enquire_link>(out[0].body));
    // Answered: the link is fine and the timer restarts from the last received PDU.
    h.receive({status::ok, out[0].sequence_number, enquire_link_resp{}});
    EXPECT_TRUE(h.events().empty());
    h.advance(4000ms);
    EXPECT_TRUE(h.written().empty());
    h.advance(1000ms);
    out = h.written();
    ASSERT_EQ(out.size(), 1u);
    // Not answered: the session closes after the response timeout.
    h.advance(1001ms);
    auto evs = h.events();
    auto closed = first<event::closed>(evs);
    ASSERT_TRUE(closed);
    EXPECT_NE(closed->reason.find("enquire_link"), std::string::npos);
}

TEST(session_fsm, traffic_from_the_peer_keeps_the_link_alive) {
    auto h = bound_esme();
    for (int i = 0; i < 10; ++i) {
        h.advance(3000ms);
        h.receive({status::ok, std::uint32_t(100 + i), enquire_link{}});
    }
    for (auto& m : h.written()) EXPECT_FALSE(std::holds_alternative<enquire_link>(m.body));
}

TEST(session_fsm, malformed_pdu_gets_generic_nack_and_the_session_goes_on) {
    auto h = bound_esme();
    h.written();
    // deliver_sm whose source_addr never terminates within 21 octets.
    std::string bad =
        test::from_hex("00000000 00000005 00000000 0000002a 00 01 01") + std::string(30, '5');
    bad += std::string(20, '\0');
    auto n = std::uint32_t(bad.size());
    bad[0] = char(n >> 24), bad[1] = char(n >> 16), bad[2] = char(n >> 8), bad[3] = char(n);
    h.fsm.feed(bad, h.now);
    auto out = h.written();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<generic_nack>(out[0].body));
    EXPECT_EQ(out[0].command_status, status::invalid_source);
    EXPECT_EQ(out[0].sequence_number, 42u);
    EXPECT_TRUE(first<event::protocol_error>(h.events()));
    EXPECT_EQ(h.fsm.state(), session_state::bound);
    // The next good PDU is handled normally.
    deliver_sm d;
    d.source_addr = "14155550123";
    d.short_message = "STOP";
    h.receive({status::ok, 43, d});
    auto evs = h.events();
    auto req = first<event::request>(evs);
    ASSERT_TRUE(req);
    EXPECT_EQ(std::get<deliver_sm>(req->msg.body).short_message, "STOP");
}

TEST(session_fsm, unknown_command_gets_generic_nack) {
    auto h = bound_esme();
    h.written();
    h.fsm.feed(test::from_hex("00000010 00000099 00000000 00000005"), h.now);
    auto out = h.written();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].command_status, status::invalid_cmd_id);
    EXPECT_EQ(out[0].sequence_number, 5u);
    EXPECT_EQ(h.fsm.state(), session_state::bound);
}

TEST(session_fsm, bytes_split_anywhere_reassemble) {
    auto h = bound_esme();
    h.written();
    std::string two = encode({0, 10, enquire_link{}}) + encode({0, 11, enquire_link{}});
    for (char c : two) h.fsm.feed(std::string_view(&c, 1), h.now);
    auto out = h.written();
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[1].sequence_number, 11u);
}

TEST(session_fsm, impossible_length_loses_framing_and_closes) {
    auto h = bound_esme();
    h.fsm.send(test::sample_submit(), 9, h.now);
    h.written();
    h.fsm.feed(test::from_hex("ffffffff 00000004 00000000 00000001"), h.now);
    auto out = h.written();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].command_status, status::invalid_cmd_length);
    auto evs = h.events();
    auto failed = first<event::failed>(evs);
    ASSERT_TRUE(failed);  // the outstanding request is reported, not lost
    EXPECT_EQ(failed->token, 9u);
    EXPECT_FALSE(failed->timed_out);
    EXPECT_TRUE(first<event::closed>(evs));
}

TEST(session_fsm, transport_loss_fails_every_outstanding_request) {
    auto h = bound_esme(5);
    for (std::uint64_t t = 1; t <= 4; ++t) h.fsm.send(test::sample_submit(), t, h.now);
    h.fsm.transport_closed("reset by peer");
    auto evs = h.events();
    std::set<std::uint64_t> failed;
    for (auto& e : evs)
        if (auto* f = std::get_if<event::failed>(&e)) failed.insert(f->token);
    EXPECT_EQ(failed, (std::set<std::uint64_t>{1, 2, 3, 4}));
    EXPECT_EQ(h.fsm.in_flight(), 0u);
    EXPECT_FALSE(h.fsm.can_send());
}

TEST(session_fsm, clean_unbind_both_ways) {
    auto h = bound_esme();
    h.written();
    h.fsm.unbind(h.now);
    auto out = h.written();
    ASSERT_EQ(out.size(), 1u);
    ASSERT_TRUE(std::holds_alternative<unbind>(out[0].body));
    EXPECT_FALSE(h.fsm.can_send());
    h.receive({status::ok, out[0].sequence_number, unbind_resp{}});
    auto closed = first<event::closed>(h.events());
    ASSERT_TRUE(closed);
    EXPECT_TRUE(closed->clean);

    auto p = bound_esme();
    p.written();
    p.receive({status::ok, 50, unbind{}});
    out = p.written();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<unbind_resp>(out[0].body));
    EXPECT_EQ(p.fsm.state(), session_state::closed);
}

TEST(session_fsm, requests_in_the_wrong_bind_state_are_refused) {
    harness h(esme());
    deliver_sm d;
    h.receive({status::ok, 3, d});  // not bound yet
    auto out = h.written();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].command_status, status::invalid_bind_status);
    EXPECT_TRUE(std::holds_alternative<deliver_sm_resp>(out[0].body));

    // A transmitter-only ESME receives no deliver_sm either.
    harness tx(esme());
    tx.fsm.bind(bind_mode::transmitter, {"s", "p", "", 0, 0, ""}, tx.now);
    tx.receive({status::ok, tx.written()[0].sequence_number, bind_transmitter_resp{"smsc", {}}});
    tx.events();
    tx.receive({status::ok, 4, d});
    out = tx.written();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].command_status, status::invalid_bind_status);
}

TEST(session_fsm, smsc_accepts_or_rejects_binds) {
    session_options o;
    o.role = role::smsc;
    o.bind_timeout = 1000ms;
    harness h(o);
    bind_transceiver b;
    b.system_id = "client";
    b.password = "pw";
    h.receive({status::ok, 1, b});
    auto evs = h.events();
    auto req = first<event::request>(evs);
    ASSERT_TRUE(req);
    h.fsm.reject_bind(req->msg, status::invalid_password);
    auto out = h.written();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].command_status, status::invalid_password);
    EXPECT_EQ(h.fsm.state(), session_state::open);
    // A second attempt succeeds.
    h.receive({status::ok, 2, b});
    req = first<event::request>(evs = h.events());
    ASSERT_TRUE(req);
    h.fsm.accept_bind(req->msg, "herald");
    out = h.written();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(std::get<bind_transceiver_resp>(out[0].body).system_id, "herald");
    auto bound = first<event::bound>(h.events());
    ASSERT_TRUE(bound);
    EXPECT_EQ(bound->system_id, "client");
    // Binding again is refused, and submits now reach the application.
    h.receive({status::ok, 3, b});
    EXPECT_EQ(h.written()[0].command_status, status::already_bound);
    h.receive({status::ok, 4, test::sample_submit()});
    EXPECT_TRUE(first<event::request>(h.events()));
}

TEST(session_fsm, smsc_closes_a_connection_that_never_binds) {
    session_options o;
    o.role = role::smsc;
    o.bind_timeout = 1000ms;
    harness h(o);
    h.advance(999ms);
    EXPECT_NE(h.fsm.state(), session_state::closed);
    h.advance(1ms);
    EXPECT_EQ(h.fsm.state(), session_state::closed);
}

TEST(session_fsm, sequence_numbers_wrap_before_the_sign_bit) {
    auto h = bound_esme(1);
    std::uint32_t last = 0;
    for (int i = 0; i < 3; ++i) {
        last = h.fsm.send(test::sample_submit(), 1, h.now);
        h.receive({status::ok, last, submit_sm_resp{"x"}});
        h.events();
        EXPECT_GT(last, 0u);
        EXPECT_LE(last, 0x7FFFFFFFu);
    }
}

}  // namespace
}  // namespace herald::smpp
