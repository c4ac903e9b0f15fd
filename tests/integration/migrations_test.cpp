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

}  // namespace
}  // namespace herald
