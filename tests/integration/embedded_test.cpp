// The embedded cluster: created on first use, stopped and restarted with its data, adopted
// when a crashed Herald left it running, recovered after PostgreSQL itself crashed, and run
// as the postgres user when Herald is root.

#include "db/embedded.hpp"

#include <filesystem>
#include <fstream>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "core/process.hpp"
#include "db/connection.hpp"
#include "support/pg.hpp"

namespace herald {
namespace {
namespace fs = std::filesystem;

db::embedded_options options(const std::string& dir) {
    return {.data_dir = dir, .settings = {"fsync=off"}, .fast_init = true};
}

int count_rows(const db::embedded_cluster& c) {
    auto conn = test::pg::connect(c.conninfo());
    auto r = conn.exec("SELECT count(*) FROM kept");
    return r ? r->front().get<int>(0) : -1;
}

class embedded : public ::testing::Test {
  protected:
    std::string dir = test::temp_dir("embedded");
    void TearDown() override {
        if (auto c = db::embedded_cluster::locate(options(dir))) (void)c->stop(true);
        fs::remove_all(dir);
    }
};

TEST_F(embedded, start_stop_and_restart_keep_the_data) {
    auto cluster = db::embedded_cluster::locate(options(dir));
    ASSERT_TRUE(cluster) << cluster.error().message;
    EXPECT_EQ(cluster->state(), db::cluster_state::absent);

    auto started = cluster->ensure_running();
    ASSERT_TRUE(started) << started.error().message;
    EXPECT_TRUE(*started);
    EXPECT_EQ(cluster->state(), db::cluster_state::running);
    {
        auto conn = test::pg::connect(cluster->conninfo());
        ASSERT_TRUE(
            conn.exec("CREATE TABLE kept (n int); INSERT INTO kept SELECT generate_series(1, 10)"));
        // Unix socket only: no TCP listener.
        EXPECT_EQ(conn.exec("SHOW listen_addresses")->front().get<std::string>(0), "");
        EXPECT_EQ(conn.exec("SELECT current_database()")->front().get<std::string>(0), "herald");
    }
    EXPECT_TRUE(fs::exists(cluster->socket_dir() / ".s.PGSQL.5432"));
    EXPECT_EQ(cluster->socket_dir(), fs::path(dir) / "run");

    ASSERT_TRUE(cluster->stop());
    EXPECT_EQ(cluster->state(), db::cluster_state::stopped);
    EXPECT_FALSE(db::connection::open({cluster->conninfo(), std::chrono::seconds(2)}));

    auto again = cluster->ensure_running();
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_TRUE(*again);
    EXPECT_EQ(count_rows(*cluster), 10);
}

TEST_F(embedded, runs_as_the_postgres_user_when_root) {
    auto cluster = db::embedded_cluster::locate(options(dir));
    ASSERT_TRUE(cluster);
    ASSERT_TRUE(cluster->ensure_running());
    struct stat st {};
    ASSERT_EQ(stat(cluster->pgdata().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    auto conn = test::pg::connect(cluster->conninfo());
    auto server_pid = conn.backend_pid();
    auto owner = core::run_process({"ps", "-o", "user=", "-p", std::to_string(server_pid)});
    ASSERT_TRUE(owner);
    if (core::running_as_root()) {
        EXPECT_EQ(cluster->run_as(), "postgres");
        EXPECT_EQ(st.st_uid, core::lookup_user("postgres")->uid);
        EXPECT_EQ(owner->output, "postgres\n");
    } else {
        EXPECT_EQ(cluster->run_as(), "");
        EXPECT_EQ(st.st_uid, getuid());
    }
}

TEST_F(embedded, a_cluster_left_running_by_a_crash_is_adopted) {
    {
        auto first = db::embedded_cluster::locate(options(dir));
        ASSERT_TRUE(first->ensure_running());
        auto conn = test::pg::connect(first->conninfo());
        ASSERT_TRUE(conn.exec("CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)"));
        // The process that started it "dies" here without stopping it.
    }
    auto second = db::embedded_cluster::locate(options(dir));
    EXPECT_EQ(second->state(), db::cluster_state::running);
    auto r = second->ensure_running();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_FALSE(*r);  // reused, not started
    EXPECT_EQ(count_rows(*second), 1);
}

TEST_F(embedded, a_crashed_postgres_recovers_without_losing_committed_data) {
    auto cluster = db::embedded_cluster::locate(options(dir));
    ASSERT_TRUE(cluster->ensure_running());
    {
        auto conn = test::pg::connect(cluster->conninfo());
        ASSERT_TRUE(conn.exec(
            "CREATE TABLE kept (n int); INSERT INTO kept SELECT generate_series(1, 500)"));
    }
    ASSERT_TRUE(cluster->stop(/*immediate=*/true));  // no shutdown checkpoint, as in a crash
    auto r = cluster->ensure_running();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(count_rows(*cluster), 500);
    std::ifstream log(cluster->log_file());
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("database system was not properly shut down"), std::string::npos);
}

TEST_F(embedded, refuses_a_non_empty_folder_that_is_not_a_cluster) {
    fs::create_directories(fs::path(dir) / "pgdata");
    std::ofstream(fs::path(dir) / "pgdata" / "precious.txt") << "do not delete";
    auto cluster = db::embedded_cluster::locate(options(dir));
    auto r = cluster->ensure_running();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("is not empty"), std::string::npos) << r.error().message;
    EXPECT_TRUE(fs::exists(fs::path(dir) / "pgdata" / "precious.txt"));
}

TEST_F(embedded, a_long_data_path_moves_the_socket_to_tmp) {
    std::string deep = dir + "/" + std::string(60, 'a') + "/" + std::string(40, 'b');
    auto cluster = db::embedded_cluster::locate(options(deep));
    ASSERT_TRUE(cluster);
    EXPECT_EQ(cluster->socket_dir().parent_path(), fs::path("/tmp"));
    auto r = cluster->ensure_running();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(db::connection::open({cluster->conninfo(), std::chrono::seconds(5)}));
    ASSERT_TRUE(cluster->stop());
    fs::remove_all(cluster->socket_dir());
}

TEST_F(embedded, held_marker_round_trips) {
    auto cluster = db::embedded_cluster::locate(options(dir));
    fs::create_directories(dir);
    EXPECT_FALSE(cluster->held());
    cluster->set_held(true);
    EXPECT_TRUE(cluster->held());
    cluster->set_held(false);
    EXPECT_FALSE(cluster->held());
}

TEST(embedded_locate, reports_a_missing_binary_folder) {
    auto r = db::embedded_cluster::locate({.data_dir = "/tmp/x", .bin_dir = "/nonexistent/bin"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().field, "embedded.bin_dir");
    auto q = db::embedded_cluster::locate({.data_dir = "/tmp/it's"});
    ASSERT_FALSE(q);
}

}  // namespace
}  // namespace herald
