#include "smpp/codec.hpp"

#include <random>
#include <set>

#include <gtest/gtest.h>

#include "support/smpp_builders.hpp"

namespace herald::smpp {
namespace {

using test::from_hex;
using test::to_hex;

TEST(codec, every_pdu_round_trips) {
    auto samples = test::sample_messages();
    ASSERT_EQ(samples.size(), 22u);
    std::set<std::uint32_t> ids;
    for (const auto& m : samples) {
        ids.insert(command_id_of(m.body));
        std::string wire = encode(m);
        ASSERT_FALSE(wire.empty()) << command_name(command_id_of(m.body));
        auto back = decode(wire);
        ASSERT_TRUE(back) << command_name(command_id_of(m.body)) << ": " << back.error().what;
        EXPECT_EQ(*back, m) << command_name(command_id_of(m.body));
        // Byte-exact: encoding the decoded value gives the same bytes.
        EXPECT_EQ(encode(*back), wire);
        auto f =
            find_frame(std::span(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size()));
        EXPECT_EQ(f.kind, frame::complete);
        EXPECT_EQ(f.length, wire.size());
    }
    EXPECT_EQ(ids.size(), std::variant_size_v<pdu>);  // every alternative covered
}

TEST(codec, known_bytes_of_enquire_link_and_submit_sm) {
    EXPECT_EQ(to_hex(encode({0, 7, enquire_link{}})), "00000010000000150000000000000007");
    submit_sm s;
    s.destination_addr = "1";
    s.short_message = "A";
    // 16 header + 1+1+1+1 (service, ton, npi, src) + 1+1+2 (ton npi dst) + 3 + 2 times + 4 + 1 len
    // + 1 msg
    EXPECT_EQ(to_hex(encode({0, 1, s})),
              "00000023000000040000000000000001"
              "00"
              "00"
              "00"
              "00"
              "00"
              "00"
              "3100"
              "00"
              "00"
              "00"
              "00"
              "00"
              "00"
              "00"
              "00"
              "00"
              "01"
              "41");
}

TEST(codec, decodes_a_capture_from_another_implementation) {
    // bind_transceiver "test"/"pwd", interface 0x34, as node-smpp writes it.
    auto wire = from_hex("0000001e00000009000000000000000174657374007077640000340000 00");
    auto m = decode(wire);
    ASSERT_TRUE(m) << m.error().what;
    auto* b = std::get_if<bind_transceiver>(&m->body);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->system_id, "test");
    EXPECT_EQ(b->password, "pwd");
    EXPECT_EQ(b->interface_version, 0x34);
}

TEST(codec, unknown_tlvs_survive_in_order) {
    submit_sm s = test::sample_submit();
    s.tlvs.items = {
        {0x3001, "a"}, {tag::user_message_reference, std::string("\x00\x07", 2)}, {0x3000, ""}};
    auto back = decode(encode({0, 1, s}));
    ASSERT_TRUE(back);
    EXPECT_EQ(std::get<submit_sm>(back->body).tlvs, s.tlvs);
    EXPECT_EQ(std::get<submit_sm>(back->body).tlvs.u16(tag::user_message_reference), 7);
}

TEST(codec, encode_refuses_fields_over_their_limits) {
    std::string why;
    std::string out = "keep";
    submit_sm s = test::sample_submit();
    s.short_message = std::string(255, 'x');
    EXPECT_FALSE(encode({0, 1, s}, out, &why));
    EXPECT_EQ(out, "keep");  // nothing appended
    EXPECT_NE(why.find("254"), std::string::npos);
    s = test::sample_submit(std::string(21, '1'));
    EXPECT_FALSE(encode({0, 1, s}, out, &why));
    EXPECT_NE(why.find("destination_addr"), std::string::npos);
    bind_transceiver b;
    b.password = "123456789";  // 9 characters; the limit is 8
    EXPECT_FALSE(encode({0, 1, b}, out, &why));
    s = test::sample_submit();
    s.validity_period = "tomorrow";
    EXPECT_FALSE(encode({0, 1, s}, out, &why));
    EXPECT_TRUE(encode({0, 1, test::sample_submit()}).size() > 16);
}

std::string wire_of(const message& m) {
    return encode(m);
}

void set_length(std::string& w) {
    auto n = std::uint32_t(w.size());
    w[0] = char(n >> 24), w[1] = char(n >> 16), w[2] = char(n >> 8), w[3] = char(n);
}

TEST(codec, truncated_input_is_an_error_never_a_crash) {
    for (const auto& m : test::sample_messages()) {
        std::string w = wire_of(m);
        for (std::size_t n = 0; n < w.size(); ++n) {
            std::string cut = w.substr(0, n);
            if (cut.size() >= 4) set_length(cut);  // consistent length, body cut short
            auto r = decode(cut);
            if (r) {
                // Cutting optional parameters off or a whole error body can still be valid;
                // it must then re-encode to exactly what was decoded.
                EXPECT_EQ(encode(*r), cut)
                    << command_name(command_id_of(m.body)) << " cut at " << n;
            } else {
                EXPECT_FALSE(r.error().what.empty());
                EXPECT_NE(r.error().command_status, status::ok);
            }
        }
    }
}

TEST(codec, specific_malformations_map_to_specific_statuses) {
    auto status_of = [](const std::string& w) {
        auto r = decode(w);
        return r ? status::ok : r.error().command_status;
    };
    // Unknown command id.
    EXPECT_EQ(status_of(from_hex("00000010 000000ff 00000000 00000009")), status::invalid_cmd_id);
    auto unknown = decode(from_hex("00000010 000000ff 00000000 00000009"));
    EXPECT_EQ(unknown.error().sequence_number, 9u);
    // command_length disagreeing with the bytes.
    EXPECT_EQ(status_of(from_hex("00000020 00000015 00000000 00000001")),
              status::invalid_cmd_length);
    // enquire_link with a body.
    EXPECT_EQ(status_of(from_hex("00000011 00000015 00000000 00000001 00")),
              status::invalid_cmd_length);
    // system_id without its NUL within 16 octets.
    std::string bind = from_hex("00000000 00000009 00000000 00000001") + std::string(20, 'a')
                       + std::string(4, '\0');
    set_length(bind);
    EXPECT_EQ(status_of(bind), status::invalid_system_id);
    // submit_sm whose destination overflows 21 octets.
    submit_sm s = test::sample_submit();
    std::string w = encode({0, 1, s});
    auto pos = w.find("14155550123");
    w.replace(pos, 11, std::string(30, '9'));
    set_length(w);
    EXPECT_EQ(status_of(w), status::invalid_destination);
    // sm_length pointing beyond the PDU.
    w = encode({0, 1, test::sample_submit("1", "hello")});
    w[w.size() - 6] = char(200);
    EXPECT_EQ(status_of(w), status::invalid_cmd_length);
    // A known TLV with the wrong length.
    s = test::sample_submit();
    s.tlvs.items.push_back({tag::message_state, "xx"});
    EXPECT_EQ(status_of(encode({0, 1, s})), status::invalid_optional_length);
    // A TLV claiming more bytes than remain.
    w = encode({0, 1, test::sample_submit()}) + from_hex("0204 0010 00");
    set_length(w);
    EXPECT_EQ(status_of(w), status::invalid_optional_length);
    // A schedule time that is not 16 characters.
    w = encode({0, 1, test::sample_submit()});
    w.insert(w.find("Herald") + 7 + 2 + 12 + 3, "abc");  // into the empty schedule_delivery_time
    set_length(w);
    EXPECT_EQ(status_of(w), status::invalid_schedule);
}

TEST(codec, frames_out_of_range_are_invalid) {
    codec_options opts;
    opts.max_command_length = 1000;
    auto frame_of = [&](const std::string& w) {
        return find_frame(std::span(reinterpret_cast<const std::uint8_t*>(w.data()), w.size()),
                          opts);
    };
    EXPECT_EQ(frame_of(from_hex("000000")).kind, frame::need_more);
    EXPECT_EQ(frame_of(from_hex("0000000f")).kind, frame::invalid);  // shorter than a header
    EXPECT_EQ(frame_of(from_hex("000003e9")).kind, frame::invalid);  // 1001 > max
    EXPECT_EQ(frame_of(from_hex("7fffffff")).kind, frame::invalid);
    EXPECT_EQ(frame_of(from_hex("00000010 0000")).kind, frame::need_more);
    auto two = encode({0, 1, enquire_link{}}) + encode({0, 2, enquire_link{}});
    auto f = frame_of(two);
    EXPECT_EQ(f.kind, frame::complete);
    EXPECT_EQ(f.length, 16u);
    // decode() refuses oversized PDUs too.
    std::string big = encode({0, 1, test::sample_submit()});
    EXPECT_FALSE(decode(big, codec_options{.max_command_length = 20}));
}

TEST(codec, garbage_never_crashes) {
    std::mt19937 rng(12345);
    for (int i = 0; i < 20000; ++i) {
        std::size_t n = 16 + rng() % 200;
        std::string w(n, '\0');
        for (auto& c : w) c = char(rng());
        set_length(w);
        // Bias towards known command ids so that bodies get exercised.
        static const std::uint32_t ids[] = {0x04,  0x05, 0x09,       0x80000004,
                                            0x103, 0x03, 0x80000003, 0x15};
        std::uint32_t id = ids[rng() % std::size(ids)];
        w[4] = char(id >> 24), w[5] = char(id >> 16), w[6] = char(id >> 8), w[7] = char(id);
        auto r = decode(w);
        if (r) {
            EXPECT_FALSE(encode(*r).empty());
        }
    }
}

TEST(names, commands_and_statuses) {
    EXPECT_EQ(command_name(0x00000004), "submit_sm");
    EXPECT_EQ(command_name(0x12345678), "0x12345678");
    EXPECT_EQ(status_name(0x58), "ESME_RTHROTTLED");
    EXPECT_EQ(status_name(0x14), "ESME_RMSGQFUL");
    EXPECT_EQ(status_name(0x400), "0x00000400");
}

}  // namespace
}  // namespace herald::smpp
