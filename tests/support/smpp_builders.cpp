#include "support/smpp_builders.hpp"

namespace herald::test {
using namespace smpp;

submit_sm sample_submit(std::string to, std::string text) {
    submit_sm s;
    s.source_addr_ton = 5;
    s.source_addr = "Herald";
    s.dest_addr_ton = 1;
    s.dest_addr_npi = 1;
    s.destination_addr = std::move(to);
    s.registered_delivery = 1;
    s.short_message = std::move(text);
    return s;
}

std::vector<message> sample_messages() {
    std::vector<message> out;
    std::uint32_t seq = 1;
    auto add = [&](pdu body, std::uint32_t status = status::ok) {
        out.push_back({status, seq++, std::move(body)});
    };
    auto fill_bind = [](auto b) {
        b.system_id = "herald01";
        b.password = "secret";
        b.system_type = "VMA";
        b.interface_version = 0x34;
        b.addr_ton = 1;
        b.addr_npi = 1;
        b.address_range = "^1415";
        return b;
    };
    add(fill_bind(bind_transmitter{}));
    add(fill_bind(bind_receiver{}));
    add(fill_bind(bind_transceiver{}));
    auto fill_resp = [](auto r) {
        r.system_id = "smsc";
        r.tlvs.set_u8(tag::sc_interface_version, 0x34);
        return r;
    };
    add(fill_resp(bind_transmitter_resp{}));
    add(fill_resp(bind_receiver_resp{}));
    add(fill_resp(bind_transceiver_resp{}));
    add(bind_transceiver_resp{}, status::invalid_password);  // error without a body
    add(outbind{"smsc", "pw"});
    add(unbind{});
    add(unbind_resp{});
    add(enquire_link{});
    add(enquire_link_resp{});
    add(generic_nack{}, status::invalid_cmd_id);

    submit_sm s = sample_submit();
    s.service_type = "CMT";
    s.esm_class = esm::udhi;
    s.protocol_id = 0;
    s.priority_flag = 1;
    s.schedule_delivery_time = "261123101500000+";
    s.validity_period = "000001000000000R";
    s.replace_if_present_flag = 0;
    s.data_coding = coding::ucs2;
    s.short_message = std::string("\x05\x00\x03\x2A\x02\x01\x00H\x00i", 10);
    s.tlvs.set_u16(tag::user_message_reference, 4711);
    s.tlvs.set_u16(tag::source_port, 1);
    s.tlvs.set_u16(tag::destination_port, 2);
    s.tlvs.set_u16(tag::sar_msg_ref_num, 42);
    s.tlvs.set_u8(tag::sar_total_segments, 2);
    s.tlvs.set_u8(tag::sar_segment_seqnum, 1);
    s.tlvs.items.push_back({0x1401, "vendor-specific"});  // unknown: kept as is
    add(s);
    add(submit_sm_resp{"0a1b2c3d"});
    add(submit_sm_resp{}, status::throttled);

    deliver_sm d;
    d.source_addr_ton = 1;
    d.source_addr = "14155550123";
    d.destination_addr = "Herald";
    d.esm_class = esm::delivery_receipt;
    d.short_message =
        "id:0a1b2c3d sub:001 dlvrd:001 submit date:2611231015 done date:2611231016 stat:DELIVRD "
        "err:000 text:hello";
    d.tlvs.set_cstring(tag::receipted_message_id, "0a1b2c3d");
    d.tlvs.set_u8(tag::message_state, 2);
    d.tlvs.set_network_error_code({3, 0});
    add(d);
    add(deliver_sm_resp{});

    data_sm ds;
    ds.service_type = "WAP";
    ds.source_addr_ton = 1;
    ds.source_addr = "14155550123";
    ds.destination_addr = std::string(60, '7');
    ds.esm_class = 0;
    ds.registered_delivery = 1;
    ds.data_coding = coding::latin1;
    ds.tlvs.set(tag::message_payload, std::string(300, 'x'));
    add(ds);
    data_sm_resp dr;
    dr.message_id = "99";
    dr.tlvs.set_u8(tag::message_state, 2);
    add(dr);
    add(query_sm{"0a1b2c3d", 5, 0, "Herald"});
    add(query_sm_resp{"0a1b2c3d", "261123101600000+", 2, 0});
    return out;
}

std::string from_hex(std::string_view hex) {
    std::string out;
    int hi = -1;
    for (char c : hex) {
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (v < 0) continue;
        if (hi < 0)
            hi = v;
        else {
            out.push_back(char(hi * 16 + v));
            hi = -1;
        }
    }
    return out;
}

std::string to_hex(std::string_view bytes) {
    static constexpr char d[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(d[c >> 4]);
        out.push_back(d[c & 15]);
    }
    return out;
}

}  // namespace herald::test
