#pragma once
/// Advisory locks that order Herald's writers.
///
/// The send fence: an advisory lock that orders opt-outs against claims. Every claim
/// transaction holds it shared; adding an opt-out takes it exclusively before committing.
/// So a claim either finished before the opt-out committed (and its messages are in flight,
/// which the opt-out then waits for) or starts after it and sees the opt-out.

#include <cstdint>

namespace herald::store {

inline constexpr std::int64_t send_fence_key = 0x4845'5241'4c44'0001;  // "HERALD" 1

/// The audience fence, per tenant: advisory locks (this class, hashtext of the tenant id)
/// that order contact deletions against campaign expansions, now that the delivery log's
/// recipient_id has no foreign key (decision 0018). An expansion chunk holds it shared (and
/// skips the campaign for now if it cannot); deleting a contact takes it exclusively first.
/// So a chunk either committed before the deletion looks for the contact's messages, or
/// reads the audience after the deletion committed and does not find the contact.
inline constexpr std::int32_t audience_fence_class = 0x4852'0002;

}  // namespace herald::store
