#include "db/embedded.hpp"

#include <algorithm>
#include <deque>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "core/hash.hpp"
#include "core/process.hpp"
#include "db/connection.hpp"
#include "db/errc.hpp"

namespace herald::db {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view herald_role = "herald";
constexpr int socket_port = 5432;
constexpr std::size_t max_socket_path = 107;  // sun_path is 108 bytes with the terminator

std::string read_first_line(const fs::path& p) {
    std::ifstream in(p);
    std::string line;
    std::getline(in, line);
    return line;
}

bool has_tools(const fs::path& dir) {
    return ::access((dir / "pg_ctl").c_str(), X_OK) == 0
           && ::access((dir / "initdb").c_str(), X_OK) == 0;
}

/// The newest /usr/lib/postgresql/<major>/bin, or the one matching `want_major`.
std::string find_bin_dir(const std::string& want_major) {
    const fs::path root = "/usr/lib/postgresql";
    if (!want_major.empty()) {
        fs::path p = root / want_major / "bin";
        return has_tools(p) ? p.string() : std::string();
    }
    int best = -1;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root, ec)) {
        int major = std::atoi(entry.path().filename().c_str());
        if (major > best && has_tools(entry.path() / "bin")) best = major;
    }
    if (best >= 0) return (root / std::to_string(best) / "bin").string();
    // Other layouts: pg_ctl on PATH.
    if (const char* path = std::getenv("PATH")) {
        std::string dirs = path;
        for (std::size_t s = 0, e; s <= dirs.size(); s = e + 1) {
            e = dirs.find(':', s);
            if (e == std::string::npos) e = dirs.size();
            fs::path d = dirs.substr(s, e - s);
            if (!d.empty() && has_tools(d))
                return fs::canonical(d / "pg_ctl", ec).parent_path().string();
        }
    }
    return {};
}

result<void> make_dir(const fs::path& p, mode_t mode, const std::string& owner) {
    std::error_code ec;
    fs::create_directories(p, ec);
    if (ec) return fail(errc::embedded_failed, "cannot create " + p.string() + ": " + ec.message());
    if (::chmod(p.c_str(), mode) != 0)
        return fail(errc::embedded_failed, "cannot set permissions on " + p.string());
    if (!owner.empty()) {
        auto ids = core::lookup_user(owner);
        if (!ids || ::chown(p.c_str(), ids->uid, ids->gid) != 0)
            return fail(errc::embedded_failed, "cannot give " + p.string() + " to user " + owner);
    }
    return {};
}

std::string quote_conninfo(const std::string& v) {
    std::string out = "'";
    for (char c : v) {
        if (c == '\'' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    return out + "'";
}

}  // namespace

std::string_view to_string(cluster_state s) noexcept {
    switch (s) {
        case cluster_state::absent:
            return "absent";
        case cluster_state::stopped:
            return "stopped";
        case cluster_state::running:
            return "running";
    }
    return "unknown";
}

result<embedded_cluster> embedded_cluster::locate(embedded_options options) {
    embedded_cluster c;
    std::error_code ec;
    options.data_dir = fs::absolute(options.data_dir, ec).lexically_normal();
    if (ec)
        return fail(errc::embedded_failed, "cannot resolve data folder: " + ec.message(),
                    "data_dir");
    std::string dir = options.data_dir.string();
    if (dir.size() > 1 && dir.back() == '/') options.data_dir = dir.substr(0, dir.size() - 1);
    if (options.data_dir.string().find('\'') != std::string::npos)
        return fail(errc::embedded_failed, "the data folder path must not contain a quote (')",
                    "data_dir");

    std::string major = read_first_line(options.data_dir / "pgdata" / "PG_VERSION");
    if (!options.bin_dir.empty()) {
        if (!has_tools(options.bin_dir))
            return fail(errc::embedded_failed,
                        "embedded.bin_dir " + options.bin_dir + " has no pg_ctl and initdb",
                        "embedded.bin_dir");
        c.bin_dir_ = options.bin_dir;
    } else {
        c.bin_dir_ = find_bin_dir(major);
        if (c.bin_dir_.empty())
            return fail(
                errc::embedded_failed,
                major.empty()
                    ? "PostgreSQL server programs not found. Install them (apt-get install "
                      "postgresql) or set embedded.bin_dir, or point database.url at a server"
                    : "the cluster in " + (options.data_dir / "pgdata").string()
                          + " needs PostgreSQL " + major + ", which is not installed",
                "embedded.bin_dir");
    }

    if (core::running_as_root()) {
        if (!core::lookup_user(options.os_user))
            return fail(errc::embedded_failed,
                        "Herald runs as root, so the embedded cluster runs as system user \""
                            + options.os_user + "\", which does not exist (set embedded.os_user)",
                        "embedded.os_user");
        c.run_as_ = options.os_user;
    }

    fs::path sock = options.data_dir / "run";
    if ((sock / (".s.PGSQL." + std::to_string(socket_port))).string().size() > max_socket_path)
        sock = fs::path("/tmp")
               / ("herald-" + core::sha256_hex(options.data_dir.string()).substr(0, 16));
    c.socket_dir_ = sock;
    c.options_ = std::move(options);
    return c;
}

cluster_state embedded_cluster::state() const {
    if (!fs::exists(pgdata() / "PG_VERSION")) return cluster_state::absent;
    auto r =
        core::run_process({tool("pg_ctl"), "status", "-D", pgdata().string()},
                          {.as_user = run_as_, .cwd = "/", .timeout = std::chrono::seconds(30)});
    return r && r->exit_code == 0 ? cluster_state::running : cluster_state::stopped;
}

result<void> embedded_cluster::prepare_dirs() const {
    std::error_code ec;
    fs::create_directories(data_dir(), ec);
    if (ec)
        return fail(errc::embedded_failed,
                    "cannot create data folder " + data_dir().string() + ": " + ec.message(),
                    "data_dir");
    if (!run_as_.empty() && !core::user_can_access(run_as_, data_dir(), X_OK))
        return fail(errc::embedded_failed,
                    "the \"" + run_as_ + "\" user cannot reach " + data_dir().string() +
                        " (a parent folder is not searchable by other users). Choose a data "
                        "folder it can reach, such as /var/lib/herald, with --data-dir",
                    "data_dir");
    if (auto r = make_dir(pgdata(), 0700, run_as_); !r) return r;
    if (auto r = make_dir(log_file().parent_path(), 0750, run_as_); !r) return r;
    return make_dir(socket_dir_, 0700, run_as_);
}

result<void> embedded_cluster::initdb() const {
    std::error_code ec;
    if (!fs::is_empty(pgdata(), ec))
        return fail(errc::embedded_failed,
                    pgdata().string() + " is not empty and holds no PostgreSQL cluster; Herald "
                                        "will not touch it. Move it away or choose another --data-dir");
    spdlog::info("creating the embedded PostgreSQL cluster in {}", pgdata().string());
    std::vector<std::string> argv = {
        tool("initdb"), "-D",   pgdata().string(), "-U", std::string(herald_role), "-A", "trust",
        "-E",           "UTF8", "--locale=C.UTF-8"};
    if (options_.fast_init) argv.push_back("--no-sync");
    auto r = core::run_process(
        argv, {.as_user = run_as_, .cwd = data_dir(), .timeout = std::chrono::minutes(5)});
    if (!r) return fail(errc::embedded_failed, r.error().message);
    if (r->exit_code != 0)
        return fail(errc::embedded_failed,
                    "initdb failed (exit " + std::to_string(r->exit_code) + "):\n" + r->output);
    // Settings that hold for every start; the socket folder is passed at start instead, so
    // that a moved data folder keeps working.
    std::ofstream conf(pgdata() / "postgresql.conf", std::ios::app);
    conf << "\n# Added by Herald\n"
            "listen_addresses = ''\n"
            "unix_socket_permissions = 0700\n"
            "max_connections = 300\n"
            "shared_buffers = 256MB\n"
            // A million-contact import writes about 0.7 GB of WAL and a campaign several:
            // checkpoints every few GB, not every 2, halve the full-page images they cost.
            "max_wal_size = 4GB\n"
            "checkpoint_timeout = 15min\n"
            // Without checkpoints nothing prepares WAL files ahead: a commit that needs a new
            // one would write 16 MB of zeros and sync them first (decision 0026).
            "wal_init_zero = off\n"
            // Data pages that backends and autovacuum write out are handed to the disk every
            // 256 kB instead of piling up in the kernel's cache; a large write-back of them
            // held single WAL syncs, and so every commit, up for 100-200 ms (decision 0027).
            "backend_flush_after = 256kB\n"
            // The send queue turns over its whole content during a campaign: look for
            // dead rows every few seconds, not every minute.
            "autovacuum_naptime = 5s\n"
            "log_min_messages = warning\n";
    if (!conf) return fail(errc::embedded_failed, "cannot write postgresql.conf");
    return {};
}

result<void> embedded_cluster::start() const {
    std::string opts = "-k '" + socket_dir_.string() + "' -p " + std::to_string(socket_port);
    for (const auto& s : options_.settings) opts += " -c " + s;
    auto r = core::run_process(
        {tool("pg_ctl"), "start", "-D", pgdata().string(), "-l", log_file().string(), "-w", "-t",
         "120", "-o", opts},
        {.as_user = run_as_, .cwd = data_dir(), .timeout = std::chrono::minutes(3)});
    if (!r) return fail(errc::embedded_failed, r.error().message);
    if (r->exit_code != 0)
        return fail(errc::embedded_failed, "the embedded PostgreSQL did not start. Last lines of "
                                               + log_file().string() + ":\n" + log_tail(20));
    spdlog::info("embedded PostgreSQL is up (socket in {})", socket_dir_.string());
    return {};
}

result<void> embedded_cluster::create_database() const {
    auto conn = connection::open({conninfo("postgres"), std::chrono::seconds(10)});
    if (!conn) return std::unexpected(conn.error());
    auto exists = conn->exec("SELECT 1 FROM pg_database WHERE datname = $1", {options_.database});
    if (!exists) return std::unexpected(exists.error());
    if (!exists->empty()) return {};
    auto r = conn->exec("CREATE DATABASE " + conn->quote_identifier(options_.database));
    // Another process may have created it in the meantime; that is fine.
    if (!r && r.error().is(condition::duplicate)) return {};
    if (!r && r.error().message.find("already exists") != std::string::npos) return {};
    if (!r) return std::unexpected(r.error());
    return {};
}

result<bool> embedded_cluster::ensure_running() {
    if (auto r = prepare_dirs(); !r) return std::unexpected(r.error());
    bool started = false;
    switch (state()) {
        case cluster_state::absent:
            if (auto r = initdb(); !r) return std::unexpected(r.error());
            [[fallthrough]];
        case cluster_state::stopped:
            if (auto r = start(); !r) return std::unexpected(r.error());
            started = true;
            break;
        case cluster_state::running:
            spdlog::info("embedded PostgreSQL was already running; using it");
            break;
    }
    if (auto r = create_database(); !r) return std::unexpected(r.error());
    return started;
}

result<void> embedded_cluster::stop(bool immediate) {
    if (state() != cluster_state::running) return {};
    auto r = core::run_process(
        {tool("pg_ctl"), "stop", "-D", pgdata().string(), "-m", immediate ? "immediate" : "fast",
         "-w", "-t", "120"},
        {.as_user = run_as_, .cwd = data_dir(), .timeout = std::chrono::minutes(3)});
    if (!r) return fail(errc::embedded_failed, r.error().message);
    if (r->exit_code != 0) return fail(errc::embedded_failed, "pg_ctl stop failed:\n" + r->output);
    return {};
}

std::string embedded_cluster::conninfo(std::string_view database) const {
    return "host=" + quote_conninfo(socket_dir_.string()) + " port=" + std::to_string(socket_port)
           + " user=" + std::string(herald_role) + " dbname="
           + quote_conninfo(database.empty() ? options_.database : std::string(database));
}

bool embedded_cluster::held() const {
    return fs::exists(data_dir() / "embedded.held");
}

void embedded_cluster::set_held(bool held) const {
    std::error_code ec;
    if (held)
        std::ofstream(data_dir() / "embedded.held") << "started by herald db start\n";
    else
        fs::remove(data_dir() / "embedded.held", ec);
}

std::string embedded_cluster::log_tail(std::size_t lines) const {
    std::ifstream in(log_file());
    std::deque<std::string> tail;
    for (std::string line; std::getline(in, line);) {
        tail.push_back(std::move(line));
        if (tail.size() > lines) tail.pop_front();
    }
    std::string out;
    for (auto& l : tail) out += "  " + l + "\n";
    return out.empty() ? "  (the log is empty)\n" : out;
}

}  // namespace herald::db
