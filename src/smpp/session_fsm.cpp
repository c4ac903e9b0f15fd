#include "smpp/session_fsm.hpp"

#include <algorithm>

namespace herald::smpp {
namespace {

template <class... Fs>
struct overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
overloaded(Fs...) -> overloaded<Fs...>;

bind_mode mode_of(const pdu& p) {
    if (std::holds_alternative<bind_transmitter>(p)
        || std::holds_alternative<bind_transmitter_resp>(p))
        return bind_mode::transmitter;
    if (std::holds_alternative<bind_receiver>(p) || std::holds_alternative<bind_receiver_resp>(p))
        return bind_mode::receiver;
    return bind_mode::transceiver;
}

bool is_bind_request(const pdu& p) {
    return std::holds_alternative<bind_transmitter>(p) || std::holds_alternative<bind_receiver>(p)
           || std::holds_alternative<bind_transceiver>(p);
}

/// The response PDU (empty body) for a request's command id, for error answers.
pdu empty_response_for(std::uint32_t command_id) {
    switch (command_id) {
        case bind_transmitter::command_id:
            return bind_transmitter_resp{};
        case bind_receiver::command_id:
            return bind_receiver_resp{};
        case bind_transceiver::command_id:
            return bind_transceiver_resp{};
        case submit_sm::command_id:
            return submit_sm_resp{};
        case deliver_sm::command_id:
            return deliver_sm_resp{};
        case data_sm::command_id:
            return data_sm_resp{};
        case query_sm::command_id:
            return query_sm_resp{};
        default:
            return generic_nack{};
    }
}

}  // namespace

std::string_view to_string(bind_mode m) noexcept {
    switch (m) {
        case bind_mode::transmitter:
            return "transmitter";
        case bind_mode::receiver:
            return "receiver";
        case bind_mode::transceiver:
            return "transceiver";
    }
    return "?";
}

std::string_view to_string(session_state s) noexcept {
    switch (s) {
        case session_state::open:
            return "open";
        case session_state::binding:
            return "binding";
        case session_state::bound:
            return "bound";
        case session_state::unbinding:
            return "unbinding";
        case session_state::closed:
            return "closed";
    }
    return "?";
}

session_fsm::session_fsm(session_options options, steady_time now)
    : options_(std::move(options)), opened_at_(now), last_received_(now) {
    pending_.reserve(options_.window * 2 + 8);
}

std::span<std::uint8_t> session_fsm::read_buffer(std::size_t at_least) {
    if (in_.size() - in_used_ < at_least) in_.resize(in_used_ + at_least);
    return {reinterpret_cast<std::uint8_t*>(in_.data()) + in_used_, in_.size() - in_used_};
}

void session_fsm::commit_read(std::size_t n, steady_time now) {
    in_used_ += n;
    if (n > 0) last_received_ = now;
    process(now);
}

void session_fsm::feed(std::span<const std::uint8_t> bytes, steady_time now) {
    auto buf = read_buffer(bytes.size());
    std::copy(bytes.begin(), bytes.end(), buf.begin());
    commit_read(bytes.size(), now);
}

void session_fsm::feed(std::string_view bytes, steady_time now) {
    feed(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), now);
}

void session_fsm::process(steady_time now) {
    std::size_t pos = 0;
    while (state_ != session_state::closed) {
        auto view =
            std::span(reinterpret_cast<const std::uint8_t*>(in_.data()) + pos, in_used_ - pos);
        frame f = find_frame(view, options_.codec);
        if (f.kind == frame::need_more) break;
        if (f.kind == frame::invalid) {
            // Without a trustworthy length the stream cannot be resynchronised.
            nack(0, status::invalid_cmd_length);
            events_.push_back(event::protocol_error{
                "command_length " + std::to_string(f.command_length) + " is out of range"});
            close("framing lost: command_length " + std::to_string(f.command_length)
                      + " is out of range",
                  false);
            break;
        }
        auto decoded = decode(view.first(f.length), options_.codec);
        pos += f.length;
        if (decoded) {
            handle(std::move(*decoded), now);
            continue;
        }
        const decode_error& err = decoded.error();
        if (is_response(err.command_id)) {
            // A broken response still answers our request; report it as failed.
            auto it = pending_.find(err.sequence_number);
            if (it != pending_.end()) {
                message m{err.command_status, err.sequence_number, generic_nack{}};
                handle_response(std::move(m));
            }
            events_.push_back(event::protocol_error{err.what});
        } else {
            nack(err.sequence_number, err.command_status);
            events_.push_back(event::protocol_error{err.what});
        }
    }
    // Keep any partial PDU at the front of the buffer.
    if (pos > 0) {
        std::copy(in_.begin() + std::ptrdiff_t(pos), in_.begin() + std::ptrdiff_t(in_used_),
                  in_.begin());
        in_used_ -= pos;
    }
}

void session_fsm::handle(message&& m, steady_time) {
    if (is_response(command_id_of(m.body)))
        handle_response(std::move(m));
    else
        handle_request(std::move(m));
}

bool session_fsm::peer_may_submit() const noexcept {
    return options_.role == role::smsc && state_ == session_state::bound
           && mode_ != bind_mode::receiver;
}

bool session_fsm::peer_may_deliver() const noexcept {
    return options_.role == role::esme && state_ == session_state::bound
           && mode_ != bind_mode::transmitter;
}

void session_fsm::handle_request(message&& m) {
    const std::uint32_t id = command_id_of(m.body);
    if (std::holds_alternative<smpp::enquire_link>(m.body)) {
        write({status::ok, m.sequence_number, enquire_link_resp{}});
        return;
    }
    if (std::holds_alternative<smpp::unbind>(m.body)) {
        write({status::ok, m.sequence_number, unbind_resp{}});
        close("peer unbound", true);
        return;
    }
    if (is_bind_request(m.body)) {
        if (options_.role != role::smsc) {
            write({status::invalid_cmd_id, m.sequence_number, empty_response_for(id)});
        } else if (state_ != session_state::open) {
            write({status::already_bound, m.sequence_number, empty_response_for(id)});
        } else {
            state_ = session_state::binding;
            events_.push_back(event::request{std::move(m)});
        }
        return;
    }
    const bool allowed = std::visit(
        overloaded{[&](const submit_sm&) { return peer_may_submit(); },
                   [&](const query_sm&) { return peer_may_submit(); },
                   [&](const deliver_sm&) { return peer_may_deliver(); },
                   [&](const data_sm&) {
                       return options_.role == role::smsc ? peer_may_submit() : peer_may_deliver();
                   },
                   [&](const outbind&) {
                       return options_.role == role::esme && state_ == session_state::open;
                   },
                   [](const auto&) { return false; }},
        m.body);
    if (!allowed) {
        write({status::invalid_bind_status, m.sequence_number, empty_response_for(id)});
        return;
    }
    events_.push_back(event::request{std::move(m)});
}

void session_fsm::handle_response(message&& m) {
    auto it = pending_.find(m.sequence_number);
    if (it == pending_.end()) {
        events_.push_back(event::protocol_error{"response " + command_name(command_id_of(m.body))
                                                + " to unknown sequence "
                                                + std::to_string(m.sequence_number)});
        return;
    }
    pending p = it->second;
    forget(it);
    switch (p.k) {
        case kind::user:
            --user_in_flight_;
            events_.push_back(event::response{p.token, std::move(m)});
            break;
        case kind::bind_request: {
            if (m.command_status == status::ok && !std::holds_alternative<generic_nack>(m.body)) {
                state_ = session_state::bound;
                std::string sid = std::visit(
                    overloaded{[](const bind_transmitter_resp& r) { return r.system_id; },
                               [](const bind_receiver_resp& r) { return r.system_id; },
                               [](const bind_transceiver_resp& r) { return r.system_id; },
                               [](const auto&) { return std::string(); }},
                    m.body);
                events_.push_back(event::bound{*mode_, std::move(sid)});
            } else {
                events_.push_back(event::bind_failed{
                    m.command_status, "bind refused with " + status_name(m.command_status)});
                close("bind refused with " + status_name(m.command_status), false);
            }
            break;
        }
        case kind::enquire:
            enquire_pending_ = false;
            break;
        case kind::unbind_request:
            close("unbound", true);
            break;
    }
}

void session_fsm::tick(steady_time now) {
    if (state_ == session_state::closed) return;
    while (!deadlines_.empty() && deadlines_.front().first <= now) {
        auto seq = deadlines_.front().second;
        auto it = pending_.find(seq);
        pending p = it->second;
        forget(it);
        switch (p.k) {
            case kind::user:
                --user_in_flight_;
                events_.push_back(
                    event::failed{p.token, seq, true,
                                  "no response within "
                                      + std::to_string(options_.response_timeout.count()) + "ms"});
                break;
            case kind::bind_request:
                events_.push_back(
                    event::bind_failed{status::system_error, "no bind response in time"});
                close("no bind response within " + std::to_string(options_.bind_timeout.count())
                          + "ms",
                      false);
                return;
            case kind::enquire:
                close("the peer stopped answering enquire_link", false);
                return;
            case kind::unbind_request:
                close("no unbind response in time", false);
                return;
        }
    }
    if (options_.role == role::smsc && state_ == session_state::open
        && now - opened_at_ >= options_.bind_timeout) {
        close("no bind within " + std::to_string(options_.bind_timeout.count()) + "ms", false);
        return;
    }
    if (state_ == session_state::bound && options_.enquire_link_interval.count() > 0
        && !enquire_pending_ && now - last_received_ >= options_.enquire_link_interval) {
        enquire_pending_ = true;
        send_internal(smpp::enquire_link{}, kind::enquire, now, options_.response_timeout);
    }
}

steady_time session_fsm::next_deadline() const noexcept {
    steady_time next = steady_time::max();
    if (!deadlines_.empty()) next = deadlines_.front().first;
    if (state_ == session_state::bound && options_.enquire_link_interval.count() > 0
        && !enquire_pending_)
        next = std::min(next, last_received_ + options_.enquire_link_interval);
    if (options_.role == role::smsc && state_ == session_state::open)
        next = std::min(next, opened_at_ + options_.bind_timeout);
    return next;
}

void session_fsm::transport_closed(std::string reason) {
    if (state_ != session_state::closed) close(reason, state_ == session_state::unbinding);
}

void session_fsm::close(std::string reason, bool clean) {
    if (state_ == session_state::closed) return;
    state_ = session_state::closed;
    // Fail what can no longer be answered, oldest first.
    for (auto& [due, seq] : deadlines_) {
        (void)due;
        const pending& p = pending_.at(seq);
        if (p.k == kind::user)
            events_.push_back(event::failed{p.token, seq, false, "session closed: " + reason});
    }
    deadlines_.clear();
    pending_.clear();
    user_in_flight_ = 0;
    events_.push_back(event::closed{std::move(reason), clean});
}

void session_fsm::bind(bind_mode mode, const bind_credentials& c, steady_time now) {
    if (options_.role != role::esme || state_ != session_state::open) return;
    mode_ = mode;
    state_ = session_state::binding;
    auto fill = [&](auto b) {
        b.system_id = c.system_id;
        b.password = c.password;
        b.system_type = c.system_type;
        b.addr_ton = c.addr_ton;
        b.addr_npi = c.addr_npi;
        b.address_range = c.address_range;
        return pdu(std::move(b));
    };
    pdu body = mode == bind_mode::transmitter ? fill(bind_transmitter{})
               : mode == bind_mode::receiver  ? fill(bind_receiver{})
                                              : fill(bind_transceiver{});
    send_internal(std::move(body), kind::bind_request, now, options_.bind_timeout);
}

void session_fsm::accept_bind(const message& request, std::string own_system_id) {
    if (state_ != session_state::binding || options_.role != role::smsc) return;
    mode_ = mode_of(request.body);
    auto resp = [&](auto r) {
        r.system_id = std::move(own_system_id);
        r.tlvs.set_u8(tag::sc_interface_version, 0x34);
        return pdu(std::move(r));
    };
    pdu body = *mode_ == bind_mode::transmitter ? resp(bind_transmitter_resp{})
               : *mode_ == bind_mode::receiver  ? resp(bind_receiver_resp{})
                                                : resp(bind_transceiver_resp{});
    write({status::ok, request.sequence_number, std::move(body)});
    state_ = session_state::bound;
    std::string peer = std::visit(overloaded{[](const bind_transmitter& b) { return b.system_id; },
                                             [](const bind_receiver& b) { return b.system_id; },
                                             [](const bind_transceiver& b) { return b.system_id; },
                                             [](const auto&) { return std::string(); }},
                                  request.body);
    events_.push_back(event::bound{*mode_, std::move(peer)});
}

void session_fsm::reject_bind(const message& request, std::uint32_t command_status) {
    if (state_ != session_state::binding || options_.role != role::smsc) return;
    write(
        {command_status, request.sequence_number, empty_response_for(command_id_of(request.body))});
    state_ = session_state::open;
}

bool session_fsm::can_send() const noexcept {
    return state_ == session_state::bound && user_in_flight_ < options_.window;
}

std::uint32_t session_fsm::next_sequence() noexcept {
    sequence_ = sequence_ >= 0x7FFFFFFF ? 1 : sequence_ + 1;
    return sequence_;
}

std::uint32_t session_fsm::send_internal(pdu body, kind k, steady_time now,
                                         std::chrono::milliseconds timeout) {
    std::uint32_t seq = next_sequence();
    if (!write({status::ok, seq, std::move(body)})) return 0;
    // Deadlines mostly arrive in order; an unbind's shorter one is placed from the back.
    const steady_time due = now + timeout;
    auto pos = deadlines_.end();
    while (pos != deadlines_.begin() && std::prev(pos)->first > due) --pos;
    auto entry = deadlines_.emplace(pos, due, seq);
    pending_[seq] = {0, k, entry};
    return seq;
}

void session_fsm::forget(std::unordered_map<std::uint32_t, pending>::iterator it) {
    deadlines_.erase(it->second.due);
    pending_.erase(it);
}

std::uint32_t session_fsm::send(pdu body, std::uint64_t token, steady_time now) {
    std::uint32_t seq = send_internal(std::move(body), kind::user, now, options_.response_timeout);
    if (seq == 0) {
        events_.push_back(event::failed{token, 0, false, "the request could not be encoded"});
        return 0;
    }
    pending_[seq].token = token;
    ++user_in_flight_;
    return seq;
}

void session_fsm::respond(std::uint32_t sequence, pdu body, std::uint32_t command_status) {
    if (state_ == session_state::closed) return;
    write({command_status, sequence, std::move(body)});
}

void session_fsm::unbind(steady_time now) {
    if (state_ != session_state::bound) {
        if (state_ != session_state::closed) close("closed before bind completed", true);
        return;
    }
    state_ = session_state::unbinding;
    send_internal(smpp::unbind{}, kind::unbind_request, now,
                  std::min(options_.response_timeout, std::chrono::milliseconds(5000)));
}

void session_fsm::nack(std::uint32_t sequence, std::uint32_t command_status) {
    write({command_status, sequence, generic_nack{}});
}

bool session_fsm::write(const message& m) {
    std::string why;
    if (encode(m, out_, &why)) return true;
    // Our own PDU broke a limit: a bug upstream. A response becomes a system error instead.
    events_.push_back(event::protocol_error{"could not encode "
                                            + command_name(command_id_of(m.body)) + ": " + why});
    if (is_response(command_id_of(m.body)))
        encode({status::system_error, m.sequence_number, generic_nack{}}, out_);
    return false;
}

std::string session_fsm::take_output() {
    std::string out;
    out.swap(out_);
    return out;
}

std::optional<session_event> session_fsm::next_event() {
    if (events_.empty()) return std::nullopt;
    session_event e = std::move(events_.front());
    events_.pop_front();
    return e;
}

}  // namespace herald::smpp
