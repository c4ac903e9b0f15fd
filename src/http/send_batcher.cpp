#include "http/detail/send_batcher.hpp"

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "db/transaction.hpp"
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
    thread_ = std::thread([this] { run(); });
}

send_batcher::~send_batcher() {
    {
        std::lock_guard l(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void send_batcher::send(send_job job, std::function<void(send_result)> done) {
    {
        std::unique_lock l(mutex_);
        if (stopping_) {
            l.unlock();
            done(error_response(503, "unavailable", "Herald is shutting down"));
            return;
        }
        queue_.push_back({std::move(job), std::move(done)});
    }
    wake_.notify_one();
}

void send_batcher::run() {
    while (true) {
        std::vector<pending> batch;
        {
            std::unique_lock l(mutex_);
            wake_.wait(l, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and nothing left to write
            while (!queue_.empty() && batch.size() < max_batch_) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        write(batch);
    }
}

void send_batcher::write(std::vector<pending>& batch) {
    const std::size_t n = batch.size();
    std::vector<std::optional<send_result>> out(n);
    bool queued_any = false;  // accepted and left for a claim
    std::vector<store::claimed_message> leased;
    auto r = pool_.run([&](db::connection& c) -> result<void> {
        out.assign(n, std::nullopt);  // run() may retry on a fresh connection
        queued_any = false;
        leased.clear();
        auto tx = db::transaction::begin(c);
        if (!tx) return std::unexpected(tx.error());
        // Leasing to this node is ordered against opt-outs as a claim is.
        if (handoff_)
            if (auto f = store::take_send_fence(c); !f) return std::unexpected(f.error());
        // Checks first, reading only: sender, opt-out, price.
        std::map<core::uuid, std::set<std::string>> opted;
        {
            std::map<core::uuid, std::vector<std::string>> numbers;
            for (const auto& p : batch) numbers[p.job.message.tenant].push_back(p.job.message.to);
            for (auto& [tenant, list] : numbers) {
                auto o = store::opted_out_among(c, tenant, list);
                if (!o) return std::unexpected(o.error());
                opted[tenant] = {o->begin(), o->end()};
            }
        }
        std::map<std::pair<core::uuid, std::optional<std::string>>, result<std::string>> senders;
        std::map<std::string, int> prices;
        std::vector<store::new_message> rows(n);
        for (std::size_t i = 0; i < n; ++i) {
            const auto& j = batch[i].job;
            auto key = std::pair(j.message.tenant, j.requested_from);
            auto s = senders.find(key);
            if (s == senders.end())
                s = senders
                        .emplace(key, store::resolve_sender(c, j.message.tenant, j.requested_from))
                        .first;
            if (!s->second) {
                if (s->second.error().code.category() != store::store_category())
                    return std::unexpected(s->second.error());
                out[i] = error_response(s->second.error());
                continue;
            }
            if (opted[j.message.tenant].contains(j.message.to)) {
                out[i] = error_response(
                    422, "opted_out", j.message.to + " has opted out of messages from this account",
                    "to");
                continue;
            }
            auto p = prices.find(j.region);
            if (p == prices.end()) {
                auto price = store::price_for(c, j.region);
                if (!price) return std::unexpected(price.error());
                p = prices.emplace(j.region, *price).first;
            }
            rows[i] = j.message;
            rows[i].from = *s->second;
            rows[i].cost = p->second * j.message.segments;
        }
        // One debit per tenant; if the balance does not cover them all, one per message in
        // the order they came, until it runs out.
        std::map<core::uuid, std::vector<std::size_t>> by_tenant;
        for (std::size_t i = 0; i < n; ++i)
            if (!out[i]) by_tenant[batch[i].job.message.tenant].push_back(i);
        auto refuse = [&](std::size_t i) {
            out[i] = error_response(402, "insufficient_credits",
                                    "the message costs " + std::to_string(rows[i].cost)
                                        + " credits and the balance does not cover it");
        };
        for (const auto& [tenant, list] : by_tenant) {
            int total = 0;
            for (auto i : list) total += rows[i].cost;
            if (total == 0) continue;
            const auto& first = batch[list.front()].job;
            auto d = store::debit(
                c, {.tenant = tenant,
                    .credits = total,
                    .transaction_type = "message_cost",
                    .description = list.size() == 1 ? "message to " + first.message.to
                                                    : std::to_string(list.size()) + " messages",
                    .by = first.by});
            if (d) continue;
            if (d.error().code != store::errc::insufficient_credits)
                return std::unexpected(d.error());
            for (auto i : list) {
                if (rows[i].cost == 0) continue;
                auto one = store::debit(c, {.tenant = tenant,
                                            .credits = rows[i].cost,
                                            .transaction_type = "message_cost",
                                            .description = "message to " + rows[i].to,
                                            .by = batch[i].job.by});
                if (one) continue;
                if (one.error().code != store::errc::insufficient_credits)
                    return std::unexpected(one.error());
                refuse(i);
            }
        }
        std::vector<store::new_message> accepted;
        std::vector<std::size_t> index;
        for (std::size_t i = 0; i < n; ++i)
            if (!out[i]) {
                accepted.push_back(std::move(rows[i]));
                index.push_back(i);
            }
        result<store::accepted_messages> written;
        if (handoff_) {
            written = store::accept_messages(c, accepted, handoff_->lease);
        } else if (auto w = store::accept_messages(c, accepted); w) {
            written = store::accepted_messages{.messages = std::move(*w), .leased = {}};
        } else {
            written = std::unexpected(w.error());
        }
        if (!written) return std::unexpected(written.error());
        std::vector<store::audit_entry> audits;
        audits.reserve(index.size());
        for (std::size_t k = 0; k < index.size(); ++k) {
            const auto& m = written->messages[k];
            auto& a = audits.emplace_back(batch[index[k]].job.audit);
            a.target_type = "message";
            a.target_id = m.id.str();
            a.details =
                nlohmann::json{{"to", m.to}, {"segments", m.segments}, {"cost", m.cost}}.dump();
            out[index[k]] = m;
        }
        if (auto w = store::write_audits(c, audits); !w) return std::unexpected(w.error());
        if (auto cm = tx->commit(); !cm) return std::unexpected(cm.error());
        queued_any = index.size() > written->leased.size();
        leased = std::move(written->leased);
        return {};
    });
    if (r && !leased.empty()) handoff_->take(std::move(leased));
    if (r && queued_any && on_queued_) on_queued_();
    for (std::size_t i = 0; i < n; ++i)
        batch[i].done(r ? std::move(*out[i]) : send_result(error_response(r.error())));
}

}  // namespace herald::http::detail
