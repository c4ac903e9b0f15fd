// libFuzzer target: arbitrary bytes into the SMPP decoder and into a bound session.
// Properties: nothing crashes or leaks; whatever decodes re-encodes and decodes to the same
// value; a session fed garbage stays consistent (answers, nacks or closes).

#include <cstdint>
#include <cstdlib>
#include <span>

#include "smpp/codec.hpp"
#include "smpp/session_fsm.hpp"

using namespace herald::smpp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::span<const std::uint8_t> bytes(data, size);

    // 1. One PDU: decode, and if it decodes, round-trip it.
    auto decoded = decode(bytes);
    if (decoded) {
        std::string wire;
        if (encode(*decoded, wire)) {
            auto again = decode(wire);
            if (!again || !(*again == *decoded)) std::abort();
        }
    }

    // 2. A stream: feed the bytes to a bound ESME session in two chunks, then tick.
    steady_time now{};
    session_options opts;
    opts.window = 8;
    session_fsm fsm(opts, now);
    fsm.bind(bind_mode::transceiver, {"fuzz", "pw", "", 0, 0, ""}, now);
    (void)fsm.take_output();
    fsm.feed(encode({status::ok, 1, bind_transceiver_resp{"smsc", {}}}), now);
    std::size_t half = size / 2;
    fsm.feed(bytes.first(half), now);
    fsm.feed(bytes.subspan(half), now);
    fsm.tick(now + std::chrono::hours(1));
    while (fsm.next_event()) {
    }
    if (fsm.in_flight() > opts.window) std::abort();
    return 0;
}
