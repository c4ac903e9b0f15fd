#pragma once
/// A transaction that must be committed explicitly; destroying it uncommitted rolls back.

#include <utility>

#include "db/connection.hpp"

namespace herald::db {

enum class isolation { read_committed, repeatable_read, serializable };

class transaction {
  public:
    /// Starts a transaction on `conn`, which must outlive it.
    static result<transaction> begin(connection& conn, isolation level = isolation::read_committed);

    transaction(transaction&& o) noexcept : conn_(std::exchange(o.conn_, nullptr)) {}
    transaction& operator=(transaction&&) = delete;
    ~transaction();

    result<rows> exec(std::string_view sql) { return conn_->exec(sql); }
    result<rows> exec(std::string_view sql, const params& args) { return conn_->exec(sql, args); }
    result<rows> exec_prepared(std::string_view sql, const params& args) {
        return conn_->exec_prepared(sql, args);
    }
    connection& conn() noexcept { return *conn_; }

    /// Commits. After a failed commit the transaction is over (rolled back by the server).
    result<void> commit();
    /// Rolls back now instead of at destruction.
    void rollback() noexcept;

  private:
    explicit transaction(connection& c) : conn_(&c) {}
    connection* conn_;
};

}  // namespace herald::db
