#include "store/maintenance.hpp"

#include <spdlog/spdlog.h>

namespace herald::store {

result<int> ensure_partitions(db::connection& conn, std::chrono::system_clock::time_point now,
                              int months_ahead) {
    auto r = conn.exec("SELECT herald_ensure_delivery_log_partitions($1::timestamptz::date, $2)",
                       {now, months_ahead + 1});
    if (!r) return std::unexpected(r.error());
    int created = r->front().get<int>(0);
    if (created > 0) spdlog::info("created {} delivery-log partition(s)", created);
    return created;
}

}  // namespace herald::store
