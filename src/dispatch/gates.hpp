#pragma once
/// The time gates applied to each claimed message at the moment of sending: its quiet hours
/// in the recipient's time zones, and its campaign's TPS cap. A message that must wait is
/// deferred to the moment it may go, never dropped.

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/uuid.hpp"
#include "phone/quiet_hours.hpp"
#include "store/messages.hpp"

namespace herald::dispatch {

class send_gates {
  public:
    /// When `m` may not go at `now`: until when, and why. Not thread-safe (one claimer).
    std::optional<store::deferral> check(const store::claimed_message& m, core::time_point now);

    /// A campaign's TPS cap is shared among the live nodes.
    void set_live_nodes(int n) { live_nodes_ = std::max(1, n); }

  private:
    std::optional<store::deferral> quiet(const store::claimed_message& m, core::time_point now);
    std::optional<store::deferral> paced(const core::uuid& campaign, double tps,
                                         core::time_point now);
    const std::vector<std::string>& zones_for(const store::claimed_message& m);

    struct bucket {
        double tokens = 0;
        core::time_point refilled{}, horizon{};
    };
    int live_nodes_ = 1;
    std::map<std::pair<std::string, std::string>, std::optional<phone::quiet_hours>> windows_;
    std::unordered_map<std::string, std::vector<std::string>> zones_;
    std::unordered_map<std::string, bucket> buckets_;  // by campaign id
};

}  // namespace herald::dispatch
