#include "http/detail/send_batcher.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <poll.h>
#include <set>
#include <sys/eventfd.h>
#include <system_error>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/thread.hpp"
#include "db/errc.hpp"
#include "http/router.hpp"
#include "store/billing.hpp"
#include "store/errc.hpp"
#include "store/opt_outs.hpp"

namespace herald::http::detail {

send_batcher::send_batcher(db::pool& pool, std::function<void()> on_queued,
                           std::optional<send_handoff> handoff, std::size_t max_batch)
    : pool_(pool),
      on_queued_(std::move(on_queued)),
      handoff_(std::move(handoff)),
      max_batch_(max_batch) {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
    thread_ = core::named_thread("http-sends", [this] { run(); });
    answerer_ = core::named_thread("http-answers", [this] { answer(); });
}

send_batcher::~send_batcher() {
    {
        std::lock_guard l(mutex_);
        stopping_ = true;
    }
    (void)::eventfd_write(wake_fd_, 1);
    thread_.join();
    ::close(wake_fd_);
    {
        std::lock_guard l(answers_mutex_);
        answers_stopping_ = true;
    }
    answers_wake_.notify_all();
    answerer_.join();
}

void send_batcher::answer() {
    while (true) {
        std::vector<answered> ready;
        {
            std::unique_lock l(answers_mutex_);
            answers_wake_.wait(l, [this] { return answers_stopping_ || !answers_.empty(); });
            if (answers_.empty()) return;
            ready.swap(answers_);
        }
        for (auto& a : ready) a.done(std::move(a.result));
    }
}

void send_batcher::send(send_job job, std::function<void(send_result)> done) {
    bool wake = false;
    {
        std::unique_lock l(mutex_);
        if (stopping_) {
            l.unlock();
            done(error_response(503, "unavailable", "Herald is shutting down"));
            return;
        }
        queue_.push_back({std::move(job), std::move(done)});
        wake = std::exchange(sleeping_, false);
    }
    if (wake) (void)::eventfd_write(wake_fd_, 1);
}

namespace {

/// The fewest sends that go out as a batch behind one committing (decision 0026).
constexpr std::size_t fewest_behind = 6;

}  // namespace

void send_batcher::run() {
    std::deque<flight> flights;  // at most two: one committing, the next behind it
    while (true) {
        // The next batch goes out once every statement of the one before has answered, so
        // that PostgreSQL takes it up as soon as that one's commit reaches the disk. Sent
        // earlier, it would hold only the few sends that came in meanwhile.
        bool may_send = flights.empty() || (flights.size() == 1 && flights.front().committing());
        std::vector<pending> batch;
        {
            std::lock_guard l(mutex_);
            // Behind a batch, a few sends wait for it to land instead: each batch costs a
            // flush of its own, and more come in meanwhile.
            if (!flights.empty() && queue_.size() < fewest_behind) may_send = false;
            if (may_send)
                while (!queue_.empty() && batch.size() < max_batch_) {
                    batch.push_back(std::move(queue_.front()));
                    queue_.pop_front();
                }
            if (batch.empty() && flights.empty() && stopping_) return;  // nothing left to write
            sleeping_ = batch.empty() && may_send;
        }
        if (!batch.empty()) {
            launch(batch, flights);
            continue;
        }
        wait(may_send, false);
        if (!flights.empty() && !receive(flights)) continue;
        land(flights);
    }
}

void send_batcher::wait(bool sends, bool out) {
    pollfd fds[2];
    nfds_t n = 0;
    if (sends) fds[n++] = {.fd = wake_fd_, .events = POLLIN, .revents = 0};
    if (pipelined_)
        fds[n++] = {.fd = pipelined_->socket(),
                    .events = short(POLLIN | (out ? POLLOUT : 0)),
                    .revents = 0};
    if (n == 0) return;
    if (::poll(fds, n, -1) < 0 && errno != EINTR) {
        spdlog::error("send batcher: poll failed ({})", std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    eventfd_t ignored;
    if (sends && (fds[0].revents & POLLIN)) (void)::eventfd_read(wake_fd_, &ignored);
}

bool send_batcher::open_pipeline() {
    if (pipelined_) return true;
    if (std::chrono::steady_clock::now() < reopen_after_) return false;
    auto c = pool_.open_pipelined("sends");
    if (!c) {
        reopen_after_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        spdlog::warn("send batcher: no pipelined connection ({}); writing on the pool's",
                     c.error().message);
        return false;
    }
    pipelined_.emplace(std::move(*c));
    return true;
}

void send_batcher::launch(std::vector<pending>& batch, std::deque<flight>& flights) {
    if (!guesses_.cover(batch) || !open_pipeline()) {
        // Reading first: the flights before it land first, so that batches commit in the
        // order they came (which decides who gets the last credits).
        while (!flights.empty()) {
            wait(false, false);
            if (receive(flights)) land(flights);
        }
        write(batch);
        return;
    }
    auto& f = flights.emplace_back();
    f.batch = std::move(batch);
    auto p = prepare(nullptr, f.batch, way::at_once, f.w, true);
    if (!p) {  // nothing was sent: written the pooled way, which reports what fails
        auto lone = std::move(f.batch);
        flights.pop_back();
        write(lone);
        return;
    }
    f.p = std::move(*p);
    f.w.commit_sent = true;
    for (const auto& st : f.p.writes)
        if (auto sent = pipelined_->pipeline_send(st.sql, st.args, false, false); !sent)
            return lose(flights, sent.error());
    if (auto synced = pipelined_->pipeline_sync(); !synced) return lose(flights, synced.error());
    for (;;) {
        auto all = pipelined_->pipeline_flush();
        if (!all) return lose(flights, all.error());
        if (*all) break;
        // The socket is full: answers are read meanwhile, since a server that cannot write
        // them stops reading.
        wait(false, true);
        if (!receive(flights)) return;
    }
}

bool send_batcher::receive(std::deque<flight>& flights) {
    auto got = pipelined_->pipeline_receive([&flights](result<db::rows> r) {
        for (auto& f : flights)
            if (!f.answered()) {
                f.answers.push_back(std::move(r));
                return;
            }
    });
    if (!got) {
        lose(flights, got.error());
        return false;
    }
    return true;
}

void send_batcher::land(std::deque<flight>& flights) {
    while (!flights.empty() && flights.front().answered()) {
        auto& f = flights.front();
        bool failed = false;
        for (const auto& a : f.answers) failed = failed || !a;
        if (failed) {
            // Rolled back at its sync point. Those after it were built on the same guesses: all
            // land before this one is written again.
            while (!std::all_of(flights.begin(), flights.end(),
                                [](const flight& x) { return x.answered(); })) {
                wait(false, false);
                if (!receive(flights)) return;
            }
        }
        // The sync point's answer is the commit's: when it failed, so did the batch.
        auto commit = std::move(f.answers.back());
        f.answers.pop_back();
        if (!commit && !f.answers.empty()) f.answers.back() = std::move(commit);
        result<std::vector<result<db::rows>>> done = std::move(f.answers);
        auto settled = settle(nullptr, way::at_once, f.p, std::move(done), f.w);
        auto batch = std::move(f.batch);
        auto w = std::move(f.w);
        flights.pop_front();
        if (settled && *settled) {
            ++committed_[std::size_t(way::at_once)];
            deliver(batch, {}, w);
        } else {
            write(batch);
        }
    }
}

void send_batcher::lose(std::deque<flight>& flights, const error& e) {
    spdlog::warn(
        "send batcher: pipelined connection lost ({}); {} batch(es) are checked and "
        "written on the pool's",
        e.message, flights.size());
    pipelined_.reset();
    std::deque<flight> lost = std::move(flights);
    flights.clear();
    for (auto& f : lost) {
        if (f.answered()) {  // its answers all came: it is settled as usual
            std::deque<flight> one;
            one.push_back(std::move(f));
            land(one);
            continue;
        }
        write(f.batch, std::move(f.w));
    }
}

namespace {

using results = std::vector<result<db::rows>>;
using store::run_together;

}  // namespace

bool send_batcher::guesses::cover(const std::vector<pending>& batch) const {
    for (const auto& p : batch)
        if (!senders.contains({p.job.message.tenant, p.job.requested_from})
            || !prices.contains(p.job.region))
            return false;
    return true;
}

void send_batcher::guesses::learn(const std::map<sender_key, result<std::string>>& read,
                                  const std::map<std::string, int>& read_prices) {
    // Many tenants with many senders: start again rather than grow without bound.
    constexpr std::size_t most = 4096;
    if (senders.size() + read.size() > most || prices.size() + read_prices.size() > most) forget();
    for (const auto& [key, sender] : read)
        if (sender)
            senders[key] = *sender;
        else
            senders.erase(key);
    for (const auto& [region, price] : read_prices) prices[region] = price;
}

result<bool> send_batcher::attempt(db::connection& c, std::vector<pending>& batch, way how,
                                   written& w) {
    auto p = prepare(&c, batch, how, w);
    if (!p) return std::unexpected(p.error());
    auto done = run_together(c, p->writes);
    return settle(&c, how, *p, std::move(done), w);
}

result<send_batcher::plan> send_batcher::prepare(db::connection* c, std::vector<pending>& batch,
                                                 way how, written& w, bool pipelined) {
    const std::size_t n = batch.size();
    w.out.assign(n, std::nullopt);
    w.leased.clear();
    w.queued_any = false;
    const bool guessing = how == way::at_once;
    w.ids.clear();
    w.index.clear();
    w.commit_sent = false;
    // Begin, the send fence (leasing to this node is ordered against opt-outs as a claim is),
    // then the checks: read in a round trip of their own, or, when guessing, expectations
    // that fail the transaction if what they would read differs.
    // (The pipelined way has no BEGIN nor COMMIT: its statements up to the sync point after
    // them make one transaction.)
    std::vector<store::statement> checks;
    if (!pipelined) checks.push_back({"BEGIN", {}});
    if (handoff_) checks.push_back(store::send_fence_statement());
    std::map<core::uuid, std::vector<std::string>> numbers;
    for (const auto& p : batch) numbers[p.job.message.tenant].push_back(p.job.message.to);
    std::map<core::uuid, std::size_t> opted_at;
    for (const auto& [tenant, list] : numbers) {
        opted_at[tenant] = checks.size();
        checks.push_back(guessing ? store::none_opted_out_statement(tenant, list)
                                  : store::opted_out_statement(tenant, list));
    }
    std::map<sender_key, std::size_t> sender_at;
    std::map<std::string, std::size_t> price_at;
    for (const auto& p : batch) {
        auto key = sender_key(p.job.message.tenant, p.job.requested_from);
        if (sender_at.emplace(key, checks.size()).second)
            checks.push_back(guessing ? store::sender_is_statement(key.first, key.second,
                                                                   guesses_.senders.at(key))
                                      : store::sender_statement(key.first, key.second));
        if (price_at.emplace(p.job.region, checks.size()).second)
            checks.push_back(
                guessing ? store::price_is_statement(p.job.region, guesses_.prices.at(p.job.region))
                         : store::price_statement(p.job.region));
    }
    std::map<core::uuid, std::set<std::string>> opted;
    std::map<sender_key, result<std::string>> senders;
    std::map<std::string, int> prices;
    if (guessing) {
        for (const auto& [key, at] : sender_at) senders.emplace(key, guesses_.senders.at(key));
        for (const auto& [region, at] : price_at) prices[region] = guesses_.prices.at(region);
    } else {
        auto got = run_together(*c, checks);
        if (!got) return std::unexpected(got.error());
        for (const auto& [tenant, at] : opted_at) {
            auto list = store::opted_out_from(*(*got)[at]);
            opted[tenant] = {list.begin(), list.end()};
        }
        for (const auto& [key, at] : sender_at)
            senders.emplace(key, store::sender_from(*(*got)[at], key.second));
        for (const auto& [region, at] : price_at) prices[region] = store::price_from(*(*got)[at]);
        guesses_.learn(senders, prices);
        checks.clear();
    }
    std::vector<store::new_message> rows(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto& j = batch[i].job;
        const auto& sender = senders.at({j.message.tenant, j.requested_from});
        if (!sender) {
            w.out[i] = error_response(sender.error());
            continue;
        }
        if (opted[j.message.tenant].contains(j.message.to)) {
            w.out[i] =
                error_response(422, "opted_out",
                               j.message.to + " has opted out of messages from this account", "to");
            continue;
        }
        rows[i] = j.message;
        rows[i].from = *sender;
        rows[i].cost = prices.at(j.region) * j.message.segments;
    }
    // One debit per tenant. Usually the balance covers them, and they go in one round trip
    // with the inserts; if one does not, all of it is rolled back and the batch is written
    // again carefully: one debit per message of that tenant in the order they came, until
    // the balance runs out.
    std::map<core::uuid, std::vector<std::size_t>> by_tenant;
    for (std::size_t i = 0; i < n; ++i)
        if (!w.out[i]) by_tenant[batch[i].job.message.tenant].push_back(i);
    std::vector<store::statement> debits;
    for (const auto& [tenant, list] : by_tenant) {
        int total = 0;
        for (auto i : list) total += rows[i].cost;
        if (total == 0) continue;
        const auto& first = batch[list.front()].job;
        const store::debit_request whole{
            .tenant = tenant,
            .credits = total,
            .transaction_type = "message_cost",
            .description = list.size() == 1 ? "message to " + first.message.to
                                            : std::to_string(list.size()) + " messages",
            .by = first.by};
        if (how != way::carefully) {
            debits.push_back(guessing ? store::debit_or_fail_statement(whole)
                                      : store::debit_statement(whole));
            continue;
        }
        auto d = store::debit(*c, whole);
        if (d) continue;
        if (d.error().code != store::errc::insufficient_credits) return std::unexpected(d.error());
        for (auto i : list) {
            if (rows[i].cost == 0) continue;
            auto one = store::debit(*c, {.tenant = tenant,
                                         .credits = rows[i].cost,
                                         .transaction_type = "message_cost",
                                         .description = "message to " + rows[i].to,
                                         .by = batch[i].job.by});
            if (one) continue;
            if (one.error().code != store::errc::insufficient_credits)
                return std::unexpected(one.error());
            w.out[i] = error_response(402, "insufficient_credits",
                                      "the message costs " + std::to_string(rows[i].cost)
                                          + " credits and the balance does not cover it");
        }
    }
    // The messages' ids are made here, so that their audit rows go with their insert.
    std::vector<store::new_message> accepted;
    std::vector<std::size_t> index;
    std::vector<core::uuid> ids;
    std::vector<store::audit_entry> audits;
    for (std::size_t i = 0; i < n; ++i) {
        if (w.out[i]) continue;
        const auto& m = rows[i];
        ids.push_back(core::uuid_v7());
        auto& a = audits.emplace_back(batch[i].job.audit);
        a.target_type = "message";
        a.target_id = ids.back().str();
        a.details = nlohmann::json{{"to", m.to}, {"segments", m.segments}, {"cost", m.cost}}.dump();
        accepted.push_back(std::move(rows[i]));
        index.push_back(i);
    }
    // What is left goes in one round trip: the checks if guessing, the debits, the insert and
    // the audit rows, and the COMMIT too if guessing on a pooled connection (pipelined, the
    // sync point after them commits).
    plan p;
    p.writes = std::move(checks);
    p.first_debit = p.writes.size();
    p.debit_count = debits.size();
    for (auto& d : debits) p.writes.push_back(std::move(d));
    p.insert_at = p.writes.size();
    if (!accepted.empty()) {
        p.writes.push_back(
            store::accept_statement(accepted, ids, handoff_ ? &handoff_->lease : nullptr));
        p.writes.push_back(store::audits_statement(audits));
    }
    w.ids = std::move(ids);
    w.index = std::move(index);
    if (guessing && !pipelined) p.writes.push_back({"COMMIT", {}});
    return p;
}

result<bool> send_batcher::settle(db::connection* c, way how, const plan& p,
                                  result<std::vector<result<db::rows>>> done, written& w) {
    const bool guessing = how == way::at_once;
    if (guessing) w.commit_sent = true;
    if (done) {  // as run_together: the first statement that failed fails the whole
        std::optional<error> first;
        for (const auto& r : *done)
            if (!r && !first) first = r.error();
        if (first) done = std::unexpected(std::move(*first));
    }
    if (guessing && !done) {
        // A failed statement aborted the transaction, and the COMMIT after it rolled it back
        // (or did not run). A lost connection may have taken the COMMIT's answer with it.
        if (c && c->in_transaction())
            if (auto rb = c->exec("ROLLBACK"); !rb) return std::unexpected(rb.error());
        if (done.error().transient()) return std::unexpected(done.error());
        guesses_.forget();
        return false;
    }
    if (!done) return std::unexpected(done.error());
    if (!guessing) {
        for (std::size_t k = p.first_debit; k < p.first_debit + p.debit_count; ++k)
            if ((*done)[k]->empty()) {  // refused: nothing of this attempt stays
                if (auto rb = c->exec("ROLLBACK"); !rb) return std::unexpected(rb.error());
                return false;
            }
        w.commit_sent = true;
        if (auto cm = c->exec("COMMIT"); !cm) return std::unexpected(cm.error());
    }
    if (w.ids.empty()) return true;
    auto made = store::accepted_from(*(*done)[p.insert_at]);
    for (std::size_t k = 0; k < w.index.size(); ++k)
        w.out[w.index[k]] = std::move(made.messages[k]);
    w.queued_any = w.index.size() > made.leased.size();
    w.leased = std::move(made.leased);
    return true;
}

result<bool> send_batcher::committed_before(db::connection& c, written& w) {
    if (w.ids.empty()) return false;  // nothing was to be inserted, nor charged
    auto found = store::messages_with_ids(c, w.ids);
    if (!found) return std::unexpected(found.error());
    spdlog::warn(
        "a batch of {} sends lost its database connection after its COMMIT was sent; "
        "it had {}",
        w.ids.size(), found->empty() ? "not committed, and is written again" : "committed");
    if (found->empty()) return false;
    if (found->size() != w.ids.size())
        return fail(db::errc::query_failed, "a batch of sends was found committed in part");
    for (std::size_t k = 0; k < w.index.size(); ++k) w.out[w.index[k]] = std::move((*found)[k]);
    // Those leased to this node are not handed over: the claim takes them once their lease
    // runs out.
    w.leased.clear();
    w.queued_any = true;
    w.commit_sent = false;
    return true;
}

void send_batcher::write(std::vector<pending>& batch) {
    write(batch, written{});
}

void send_batcher::write(std::vector<pending>& batch, written w) {
    auto r = pool_.run([&](db::connection& c) -> result<void> {
        // Written again only if the last try's COMMIT, sent before its connection was lost,
        // did not take effect: else every message would be inserted and charged twice.
        if (w.commit_sent) {
            auto before = committed_before(c, w);
            if (!before) return std::unexpected(before.error());
            if (*before) return {};
        }
        // At once when the senders and prices are known from earlier batches; then reading
        // first (an expectation failed, or they were not known); then carefully (a debit was
        // refused).
        result<bool> a = false;
        for (auto how : {way::at_once, way::reading_first, way::carefully}) {
            if (how == way::at_once && !guesses_.cover(batch)) continue;
            a = attempt(c, batch, how, w);
            if (a && *a) ++committed_[std::size_t(how)];
            if (!a || *a) break;
        }
        if (!a) {
            (void)c.exec("ROLLBACK");  // run() may try again on a fresh connection
            return std::unexpected(a.error());
        }
        return {};
    });
    deliver(batch, r, w);
}

void send_batcher::deliver(std::vector<pending>& batch, const result<void>& r, written& w) {
    if (r && !w.leased.empty()) handoff_->take(std::move(w.leased));
    if (r && w.queued_any && on_queued_) on_queued_();
    {
        std::lock_guard l(answers_mutex_);
        for (std::size_t i = 0; i < batch.size(); ++i)
            answers_.push_back({std::move(batch[i].done),
                                r ? std::move(*w.out[i]) : send_result(error_response(r.error()))});
    }
    answers_wake_.notify_one();
}

}  // namespace herald::http::detail
