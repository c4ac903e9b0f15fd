// Sending one message through the API, reading messages back, cancelling scheduled ones, and
// the sender IDs a tenant may use (managed by an admin).

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "db/param.hpp"
#include "http/detail/api_impl.hpp"
#include "http/detail/lane_reader.hpp"
#include "http/detail/send_batcher.hpp"
#include "phone/number.hpp"
#include "store/billing.hpp"
#include "store/errc.hpp"
#include "store/messages.hpp"
#include "store/opt_outs.hpp"
#include "text/message_template.hpp"
#include "text/segments.hpp"

namespace herald::http::detail {
namespace {

constexpr int max_batch = 10000;
constexpr std::string_view entry_fields[] = {"to",           "default_region", "body",
                                             "template",     "variables",      "from",
                                             "scheduled_at", "callback_url",   "validity"};

json message_json(const store::message& m) {
    return {{"id", m.id.str()},
            {"to", m.to},
            {"from", m.from},
            {"body", m.body},
            {"status", m.status},
            {"encoding", m.encoding},
            {"segments", m.segments},
            {"cost", m.cost},
            {"error_code", opt(m.error_code)},
            {"error_message", opt(m.error_message)},
            {"campaign_id", opt(m.campaign_id)},
            {"callback_url", opt(m.callback_url)},
            {"scheduled_at", iso_or_null(m.scheduled_at)},
            {"sent_at", iso_or_null(m.sent_at)},
            {"delivered_at", iso_or_null(m.delivered_at)},
            {"created_at", iso(m.created_at)},
            {"updated_at", iso(m.updated_at)}};
}

json sender_json(const store::sender_id_row& s) {
    return {{"sender_id", s.sender_id},
            {"is_default", s.is_default},
            {"created_at", iso(s.created_at)}};
}

response invalid_response(std::string field, std::string message,
                          std::string code = "invalid_value") {
    return error_response(422, code, std::move(message), std::move(field));
}

/// A stable fingerprint of a request body, to spot an Idempotency-Key reused for another
/// request (FNV-1a, 64 bits).
std::string fingerprint(std::string_view body) {
    std::uint64_t h = 14695981039346656037ull;
    for (unsigned char ch : body) h = (h ^ ch) * 1099511628211ull;
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

/// A validated POST /v1/messages body, before the database is involved.
struct send_request {
    std::string to, region, body, encoding;
    int segments = 1;
    std::optional<std::string> from, callback_url;
    std::optional<time_point> scheduled_at;
    std::optional<int> validity;
};

/// The delivery log row a validated send becomes.
store::new_message new_message_for(const core::uuid& tenant, const send_request& s,
                                   std::string from, int cost) {
    return {.tenant = tenant,
            .to = s.to,
            .from = std::move(from),
            .body = s.body,
            .encoding = s.encoding,
            .segments = s.segments,
            .cost = cost,
            .scheduled_at = s.scheduled_at,
            .callback_url = s.callback_url,
            .validity_seconds = s.validity};
}

/// 202 with the message, and where to find it.
response accepted_response(const store::message& m) {
    auto r = json_response(202, message_json(m));
    r.set("location", "/v1/messages/" + m.id.str());
    return r;
}

std::variant<send_request, response> parse_send(const json& b, int max_segments) {
    send_request r;
    auto to = required_string(b, "to", 64);
    if (!to) return error_response(to.error());
    auto region = optional_string(b, "default_region", 2);
    if (!region) return error_response(region.error());
    std::string rg = region->value_or("");
    for (auto& ch : rg) ch = char(std::toupper(static_cast<unsigned char>(ch)));
    auto number = phone::normalize(*to, rg, false);
    if (!number) {
        error e = number.error();
        e.field = e.field == "default_region" ? "default_region" : "to";
        return error_response(e);
    }
    r.to = number->e164;
    r.region = number->region;

    auto body = optional_string(b, "body", 10000);
    if (!body) return error_response(body.error());
    auto tpl = optional_string(b, "template", 10000);
    if (!tpl) return error_response(tpl.error());
    if (*body && *tpl)
        return invalid_response("template", "send either body or template, not both");
    if (!*body && !*tpl) return invalid_response("body", "body (or template) is required");
    if (*tpl) {
        json vars = json::object();
        if (auto it = b.find("variables"); it != b.end()) {
            if (!it->is_object())
                return invalid_response("variables", "variables must be an object");
            vars = *it;
        }
        std::map<std::string, std::string, std::less<>> values;
        for (const auto& [k, v] : vars.items()) {
            if (v.is_string())
                values[k] = v.get<std::string>();
            else if (v.is_number() || v.is_boolean())
                values[k] = v.dump();
            else if (!v.is_null())
                return invalid_response("variables." + k,
                                        "variables must be strings, numbers or booleans");
        }
        // Any name may appear: one without a value needs a fallback, checked after rendering,
        // so the error can list every missing name at once.
        auto compiled =
            text::message_template::compile(**tpl, [](std::string_view) { return true; });
        if (!compiled) {
            error e = compiled.error();
            e.field = "template";
            return error_response(e);
        }
        std::vector<std::string> missing;
        r.body = compiled->render(
            [&](const text::placeholder& p) -> std::optional<std::string_view> {
                auto it = values.find(p.name);
                if (it == values.end()) return std::nullopt;
                return std::string_view(it->second);
            },
            &missing);
        if (!missing.empty()) {
            std::string names;
            for (const auto& m : missing) names += (names.empty() ? "" : ", ") + ("{{" + m + "}}");
            return invalid_response("variables",
                                    "the template needs a value (or a fallback) for " + names,
                                    "template_incomplete");
        }
    } else {
        r.body = **body;
    }
    if (r.body.empty()) return invalid_response("body", "the message is empty");
    auto shape = text::analyze_utf8(r.body);
    if (!shape) {
        error e = shape.error();
        e.field = "body";
        return error_response(e);
    }
    r.encoding = std::string(text::to_string(shape->encoding));
    r.segments = int(shape->segments);
    if (r.segments > max_segments)
        return invalid_response("body",
                                "the message needs " + std::to_string(r.segments) + " segments ("
                                    + std::to_string(shape->characters) + " characters, "
                                    + r.encoding + "); the limit is "
                                    + std::to_string(max_segments),
                                "too_many_segments");

    auto from = optional_string(b, "from", 20);
    if (!from) return error_response(from.error());
    if (*from) {
        if (auto f = store::check_sender_id_form(**from); !f) {
            error e = f.error();
            e.field = "from";
            return error_response(e);
        }
        r.from = *from;
    }
    auto when = optional_string(b, "scheduled_at", 40);
    if (!when) return error_response(when.error());
    if (*when) {
        auto t = db::parse_timestamp(**when);
        if (!t)
            return invalid_response(
                "scheduled_at",
                "scheduled_at must be an RFC 3339 time such as 2026-12-01T09:00:00Z");
        if (*t > std::chrono::system_clock::now() + std::chrono::days(366))
            return invalid_response("scheduled_at", "scheduled_at is more than a year away");
        r.scheduled_at = *t;
    }
    auto callback = optional_string(b, "callback_url", 2000);
    if (!callback) return error_response(callback.error());
    if (*callback) {
        if (!(*callback)->starts_with("https://") && !(*callback)->starts_with("http://"))
            return invalid_response("callback_url",
                                    "callback_url must be an http:// or https:// URL");
        r.callback_url = *callback;
    }
    auto validity = optional_integer(b, "validity", 60, 7 * 86400);
    if (!validity) return error_response(validity.error());
    if (*validity) r.validity = int(**validity);
    return r;
}

/// Takes an Idempotency-Key for this request. The first request with a key takes it (a
/// concurrent twin waits for its commit). Returns the answer to give instead of running the
/// request again: the stored one, or an error when the key was used for another body or its
/// request is still running.
result<std::optional<response>> take_idempotency_key(db::connection& conn, const core::uuid& tenant,
                                                     const std::string& key,
                                                     const std::string& hash) {
    auto taken = conn.exec_prepared(
        "INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING",
        {tenant, key, hash});
    if (!taken) return std::unexpected(taken.error());
    if (taken->affected() == 1) return std::optional<response>();
    auto prior = conn.exec_prepared(
        "SELECT request_hash, response_status, response_body FROM idempotency_keys "
        "WHERE user_id = $1 AND key = $2",
        {tenant, key});
    if (!prior) return std::unexpected(prior.error());
    auto row = prior->front();
    if (row.get<std::string>(0) != hash)
        return std::optional(error_response(422, "idempotency_key_reused",
                                            "this Idempotency-Key was used for a different request",
                                            "Idempotency-Key"));
    auto status = row.get<std::optional<int>>(1);
    if (!status)
        return std::optional(
            error_response(409, "idempotency_in_progress",
                           "a request with this Idempotency-Key is still running"));
    response r(*status, "application/json", row.get<std::string>(2));
    r.set("idempotent-replayed", "true");
    return std::optional(std::move(r));
}

result<void> save_idempotent_answer(db::connection& conn, const core::uuid& tenant,
                                    const std::string& key, const response& answer) {
    auto saved = conn.exec_prepared(
        "UPDATE idempotency_keys SET response_status = $3, response_body = $4 "
        "WHERE user_id = $1 AND key = $2",
        {tenant, key, answer.status, answer.body});
    if (!saved) return std::unexpected(saved.error());
    return {};
}

std::variant<std::string, response> idempotency_key(const request& req) {
    std::string key(req.header("idempotency-key"));
    if (key.size() > 200)
        return invalid_response("Idempotency-Key", "Idempotency-Key is longer than 200 characters");
    return key;
}

/// Runs a sending request in one transaction under its Idempotency-Key, if it has one: a
/// repeat gets the first answer; an accepted answer (202) is stored with the key, while a
/// refused one rolls back and leaves the key free for a corrected retry. Wakes the dispatcher
/// when new messages were queued.
response send_once(impl& api, call& c,
                   const std::function<result<response>(db::connection&)>& send) {
    auto k = idempotency_key(c.req);
    if (auto* r = std::get_if<response>(&k)) return std::move(*r);
    const auto& key = std::get<std::string>(k);
    const std::string hash = fingerprint(c.req.body);
    bool replayed = false;
    auto resp = with_db(api, [&](db::connection& conn) {
        return in_transaction(conn, [&]() -> result<response> {
            if (!key.empty()) {
                auto prior = take_idempotency_key(conn, c.tenant_id(), key, hash);
                if (!prior) return std::unexpected(prior.error());
                if (*prior) {
                    replayed = true;
                    return std::move(**prior);
                }
            }
            auto answer = send(conn);
            if (answer && !key.empty() && answer->status == 202) {
                auto saved = save_idempotent_answer(conn, c.tenant_id(), key, *answer);
                if (!saved) return std::unexpected(saved.error());
            }
            return answer;
        });
    });
    if (resp.status == 202 && !replayed && api.options.on_queued) api.options.on_queued();
    return resp;
}

}  // namespace

void register_messages(impl& api, router& routes) {
    routes.add_async(
        "POST", "/v1/messages",
        api.guarded_async({.permission = "messages:send", .sends = true}, [&api](call& c,
                                                                                 responder done) {
            auto body = body_object(c.req, {"to", "default_region", "body", "template", "variables",
                                            "from", "scheduled_at", "callback_url", "validity"});
            if (!body) return done(error_response(body.error()));
            auto parsed = parse_send(*body, api.options.max_segments);
            if (auto* r = std::get_if<response>(&parsed)) return done(std::move(*r));
            auto& s = std::get<send_request>(parsed);
            if (c.req.header("idempotency-key").empty()) {
                // The common case goes through group commit (see send_batcher.hpp); the
                // thread moves on to other requests while the group commits.
                api.sends->send({.message = new_message_for(c.tenant_id(), s, {}, 0),
                                 .requested_from = s.from,
                                 .region = s.region,
                                 .by = c.who.user_id,
                                 .audit = c.audit("messages.send")},
                                [done = std::move(done)](send_result r) {
                                    if (auto* answer = std::get_if<response>(&r))
                                        return done(std::move(*answer));
                                    done(accepted_response(std::get<store::message>(r)));
                                });
                return;
            }
            done(send_once(api, c, [&](db::connection& conn) -> result<response> {
                auto sender = store::resolve_sender(conn, c.tenant_id(), s.from);
                if (!sender) return std::unexpected(sender.error());
                auto opted = store::opted_out_among(conn, c.tenant_id(), {s.to});
                if (!opted) return std::unexpected(opted.error());
                if (!opted->empty())
                    return error_response(422, "opted_out",
                                          s.to + " has opted out of messages from this account",
                                          "to");
                auto price = store::price_for(conn, s.region);
                if (!price) return std::unexpected(price.error());
                const int cost = *price * s.segments;
                auto debit = store::debit(conn, {.tenant = c.tenant_id(),
                                                 .credits = cost,
                                                 .transaction_type = "message_cost",
                                                 .description = "message to " + s.to,
                                                 .by = c.who.user_id});
                if (!debit) {
                    if (debit.error().code == store::errc::insufficient_credits)
                        return error_response(402, "insufficient_credits",
                                              "the message costs " + std::to_string(cost)
                                                  + " credits and the balance does not cover it");
                    return std::unexpected(debit.error());
                }
                auto m =
                    store::accept_message(conn, new_message_for(c.tenant_id(), s, *sender, cost));
                if (!m) return std::unexpected(m.error());
                auto a = c.audit("messages.send", "message", m->id.str(),
                                 {{"to", m->to}, {"segments", m->segments}, {"cost", cost}});
                if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                return accepted_response(*m);
            }));
        }));

    // Up to max_batch messages in one call. Each entry takes the batch's fields as defaults
    // and may override any of them. Entries that fail validation (or whose number opted
    // out) are listed in "errors" with their index; the rest are accepted together, paid with
    // one debit, or none when the balance does not cover them all.
    routes.add(
        "POST", "/v1/messages/batch",
        api.guarded(
            {.permission = "messages:send", .sends = true},
            [&api](call& c) {
                auto body = body_object(
                    c.req, {"messages", "default_region", "body", "template", "variables", "from",
                            "scheduled_at", "callback_url", "validity"});
                if (!body) return error_response(body.error());
                auto list = body->find("messages");
                if (list == body->end() || !list->is_array() || list->empty())
                    return invalid_response("messages",
                                            "messages must be a non-empty array of messages");
                if (list->size() > std::size_t(max_batch))
                    return invalid_response("messages",
                                            "a batch holds at most " + std::to_string(max_batch)
                                                + " messages; this one has "
                                                + std::to_string(list->size()),
                                            "batch_too_large");
                json defaults = *body;
                defaults.erase("messages");
                json errors = json::array();
                auto reject = [&](std::size_t i, const json& err) {
                    json e = err;
                    e["index"] = i;
                    errors.push_back(std::move(e));
                };
                std::vector<send_request> ok;
                std::vector<std::size_t> index;
                ok.reserve(list->size());
                for (std::size_t i = 0; i < list->size(); ++i) {
                    const auto& item = (*list)[i];
                    if (!item.is_object()) {
                        reject(i, {{"code", "invalid_value"},
                                   {"message", "each message must be an object"},
                                   {"field", "messages"}});
                        continue;
                    }
                    json merged = defaults;
                    bool unknown = false;
                    for (const auto& [k, v] : item.items()) {
                        if (std::find(std::begin(entry_fields), std::end(entry_fields), k)
                            == std::end(entry_fields)) {
                            reject(i, {{"code", "invalid_value"},
                                       {"message", "unknown field \"" + k + "\""},
                                       {"field", k}});
                            unknown = true;
                            break;
                        }
                        // An entry's own text replaces the batch's, whichever form each uses.
                        if (k == "body") merged.erase("template");
                        if (k == "template") merged.erase("body");
                        merged[k] = v;
                    }
                    if (unknown) continue;
                    auto parsed = parse_send(merged, api.options.max_segments);
                    if (auto* r = std::get_if<response>(&parsed)) {
                        reject(i, json::parse(r->body)["error"]);
                        continue;
                    }
                    ok.push_back(std::move(std::get<send_request>(parsed)));
                    index.push_back(i);
                }
                return send_once(api, c, [&](db::connection& conn) -> result<response> {
                    std::vector<std::string> numbers;
                    for (const auto& s : ok) numbers.push_back(s.to);
                    auto opted = store::opted_out_among(conn, c.tenant_id(), numbers);
                    if (!opted) return std::unexpected(opted.error());
                    const std::set<std::string> out(opted->begin(), opted->end());
                    std::map<std::optional<std::string>, result<std::string>> senders;
                    std::map<std::string, int> prices;
                    std::vector<store::new_message> rows;
                    std::vector<std::size_t> row_index;
                    int total = 0;
                    for (std::size_t j = 0; j < ok.size(); ++j) {
                        const auto& s = ok[j];
                        if (out.contains(s.to)) {
                            reject(index[j], {{"code", "opted_out"},
                                              {"message", s.to
                                                              + " has opted out of messages "
                                                                "from this account"},
                                              {"field", "to"}});
                            continue;
                        }
                        auto it = senders.find(s.from);
                        if (it == senders.end())
                            it = senders
                                     .emplace(s.from,
                                              store::resolve_sender(conn, c.tenant_id(), s.from))
                                     .first;
                        if (!it->second) {
                            const auto& e = it->second.error();
                            if (status_for(e) == 500) return std::unexpected(e);
                            reject(index[j], {{"code", e.code.message()},
                                              {"message", e.message},
                                              {"field", "from"}});
                            continue;
                        }
                        auto pr = prices.find(s.region);
                        if (pr == prices.end()) {
                            auto p = store::price_for(conn, s.region);
                            if (!p) return std::unexpected(p.error());
                            pr = prices.emplace(s.region, *p).first;
                        }
                        const int cost = pr->second * s.segments;
                        total += cost;
                        rows.push_back(new_message_for(c.tenant_id(), s, *it->second, cost));
                        row_index.push_back(index[j]);
                    }
                    std::sort(errors.begin(), errors.end(), [](const json& a, const json& b) {
                        return a["index"].get<std::size_t>() < b["index"].get<std::size_t>();
                    });
                    if (rows.empty())
                        return json_response(422, {{"error",
                                                    {{"code", "batch_rejected"},
                                                     {"message",
                                                      "no message in the batch could "
                                                      "be accepted; see errors"},
                                                     {"field", "messages"}}},
                                                   {"errors", errors}});
                    auto debit = store::debit(
                        conn,
                        {.tenant = c.tenant_id(),
                         .credits = total,
                         .transaction_type = "message_cost",
                         .description = "batch of " + std::to_string(rows.size()) + " messages",
                         .by = c.who.user_id});
                    if (!debit) {
                        if (debit.error().code == store::errc::insufficient_credits)
                            return error_response(
                                    402, "insufficient_credits",
                                    "the batch costs " + std::to_string(total)
                                        + " credits and the balance does not cover it; nothing "
                                          "was sent or charged");
                        return std::unexpected(debit.error());
                    }
                    auto accepted = store::accept_messages(conn, rows);
                    if (!accepted) return std::unexpected(accepted.error());
                    json items = json::array();
                    for (std::size_t j = 0; j < accepted->size(); ++j) {
                        const auto& m = (*accepted)[j];
                        items.push_back({{"index", row_index[j]},
                                         {"id", m.id.str()},
                                         {"to", m.to},
                                         {"status", m.status},
                                         {"encoding", m.encoding},
                                         {"segments", m.segments},
                                         {"cost", m.cost}});
                    }
                    auto a = c.audit(
                        "messages.send_batch", "message", {},
                        {{"accepted", rows.size()}, {"rejected", errors.size()}, {"cost", total}});
                    if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                    auto answer = json_response(202, {{"accepted", rows.size()},
                                                      {"rejected", errors.size()},
                                                      {"cost", total},
                                                      {"messages", items},
                                                      {"errors", errors}});
                    return answer;
                });
            }),
        std::size_t(16) << 20);

    routes.add("GET", "/v1/messages", api.guarded({.permission = "messages:send"}, [&api](call& c) {
        auto p = page_from(c.req);
        if (!p) return error_response(p.error());
        store::message_filter f;
        if (auto s = c.req.query("status"); s && !s->empty()) f.status = *s;
        if (auto to = c.req.query("to"); to && !to->empty()) {
            auto n = phone::normalize(*to, "", false);
            if (!n) return invalid_response("to", n.error().message);
            f.to = n->e164;
        }
        if (auto cid = c.req.query("campaign_id"); cid && !cid->empty()) {
            auto u = core::uuid::parse(*cid);
            if (!u) return invalid_response("campaign_id", "campaign_id must be a UUID");
            f.campaign_id = *u;
        }
        return with_db(api, [&](db::connection& conn) -> result<response> {
            auto page = store::list_messages(conn, c.tenant_id(), f, *p);
            if (!page) return std::unexpected(page.error());
            return json_response(200, page_json(*page, message_json));
        });
    }));

    // Polled by clients waiting for a status: read through the lane's pipelined connection
    // (decision 0012), so that the wait does not hold up the lane.
    routes.add_async(
        "GET", "/v1/messages/{id}",
        api.guarded_async({.permission = "messages:send"}, [&api](call& c, responder done) {
            auto id = id_param(c.req);
            if (!id) return done(error_response(id.error()));
            auto st = store::get_message_statement(c.tenant_id(), *id);
            pipelined_read(api.pool, std::move(st.sql), std::move(st.args), /*binary=*/false,
                           [id = *id, done = std::move(done)](result<db::rows> rs) {
                               if (!rs) return done(error_response(rs.error()));
                               auto m = store::message_from(*rs, id);
                               if (!m) return done(error_response(m.error()));
                               done(json_response(200, message_json(*m)));
                           });
        }));

    routes.add(
        "POST", "/v1/messages/{id}/cancel",
        api.guarded({.permission = "messages:send"}, [&api](call& c) {
            auto id = id_param(c.req);
            if (!id) return error_response(id.error());
            return with_db(api, [&](db::connection& conn) {
                return in_transaction(conn, [&]() -> result<response> {
                    auto m = store::cancel_message(conn, c.tenant_id(), *id);
                    if (!m) return std::unexpected(m.error());
                    if (m->cost > 0) {
                        auto refund = store::credit(
                            conn, {.tenant = c.tenant_id(),
                                   .credits = m->cost,
                                   .amount = "0",
                                   .payment_method = "",
                                   .description = "refund for cancelled message " + m->id.str(),
                                   .by = c.who.user_id,
                                   .transaction_type = "refund"});
                        if (!refund) return std::unexpected(refund.error());
                    }
                    auto a =
                        c.audit("messages.cancel", "message", m->id.str(), {{"refunded", m->cost}});
                    if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                    return json_response(200, message_json(*m));
                });
            });
        }));

    // ---- sender IDs ----

    routes.add("GET", "/v1/sender-ids",
               api.guarded({.permission = "messages:send"}, [&api](call& c) {
                   return with_db(api, [&](db::connection& conn) -> result<response> {
                       auto list = store::list_sender_ids(conn, c.tenant_id());
                       if (!list) return std::unexpected(list.error());
                       json data = json::array();
                       for (const auto& s : *list) data.push_back(sender_json(s));
                       return json_response(200, {{"data", data}});
                   });
               }));

    const guard admin_only{.permission = "admin", .tenant_scoped = false};
    routes.add("GET", "/v1/admin/tenants/{id}/sender-ids", api.guarded(admin_only, [&api](call& c) {
        auto id = id_param(c.req);
        if (!id) return error_response(id.error());
        return with_db(api, [&](db::connection& conn) -> result<response> {
            auto list = store::list_sender_ids(conn, *id);
            if (!list) return std::unexpected(list.error());
            json data = json::array();
            for (const auto& s : *list) data.push_back(sender_json(s));
            return json_response(200, {{"data", data}});
        });
    }));

    routes.add(
        "PUT", "/v1/admin/tenants/{id}/sender-ids/{sender_id}",
        api.guarded(admin_only, [&api](call& c) {
            auto id = id_param(c.req);
            if (!id) return error_response(id.error());
            const std::string sender = url_decode(c.req.param("sender_id"), false);
            json body = json::object();
            if (!c.req.body.empty()) {
                auto b = body_object(c.req, {"is_default"});
                if (!b) return error_response(b.error());
                body = *b;
            }
            bool is_default = false;
            if (auto it = body.find("is_default"); it != body.end()) {
                if (!it->is_boolean())
                    return invalid_response("is_default", "is_default must be true or false");
                is_default = it->get<bool>();
            }
            return with_db(api, [&](db::connection& conn) {
                return in_transaction(conn, [&]() -> result<response> {
                    auto tenant = conn.exec_prepared(
                        "SELECT 1 FROM users WHERE id = $1 AND role = 'client'", {*id});
                    if (!tenant) return std::unexpected(tenant.error());
                    if (tenant->empty())
                        return error_response(404, "not_found", "no tenant " + id->str());
                    auto s = store::put_sender_id(conn, *id, sender, is_default, c.who.user_id);
                    if (!s) return std::unexpected(s.error());
                    auto a = c.audit("sender_ids.put", "sender_id", sender,
                                     {{"tenant_id", id->str()}, {"is_default", is_default}});
                    a.tenant_id = *id;
                    if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                    return json_response(200, sender_json(*s));
                });
            });
        }));

    routes.add("DELETE", "/v1/admin/tenants/{id}/sender-ids/{sender_id}",
               api.guarded(admin_only, [&api](call& c) {
                   auto id = id_param(c.req);
                   if (!id) return error_response(id.error());
                   const std::string sender = url_decode(c.req.param("sender_id"), false);
                   return with_db(api, [&](db::connection& conn) {
                       return in_transaction(conn, [&]() -> result<response> {
                           if (auto d = store::delete_sender_id(conn, *id, sender); !d)
                               return std::unexpected(d.error());
                           auto a = c.audit("sender_ids.delete", "sender_id", sender,
                                            {{"tenant_id", id->str()}});
                           a.tenant_id = *id;
                           if (auto w = store::write_audit(conn, a); !w)
                               return std::unexpected(w.error());
                           return no_content();
                       });
                   });
               }));
}

}  // namespace herald::http::detail
