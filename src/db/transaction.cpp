#include "db/transaction.hpp"

#include "db/errc.hpp"

namespace herald::db {

result<transaction> transaction::begin(connection& conn, isolation level) {
    const char* sql = level == isolation::serializable ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
                      : level == isolation::repeatable_read
                          ? "BEGIN ISOLATION LEVEL REPEATABLE READ"
                          : "BEGIN";
    if (auto r = conn.exec(sql); !r) return std::unexpected(r.error());
    return transaction(conn);
}

transaction::~transaction() {
    rollback();
}

result<void> transaction::commit() {
    connection* c = std::exchange(conn_, nullptr);
    if (!c) return {};
    auto r = c->exec("COMMIT");
    if (!r) return std::unexpected(r.error());
    // COMMIT of a transaction that already failed answers "ROLLBACK", not an error.
    if (r->command_status() == "ROLLBACK")
        return fail(errc::query_failed, "the transaction failed earlier and was rolled back");
    return {};
}

void transaction::rollback() noexcept {
    if (connection* c = std::exchange(conn_, nullptr); c && c->is_ok()) (void)c->exec("ROLLBACK");
}

}  // namespace herald::db
