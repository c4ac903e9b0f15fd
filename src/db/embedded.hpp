#pragma once
/// The embedded PostgreSQL cluster: Herald's default database when no URL is configured.
///
/// It lives in `<data_dir>/pgdata`, uses the machine's PostgreSQL binaries, listens only on a
/// Unix socket (no TCP port to clash), and runs as the `postgres` system user when Herald runs
/// as root. It is created on first use and reused after; a cluster left running by a crash is
/// adopted, and one left stopped uncleanly recovers through PostgreSQL's own crash recovery.
/// Herald never deletes or re-initialises an existing data folder.

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace herald::db {

struct embedded_options {
    std::filesystem::path data_dir = "var";
    /// Folder with initdb/pg_ctl/postgres; empty finds them (/usr/lib/postgresql/<v>/bin).
    std::string bin_dir;
    /// System user that owns and runs the cluster when Herald runs as root.
    std::string os_user = "postgres";
    /// Database created for Herald inside the cluster.
    std::string database = "herald";
    /// Extra server settings ("fsync=off"), passed at every start.
    std::vector<std::string> settings;
    /// Skip fsync in initdb. Only for throwaway test clusters.
    bool fast_init = false;
};

enum class cluster_state { absent, stopped, running };

std::string_view to_string(cluster_state s) noexcept;

class embedded_cluster {
  public:
    /// Resolves paths and binaries; touches nothing on disk.
    static result<embedded_cluster> locate(embedded_options options);

    /// Whether the cluster exists and whether its server is up.
    cluster_state state() const;

    /// Creates the cluster if absent, starts it if stopped, and makes sure Herald's database
    /// exists. Returns true when this call started the server (false when it was running).
    result<bool> ensure_running();

    /// Stops the server (fast shutdown: sessions are closed, work is rolled back, data is
    /// safe). `immediate` skips the shutdown checkpoint, as a crash would.
    result<void> stop(bool immediate = false);

    /// libpq connection string for a database of the cluster (Herald's by default).
    std::string conninfo(std::string_view database = {}) const;

    /// "Held" clusters were started by `herald db start` and stay up when `serve` exits.
    bool held() const;
    void set_held(bool held) const;

    const std::filesystem::path& data_dir() const noexcept { return options_.data_dir; }
    std::filesystem::path pgdata() const { return options_.data_dir / "pgdata"; }
    std::filesystem::path log_file() const { return options_.data_dir / "log" / "postgresql.log"; }
    const std::filesystem::path& socket_dir() const noexcept { return socket_dir_; }
    const std::string& bin_dir() const noexcept { return bin_dir_; }
    /// The system user running the server ("" when it runs as the current user).
    const std::string& run_as() const noexcept { return run_as_; }

  private:
    embedded_cluster() = default;
    result<void> prepare_dirs() const;
    result<void> initdb() const;
    result<void> start() const;
    result<void> create_database() const;
    std::string log_tail(std::size_t lines) const;
    std::string tool(std::string_view name) const { return bin_dir_ + "/" + std::string(name); }

    embedded_options options_;
    std::string bin_dir_;
    std::string run_as_;
    std::filesystem::path socket_dir_;
};

}  // namespace herald::db
