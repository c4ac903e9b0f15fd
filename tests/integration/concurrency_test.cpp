// Money and counters under concurrent callers.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include "core/uuid.hpp"
#include "db/pool.hpp"
#include "db/transaction.hpp"
#include "store/billing.hpp"
#include "store/campaigns.hpp"
#include "store/contacts.hpp"
#include "store/fence.hpp"
#include "store/imports.hpp"
#include "store/messages.hpp"
#include "support/api_server.hpp"
#include "support/pg.hpp"

namespace herald {
namespace {

core::uuid make_tenant(db::connection& c, int credits) {
    auto id = core::uuid_v4();
    auto r = c.exec(
        "INSERT INTO users (id, username, email, password_hash, tenant_id) VALUES ($1, $2, $3, "
        "'x', $1)",
        {id, "t" + id.str().substr(0, 8), id.str() + "@t.test"});
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    if (credits > 0) {
        EXPECT_TRUE(store::credit(c, {.tenant = id, .credits = credits, .amount = "2.00"}));
    }
    return id;
}

TEST(concurrency, fifty_parallel_debits_against_twenty_credits_leave_exactly_twenty) {
    std::string db = test::pg::instance().fresh_database();
    auto setup = test::pg::connect(db);
    auto tenant = make_tenant(setup, 20);
    std::atomic<int> ok{0}, refused{0}, other{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < 50; ++i)
        threads.emplace_back([&] {
            auto c = test::pg::connect(db);
            while (!go) std::this_thread::yield();
            auto r = store::debit(c, {.tenant = tenant, .credits = 1, .description = "race"});
            if (r)
                ++ok;
            else if (r.error().is(condition::limit_exceeded))
                ++refused;
            else
                ++other;
        });
    go = true;
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok, 20);
    EXPECT_EQ(refused, 30);
    EXPECT_EQ(other, 0);
    EXPECT_EQ(*store::balance(setup, tenant), 0);
    EXPECT_EQ(*store::ledger_sum(setup, tenant), 0);
    // Every ledger row adds up on its own too.
    auto bad = setup.exec(
        "SELECT count(*) FROM billing_transactions WHERE credits_before + credits <> "
        "credits_after");
    EXPECT_EQ(bad->front().get<std::int64_t>(0), 0);
    auto rows =
        setup.exec("SELECT count(*) FROM billing_transactions WHERE user_id = $1", {tenant});
    EXPECT_EQ(rows->front().get<std::int64_t>(0), 21);  // the credit and twenty debits
}

TEST(concurrency, debits_of_varying_size_never_overspend) {
    std::string db = test::pg::instance().fresh_database();
    auto setup = test::pg::connect(db);
    auto tenant = make_tenant(setup, 1000);
    std::atomic<int> spent{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 16; ++i)
        threads.emplace_back([&, i] {
            auto c = test::pg::connect(db);
            for (int k = 0; k < 40; ++k) {
                int n = 1 + (i * 7 + k) % 13;
                if (store::debit(c, {.tenant = tenant, .credits = n})) spent += n;
            }
        });
    for (auto& t : threads) t.join();
    int balance = *store::balance(setup, tenant);
    EXPECT_GE(balance, 0);
    EXPECT_EQ(balance, 1000 - spent);
    EXPECT_EQ(*store::ledger_sum(setup, tenant), balance);
    // A debit larger than the balance is refused with the amounts in the message.
    auto big = store::debit(setup, {.tenant = tenant, .credits = balance + 1});
    ASSERT_FALSE(big);
    EXPECT_NE(big.error().message.find("available"), std::string::npos);
}

TEST(concurrency, negative_balances_only_where_the_account_allows_them) {
    auto c = test::pg::connect(test::pg::instance().fresh_database());
    auto tenant = make_tenant(c, 5);
    EXPECT_FALSE(store::debit(c, {.tenant = tenant, .credits = 6}));
    ASSERT_TRUE(
        c.exec("UPDATE users SET settings = '{\"allow_negative_credits\": true}' WHERE id = $1",
               {tenant}));
    auto r = store::debit(c, {.tenant = tenant, .credits = 6});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->credits_after, -1);
    EXPECT_EQ(*store::ledger_sum(c, tenant), -1);
}

TEST(concurrency, parallel_membership_changes_keep_group_totals_exact) {
    std::string db = test::pg::instance().fresh_database();
    auto setup = test::pg::connect(db);
    auto tenant = make_tenant(setup, 0);
    auto group = store::create_group(setup, tenant, {.name = std::string("crowd")});
    ASSERT_TRUE(group);
    std::vector<core::uuid> ids;
    for (int i = 0; i < 400; ++i) {
        auto ct = store::create_contact(setup, tenant,
                                        {.phone_number = "+1415556" + std::to_string(1000 + i)});
        ASSERT_TRUE(ct);
        ids.push_back(ct->id);
    }
    std::vector<std::thread> threads;
    for (int w = 0; w < 8; ++w)
        threads.emplace_back([&, w] {
            auto c = test::pg::connect(db);
            // Overlapping slices, added and partly removed, at the same time.
            for (int round = 0; round < 5; ++round) {
                std::vector<core::uuid> slice(ids.begin() + w * 40, ids.begin() + w * 40 + 80);
                for (int attempt = 0; attempt < 5; ++attempt)
                    if (store::add_members(c, tenant, group->id, slice)) break;
                (void)store::remove_member(c, tenant, group->id, slice[std::size_t(round)]);
            }
        });
    for (auto& t : threads) t.join();
    auto counted =
        setup.exec("SELECT count(*) FROM contact_group_members WHERE group_id = $1", {group->id});
    auto g = store::get_group(setup, tenant, group->id);
    EXPECT_EQ(g->total_contacts, counted->front().get<std::int64_t>(0));
    EXPECT_GT(g->total_contacts, 300);
}

TEST(concurrency, parallel_imports_into_one_group_keep_its_total_exact) {
    test::api_server s({"HERALD_IMPORTS_WORKERS=4"});
    auto t = s.make_tenant("importer");
    auto g = s.call("POST", "/v1/groups", t.token, {{"name", "together"}});
    std::string gid = g.body["id"];
    // Four files of 3,000 numbers, each overlapping its neighbours by half.
    std::vector<std::string> jobs;
    std::set<std::string> numbers;
    std::vector<std::thread> uploads;
    std::mutex m;
    for (int f = 0; f < 4; ++f) {
        std::string csv = "phone,first_name\n";
        for (int i = f * 1500; i < f * 1500 + 3000; ++i) {
            std::string n = "+1415557" + std::to_string(1000 + i);
            csv += n + ",N" + std::to_string(i) + "\n";
            numbers.insert(n);
        }
        uploads.emplace_back([&, csv] {
            auto up =
                s.send("POST", "/v1/contacts/import?group_id=" + gid, t.token, csv, "text/csv");
            std::lock_guard l(m);
            EXPECT_EQ(up.status, 202) << up.raw;
            jobs.push_back(up.body["id"]);
        });
    }
    for (auto& u : uploads) u.join();
    ASSERT_EQ(jobs.size(), 4u);
    int imported = 0;
    for (auto& j : jobs) {
        auto done = test::wait_for_import(s, t.token, j);
        ASSERT_EQ(done["status"], "completed") << done.dump();
        imported += done["imported"].get<int>();
    }
    EXPECT_EQ(imported, int(numbers.size()));  // each number inserted by exactly one import
    auto group = s.call("GET", "/v1/groups/" + gid, t.token);
    EXPECT_EQ(group.body["total_contacts"], int(numbers.size()));
}

TEST(concurrency, an_import_skips_a_number_another_transaction_adds_while_it_merges) {
    // With on_duplicate=skip an import copies its rows straight into contacts (decision 0013)
    // or, once it has met an existing number, leaves out the numbers it sees and inserts the
    // rest plainly. A number someone else adds and has not yet committed is invisible either
    // way: the copy waits on it and collides when it commits, and the batch is merged again.
    // The number is skipped, the others imported, nothing fails.
    std::string db = test::pg::instance().fresh_database();
    auto c = test::pg::connect(db);
    auto tenant = make_tenant(c, 0);
    const core::uuid group = core::uuid_v4();
    ASSERT_TRUE(c.exec("INSERT INTO contact_groups (id, user_id, name) VALUES ($1, $2, 'g')",
                       {group, tenant}));
    auto other = test::pg::connect(db);
    ASSERT_TRUE(other.exec("BEGIN"));
    ASSERT_TRUE(other.exec(
        "INSERT INTO contacts (id, user_id, phone_number) VALUES ($1, $2, '+14155550101')",
        {core::uuid_v7(), tenant}));

    const auto file = std::filesystem::path(test::temp_dir("race")) / "numbers.csv";
    {
        std::ofstream out(file);
        out << "phone\n+14155550100\n+14155550101\n+14155550102\n";
    }
    store::import_options o{.tenant = tenant, .group = group};
    auto job = store::create_import(c, o, std::int64_t(std::filesystem::file_size(file)));
    ASSERT_TRUE(job) << job.error().message;
    db::pool pool({.conninfo = db, .size = 4});
    std::optional<result<store::import_job>> finished;
    std::thread importer([&] { finished = store::run_import(pool, job->id, o, file, 1); });

    // Wait until the import's insert is blocked on the uncommitted number, then commit it.
    bool waiting = false;
    for (int i = 0; i < 200 && !waiting; ++i) {
        auto w = c.exec(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
            "wait_event_type = 'Lock' AND (query LIKE 'COPY contacts%' OR query LIKE "
            "'%INSERT INTO contacts%')");
        waiting = w && w->front().get<std::int64_t>(0) > 0;
        if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    EXPECT_TRUE(waiting) << "the import never waited on the other transaction's number";
    ASSERT_TRUE(other.exec("COMMIT"));
    importer.join();
    std::filesystem::remove(file);

    ASSERT_TRUE(finished && *finished) << (finished && !*finished ? finished->error().message : "");
    const auto& done = **finished;
    EXPECT_EQ(done.status, "completed");
    EXPECT_EQ(done.imported, 2);
    EXPECT_EQ(done.skipped, 1);
    auto n = c.exec("SELECT count(*) FROM contacts WHERE user_id = $1", {tenant});
    EXPECT_EQ(n->front().get<std::int64_t>(0), 3);
    auto members = c.exec("SELECT total_contacts FROM contact_groups WHERE id = $1", {group});
    EXPECT_EQ(members->front().get<int>(0), 3);  // the skipped number joins the group too
}

TEST(concurrency, a_campaign_message_is_charged_once_however_often_it_is_claimed) {
    // Claimed, put back without counting an attempt (every connector of its route down),
    // claimed again, and so on: one debit, at the first claim.
    std::string db = test::pg::instance().fresh_database();
    auto c = test::pg::connect(db);
    auto tenant = make_tenant(c, 10);
    auto campaign = core::uuid_v4(), log = core::uuid_v4();
    ASSERT_TRUE(
        c.exec("INSERT INTO sms_campaigns (id, user_id, name, message_template, status) "
               "VALUES ($1, $2, 'c', 'Hi', 'running')",
               {campaign, tenant}));
    ASSERT_TRUE(
        c.exec("INSERT INTO sms_delivery_logs (id, created_at, campaign_id, user_id, "
               "phone_number, body, cost, status) VALUES ($1, now(), $2, $3, "
               "'+12125550100', 'Hi', 2, 'queued')",
               {log, campaign, tenant}));
    ASSERT_TRUE(
        c.exec("INSERT INTO send_queue (log_id, created_at, user_id, campaign_id) SELECT "
               "id, created_at, user_id, campaign_id FROM sms_delivery_logs WHERE id = $1",
               {log}));
    for (int round = 0; round < 4; ++round) {
        auto claimed = store::claim_and_charge(c, "node", 10, std::chrono::seconds(30));
        ASSERT_TRUE(claimed) << claimed.error().message;
        ASSERT_EQ(claimed->size(), 1u) << "round " << round;
        EXPECT_TRUE(claimed->front().charged);
        const auto& m = claimed->front();
        ASSERT_TRUE(
            store::record_outcomes(c, {{.log_id = m.log_id,
                                        .created_at = m.created_at,
                                        .tenant = m.tenant,
                                        .connector = "",
                                        .what = store::send_outcome::kind::retry,
                                        .error_code = "no_connector",
                                        .error_message = "every connector of the route is down",
                                        .retry_after = std::chrono::seconds(0),
                                        .counted = false}}));
    }
    EXPECT_EQ(*store::balance(c, tenant), 8);
    EXPECT_EQ(*store::ledger_sum(c, tenant), 8);
    auto debits = c.exec(
        "SELECT count(*) FROM billing_transactions WHERE user_id = $1 AND transaction_type = "
        "'campaign_cost'",
        {tenant});
    EXPECT_EQ(debits->front().get<std::int64_t>(0), 1);
}

/// A running campaign of `n` recipients written to the delivery log, in batches of `per_batch`
/// (as the expansion writes them); returns the campaign id and the batches' last ids.
struct batched_campaign {
    core::uuid id;
    std::vector<core::uuid> recipients, lasts;
    std::vector<std::string> numbers;
};
batched_campaign make_batched_campaign(db::connection& c, const core::uuid& tenant, int n,
                                       int per_batch) {
    batched_campaign b;
    b.id = core::uuid_v4();
    EXPECT_TRUE(c.exec(
        "INSERT INTO sms_campaigns (id, user_id, name, message_template, status, started_at) "
        "VALUES ($1, $2, 'c', 'Hi', 'running', now())",
        {b.id, tenant}));
    for (int i = 0; i < n; ++i) b.recipients.push_back(core::uuid_v4());
    std::sort(b.recipients.begin(), b.recipients.end());
    const auto at = c.exec("SELECT started_at FROM sms_campaigns WHERE id = $1", {b.id})
                        ->front()
                        .get<std::string>(0);
    core::uuid after{};
    for (int i = 0; i < n; ++i) {
        char num[16];
        std::snprintf(num, sizeof num, "+1212555%04d", i);
        b.numbers.emplace_back(num);
        EXPECT_TRUE(c.exec("INSERT INTO contacts (id, user_id, phone_number) VALUES ($1, $2, $3)",
                           {b.recipients[std::size_t(i)], tenant, b.numbers.back()}));
        EXPECT_TRUE(c.exec(
            "INSERT INTO sms_delivery_logs (id, created_at, campaign_id, recipient_id, user_id, "
            "phone_number, body, cost, status) VALUES ($1, $2::timestamptz, $3, $4, $5, $6, 'Hi', "
            "1, 'queued')",
            {core::uuid_v7(), at, b.id, b.recipients[std::size_t(i)], tenant, b.numbers.back()}));
        if ((i + 1) % per_batch == 0 || i + 1 == n) {
            b.lasts.push_back(b.recipients[std::size_t(i)]);
            EXPECT_TRUE(
                c.exec("INSERT INTO campaign_batches (campaign_id, last_id, after_id, created_at, "
                       "user_id, recipients) VALUES ($1, $2, $3, $4::timestamptz, $5, $6)",
                       {b.id, b.recipients[std::size_t(i)], after, at, tenant, per_batch}));
            after = b.recipients[std::size_t(i)];
        }
    }
    return b;
}

/// The outcome of a campaign message the SMSC accepted with id `smsc_id`.
store::send_outcome sent(const store::claimed_message& m, const core::uuid& tenant,
                         std::string smsc_id) {
    return {.log_id = m.log_id,
            .created_at = m.created_at,
            .tenant = tenant,
            .connector = "sim",
            .what = store::send_outcome::kind::sent,
            .message_ids = {std::move(smsc_id)},
            .batch = m.batch};
}

TEST(concurrency, a_campaign_batch_claimed_again_after_its_lease_is_not_charged_again) {
    // Node A claims a batch and dies after one outcome is stored; its lease runs out; node B
    // claims the batch: it gets the messages A left, charges nothing more, and a number that
    // opted out meanwhile fails with its credit given back.
    std::string db = test::pg::instance().fresh_database();
    auto c = test::pg::connect(db);
    auto tenant = make_tenant(c, 10);
    auto camp = make_batched_campaign(c, tenant, 4, 4);
    auto a = store::claim_batches(c, "node-a", 8, std::chrono::seconds(30));
    ASSERT_TRUE(a) << a.error().message;
    EXPECT_EQ(a->batches, 1);
    ASSERT_EQ(a->messages.size(), 4u);
    for (const auto& m : a->messages) {
        EXPECT_TRUE(m.charged);
        ASSERT_TRUE(m.batch);
        EXPECT_EQ(m.batch->last_id, camp.lasts[0]);
    }
    EXPECT_EQ(*store::balance(c, tenant), 6);
    // Nothing else is claimable while A holds it.
    auto none = store::claim_batches(c, "node-b", 8, std::chrono::seconds(30));
    ASSERT_TRUE(none);
    EXPECT_EQ(none->batches, 0);
    const auto& first = a->messages[0];
    ASSERT_TRUE(store::record_outcomes(c, {sent(first, tenant, "m-1")}));
    ASSERT_TRUE(
        c.exec("INSERT INTO opt_outs (user_id, phone_number, source) VALUES ($1, $2, 'api')",
               {tenant, a->messages[3].to}));
    ASSERT_TRUE(c.exec("UPDATE campaign_batches SET lease_until = now() - interval '1 second'"));

    auto b = store::claim_batches(c, "node-b", 8, std::chrono::seconds(30));
    ASSERT_TRUE(b) << b.error().message;
    EXPECT_EQ(b->batches, 1);
    ASSERT_EQ(b->messages.size(), 2u) << "the sent one and the opted-out one are not handed out";
    for (const auto& m : b->messages) EXPECT_TRUE(m.charged);
    EXPECT_EQ(*store::balance(c, tenant), 7) << "no second debit; the opted-out one refunded";
    EXPECT_EQ(*store::ledger_sum(c, tenant), 7);
    auto opted = c.exec("SELECT status, error_code FROM sms_delivery_logs WHERE phone_number = $1",
                        {a->messages[3].to});
    EXPECT_EQ(opted->front().get<std::string>(0), "failed");
    EXPECT_EQ(opted->front().get<std::string>(1), "opted_out");
    auto debits = c.exec(
        "SELECT count(*) FROM billing_transactions WHERE user_id = $1 AND transaction_type = "
        "'campaign_cost'",
        {tenant});
    EXPECT_EQ(debits->front().get<std::int64_t>(0), 1);

    // Only the node that holds the batch deletes it.
    const std::vector<store::batch_key> done{{camp.id, camp.lasts[0]}};
    ASSERT_TRUE(store::finish_batches(c, "node-a", done));
    EXPECT_EQ(c.exec("SELECT count(*) FROM campaign_batches")->front().get<std::int64_t>(0), 1);
    ASSERT_TRUE(store::finish_batches(c, "node-b", done));
    EXPECT_EQ(c.exec("SELECT count(*) FROM campaign_batches")->front().get<std::int64_t>(0), 0);
}

TEST(concurrency, outcomes_written_again_record_each_part_once_and_lose_none) {
    // The outcome writer inserts parts without ON CONFLICT. A batch written again (its first
    // commit went through, but the answer was lost with the connection) collides with its
    // own parts: it must still go in, with the parts that are new.
    std::string db = test::pg::instance().fresh_database();
    auto c = test::pg::connect(db);
    auto tenant = make_tenant(c, 10);
    make_batched_campaign(c, tenant, 3, 3);
    auto a = store::claim_batches(c, "node-a", 1, std::chrono::seconds(30));
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_EQ(a->messages.size(), 3u);
    const auto& m = a->messages;
    auto write = [&](const std::vector<store::send_outcome>& outs) {
        auto tx = db::transaction::begin(c);
        ASSERT_TRUE(tx);
        auto r = store::record_outcomes(c, outs);
        ASSERT_TRUE(r) << r.error().message;
        ASSERT_TRUE(tx->commit());
    };
    write({sent(m[0], tenant, "m-0"), sent(m[1], tenant, "m-1")});
    write({sent(m[1], tenant, "m-1"), sent(m[2], tenant, "m-2")});
    auto parts = c.exec(
        "SELECT string_agg(external_message_id, ',' ORDER BY external_message_id) FROM "
        "sms_message_parts");
    EXPECT_EQ(parts->front().get<std::string>(0), "m-0,m-1,m-2");
    auto by = c.exec("SELECT count(*) FROM sms_delivery_logs WHERE status = 'sent'");
    EXPECT_EQ(by->front().get<std::int64_t>(0), 3);
}

TEST(concurrency, outcomes_written_at_once_again_write_nothing_and_leave_the_careful_way) {
    // The writer's one-round-trip path (store::record_sent_at_once) meets the same collision:
    // its transaction is rolled back whole, batch deletion included, and says so; the
    // careful way then writes the batch.
    std::string db = test::pg::instance().fresh_database();
    auto c = test::pg::connect(db);
    auto tenant = make_tenant(c, 10);
    auto camp = make_batched_campaign(c, tenant, 3, 3);
    auto a = store::claim_batches(c, "node-a", 1, std::chrono::seconds(30));
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_EQ(a->messages.size(), 3u);
    const auto& m = a->messages;
    auto first = store::record_sent_at_once(c, {sent(m[0], tenant, "m-0")});
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_TRUE(*first);
    const std::vector<store::batch_key> done{{camp.id, camp.lasts[0]}};
    auto again = store::record_sent_at_once(
        c, {sent(m[0], tenant, "m-0"), sent(m[1], tenant, "m-1"), sent(m[2], tenant, "m-2")},
        {store::finish_batches_statement("node-a", done)});
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_FALSE(*again) << "the part m-0 exists: nothing of this transaction is kept";
    EXPECT_FALSE(c.in_transaction());
    auto count = [&](const char* sql) { return c.exec(sql)->front().get<std::int64_t>(0); };
    EXPECT_EQ(count("SELECT count(*) FROM sms_message_parts"), 1);
    EXPECT_EQ(count("SELECT count(*) FROM sms_delivery_logs WHERE status = 'sent'"), 1);
    EXPECT_EQ(count("SELECT count(*) FROM campaign_batches"), 1) << "the deletion went too";

    auto tx = db::transaction::begin(c);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(store::record_outcomes(
        c, {sent(m[0], tenant, "m-0"), sent(m[1], tenant, "m-1"), sent(m[2], tenant, "m-2")}));
    ASSERT_TRUE(store::finish_batches(c, "node-a", done));
    ASSERT_TRUE(tx->commit());
    EXPECT_EQ(count("SELECT count(*) FROM sms_message_parts"), 3);
    EXPECT_EQ(count("SELECT count(*) FROM sms_delivery_logs WHERE status = 'sent'"), 3);
    EXPECT_EQ(count("SELECT count(*) FROM campaign_batches"), 0);

    // Outcomes other than `sent` are not for this path: nothing is run.
    auto retry = sent(m[0], tenant, "m-9");
    retry.what = store::send_outcome::kind::retry;
    auto skipped = store::record_sent_at_once(c, {retry});
    ASSERT_TRUE(skipped);
    EXPECT_FALSE(*skipped);
    EXPECT_EQ(count("SELECT count(*) FROM sms_message_parts"), 3);
}

TEST(concurrency, a_batch_message_that_must_retry_moves_to_the_send_queue_already_paid) {
    std::string db = test::pg::instance().fresh_database();
    auto c = test::pg::connect(db);
    auto tenant = make_tenant(c, 10);
    make_batched_campaign(c, tenant, 2, 2);
    auto a = store::claim_batches(c, "node-a", 8, std::chrono::seconds(30));
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_EQ(a->messages.size(), 2u);
    const auto& m = a->messages[1];
    ASSERT_TRUE(store::record_outcomes(c, {{.log_id = m.log_id,
                                            .created_at = m.created_at,
                                            .tenant = tenant,
                                            .connector = "sim",
                                            .what = store::send_outcome::kind::retry,
                                            .error_code = "0x00000058",
                                            .error_message = "throttled",
                                            .retry_after = std::chrono::seconds(0),
                                            .batch = m.batch}}));
    auto q = store::claim_and_charge(c, "node-a", 8, std::chrono::seconds(30));
    ASSERT_TRUE(q) << q.error().message;
    ASSERT_EQ(q->size(), 1u);
    EXPECT_EQ(q->front().log_id, m.log_id);
    EXPECT_TRUE(q->front().charged);
    EXPECT_EQ(q->front().attempts, 2) << "the retry counted as an attempt";
    EXPECT_EQ(*store::balance(c, tenant), 8) << "charged once, with the batch";
    // The batch, claimed again after its lease, does not hand that message out a second time.
    ASSERT_TRUE(c.exec("UPDATE campaign_batches SET lease_until = now() - interval '1 second'"));
    auto again = store::claim_batches(c, "node-b", 8, std::chrono::seconds(30));
    ASSERT_TRUE(again);
    ASSERT_EQ(again->messages.size(), 1u);
    EXPECT_NE(again->messages[0].log_id, m.log_id);
}

TEST(concurrency, cancelling_a_campaign_cancels_the_batches_no_node_holds) {
    std::string db = test::pg::instance().fresh_database();
    auto c = test::pg::connect(db);
    auto tenant = make_tenant(c, 10);
    auto camp = make_batched_campaign(c, tenant, 6, 3);
    auto a = store::claim_batches(c, "node-a", 1, std::chrono::seconds(30));
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_EQ(a->batches, 1);
    auto done = store::cancel_campaign(c, tenant, camp.id);
    ASSERT_TRUE(done) << done.error().message;
    EXPECT_EQ(done->status, "cancelled");
    auto by = c.exec(
        "SELECT status, count(*) FROM sms_delivery_logs WHERE campaign_id = $1 GROUP BY 1 "
        "ORDER BY 1",
        {camp.id});
    ASSERT_EQ(by->size(), 2u);
    EXPECT_EQ(by->front().get<std::string>(0), "canceled");
    EXPECT_EQ(by->front().get<std::int64_t>(1), 3);
    EXPECT_EQ((*by)[1].get<std::string>(0), "queued") << "the held batch finishes normally";
    EXPECT_EQ(c.exec("SELECT count(*) FROM campaign_batches")->front().get<std::int64_t>(0), 1);
    auto more = store::claim_batches(c, "node-b", 8, std::chrono::seconds(30));
    ASSERT_TRUE(more);
    EXPECT_EQ(more->batches, 0) << "a cancelled campaign's batches are not claimed";
}

TEST(concurrency, cancelling_refunds_the_paid_messages_of_a_batch_whose_node_went_away) {
    std::string db = test::pg::instance().fresh_database();
    auto c = test::pg::connect(db);
    auto tenant = make_tenant(c, 10);
    auto camp = make_batched_campaign(c, tenant, 6, 3);
    auto a = store::claim_batches(c, "node-a", 1, std::chrono::seconds(30));
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_EQ(a->messages.size(), 3u);
    EXPECT_EQ(*store::balance(c, tenant), 7);
    const auto& first = a->messages[0];
    ASSERT_TRUE(store::record_outcomes(c, {sent(first, tenant, "m-1")}));
    ASSERT_TRUE(c.exec("UPDATE campaign_batches SET lease_until = now() - interval '1 second'"));
    auto done = store::cancel_campaign(c, tenant, camp.id);
    ASSERT_TRUE(done) << done.error().message;
    auto by = c.exec(
        "SELECT status, count(*) FROM sms_delivery_logs WHERE campaign_id = $1 GROUP BY 1 "
        "ORDER BY 1",
        {camp.id});
    ASSERT_EQ(by->size(), 2u);
    EXPECT_EQ(by->front().get<std::string>(0), "canceled");
    EXPECT_EQ(by->front().get<std::int64_t>(1), 5);
    EXPECT_EQ((*by)[1].get<std::string>(0), "sent");
    EXPECT_EQ(*store::balance(c, tenant), 9) << "the two paid and never sent come back";
    EXPECT_EQ(*store::ledger_sum(c, tenant), 9);
    EXPECT_EQ(c.exec("SELECT count(*) FROM campaign_batches")->front().get<std::int64_t>(0), 0);
}

/// The status, error code and recipient of the campaign message to `phone`.
std::string log_of(db::connection& c, const std::string& phone) {
    return c
        .exec(
            "SELECT status || ':' || coalesce(error_code, '') || ':' || "
            "coalesce(recipient_id::text, 'null') FROM sms_delivery_logs WHERE phone_number = $1",
            {phone})
        ->front()
        .get<std::string>(0);
}

void delete_contact_now(db::connection& c, const core::uuid& tenant, const core::uuid& contact) {
    auto tx = db::transaction::begin(c);
    ASSERT_TRUE(tx);
    auto d = store::delete_contact(c, tenant, contact);
    ASSERT_TRUE(d) << d.error().message;
    ASSERT_TRUE(tx->commit());
}

TEST(concurrency, deleting_a_contact_cancels_its_unsent_campaign_message_and_no_other) {
    // The log forgets a deleted contact (ON DELETE SET NULL), and a batch finds its messages
    // by recipient id: a message that lost its id must not be left `queued` for ever.
    std::string db = test::pg::instance().fresh_database();
    auto c = test::pg::connect(db);
    auto tenant = make_tenant(c, 10);
    auto camp = make_batched_campaign(c, tenant, 6, 3);
    auto a = store::claim_batches(c, "node-a", 1, std::chrono::seconds(30));
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_EQ(a->messages.size(), 3u);
    EXPECT_EQ(*store::balance(c, tenant), 7);
    auto status_of = [&](const core::uuid& contact) {
        return c
            .exec(
                "SELECT status || ':' || coalesce(error_code, '') FROM sms_delivery_logs "
                "WHERE phone_number = (SELECT phone_number FROM sms_delivery_logs d WHERE "
                "d.campaign_id = $1 AND d.recipient_id = $2)",
                {camp.id, contact})
            ->front()
            .get<std::string>(0);
    };
    auto remove = [&](const core::uuid& contact) { delete_contact_now(c, tenant, contact); };
    const auto phone_of = [&](int i) { return camp.numbers[std::size_t(i)]; };
    auto by_phone = [&](int i) { return log_of(c, phone_of(i)); };
    EXPECT_EQ(status_of(camp.recipients[3]), "queued:");

    // Held by node A (live lease): it goes out as it would have, and only loses its contact.
    remove(camp.recipients[0]);
    EXPECT_EQ(by_phone(0), "queued::null");
    const auto& first = a->messages[0];
    ASSERT_EQ(first.to, phone_of(0));
    ASSERT_TRUE(store::record_outcomes(c, {sent(first, tenant, "m-0")}));
    EXPECT_EQ(by_phone(0), "sent::null");

    // In a batch no node holds and nobody paid for yet: cancelled, nothing to refund.
    remove(camp.recipients[3]);
    EXPECT_EQ(by_phone(3), "canceled:contact_deleted:null");
    EXPECT_EQ(*store::balance(c, tenant), 7);

    // In a batch that was paid for and whose node went away (lease over): cancelled and
    // refunded, because the next claim will not find it to refund it.
    ASSERT_TRUE(
        c.exec("UPDATE campaign_batches SET lease_until = now() - interval '1 second' "
               "WHERE lease_owner = 'node-a'"));
    remove(camp.recipients[1]);
    EXPECT_EQ(by_phone(1), "canceled:contact_deleted:null");
    EXPECT_EQ(*store::balance(c, tenant), 8);

    // Node B gets everything else: r2 (batch 1, already paid), r4 and r5 (batch 2, paid now).
    auto b = store::claim_batches(c, "node-b", 8, std::chrono::seconds(30));
    ASSERT_TRUE(b) << b.error().message;
    EXPECT_EQ(b->batches, 2);
    std::set<std::string> got;
    for (const auto& m : b->messages) got.insert(m.to);
    EXPECT_EQ(got, (std::set<std::string>{phone_of(2), phone_of(4), phone_of(5)}));
    EXPECT_EQ(*store::balance(c, tenant), 6);
    EXPECT_EQ(*store::ledger_sum(c, tenant), 6);
    std::vector<store::send_outcome> outs;
    for (const auto& m : b->messages) outs.push_back(sent(m, tenant, "m-" + m.to));
    ASSERT_TRUE(store::record_outcomes(c, outs));
    ASSERT_TRUE(
        store::finish_batches(c, "node-b", {{camp.id, camp.lasts[0]}, {camp.id, camp.lasts[1]}}));
    auto left = c.exec(
        "SELECT count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = "
        "'sent'), count(*) FILTER (WHERE status = 'canceled') FROM sms_delivery_logs WHERE "
        "campaign_id = $1",
        {camp.id});
    EXPECT_EQ(left->front().get<std::int64_t>(0), 0) << "nothing left queued";
    EXPECT_EQ(left->front().get<std::int64_t>(1), 4);
    EXPECT_EQ(left->front().get<std::int64_t>(2), 2);
}

TEST(concurrency, a_message_whose_contact_went_while_its_node_held_it_is_refunded_at_takeover) {
    // Node A holds the batch when the contact is deleted, so the message is in A's hands and
    // keeps going. A dies without an outcome for it. The batch, claimed again, cannot find
    // the message by recipient id any more: it must still not be left queued and paid for.
    std::string db = test::pg::instance().fresh_database();
    auto c = test::pg::connect(db);
    auto tenant = make_tenant(c, 10);
    auto camp = make_batched_campaign(c, tenant, 3, 3);
    auto a = store::claim_batches(c, "node-a", 1, std::chrono::seconds(30));
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_EQ(a->messages.size(), 3u);
    EXPECT_EQ(*store::balance(c, tenant), 7);
    delete_contact_now(c, tenant, camp.recipients[1]);
    EXPECT_EQ(log_of(c, camp.numbers[1]), "queued::null") << "in node A's hands";
    ASSERT_TRUE(store::record_outcomes(c, {sent(a->messages[0], tenant, "m-0")}));
    ASSERT_TRUE(c.exec("UPDATE campaign_batches SET lease_until = now() - interval '1 second'"));

    auto b = store::claim_batches(c, "node-b", 1, std::chrono::seconds(30));
    ASSERT_TRUE(b) << b.error().message;
    ASSERT_EQ(b->messages.size(), 1u);
    EXPECT_EQ(b->messages[0].to, camp.numbers[2]);
    EXPECT_EQ(log_of(c, camp.numbers[1]), "canceled:contact_deleted:null");
    EXPECT_EQ(*store::balance(c, tenant), 8) << "the deleted contact's message is refunded";
    EXPECT_EQ(*store::ledger_sum(c, tenant), 8);
    ASSERT_TRUE(store::record_outcomes(c, {sent(b->messages[0], tenant, "m-2")}));
    ASSERT_TRUE(store::finish_batches(c, "node-b", {{camp.id, camp.lasts[0]}}));

    // A third claim would find nothing more to refund.
    auto queued = c.exec(
        "SELECT count(*) FROM sms_delivery_logs WHERE campaign_id = $1 AND status = 'queued'",
        {camp.id});
    EXPECT_EQ(queued->front().get<std::int64_t>(0), 0);
    EXPECT_EQ(*store::balance(c, tenant), 8);
}

TEST(concurrency, a_cancelled_campaigns_batch_whose_node_went_away_is_cancelled_and_refunded) {
    // Cancelling leaves a held batch to its node. If the node dies, nobody claims a cancelled
    // campaign's batch: the planner cancels it once its lease is over, with the message of a
    // contact deleted meanwhile, and gives back what was paid.
    std::string db = test::pg::instance().fresh_database();
    auto c = test::pg::connect(db);
    auto tenant = make_tenant(c, 10);
    auto camp = make_batched_campaign(c, tenant, 6, 3);
    auto a = store::claim_batches(c, "node-a", 1, std::chrono::seconds(30));
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_EQ(a->messages.size(), 3u);
    auto done = store::cancel_campaign(c, tenant, camp.id);
    ASSERT_TRUE(done) << done.error().message;
    delete_contact_now(c, tenant, camp.recipients[1]);
    ASSERT_TRUE(store::record_outcomes(c, {sent(a->messages[0], tenant, "m-0")}));
    EXPECT_EQ(*store::balance(c, tenant), 7);

    // While node A's lease lasts, its batch is its own.
    ASSERT_TRUE(store::advance_campaigns(c, 100, 3));
    EXPECT_EQ(c.exec("SELECT count(*) FROM campaign_batches")->front().get<std::int64_t>(0), 1);
    EXPECT_EQ(log_of(c, camp.numbers[2]), "queued::" + camp.recipients[2].str());

    ASSERT_TRUE(c.exec("UPDATE campaign_batches SET lease_until = now() - interval '1 second'"));
    ASSERT_TRUE(store::advance_campaigns(c, 100, 3));
    EXPECT_EQ(c.exec("SELECT count(*) FROM campaign_batches")->front().get<std::int64_t>(0), 0);
    EXPECT_EQ(log_of(c, camp.numbers[0]), "sent::" + camp.recipients[0].str());
    EXPECT_EQ(log_of(c, camp.numbers[1]), "canceled:contact_deleted:null");
    EXPECT_EQ(log_of(c, camp.numbers[2]), "canceled::" + camp.recipients[2].str());
    EXPECT_EQ(*store::balance(c, tenant), 9) << "the two paid and never sent come back";
    EXPECT_EQ(*store::ledger_sum(c, tenant), 9);
    auto queued = c.exec(
        "SELECT count(*) FROM sms_delivery_logs WHERE campaign_id = $1 AND status = 'queued'",
        {camp.id});
    EXPECT_EQ(queued->front().get<std::int64_t>(0), 0);
}

TEST(concurrency, a_contact_deleted_during_an_expansion_leaves_no_message_pointing_at_it) {
    // The log's recipient_id has no foreign key (decision 0018): the audience fence keeps a
    // deletion and an expansion of the same tenant apart.
    std::string db = test::pg::instance().fresh_database();
    auto c = test::pg::connect(db);
    auto other = test::pg::connect(db);
    auto tenant = make_tenant(c, 10);
    const auto group = core::uuid_v4(), camp = core::uuid_v4();
    std::vector<core::uuid> people{core::uuid_v7(), core::uuid_v7(), core::uuid_v7()};
    ASSERT_TRUE(c.exec("INSERT INTO contact_groups (id, user_id, name) VALUES ($1, $2, 'g')",
                       {group, tenant}));
    for (std::size_t i = 0; i < people.size(); ++i) {
        ASSERT_TRUE(c.exec("INSERT INTO contacts (id, user_id, phone_number) VALUES ($1, $2, $3)",
                           {people[i], tenant, "+121255501" + std::to_string(10 + i)}));
        ASSERT_TRUE(
            c.exec("INSERT INTO contact_group_members (group_id, contact_id, user_id, created_at) "
                   "VALUES ($1, $2, $3, now() - interval '1 minute')",
                   {group, people[i], tenant}));
    }
    ASSERT_TRUE(
        c.exec("INSERT INTO sms_campaigns (id, user_id, name, message_template, status, "
               "started_at) VALUES ($1, $2, 'c', 'Hi', 'running', now())",
               {camp, tenant}));
    ASSERT_TRUE(c.exec("INSERT INTO sms_campaign_groups (campaign_id, group_id) VALUES ($1, $2)",
                       {camp, group}));
    auto rows = [&] {  // messages, and those whose recipient is gone
        auto rs = c.exec(
            "SELECT count(*), count(*) FILTER (WHERE recipient_id IS NOT NULL AND NOT "
            "EXISTS (SELECT 1 FROM contacts k WHERE k.id = recipient_id)) FROM "
            "sms_delivery_logs WHERE campaign_id = $1",
            {camp});
        return std::pair(rs->front().get<std::int64_t>(0), rs->front().get<std::int64_t>(1));
    };

    // A deletion in progress holds the campaign's expansion back until it commits; the
    // expansion then does not find the contact.
    {
        auto tx = db::transaction::begin(other);
        ASSERT_TRUE(tx);
        ASSERT_TRUE(store::delete_contact(other, tenant, people[0]));
        auto held = store::advance_campaigns(c, 1, 128);
        ASSERT_TRUE(held) << held.error().message;
        EXPECT_EQ(*held, 0) << "the expansion waits for the deletion";
        ASSERT_TRUE(tx->commit());
    }
    auto first = store::advance_campaigns(c, 1, 128);
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_EQ(*first, 1);
    EXPECT_EQ(rows().first, 1);

    // An expansion in progress (its chunk's fence, taken here by hand) makes a deletion wait
    // for its commit; the deletion then finds the message the chunk wrote and clears its
    // contact, as ON DELETE SET NULL did.
    ASSERT_TRUE(other.exec("BEGIN"));
    ASSERT_TRUE(other.exec("SELECT pg_advisory_xact_lock_shared($1, hashtext($2::text))",
                           {store::audience_fence_class, tenant}));
    std::atomic<bool> deleted = false;
    std::thread deleter([&] {
        auto d = test::pg::connect(db);
        auto tx = db::transaction::begin(d);
        ASSERT_TRUE(tx);
        ASSERT_TRUE(store::delete_contact(d, tenant, people[2]));
        ASSERT_TRUE(tx->commit());
        deleted = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_FALSE(deleted) << "the deletion waits for the expansion's chunk";
    ASSERT_TRUE(
        other.exec("INSERT INTO sms_delivery_logs (id, created_at, campaign_id, recipient_id, "
                   "user_id, phone_number, body, cost, status) VALUES ($1, now(), $2, $3, $4, "
                   "'+12125550112', 'Hi', 1, 'queued')",
                   {core::uuid_v7(), camp, people[2], tenant}));
    ASSERT_TRUE(other.exec("COMMIT"));
    deleter.join();
    EXPECT_TRUE(deleted);
    const auto [messages, dangling] = rows();
    EXPECT_EQ(messages, 2);
    EXPECT_EQ(dangling, 0) << "no message points at a deleted contact";
}

TEST(concurrency, fifty_parallel_sends_against_twenty_credits_accept_exactly_twenty) {
    // The sends arrive together and are committed in groups: a group the balance cannot
    // cover falls back to one debit per message, in order, until the credits run out.
    test::api_server s;
    auto t = s.make_tenant("burst", 20);
    s.call("PUT", "/v1/admin/tenants/" + t.id + "/sender-ids/Acme", s.admin(),
           {{"is_default", true}});
    std::atomic<int> accepted{0}, refused{0}, other{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < 50; ++i)
        threads.emplace_back([&, i] {
            while (!go) std::this_thread::yield();
            auto r = s.call("POST", "/v1/messages", t.token,
                            {{"to", "+4474001230" + std::to_string(10 + i)}, {"body", "Hi"}});
            if (r.status == 202)
                ++accepted;
            else if (r.status == 402 && r.error_code() == "insufficient_credits")
                ++refused;
            else
                ++other;
        });
    go = true;
    for (auto& th : threads) th.join();
    EXPECT_EQ(accepted, 20);
    EXPECT_EQ(refused, 30);
    EXPECT_EQ(other, 0);
    auto db = test::pg::connect(s.database());
    auto tenant = core::uuid::parse(t.id);
    ASSERT_TRUE(tenant);
    EXPECT_EQ(*store::balance(db, *tenant), 0);
    EXPECT_EQ(*store::ledger_sum(db, *tenant), 0);
    auto logs = db.exec("SELECT count(*) FROM sms_delivery_logs WHERE user_id = $1", {t.id});
    EXPECT_EQ(logs->front().get<std::int64_t>(0), 20) << "one log row per accepted message";
    auto audits = db.exec(
        "SELECT count(*) FROM audit_logs WHERE action = 'messages.send' AND target_id IN (SELECT "
        "id::text FROM sms_delivery_logs WHERE user_id = $1)",
        {t.id});
    EXPECT_EQ(audits->front().get<std::int64_t>(0), 20) << "one audit row per accepted message";
    // Written together in one statement, each row still carries its own message's details.
    auto matching = db.exec(
        "SELECT count(*) FROM audit_logs a JOIN sms_delivery_logs l ON l.id::text = a.target_id "
        "WHERE l.user_id = $1 AND a.action = 'messages.send' AND a.target_type = 'message' AND "
        "a.tenant_id = l.user_id AND a.user_id IS NOT NULL AND a.details ->> 'to' = "
        "l.phone_number AND (a.details ->> 'segments')::int = 1 AND a.ip_address = '127.0.0.1'",
        {t.id});
    EXPECT_EQ(matching->front().get<std::int64_t>(0), 20);
}

/// The count a `SELECT count(*) ...` gives; -1, and a failed expectation, when it fails.
std::int64_t count_of(db::connection& db, const std::string& sql, db::params args = {}) {
    auto r = db.exec(sql, args);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? r->front().get<std::int64_t>(0) : -1;
}

/// How many of `ids` (the messages of 202 answers) name a row of the delivery log.
std::int64_t logged(db::connection& db, const std::vector<std::string>& ids) {
    std::string list = "{";
    for (std::size_t i = 0; i < ids.size(); ++i) list += (i ? "," : "") + ids[i];
    list += "}";
    return count_of(db, "SELECT count(*) FROM sms_delivery_logs WHERE id = ANY($1::uuid[])",
                    {list});
}

/// Until `running` is zero, terminates every few milliseconds the server's database
/// connections that are doing something (the pool's, and the send batcher's pipelined one
/// with `sends`; not the lanes', not idle ones); returns how many.
///
/// With `progress`, after each cut it also waits until `progress` moves (some request got
/// through). Every cut costs the server a new connection, and cuts that come faster than
/// connections open let nothing through and test nothing: on one machine whose fork() took
/// 9 ms, a connection took 20 ms to open and cuts every 15 ms let 7 sends of 800 through.
int cut_connections(const std::string& database, const std::atomic<int>& running,
                    std::chrono::milliseconds every, bool sends = false,
                    const std::atomic<int>* progress = nullptr) {
    auto db = test::pg::connect(database);
    int kills = 0;
    while (running > 0) {
        auto r = db.exec(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND "
            "(application_name = 'herald' OR ($1 AND application_name = 'herald sends')) AND "
            "state <> 'idle'",
            {sends});
        const int cut = r ? int(r->front().get<std::int64_t>(0)) : 0;
        const int seen = progress ? progress->load() : 0;
        kills += cut;
        std::this_thread::sleep_for(every);
        while (progress && cut > 0 && running > 0 && *progress == seen)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return kills;
}

TEST(concurrency, sends_whose_database_connections_are_cut_are_each_written_once) {
    // Under load, the server's database connections are terminated again and again, at
    // whatever they are doing: a group commit may lose its connection before, during or
    // after its COMMIT. A batch written again after a lost connection must not be written
    // twice, and none may be lost: every 202 names one row, no request has two, and the
    // ledger pays for exactly the rows there are.
    test::api_server s;
    auto t = s.make_tenant("cut", 100000);
    s.call("PUT", "/v1/admin/tenants/" + t.id + "/sender-ids/Acme", s.admin(),
           {{"is_default", true}});
    constexpr int clients = 8, each = 100;
    std::atomic<int> running{clients}, failed{0}, kills{0}, answered{0};
    std::mutex ids_mutex;
    std::vector<std::string> accepted;
    std::vector<std::thread> threads;
    for (int k = 0; k < clients; ++k)
        threads.emplace_back([&, k] {
            for (int i = 0; i < each; ++i) {
                auto r = s.call("POST", "/v1/messages", t.token,
                                {{"to", "+44740012" + std::to_string(1000 + k * each + i)},
                                 {"body", "cut " + std::to_string(k) + "-" + std::to_string(i)}});
                if (r.status == 202) {
                    std::lock_guard l(ids_mutex);
                    accepted.push_back(r.body["id"]);
                    ++answered;
                } else {
                    EXPECT_GE(r.status, 500) << r.raw;  // a lost connection, nothing else
                    ++failed;
                }
            }
            --running;
        });
    std::thread killer([&] {
        kills =
            cut_connections(s.database(), running, std::chrono::milliseconds(15), true, &answered);
    });
    for (auto& th : threads) th.join();
    killer.join();
    // The batcher's own pipelined connection was among those cut, with batches in flight.
    const std::string out = s.process().output();
    int pipelined = 0;
    for (std::size_t at = 0; (at = out.find("pipelined connection lost", at)) != std::string::npos;
         ++at)
        ++pipelined;
    std::printf(
        "sends: %zu accepted, %d failed; %d database connections terminated, %d of them "
        "the batcher's pipelined one\n",
        accepted.size(), failed.load(), kills.load(), pipelined);
    EXPECT_GT(kills, 0);
    EXPECT_GT(pipelined, 0);
    EXPECT_GT(accepted.size(), std::size_t(clients * each / 2));

    auto db = test::pg::connect(s.database());
    auto count = [&](const std::string& sql, std::vector<db::param> args = {}) {
        return count_of(db, sql, std::move(args));
    };
    EXPECT_EQ(logged(db, accepted), std::int64_t(accepted.size())) << "every 202 names a row";
    EXPECT_EQ(count("SELECT count(*) FROM (SELECT body FROM sms_delivery_logs WHERE user_id = $1 "
                    "GROUP BY body HAVING count(*) > 1) twice",
                    {t.id}),
              0)
        << "no request was written twice";
    const auto rows = count("SELECT count(*) FROM sms_delivery_logs WHERE user_id = $1", {t.id});
    EXPECT_GE(rows, std::int64_t(accepted.size()));
    EXPECT_LE(rows, std::int64_t(accepted.size()) + failed.load())
        << "a row without a 202 can only be a send whose answer was an error";
    auto tenant = core::uuid::parse(t.id);
    ASSERT_TRUE(tenant);
    EXPECT_EQ(*store::balance(db, *tenant), 100000 - rows) << "each row paid for once";
    EXPECT_EQ(*store::ledger_sum(db, *tenant), 100000 - rows);
    EXPECT_EQ(count("SELECT count(*) FROM audit_logs WHERE action = 'messages.send' AND "
                    "tenant_id = $1",
                    {t.id}),
              rows)
        << "one audit row per message";
}

TEST(concurrency, sends_go_through_the_pool_while_the_batcher_cannot_open_its_own_connection) {
    // The batcher's pipelined connection is cut while PostgreSQL refuses new connections to
    // the database: the batcher cannot open another, and writes on the pool's connections
    // (already open) instead. Once connections are allowed again it opens its own anew.
    test::api_server s;
    auto t = s.make_tenant("refused", 1000);
    s.call("PUT", "/v1/admin/tenants/" + t.id + "/sender-ids/Acme", s.admin(),
           {{"is_default", true}});
    auto db = test::pg::connect(s.database());
    auto count = [&](const std::string& sql, std::vector<db::param> args = {}) {
        return count_of(db, sql, std::move(args));
    };
    const std::string batcher_connections =
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
        "application_name = 'herald sends'";
    std::vector<std::string> accepted;
    auto send = [&](const std::string& body) {
        auto r =
            s.call("POST", "/v1/messages", t.token,
                   {{"to", "+4474001" + std::to_string(23000 + accepted.size())}, {"body", body}});
        EXPECT_EQ(r.status, 202) << r.raw;
        if (r.status == 202) accepted.push_back(r.body["id"]);
    };
    // The first send is read first on the pool's connection; those after it go pipelined.
    for (int i = 0; i < 3; ++i) send("before " + std::to_string(i));
    ASSERT_EQ(count(batcher_connections), 1) << "the batcher opened its pipelined connection";

    const auto name = db.exec("SELECT current_database()")->front().get<std::string>(0);
    auto admin = test::pg::connect(test::pg::instance().conninfo("postgres"));
    ASSERT_TRUE(admin.exec("ALTER DATABASE \"" + name + "\" ALLOW_CONNECTIONS false"));
    ASSERT_EQ(count("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM "
                    "pg_stat_activity WHERE datname = current_database() AND "
                    "application_name = 'herald sends'"),
              1);
    for (int i = 0; i < 10; ++i) send("refused " + std::to_string(i));
    EXPECT_EQ(count(batcher_connections), 0);
    EXPECT_NE(s.process().output().find("no pipelined connection"), std::string::npos)
        << "the batcher says why it writes on the pool's connections";

    ASSERT_TRUE(admin.exec("ALTER DATABASE \"" + name + "\" ALLOW_CONNECTIONS true"));
    // It tries again at most once a second.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int after = 0;
    while (count(batcher_connections) == 0 && std::chrono::steady_clock::now() < until) {
        send("after " + std::to_string(after++));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    EXPECT_EQ(count(batcher_connections), 1) << "the batcher opened its connection again";

    EXPECT_EQ(logged(db, accepted), std::int64_t(accepted.size())) << "every 202 names a row";
    EXPECT_EQ(count("SELECT count(*) FROM sms_delivery_logs WHERE user_id = $1", {t.id}),
              std::int64_t(accepted.size()))
        << "and there is no other";
    auto tenant = core::uuid::parse(t.id);
    ASSERT_TRUE(tenant);
    EXPECT_EQ(*store::balance(db, *tenant), 1000 - std::int64_t(accepted.size()));
    EXPECT_EQ(*store::ledger_sum(db, *tenant), 1000 - std::int64_t(accepted.size()));
    EXPECT_EQ(count("SELECT count(*) FROM audit_logs WHERE action = 'messages.send' AND "
                    "tenant_id = $1",
                    {t.id}),
              std::int64_t(accepted.size()));
}

TEST(concurrency, a_change_whose_commit_lost_its_connection_is_not_made_again) {
    // Top-ups through the admin API while the server's busy database connections are cut: a
    // handler whose COMMIT lost its connection is not run again (that could credit twice);
    // it answers 503 commit_unknown, and the change may or may not be there. (In runs where
    // such handlers were run again, none had committed: a lone COMMIT seldom takes effect
    // and loses its answer. The pipelined sends above did.) Every other failure is a 5xx:
    // before, a lost connection while looking the tenant up answered 404 "tenant not found".
    test::api_server s;
    auto t = s.make_tenant("topups", 0);
    constexpr int clients = 6, each = 60;
    std::atomic<int> running{clients}, ok{0}, unknown{0}, lost{0}, kills{0};
    std::vector<std::thread> threads;
    for (int k = 0; k < clients; ++k)
        threads.emplace_back([&] {
            for (int i = 0; i < each; ++i) {
                auto r = s.call("POST", "/v1/admin/tenants/" + t.id + "/credits", s.admin(),
                                {{"credits", 1}, {"amount", "0"}});
                if (r.status < 300)
                    ++ok;
                else if (r.status == 503 && r.error_code() == "commit_unknown")
                    ++unknown;
                else {
                    EXPECT_GE(r.status, 500) << r.raw;  // a lost connection before the commit
                    ++lost;
                }
            }
            --running;
        });
    std::thread killer(
        [&] { kills = cut_connections(s.database(), running, std::chrono::milliseconds(10)); });
    for (auto& th : threads) th.join();
    killer.join();
    std::printf("top-ups: %d made, %d unknown, %d failed; %d connections terminated\n", ok.load(),
                unknown.load(), lost.load(), kills.load());
    EXPECT_GT(kills, 0);
    auto db = test::pg::connect(s.database());
    auto tenant = core::uuid::parse(t.id);
    ASSERT_TRUE(tenant);
    const int balance = *store::balance(db, *tenant);
    EXPECT_GE(balance, ok.load());
    EXPECT_LE(balance, ok.load() + unknown.load()) << "a top-up was made twice";
    EXPECT_EQ(*store::ledger_sum(db, *tenant), balance);
}

}  // namespace
}  // namespace herald
