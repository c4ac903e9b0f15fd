#pragma once
/// The send fence: an advisory lock that orders opt-outs against claims. Every claim
/// transaction holds it shared; adding an opt-out takes it exclusively before committing.
/// So a claim either finished before the opt-out committed (and its messages are in flight,
/// which the opt-out then waits for) or starts after it and sees the opt-out.

#include <cstdint>

namespace herald::store {

inline constexpr std::int64_t send_fence_key = 0x4845'5241'4c44'0001;  // "HERALD" 1

}  // namespace herald::store
