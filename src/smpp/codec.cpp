#include "smpp/codec.hpp"

#include <type_traits>

namespace herald::smpp {
namespace {

std::uint32_t be32(const std::uint8_t* p) noexcept {
    return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}

/// Reads fields from a PDU body; the first failure sticks and later reads return defaults.
class reader {
  public:
    reader(std::span<const std::uint8_t> body, decode_error& err) : b_(body), err_(err) {}

    bool ok() const noexcept { return ok_; }
    bool at_end() const noexcept { return pos_ == b_.size(); }
    std::size_t remaining() const noexcept { return b_.size() - pos_; }

    std::uint8_t u8(const char* field) {
        if (!need(1, field)) return 0;
        return b_[pos_++];
    }
    std::uint16_t u16(const char* field) {
        if (!need(2, field)) return 0;
        std::uint16_t v = std::uint16_t(b_[pos_] << 8 | b_[pos_ + 1]);
        pos_ += 2;
        return v;
    }
    /// A C-Octet String of at most `max` octets including its NUL.
    std::string cstring(std::size_t max, const char* field, std::uint32_t status_on_error) {
        if (!ok_) return {};
        for (std::size_t i = pos_; i < b_.size() && i - pos_ < max; ++i) {
            if (b_[i] == 0) {
                std::string s(reinterpret_cast<const char*>(b_.data() + pos_), i - pos_);
                pos_ = i + 1;
                return s;
            }
        }
        fail(status_on_error, std::string(field) + " is not a NUL-terminated string of at most "
                                  + std::to_string(max - 1) + " characters");
        return {};
    }
    /// A time field: empty or exactly 16 characters.
    std::string time(const char* field, std::uint32_t status_on_error) {
        std::string s = cstring(17, field, status_on_error);
        if (ok_ && !s.empty() && s.size() != 16)
            fail(status_on_error, std::string(field) + " must be empty or 16 characters");
        return s;
    }
    std::string octets(std::size_t n, const char* field) {
        if (!need(n, field)) return {};
        std::string s(reinterpret_cast<const char*>(b_.data() + pos_), n);
        pos_ += n;
        return s;
    }
    tlv_list tlvs() {
        tlv_list out;
        while (ok_ && !at_end()) {
            if (remaining() < 4) {
                fail(status::invalid_optional_length, "truncated optional parameter header");
                break;
            }
            tlv t;
            t.tag = u16("tag");
            std::uint16_t len = u16("length");
            if (remaining() < len) {
                fail(status::invalid_optional_length,
                     "optional parameter 0x" + hex16(t.tag) + " claims " + std::to_string(len)
                         + " octets but only " + std::to_string(remaining()) + " remain");
                break;
            }
            t.value = octets(len, "value");
            if (!check_known(t)) break;
            out.items.push_back(std::move(t));
        }
        return out;
    }
    void fail(std::uint32_t status, std::string what) {
        if (!ok_) return;
        ok_ = false;
        err_.command_status = status;
        err_.what = std::move(what);
    }
    /// The body must be fully consumed for PDUs without optional parameters.
    void expect_end(const char* pdu_name) {
        if (ok_ && !at_end())
            fail(status::invalid_cmd_length, std::string(pdu_name) + " has "
                                                 + std::to_string(remaining())
                                                 + " unexpected trailing octets");
    }

  private:
    static std::string hex16(std::uint16_t v) {
        static constexpr char d[] = "0123456789abcdef";
        return {d[v >> 12], d[(v >> 8) & 15], d[(v >> 4) & 15], d[v & 15]};
    }
    bool need(std::size_t n, const char* field) {
        if (!ok_) return false;
        if (remaining() < n) {
            fail(status::invalid_cmd_length, std::string("PDU ends inside ") + field);
            return false;
        }
        return true;
    }
    /// Known optional parameters must have their specified sizes.
    bool check_known(const tlv& t) {
        std::size_t want = 0;
        switch (t.tag) {
            case tag::message_state:
            case tag::sar_total_segments:
            case tag::sar_segment_seqnum:
            case tag::sc_interface_version:
                want = 1;
                break;
            case tag::sar_msg_ref_num:
            case tag::user_message_reference:
            case tag::source_port:
            case tag::destination_port:
                want = 2;
                break;
            case tag::network_error_code:
                want = 3;
                break;
            case tag::receipted_message_id:
                if (t.value.empty() || t.value.size() > 65) {
                    fail(status::invalid_optional_length,
                         "receipted_message_id must be 1 to 65 octets");
                    return false;
                }
                return true;
            default:
                return true;
        }
        if (t.value.size() != want) {
            fail(status::invalid_optional_length,
                 "optional parameter 0x" + hex16(t.tag) + " must be " + std::to_string(want)
                     + " octets, got " + std::to_string(t.value.size()));
            return false;
        }
        return true;
    }

    std::span<const std::uint8_t> b_;
    decode_error& err_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

/// Appends fields; the first limit violation sticks.
class writer {
  public:
    explicit writer(std::string& out) : out_(out) {}
    bool ok() const noexcept { return ok_; }
    const std::string& why() const noexcept { return why_; }

    void u8(std::uint8_t v) { out_.push_back(char(v)); }
    void u16(std::uint16_t v) {
        out_.push_back(char(v >> 8));
        out_.push_back(char(v));
    }
    void u32(std::uint32_t v) {
        u16(std::uint16_t(v >> 16));
        u16(std::uint16_t(v));
    }
    void cstring(const std::string& s, std::size_t max, const char* field) {
        if (s.size() + 1 > max || s.find('\0') != std::string::npos)
            return fail(std::string(field) + " is longer than " + std::to_string(max - 1)
                        + " characters");
        out_.append(s);
        out_.push_back('\0');
    }
    void raw(const std::string& s) { out_.append(s); }
    void time(const std::string& s, const char* field) {
        if (!s.empty() && s.size() != 16)
            return fail(std::string(field) + " must be empty or 16 characters");
        cstring(s, 17, field);
    }
    void tlvs(const tlv_list& l) {
        for (const auto& t : l.items) {
            if (t.value.size() > 0xFFFF) return fail("optional parameter value over 65535 octets");
            u16(t.tag);
            u16(std::uint16_t(t.value.size()));
            out_.append(t.value);
        }
    }
    void fail(std::string why) {
        if (!ok_) return;
        ok_ = false;
        why_ = std::move(why);
    }

  private:
    std::string& out_;
    bool ok_ = true;
    std::string why_;
};

// ---- bodies ----

template <std::uint32_t Id>
void read_body(reader& r, basic_bind<Id>& b, std::uint32_t) {
    b.system_id = r.cstring(16, "system_id", status::invalid_system_id);
    b.password = r.cstring(9, "password", status::invalid_password);
    b.system_type = r.cstring(13, "system_type", status::bind_failed);
    b.interface_version = r.u8("interface_version");
    b.addr_ton = r.u8("addr_ton");
    b.addr_npi = r.u8("addr_npi");
    b.address_range = r.cstring(41, "address_range", status::bind_failed);
    r.expect_end("bind");
}
template <std::uint32_t Id>
void write_body(writer& w, const basic_bind<Id>& b) {
    w.cstring(b.system_id, 16, "system_id");
    w.cstring(b.password, 9, "password");
    w.cstring(b.system_type, 13, "system_type");
    w.u8(b.interface_version);
    w.u8(b.addr_ton);
    w.u8(b.addr_npi);
    w.cstring(b.address_range, 41, "address_range");
}

template <std::uint32_t Id>
void read_body(reader& r, basic_bind_resp<Id>& b, std::uint32_t command_status) {
    if (r.at_end() && command_status != status::ok) return;  // errors may omit the body
    b.system_id = r.cstring(16, "system_id", status::invalid_system_id);
    b.tlvs = r.tlvs();
}
template <std::uint32_t Id>
void write_body(writer& w, const basic_bind_resp<Id>& b) {
    w.cstring(b.system_id, 16, "system_id");
    w.tlvs(b.tlvs);
}

void read_body(reader& r, outbind& b, std::uint32_t) {
    b.system_id = r.cstring(16, "system_id", status::invalid_system_id);
    b.password = r.cstring(9, "password", status::invalid_password);
    r.expect_end("outbind");
}
void write_body(writer& w, const outbind& b) {
    w.cstring(b.system_id, 16, "system_id");
    w.cstring(b.password, 9, "password");
}

template <std::uint32_t Id>
void read_body(reader& r, empty_pdu<Id>&, std::uint32_t) {
    r.expect_end("this PDU");
}
template <std::uint32_t Id>
void write_body(writer&, const empty_pdu<Id>&) {}

template <std::uint32_t Id>
void read_body(reader& r, basic_sm<Id>& m, std::uint32_t) {
    m.service_type = r.cstring(6, "service_type", status::system_error);
    m.source_addr_ton = r.u8("source_addr_ton");
    m.source_addr_npi = r.u8("source_addr_npi");
    m.source_addr = r.cstring(21, "source_addr", status::invalid_source);
    m.dest_addr_ton = r.u8("dest_addr_ton");
    m.dest_addr_npi = r.u8("dest_addr_npi");
    m.destination_addr = r.cstring(21, "destination_addr", status::invalid_destination);
    m.esm_class = r.u8("esm_class");
    m.protocol_id = r.u8("protocol_id");
    m.priority_flag = r.u8("priority_flag");
    m.schedule_delivery_time = r.time("schedule_delivery_time", status::invalid_schedule);
    m.validity_period = r.time("validity_period", status::invalid_expiry);
    m.registered_delivery = r.u8("registered_delivery");
    m.replace_if_present_flag = r.u8("replace_if_present_flag");
    m.data_coding = r.u8("data_coding");
    m.sm_default_msg_id = r.u8("sm_default_msg_id");
    std::uint8_t len = r.u8("sm_length");
    if (r.ok() && len > 254) r.fail(status::invalid_msg_length, "sm_length is over 254");
    m.short_message = r.octets(len, "short_message");
    m.tlvs = r.tlvs();
}
template <std::uint32_t Id>
void write_body(writer& w, const basic_sm<Id>& m) {
    w.cstring(m.service_type, 6, "service_type");
    w.u8(m.source_addr_ton);
    w.u8(m.source_addr_npi);
    w.cstring(m.source_addr, 21, "source_addr");
    w.u8(m.dest_addr_ton);
    w.u8(m.dest_addr_npi);
    w.cstring(m.destination_addr, 21, "destination_addr");
    w.u8(m.esm_class);
    w.u8(m.protocol_id);
    w.u8(m.priority_flag);
    w.time(m.schedule_delivery_time, "schedule_delivery_time");
    w.time(m.validity_period, "validity_period");
    w.u8(m.registered_delivery);
    w.u8(m.replace_if_present_flag);
    w.u8(m.data_coding);
    w.u8(m.sm_default_msg_id);
    if (m.short_message.size() > 254) return w.fail("short_message is longer than 254 octets");
    w.u8(std::uint8_t(m.short_message.size()));
    w.raw(m.short_message);
    w.tlvs(m.tlvs);
}

template <std::uint32_t Id>
void read_body(reader& r, basic_sm_resp<Id>& m, std::uint32_t command_status) {
    if (r.at_end() && command_status != status::ok) return;
    m.message_id = r.cstring(65, "message_id", status::invalid_message_id);
    // Some SMSCs append optional parameters to submit_sm_resp; tolerate and drop them.
    (void)r.tlvs();
}
template <std::uint32_t Id>
void write_body(writer& w, const basic_sm_resp<Id>& m) {
    w.cstring(m.message_id, 65, "message_id");
}

void read_body(reader& r, data_sm& m, std::uint32_t) {
    m.service_type = r.cstring(6, "service_type", status::system_error);
    m.source_addr_ton = r.u8("source_addr_ton");
    m.source_addr_npi = r.u8("source_addr_npi");
    m.source_addr = r.cstring(65, "source_addr", status::invalid_source);
    m.dest_addr_ton = r.u8("dest_addr_ton");
    m.dest_addr_npi = r.u8("dest_addr_npi");
    m.destination_addr = r.cstring(65, "destination_addr", status::invalid_destination);
    m.esm_class = r.u8("esm_class");
    m.registered_delivery = r.u8("registered_delivery");
    m.data_coding = r.u8("data_coding");
    m.tlvs = r.tlvs();
}
void write_body(writer& w, const data_sm& m) {
    w.cstring(m.service_type, 6, "service_type");
    w.u8(m.source_addr_ton);
    w.u8(m.source_addr_npi);
    w.cstring(m.source_addr, 65, "source_addr");
    w.u8(m.dest_addr_ton);
    w.u8(m.dest_addr_npi);
    w.cstring(m.destination_addr, 65, "destination_addr");
    w.u8(m.esm_class);
    w.u8(m.registered_delivery);
    w.u8(m.data_coding);
    w.tlvs(m.tlvs);
}

void read_body(reader& r, data_sm_resp& m, std::uint32_t command_status) {
    if (r.at_end() && command_status != status::ok) return;
    m.message_id = r.cstring(65, "message_id", status::invalid_message_id);
    m.tlvs = r.tlvs();
}
void write_body(writer& w, const data_sm_resp& m) {
    w.cstring(m.message_id, 65, "message_id");
    w.tlvs(m.tlvs);
}

void read_body(reader& r, query_sm& m, std::uint32_t) {
    m.message_id = r.cstring(65, "message_id", status::invalid_message_id);
    m.source_addr_ton = r.u8("source_addr_ton");
    m.source_addr_npi = r.u8("source_addr_npi");
    m.source_addr = r.cstring(21, "source_addr", status::invalid_source);
    r.expect_end("query_sm");
}
void write_body(writer& w, const query_sm& m) {
    w.cstring(m.message_id, 65, "message_id");
    w.u8(m.source_addr_ton);
    w.u8(m.source_addr_npi);
    w.cstring(m.source_addr, 21, "source_addr");
}

void read_body(reader& r, query_sm_resp& m, std::uint32_t command_status) {
    if (r.at_end() && command_status != status::ok) return;
    m.message_id = r.cstring(65, "message_id", status::invalid_message_id);
    m.final_date = r.time("final_date", status::system_error);
    m.message_state = r.u8("message_state");
    m.error_code = r.u8("error_code");
    r.expect_end("query_sm_resp");
}
void write_body(writer& w, const query_sm_resp& m) {
    w.cstring(m.message_id, 65, "message_id");
    w.time(m.final_date, "final_date");
    w.u8(m.message_state);
    w.u8(m.error_code);
}

/// Decodes the body of the variant alternative whose command id matches.
template <std::size_t I = 0>
bool decode_body(std::uint32_t id, reader& r, pdu& out, std::uint32_t command_status) {
    if constexpr (I < std::variant_size_v<pdu>) {
        using T = std::variant_alternative_t<I, pdu>;
        if (T::command_id == id) {
            T body;
            read_body(r, body, command_status);
            out = std::move(body);
            return true;
        }
        return decode_body<I + 1>(id, r, out, command_status);
    } else {
        return false;
    }
}

}  // namespace

frame find_frame(std::span<const std::uint8_t> bytes, const codec_options& options) noexcept {
    if (bytes.size() < 4) return {frame::need_more, 0, 0};
    std::uint32_t len = be32(bytes.data());
    if (len < header_length || len > options.max_command_length) return {frame::invalid, 0, len};
    if (bytes.size() < len) return {frame::need_more, 0, len};
    return {frame::complete, len, len};
}

decode_result decode(std::span<const std::uint8_t> bytes, const codec_options& options) {
    decode_error err;
    if (bytes.size() < header_length) {
        err.command_status = status::invalid_cmd_length;
        err.what = "PDU shorter than its 16-octet header";
        return err;
    }
    std::uint32_t len = be32(bytes.data());
    err.command_id = be32(bytes.data() + 4);
    std::uint32_t command_status = be32(bytes.data() + 8);
    err.sequence_number = be32(bytes.data() + 12);
    if (len != bytes.size() || len > options.max_command_length) {
        err.command_status = status::invalid_cmd_length;
        err.what = "command_length " + std::to_string(len) + " does not match the "
                   + std::to_string(bytes.size()) + " octets received";
        return err;
    }
    message m;
    m.command_status = command_status;
    m.sequence_number = err.sequence_number;
    reader r(bytes.subspan(header_length), err);
    if (!decode_body(err.command_id, r, m.body, command_status)) {
        err.command_status = status::invalid_cmd_id;
        err.what = "unknown command_id " + command_name(err.command_id);
        return err;
    }
    if (!r.ok()) {
        err.what = command_name(err.command_id) + ": " + err.what;
        return err;
    }
    return m;
}

decode_result decode(std::string_view bytes, const codec_options& options) {
    return decode(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()),
                  options);
}

bool encode(const message& m, std::string& out, std::string* why) {
    const std::size_t start = out.size();
    writer w(out);
    w.u32(0);  // command_length, patched below
    w.u32(command_id_of(m.body));
    w.u32(m.command_status);
    w.u32(m.sequence_number);
    std::visit(
        [&](const auto& body) {
            // An error response with nothing to say goes without a body, as peers expect.
            using T = std::decay_t<decltype(body)>;
            if (is_response(T::command_id) && m.command_status != status::ok && body == T{}) return;
            write_body(w, body);
        },
        m.body);
    if (!w.ok()) {
        out.resize(start);
        if (why) *why = w.why();
        return false;
    }
    std::uint32_t len = std::uint32_t(out.size() - start);
    out[start] = char(len >> 24);
    out[start + 1] = char(len >> 16);
    out[start + 2] = char(len >> 8);
    out[start + 3] = char(len);
    return true;
}

std::string encode(const message& m) {
    std::string out;
    encode(m, out);
    return out;
}

}  // namespace herald::smpp
