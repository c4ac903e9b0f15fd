#include <poll.h>
#include <thread>

#include <gtest/gtest.h>

#include "db/errc.hpp"
#include "db/migrate.hpp"
#include "support/pg.hpp"

namespace herald {
namespace {

std::vector<db::migration> builtin() {
    return *db::load_migrations(db::builtin_migrations());
}

int applied_count(db::connection& c) {
    return c.exec("SELECT count(*) FROM schema_migrations")->front().get<int>(0);
}

TEST(migrations, apply_from_empty_then_are_idempotent) {
    auto c = test::pg::connect(test::pg::instance().empty_database());
    auto all = builtin();
    auto first = db::migrate(c, all);
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_EQ(first->applied.size(), all.size());
    EXPECT_EQ(first->version, all.back().version);
    EXPECT_EQ(applied_count(c), int(all.size()));
    auto tables = c.exec("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
    EXPECT_GE(tables->front().get<int>(0), 13);

    auto second = db::migrate(c, all);
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_TRUE(second->applied.empty());
    EXPECT_EQ(second->version, all.back().version);
    EXPECT_EQ(applied_count(c), int(all.size()));
}

TEST(migrations, checksums_are_recorded) {
    auto c = test::pg::connect(test::pg::instance().fresh_database());
    auto all = builtin();
    auto rs = c.exec("SELECT file, checksum FROM schema_migrations ORDER BY version");
    ASSERT_EQ(rs->size(), int(all.size()));
    for (int i = 0; i < rs->size(); ++i) {
        EXPECT_EQ((*rs)[i].get<std::string>(0), all[std::size_t(i)].file);
        EXPECT_EQ((*rs)[i].get<std::string>(1), all[std::size_t(i)].checksum);
        EXPECT_EQ(all[std::size_t(i)].checksum.size(), 64u);
    }
}

TEST(migrations, an_edited_applied_migration_is_refused_by_name) {
    auto c = test::pg::connect(test::pg::instance().fresh_database());
    auto all = builtin();
    all.front().sql += "\n-- a later edit\n";
    all.front().checksum = "0000000000000000000000000000000000000000000000000000000000000000";
    auto r = db::migrate(c, all);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, db::errc::migration_modified);
    EXPECT_NE(r.error().message.find(all.front().file), std::string::npos) << r.error().message;

    auto status = db::migration_status(c, all);
    ASSERT_TRUE(status);
    EXPECT_TRUE(status->front().modified);
}

TEST(migrations, the_herald_binary_refuses_an_edited_migration_too) {
    // Same check, through the files loader: a file with the same name and different text.
    std::vector<core::embedded_file> files(db::builtin_migrations().begin(),
                                           db::builtin_migrations().end());
    std::string edited = std::string(files.front().text) + "\nSELECT 1;\n";
    files.front().text = edited;
    auto loaded = db::load_migrations(files);
    ASSERT_TRUE(loaded);
    auto c = test::pg::connect(test::pg::instance().fresh_database());
    auto r = db::migrate(c, *loaded);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("was modified after it was applied"), std::string::npos);
}

TEST(migrations, a_database_newer_than_the_build_is_refused) {
    auto c = test::pg::connect(test::pg::instance().fresh_database());
    ASSERT_TRUE(
        c.exec("INSERT INTO schema_migrations (version, file, checksum) VALUES (9999, "
               "'9999_future.sql', 'x')"));
    auto r = db::migrate(c, builtin());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, db::errc::migration_unknown);
    EXPECT_NE(r.error().message.find("9999_future.sql"), std::string::npos);
}

TEST(migrations, a_failing_migration_changes_nothing_and_is_named) {
    auto c = test::pg::connect(test::pg::instance().fresh_database());
    auto all = builtin();
    db::migration bad{all.back().version + 1, "9000_broken.sql",
                      "CREATE TABLE half_done (id int); SELECT no_such_function();", "abc"};
    all.push_back(bad);
    auto r = db::migrate(c, all);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, db::errc::migration_failed);
    EXPECT_NE(r.error().message.find("9000_broken.sql"), std::string::npos);
    EXPECT_TRUE(c.exec("SELECT to_regclass('half_done') IS NULL")->front().get<bool>(0));
    EXPECT_EQ(applied_count(c), int(all.size()) - 1);
}

TEST(migrations, file_names_are_validated) {
    std::vector<core::embedded_file> files = {{"core.sql", "SELECT 1"}};
    EXPECT_FALSE(db::load_migrations(files));
    files = {{"0001_a.sql", "SELECT 1"}, {"0001_b.sql", "SELECT 2"}};
    auto r = db::load_migrations(files);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("share a version"), std::string::npos);
}

TEST(migrations, concurrent_migrators_serialise_on_the_advisory_lock) {
    std::string url = test::pg::instance().empty_database();
    auto all = builtin();
    std::vector<result<db::migration_report>> results(4, fail(db::errc::query_failed, "not run"));
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
        threads.emplace_back([&, i] {
            auto c = test::pg::connect(url);
            results[std::size_t(i)] = db::migrate(c, all);
        });
    for (auto& t : threads) t.join();
    std::size_t total_applied = 0;
    for (auto& r : results) {
        ASSERT_TRUE(r) << r.error().message;
        total_applied += r->applied.size();
    }
    EXPECT_EQ(total_applied, all.size());  // each migration applied by exactly one of them
    auto c = test::pg::connect(url);
    EXPECT_EQ(applied_count(c), int(all.size()));
}

}  // namespace
}  // namespace herald

namespace herald {
namespace {

// Binary results decode to the same values as text results, for every supported type.
TEST(connection, sessions_run_in_utc_without_jit_and_pools_with_generic_plans) {
    // A generic plan's estimated cost can pass jit_above_cost on a statement that reads a
    // hundred rows, which then compiles at every execution (decision 0017).
    const auto info = test::pg::instance().empty_database();
    auto show = [](db::connection& c, const char* what) {
        return c.exec(std::string("SHOW ") + what)->front().get<std::string>(0);
    };
    auto plain = test::pg::connect(info);
    EXPECT_EQ(show(plain, "jit"), "off");
    EXPECT_EQ(show(plain, "TimeZone"), "UTC");
    EXPECT_EQ(show(plain, "plan_cache_mode"), "auto");
    auto pooled = db::connection::open(
        {.conninfo = info, .timeout = std::chrono::seconds(10), .generic_plans = true});
    ASSERT_TRUE(pooled) << pooled.error().message;
    EXPECT_EQ(show(*pooled, "jit"), "off");
    EXPECT_EQ(show(*pooled, "plan_cache_mode"), "force_generic_plan");
}

TEST(connection, binary_results_agree_with_text_results) {
    auto c = test::pg::connect(test::pg::instance().empty_database());
    const std::string sql =
        "SELECT 'héllo'::text, 'v'::varchar(5), 'ab'::char(3), '{\"k\": [1, \"x\"]}'::jsonb, "
        "'{\"a\":1}'::json, "
        "'0190b6a2-1c3d-7e4f-8a5b-6c7d8e9f0a1b'::uuid, '2026-11-23 "
        "07:30:48.747435+00'::timestamptz, "
        "'1969-07-20 20:17:40.5'::timestamp, (-5)::int2, 2147483647::int4, "
        "(-9007199254740993)::int8, "
        "2.5::float8, true, false, NULL::uuid, NULL::text";
    auto text = c.exec_prepared(sql, {});
    auto bin = c.exec_prepared(sql, {}, true);
    ASSERT_TRUE(text && bin);
    auto t = text->front();
    auto b = bin->front();
    EXPECT_EQ(b.get<std::string>(0), t.get<std::string>(0));
    EXPECT_EQ(b.get<std::string>(1), "v");
    EXPECT_EQ(b.get<std::string>(2), t.get<std::string>(2));
    EXPECT_EQ(b.get<std::string>(3), t.get<std::string>(3));
    EXPECT_EQ(b.get<std::string>(4), t.get<std::string>(4));
    EXPECT_EQ(b.get<core::uuid>(5), t.get<core::uuid>(5));
    EXPECT_EQ(b.get<std::chrono::system_clock::time_point>(6),
              t.get<std::chrono::system_clock::time_point>(6));
    EXPECT_EQ(b.get<std::chrono::system_clock::time_point>(7),
              t.get<std::chrono::system_clock::time_point>(7));
    EXPECT_EQ(b.get<int>(8), -5);
    EXPECT_EQ(b.get<int>(9), 2147483647);
    EXPECT_EQ(b.get<std::int64_t>(10), -9007199254740993);
    EXPECT_EQ(b.get<double>(11), 2.5);
    EXPECT_TRUE(b.get<bool>(12));
    EXPECT_FALSE(b.get<bool>(13));
    EXPECT_EQ(b.get<std::optional<core::uuid>>(14), std::nullopt);
    EXPECT_EQ(b.get<std::optional<std::string>>(15), std::nullopt);
    // A type it does not decode, or a narrowing, is a programming error, said clearly.
    EXPECT_THROW(b.get<std::string>(5), std::logic_error);
    EXPECT_THROW(b.get<int>(10), std::logic_error);
}

/// Sends what is queued and waits until every statement in flight has been answered; the
/// results in the order they came.
std::vector<result<db::rows>> drain(db::connection& c) {
    std::vector<result<db::rows>> got;
    for (;;) {
        auto flushed = c.pipeline_flush();
        if (!flushed) {
            ADD_FAILURE() << flushed.error().message;
            return got;
        }
        if (*flushed) break;
        pollfd p{c.socket(), POLLOUT, 0};
        ::poll(&p, 1, 1000);
    }
    while (c.pipeline_pending() > 0) {
        pollfd p{c.socket(), POLLIN, 0};
        if (::poll(&p, 1, 10'000) <= 0) {
            ADD_FAILURE() << "no answer within 10 s";
            return got;
        }
        auto r = c.pipeline_receive([&](result<db::rows> rs) { got.push_back(std::move(rs)); });
        if (!r) {
            ADD_FAILURE() << r.error().message;
            return got;
        }
    }
    return got;
}

// In pipeline mode each statement carries its own sync point: one that fails, or one whose
// text does not even prepare, fails alone, and every answer comes back in the order sent.
TEST(connection, pipelined_statements_answer_in_order_and_fail_alone) {
    auto c = test::pg::connect(test::pg::instance().empty_database());
    ASSERT_TRUE(c.enter_pipeline());
    const std::string square = "SELECT $1::int * $1::int";
    ASSERT_TRUE(c.pipeline_send(square, {3}, false));
    ASSERT_TRUE(c.pipeline_send("SELECT 1 / $1::int", {0}, false));  // division by zero
    ASSERT_TRUE(c.pipeline_send("SELEC nonsense $1", {1}, false));   // does not prepare
    ASSERT_TRUE(c.pipeline_send(square, {4}, true));                 // prepared already
    ASSERT_TRUE(c.pipeline_send("SELEC nonsense $1", {2}, false));   // sent before 2 failed
    ASSERT_TRUE(c.pipeline_send("SELECT $1::text || 'x'", {"a"}, false));
    EXPECT_EQ(c.pipeline_pending(), 6u);
    auto got = drain(c);
    ASSERT_EQ(got.size(), 6u);
    ASSERT_TRUE(got[0]);
    EXPECT_EQ(got[0]->front().get<int>(0), 9);
    ASSERT_FALSE(got[1]);
    EXPECT_NE(got[1].error().message.find("division by zero"), std::string::npos)
        << got[1].error().message;
    ASSERT_FALSE(got[2]);
    EXPECT_NE(got[2].error().message.find("syntax error"), std::string::npos)
        << got[2].error().message;
    ASSERT_TRUE(got[3]);
    EXPECT_EQ(got[3]->front().get<int>(0), 16);
    ASSERT_FALSE(got[4]);  // its statement was never prepared
    EXPECT_NE(got[4].error().message.find("does not exist"), std::string::npos)
        << got[4].error().message;
    ASSERT_TRUE(got[5]);
    EXPECT_EQ(got[5]->front().get<std::string>(0), "ax");
    EXPECT_EQ(c.pipeline_pending(), 0u);
    // A failed prepare is forgotten: the text is prepared afresh the next time, under a
    // name of its own.
    ASSERT_TRUE(c.pipeline_send("SELEC nonsense $1", {3}, false));
    ASSERT_TRUE(c.pipeline_send("SELECT $1::int + 1", {1}, false));
    got = drain(c);
    ASSERT_EQ(got.size(), 2u);
    ASSERT_FALSE(got[0]);
    EXPECT_NE(got[0].error().message.find("syntax error"), std::string::npos);
    ASSERT_TRUE(got[1]) << got[1].error().message;
    EXPECT_EQ(got[1]->front().get<int>(0), 2);

    // Many at once, larger than a socket buffer both ways.
    for (int i = 0; i < 2000; ++i)
        ASSERT_TRUE(c.pipeline_send("SELECT $1::int, repeat('x', 1000)", {i}, false));
    got = drain(c);
    ASSERT_EQ(got.size(), 2000u);
    for (int i = 0; i < 2000; ++i) {
        ASSERT_TRUE(got[std::size_t(i)]);
        EXPECT_EQ(got[std::size_t(i)]->front().get<int>(0), i);
    }
}

// Statements sent without sync points of their own, closed by one pipeline_sync, make one
// transaction: it commits at the sync point; a failure skips the rest and rolls all of it
// back there; a statement skipped before it was ever prepared is prepared the next time; and
// a commit that fails at the sync point is that sync point's answer.
TEST(connection, statements_up_to_one_sync_point_are_one_transaction) {
    const auto database = test::pg::instance().empty_database();
    auto c = test::pg::connect(database);
    ASSERT_TRUE(c.exec("CREATE TABLE t (n int PRIMARY KEY)"));
    ASSERT_TRUE(c.exec("CREATE TABLE d (n int UNIQUE DEFERRABLE INITIALLY DEFERRED)"));
    auto count = [](db::connection& on, const std::string& table) {
        auto r = on.exec("SELECT count(*)::int FROM " + table);
        return r ? r->front().get<int>(0) : -1;
    };
    auto other = test::pg::connect(database);
    ASSERT_TRUE(c.enter_pipeline());
    const std::string insert = "INSERT INTO t VALUES ($1) RETURNING n * 10";
    ASSERT_TRUE(c.pipeline_send(insert, {1}, false, false));
    ASSERT_TRUE(c.pipeline_send(insert, {2}, false, false));
    ASSERT_TRUE(c.pipeline_send("SELECT count(*)::int FROM t", {}, false, false));
    ASSERT_TRUE(c.pipeline_sync());
    EXPECT_EQ(c.pipeline_pending(), 4u);
    auto got = drain(c);
    ASSERT_EQ(got.size(), 4u);
    for (const auto& r : got) ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(got[1]->front().get<int>(0), 20);
    EXPECT_EQ(got[2]->front().get<int>(0), 2) << "one transaction sees its own rows";
    EXPECT_TRUE(got[3]->empty()) << "the sync point answers with no rows";
    EXPECT_EQ(count(other, "t"), 2) << "committed at the sync point";

    // A duplicate in the middle: what follows is skipped (a statement never prepared before
    // among them), and the rows before it are rolled back.
    const std::string fresh = "SELECT $1::int + 100";
    ASSERT_TRUE(c.pipeline_send(insert, {3}, false, false));
    ASSERT_TRUE(c.pipeline_send(insert, {1}, false, false));
    ASSERT_TRUE(c.pipeline_send(fresh, {1}, false, false));
    ASSERT_TRUE(c.pipeline_sync());
    got = drain(c);
    ASSERT_EQ(got.size(), 4u);
    EXPECT_TRUE(got[0]);
    ASSERT_FALSE(got[1]);
    EXPECT_EQ(got[1].error().code, db::errc::unique_violation);
    ASSERT_FALSE(got[2]);
    EXPECT_NE(got[2].error().message.find("not run"), std::string::npos) << got[2].error().message;
    EXPECT_TRUE(got[3]) << "the sync point rolled back; nothing failed there";
    EXPECT_EQ(count(other, "t"), 2) << "the row before the failure was rolled back";
    ASSERT_TRUE(c.pipeline_send(fresh, {1}, false));
    got = drain(c);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_TRUE(got[0]) << "a skipped statement is prepared when next sent: "
                        << got[0].error().message;
    EXPECT_EQ(got[0]->front().get<int>(0), 101);

    // A deferred constraint fails at the commit: the sync point's answer says so.
    ASSERT_TRUE(c.pipeline_send("INSERT INTO d VALUES ($1)", {7}, false, false));
    ASSERT_TRUE(c.pipeline_send("INSERT INTO d VALUES ($1)", {7}, false, false));
    ASSERT_TRUE(c.pipeline_sync());
    got = drain(c);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_TRUE(got[0]);
    EXPECT_TRUE(got[1]);
    ASSERT_FALSE(got[2]);
    EXPECT_EQ(got[2].error().code, db::errc::unique_violation) << got[2].error().message;
    EXPECT_EQ(count(other, "d"), 0);
    EXPECT_EQ(c.pipeline_pending(), 0u);
}

// Statements run together in one round trip inside a transaction block: every answer
// comes back in order, a failure aborts the block so that the statements after it fail
// too, and the connection is an ordinary one again afterwards.
TEST(connection, statements_run_together_keep_their_transaction_and_order) {
    auto c = test::pg::connect(test::pg::instance().empty_database());
    ASSERT_TRUE(c.exec("CREATE TABLE t (n int PRIMARY KEY)"));
    const db::params one{1}, two{2}, none;
    auto got = c.exec_pipelined({{"BEGIN", &none},
                                 {"INSERT INTO t VALUES ($1)", &one},
                                 {"INSERT INTO t VALUES ($1) RETURNING n * 10", &two, true},
                                 {"SELECT count(*)::int FROM t", &none}});
    ASSERT_TRUE(got) << got.error().message;
    ASSERT_EQ(got->size(), 4u);
    for (const auto& r : *got) ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*got)[2]->front().get<int>(0), 20);
    EXPECT_EQ((*got)[3]->front().get<int>(0), 2);
    EXPECT_TRUE(c.in_transaction()) << "BEGIN holds across the sync points";
    ASSERT_TRUE(c.exec("COMMIT"));

    got = c.exec_pipelined({{"BEGIN", &none},
                            {"INSERT INTO t VALUES ($1)", &one},  // a duplicate
                            {"INSERT INTO t VALUES ($1)", &two}});
    ASSERT_TRUE(got) << got.error().message;
    ASSERT_EQ(got->size(), 3u);
    EXPECT_TRUE((*got)[0]);
    ASSERT_FALSE((*got)[1]);
    EXPECT_EQ((*got)[1].error().code, db::errc::unique_violation);
    EXPECT_FALSE((*got)[2]) << "the aborted block runs nothing more";
    ASSERT_TRUE(c.exec("ROLLBACK"));
    auto n = c.exec_prepared("SELECT count(*)::int FROM t", {});
    ASSERT_TRUE(n) << n.error().message;
    EXPECT_EQ(n->front().get<int>(0), 2) << "blocking calls work again";
    auto empty = c.exec_pipelined({});
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->empty());
}

// A connection lost during statements run together says so and is left closed, so that the
// pool does not take it back while it is still in pipeline mode.
TEST(connection, statements_run_together_on_a_lost_connection_leave_it_closed) {
    const auto db = test::pg::instance().empty_database();
    auto c = test::pg::connect(db);
    auto killer = test::pg::connect(db);
    ASSERT_TRUE(
        killer.exec("SELECT pg_terminate_backend(" + std::to_string(c.backend_pid()) + ")"));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const db::params none;
    auto got = c.exec_pipelined({{"SELECT 1", &none}, {"SELECT 2", &none}});
    ASSERT_FALSE(got);
    EXPECT_TRUE(got.error().code == db::errc::connection_lost) << got.error().message;
    EXPECT_FALSE(c.is_ok());
    EXPECT_FALSE(c.exec("SELECT 1")) << "a closed connection refuses, and does not crash";
}

// A connection that goes away mid-pipeline says so, rather than leaving its caller waiting.
TEST(connection, a_pipelined_connection_that_is_lost_says_so) {
    const auto db = test::pg::instance().empty_database();
    auto c = test::pg::connect(db);
    ASSERT_TRUE(c.enter_pipeline());
    const int pid = c.backend_pid();
    auto killer = test::pg::connect(db);
    ASSERT_TRUE(killer.exec("SELECT pg_terminate_backend(" + std::to_string(pid) + ")"));
    ASSERT_TRUE(c.pipeline_send("SELECT 1", {}, false));
    bool lost = false;
    for (int k = 0; k < 100 && !lost; ++k) {
        auto f = c.pipeline_flush();
        if (!f) {
            lost = true;
            break;
        }
        pollfd p{c.socket(), POLLIN, 0};
        ::poll(&p, 1, 100);
        auto r = c.pipeline_receive([](result<db::rows>) {});
        if (!r) {
            EXPECT_TRUE(r.error().code == db::errc::connection_lost) << r.error().message;
            lost = true;
        }
    }
    EXPECT_TRUE(lost);
}

}  // namespace
}  // namespace herald
