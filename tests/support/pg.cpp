#include "support/pg.hpp"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <unistd.h>

#include "db/migrate.hpp"

namespace herald::test {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void die(const std::string& what) {
    std::cerr << "test PostgreSQL: " << what << std::endl;
    std::abort();
}

std::mutex& mutex() {
    static std::mutex m;
    return m;
}

/// Folders made by temp_dir(), removed when the test binary exits.
struct temp_registry {
    std::mutex m;
    std::vector<fs::path> paths;
    ~temp_registry() {
        std::error_code ec;
        for (auto& p : paths) fs::remove_all(p, ec);
    }
};

temp_registry& temps() {
    static temp_registry r;
    return r;
}

}  // namespace

std::string temp_dir(const std::string& prefix) {
    static std::atomic<int> n{0};
    fs::path p =
        fs::temp_directory_path()
        / ("herald-" + prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(n++));
    fs::remove_all(p);
    fs::create_directories(p);
    fs::permissions(p, fs::perms::all & ~fs::perms::others_write & ~fs::perms::group_write);
    std::lock_guard lock(temps().m);
    temps().paths.push_back(p);
    return p.string();
}

pg& pg::instance() {
    static pg instance;
    return instance;
}

pg::pg() {
    root_ = temp_dir("pg");
    auto located =
        db::embedded_cluster::locate({.data_dir = root_,
                                      .database = "herald_template",
                                      .settings = {"fsync=off", "synchronous_commit=off",
                                                   "full_page_writes=off", "max_connections=300"},
                                      .fast_init = true});
    if (!located) die(located.error().message);
    cluster_ = std::move(*located);
    if (auto r = cluster_->ensure_running(); !r) die(r.error().message);
    auto conn = connect(cluster_->conninfo());
    auto migrations = db::load_migrations(db::builtin_migrations());
    if (!migrations) die(migrations.error().message);
    if (auto r = db::migrate(conn, *migrations); !r) die(r.error().message);
}

pg::~pg() {
    if (cluster_) (void)cluster_->stop(true);
    std::error_code ec;
    fs::remove_all(root_, ec);
}

std::string pg::create_database(const char* prefix, const char* template_name) {
    std::string name;
    {
        std::lock_guard lock(mutex());
        name = std::string(prefix) + std::to_string(getpid()) + "_" + std::to_string(counter_++);
    }
    auto admin = connect(cluster_->conninfo("postgres"));
    // CREATE DATABASE ... TEMPLATE needs the template to have no other sessions.
    auto r = admin.exec("CREATE DATABASE " + name + " TEMPLATE " + template_name);
    if (!r) die("create database: " + r.error().message);
    return conninfo(name);
}

std::string pg::fresh_database() {
    return create_database("t", "herald_template");
}
std::string pg::empty_database() {
    return create_database("e", "template0");
}

std::string pg::conninfo(const std::string& database) const {
    return cluster_->conninfo(database);
}

db::connection pg::connect(const std::string& conninfo) {
    auto c = db::connection::open({conninfo, std::chrono::seconds(10)});
    if (!c) die(c.error().message);
    return std::move(*c);
}

}  // namespace herald::test
