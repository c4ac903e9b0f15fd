#pragma once
/// The SMPP 3.4 wire codec: bytes in, a PDU or an error out. Pure: no I/O, no allocation
/// beyond the result, never throws (fuzzed in tests/fuzz/). Standard library only.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>

#include "smpp/pdu.hpp"

namespace herald::smpp {

inline constexpr std::size_t header_length = 16;

struct codec_options {
    /// Largest command_length accepted; a bigger one is a framing error.
    std::size_t max_command_length = 70'000;
};

/// Where the next PDU in a byte stream ends.
struct frame {
    enum kind_t { need_more, complete, invalid } kind = need_more;
    std::size_t length = 0;  ///< bytes of the PDU when complete
    std::uint32_t command_length = 0;
};

/// Looks at the first header to find the PDU boundary. `invalid` means command_length is
/// below 16 or above the maximum: the stream cannot be resynchronised.
frame find_frame(std::span<const std::uint8_t> bytes, const codec_options& options = {}) noexcept;

/// Why a PDU did not decode, with the command_status to send back in a generic_nack.
struct decode_error {
    std::uint32_t command_status = status::system_error;
    std::uint32_t command_id = 0;       ///< 0 when the header itself was unreadable
    std::uint32_t sequence_number = 0;  ///< 0 when the header itself was unreadable
    std::string what;
};

/// Either a decoded message or why it failed.
class decode_result {
  public:
    decode_result(message m) : v_(std::move(m)) {}
    decode_result(decode_error e) : v_(std::move(e)) {}
    explicit operator bool() const noexcept { return v_.index() == 0; }
    const message& operator*() const { return std::get<0>(v_); }
    message& operator*() { return std::get<0>(v_); }
    const message* operator->() const { return &std::get<0>(v_); }
    const decode_error& error() const { return std::get<1>(v_); }

  private:
    std::variant<message, decode_error> v_;
};

/// Decodes exactly one PDU; `bytes` must span it whole (see find_frame).
decode_result decode(std::span<const std::uint8_t> bytes, const codec_options& options = {});
/// Convenience for tests and tools.
decode_result decode(std::string_view bytes, const codec_options& options = {});

/// Appends the wire form of `m` to `out`. Returns false, appending nothing, when a field
/// breaks its limit (a C-Octet String too long, short_message over 254 octets, ...);
/// `why` then says which.
bool encode(const message& m, std::string& out, std::string* why = nullptr);
/// The wire form of `m`; empty when a field breaks its limit.
std::string encode(const message& m);

}  // namespace herald::smpp
