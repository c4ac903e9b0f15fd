#pragma once
/// A throwaway PostgreSQL cluster for a test binary, and fresh databases for each test.
///
/// The cluster starts on first use (initdb in a temporary folder, fsync off), holds a
/// template database with every migration applied, and is stopped and deleted when the
/// binary exits. Each call to fresh_database() clones the template, so tests never share
/// state.

#include <string>

#include "db/connection.hpp"
#include "db/embedded.hpp"

namespace herald::test {

class pg {
  public:
    /// The process-wide test cluster (started on first call).
    static pg& instance();

    /// A new database with the current schema; returns its connection string.
    std::string fresh_database();
    /// A new empty database (no migrations), for migration tests.
    std::string empty_database();
    /// Connection string for an existing database of the cluster.
    std::string conninfo(const std::string& database) const;
    /// An open connection to `conninfo`; aborts the test binary on failure.
    static db::connection connect(const std::string& conninfo);

    db::embedded_cluster& cluster() { return *cluster_; }
    const std::string& root() const { return root_; }

    ~pg();

  private:
    pg();
    std::string create_database(const char* prefix, const char* template_name);
    std::string root_;
    std::optional<db::embedded_cluster> cluster_;
    int counter_ = 0;
};

/// A unique temporary folder for a test, removed at exit.
std::string temp_dir(const std::string& prefix);

}  // namespace herald::test
