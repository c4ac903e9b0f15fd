#pragma once
/// Sample PDUs for SMPP tests: every type, with every field set to something non-default.

#include <string>
#include <vector>

#include "smpp/pdu.hpp"

namespace herald::test {

/// One fully populated instance of every PDU type Herald knows.
std::vector<smpp::message> sample_messages();

/// A submit_sm to `to` with GSM text.
smpp::submit_sm sample_submit(std::string to = "14155550123", std::string text = "hello");

/// Raw bytes from a hex string ("00 00 00 10 ..."; spaces ignored).
std::string from_hex(std::string_view hex);
/// Hex of bytes, for failure messages.
std::string to_hex(std::string_view bytes);

}  // namespace herald::test
