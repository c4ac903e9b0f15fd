#include "store/statement.hpp"

namespace herald::store {

result<std::vector<result<db::rows>>> run_together(db::connection& c,
                                                   const std::vector<statement>& statements) {
    std::vector<db::connection::queued_statement> q;
    q.reserve(statements.size());
    for (const auto& st : statements) q.push_back({st.sql, &st.args});
    auto rs = c.exec_pipelined(q);
    if (!rs) return std::unexpected(rs.error());
    for (auto& r : *rs)
        if (!r) return std::unexpected(r.error());
    return rs;
}

}  // namespace herald::store
