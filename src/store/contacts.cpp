#include "store/contacts.hpp"

#include <set>

#include "core/errc.hpp"
#include "db/param.hpp"
#include "store/billing.hpp"
#include "store/campaigns.hpp"
#include "store/errc.hpp"
#include "store/fence.hpp"

namespace herald::store {
namespace {

using time_point = std::chrono::system_clock::time_point;

constexpr const char* group_columns =
    "id, name, description, total_contacts, created_at, updated_at";
constexpr const char* contact_columns =
    "c.id, c.phone_number, c.country_code, c.first_name, c.last_name, c.email, c.time_zone, "
    "c.custom_fields::text, "
    "c.status, c.group_id, c.created_at, c.updated_at";

group read_group(const db::row& r) {
    return {r.get<core::uuid>(0), r.get<std::string>(1), r.get<std::optional<std::string>>(2),
            r.get<int>(3),        r.get<time_point>(4),  r.get<time_point>(5)};
}

contact read_contact(const db::row& r) {
    contact c;
    c.id = r.get<core::uuid>(0);
    c.phone_number = r.get<std::string>(1);
    c.country_code = r.get<std::optional<std::string>>(2);
    c.first_name = r.get<std::optional<std::string>>(3);
    c.last_name = r.get<std::optional<std::string>>(4);
    c.email = r.get<std::optional<std::string>>(5);
    c.time_zone = r.get<std::optional<std::string>>(6);
    c.custom_fields = r.get<std::string>(7);
    c.status = r.get<std::string>(8);
    c.group_id = r.get<std::optional<core::uuid>>(9);
    c.created_at = r.get<time_point>(10);
    c.updated_at = r.get<time_point>(11);
    return c;
}

contact_view read_contact_view(const db::row& r) {
    using text = std::optional<std::string_view>;
    return {r.get<core::uuid>(0),
            r.get<std::string_view>(1),
            r.get<text>(2),
            r.get<text>(3),
            r.get<text>(4),
            r.get<text>(5),
            r.get<text>(6),
            r.get<std::string_view>(7),
            r.get<std::string_view>(8),
            r.get<std::optional<core::uuid>>(9),
            r.get<time_point>(10),
            r.get<time_point>(11)};
}

std::string uuid_array(const std::vector<core::uuid>& ids) {
    std::vector<std::string> s;
    for (auto& id : ids) s.push_back(id.str());
    return db::array_literal(s);
}

std::string like_pattern(std::string_view s) {
    std::string out = "%";
    for (char c : s) {
        if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    return out + "%";
}

result<void> check_name(const std::optional<std::string>& name, bool required) {
    if (!name) {
        if (required) return fail(core::errc::invalid_value, "name is required", "name");
        return {};
    }
    if (name->empty() || name->size() > 100)
        return fail(core::errc::invalid_value, "name must be 1 to 100 characters", "name");
    return {};
}

/// All of `groups` belong to the tenant.
result<void> check_groups(db::connection& c, const core::uuid& tenant,
                          const std::vector<core::uuid>& groups) {
    if (groups.empty()) return {};
    std::set<core::uuid> distinct(groups.begin(), groups.end());
    auto rs = c.exec_prepared(
        "SELECT count(*) FROM contact_groups WHERE user_id = $1 AND id = ANY($2::uuid[])",
        {tenant, uuid_array(groups)});
    if (!rs) return std::unexpected(rs.error());
    if (rs->front().get<std::int64_t>(0) != std::int64_t(distinct.size()))
        return fail(errc::invalid_reference, "one or more groups do not exist", "groups");
    return {};
}

template <class T, class Read>
page<T> paged(const db::rows& rs, int limit, Read read, core::uuid T::*id) {
    page<T> out;
    out.items.reserve(std::size_t(rs.size()));
    for (auto r : rs) out.items.push_back(read(r));
    if (int(out.items.size()) > limit) {
        out.items.pop_back();
        out.next = out.items.back().*id;
    }
    return out;
}

}  // namespace

// ---- groups ----

result<group> create_group(db::connection& c, const core::uuid& tenant, const group_input& in) {
    if (auto r = check_name(in.name, true); !r) return std::unexpected(r.error());
    auto rs = c.exec(std::string("INSERT INTO contact_groups (user_id, name, description) VALUES "
                                 "($1, $2, $3) RETURNING ")
                         + group_columns,
                     {tenant, *in.name, in.description.value_or(std::nullopt)});
    if (!rs)
        return std::unexpected(
            translate_duplicate(rs.error(), "a group with this name exists", "name"));
    return read_group(rs->front());
}

result<group> get_group(db::connection& c, const core::uuid& tenant, const core::uuid& id) {
    auto rs = c.exec_prepared(std::string("SELECT ") + group_columns
                                  + " FROM contact_groups WHERE id = $1 AND user_id = $2",
                              {id, tenant});
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty()) return fail(errc::not_found, "group not found");
    return read_group(rs->front());
}

result<group> update_group(db::connection& c, const core::uuid& tenant, const core::uuid& id,
                           const group_input& in) {
    if (auto r = check_name(in.name, false); !r) return std::unexpected(r.error());
    auto rs = c.exec(
        std::string("UPDATE contact_groups SET name = coalesce($3, name), "
                    "description = CASE WHEN $4 THEN $5 ELSE description END, updated_at = now() "
                    "WHERE id = $1 AND user_id = $2 RETURNING ")
            + group_columns,
        {id, tenant, in.name, bool(in.description), in.description.value_or(std::nullopt)});
    if (!rs)
        return std::unexpected(
            translate_duplicate(rs.error(), "a group with this name exists", "name"));
    if (rs->empty()) return fail(errc::not_found, "group not found");
    return read_group(rs->front());
}

result<void> delete_group(db::connection& c, const core::uuid& tenant, const core::uuid& id) {
    auto rs = c.exec("DELETE FROM contact_groups WHERE id = $1 AND user_id = $2", {id, tenant});
    if (!rs) {
        if (rs.error().is(condition::conflict))
            return fail(errc::duplicate,
                        "the group is the audience of a campaign; remove it there first", "id");
        return std::unexpected(rs.error());
    }
    if (rs->affected() == 0) return fail(errc::not_found, "group not found");
    return {};
}

result<page<group>> list_groups(db::connection& c, const core::uuid& tenant, const page_request& p,
                                std::optional<std::string> name_search) {
    std::string sql =
        std::string("SELECT ") + group_columns + " FROM contact_groups WHERE user_id = $1";
    db::params args{tenant, p.limit + 1};
    if (p.after) {
        args.emplace_back(*p.after);
        sql += " AND id < $" + std::to_string(args.size());
    }
    if (name_search) {
        args.emplace_back(like_pattern(*name_search));
        sql += " AND name ILIKE $" + std::to_string(args.size());
    }
    sql += " ORDER BY id DESC LIMIT $2";
    auto rs = c.exec_prepared(sql, args);
    if (!rs) return std::unexpected(rs.error());
    return paged<group>(*rs, p.limit, read_group, &group::id);
}

// ---- contacts ----

result<contact> create_contact(db::connection& c, const core::uuid& tenant,
                               const contact_input& in) {
    if (!in.phone_number)
        return fail(core::errc::invalid_value, "phone_number is required", "phone_number");
    if (auto r = check_groups(c, tenant, in.add_to_groups); !r) return std::unexpected(r.error());
    std::optional<core::uuid> first_group;
    if (!in.add_to_groups.empty()) first_group = in.add_to_groups.front();
    auto rs = c.exec(std::string(R"(
        WITH c AS (
            INSERT INTO contacts (user_id, group_id, phone_number, country_code, first_name, last_name, email,
                                  custom_fields, status, time_zone)
            VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8::jsonb, '{}'::jsonb), coalesce($9, 'active'), $10)
            RETURNING *),
        m AS (
            INSERT INTO contact_group_members (group_id, contact_id, user_id)
            SELECT g, c.id, $1 FROM c, unnest($11::uuid[]) AS g
            ON CONFLICT DO NOTHING)
        SELECT )") + contact_columns
                         + " FROM c",
                     {tenant, first_group, *in.phone_number, in.country_code,
                      in.first_name.value_or(std::nullopt), in.last_name.value_or(std::nullopt),
                      in.email.value_or(std::nullopt), in.custom_fields, in.status,
                      in.time_zone.value_or(std::nullopt), uuid_array(in.add_to_groups)});
    if (!rs)
        return std::unexpected(translate_duplicate(
            rs.error(), "a contact with this phone number exists", "phone_number"));
    contact out = read_contact(rs->front());
    out.groups = in.add_to_groups;
    return out;
}

result<contact> get_contact(db::connection& c, const core::uuid& tenant, const core::uuid& id) {
    auto rs = c.exec_prepared(std::string("SELECT ") + contact_columns +
                                  ", (SELECT coalesce(array_agg(m.group_id ORDER BY m.created_at), '{}') "
                                  "FROM contact_group_members m WHERE m.contact_id = c.id)::text "
                                  "FROM contacts c WHERE c.id = $1 AND c.user_id = $2",
                              {id, tenant});
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty()) return fail(errc::not_found, "contact not found");
    contact out = read_contact(rs->front());
    std::string_view arr = rs->front().text(12);
    if (arr.size() > 2) {
        arr = arr.substr(1, arr.size() - 2);
        std::size_t i = 0;
        while (i < arr.size()) {
            auto comma = arr.find(',', i);
            std::string_view item =
                arr.substr(i, comma == std::string_view::npos ? std::string_view::npos : comma - i);
            if (auto u = core::uuid::parse(item)) out.groups.push_back(*u);
            if (comma == std::string_view::npos) break;
            i = comma + 1;
        }
    }
    return out;
}

result<contact> update_contact(db::connection& c, const core::uuid& tenant, const core::uuid& id,
                               const contact_input& in) {
    if (auto r = check_groups(c, tenant, in.add_to_groups); !r) return std::unexpected(r.error());
    db::params args{id, tenant};
    std::string sets = "updated_at = now()";
    auto set = [&](const char* column, db::param value, const char* cast = "") {
        args.push_back(std::move(value));
        sets += std::string(", ") + column + " = $" + std::to_string(args.size()) + cast;
    };
    if (in.phone_number) set("phone_number", *in.phone_number);
    if (in.country_code) set("country_code", *in.country_code);
    if (in.first_name) set("first_name", *in.first_name);
    if (in.last_name) set("last_name", *in.last_name);
    if (in.email) set("email", *in.email);
    if (in.time_zone) set("time_zone", *in.time_zone);
    if (in.custom_fields) set("custom_fields", *in.custom_fields, "::jsonb");
    if (in.status) set("status", *in.status);
    auto rs = c.exec("UPDATE contacts c SET " + sets
                         + " WHERE c.id = $1 AND c.user_id = $2 RETURNING " + contact_columns,
                     args);
    if (!rs)
        return std::unexpected(translate_duplicate(
            rs.error(), "a contact with this phone number exists", "phone_number"));
    if (rs->empty()) return fail(errc::not_found, "contact not found");
    if (!in.add_to_groups.empty()) {
        auto m = c.exec(
            "INSERT INTO contact_group_members (group_id, contact_id, user_id) "
            "SELECT g, $1, $2 FROM unnest($3::uuid[]) AS g ON CONFLICT DO NOTHING",
            {id, tenant, uuid_array(in.add_to_groups)});
        if (!m) return std::unexpected(m.error());
    }
    return get_contact(c, tenant, id);
}

result<void> delete_contact(db::connection& c, const core::uuid& tenant, const core::uuid& id) {
    // The delivery log forgets a deleted contact (the seed's ON DELETE SET NULL), but a
    // running campaign finds its unsent messages by recipient id, in ranges (decision 0015):
    // one that lost its id would stay `queued` for ever. So, for each campaign that still has
    // batches, the contact's message not sent yet is looked at with its batch locked (no node
    // claims it meanwhile):
    // - in a batch no node holds, it is cancelled, and refunded if the batch was paid for;
    // - in a batch a node holds, it is in that node's hands and goes out as it would have;
    //   its log id is kept with the batch, so that if the node dies whoever takes the batch
    //   over cancels and refunds it (migration 0014).
    // A message waiting in the send queue goes out as it would have.
    // No expansion of the tenant's campaigns writes a message for this contact from here on
    // (the audience fence; the log's recipient_id has no foreign key, decision 0018).
    if (auto f = c.exec_prepared("SELECT pg_advisory_xact_lock($1, hashtext($2::text))",
                                 {audience_fence_class, tenant});
        !f)
        return std::unexpected(f.error());
    auto unsent = c.exec_prepared(
        "WITH k AS (SELECT DISTINCT campaign_id FROM campaign_batches WHERE user_id = $2), "
        "x AS (SELECT d.id, d.created_at, k.campaign_id, b.last_id, b.charged, "
        "coalesce(b.lease_until >= now(), false) AS held "
        "FROM k JOIN sms_delivery_logs d ON d.campaign_id = k.campaign_id "
        "AND d.recipient_id = $1 "
        "CROSS JOIN LATERAL (SELECT cb.after_id, cb.last_id, cb.charged, cb.lease_until FROM "
        "campaign_batches cb WHERE cb.campaign_id = d.campaign_id AND cb.last_id >= "
        "d.recipient_id ORDER BY cb.last_id LIMIT 1 FOR UPDATE) b "
        "WHERE d.user_id = $2 AND d.status = 'queued' AND b.after_id < d.recipient_id "
        "AND NOT EXISTS (SELECT 1 FROM send_queue q WHERE q.log_id = d.id)), "
        "kept AS (UPDATE campaign_batches cb SET orphans = cb.orphans || x.id FROM x "
        "WHERE x.held AND cb.campaign_id = x.campaign_id AND cb.last_id = x.last_id), "
        "u AS (UPDATE sms_delivery_logs d SET "
            + std::string(cancel_for_deleted_contact)
            + " FROM x WHERE NOT x.held AND d.id = x.id "
        "AND d.created_at = x.created_at AND d.status = 'queued' "
        "RETURNING x.charged, coalesce(d.cost, 0)::integer AS cost) "
        "SELECT count(*) FILTER (WHERE charged AND cost > 0), "
        "coalesce(sum(cost) FILTER (WHERE charged), 0)::integer FROM u",
        {id, tenant});
    if (!unsent) return std::unexpected(unsent.error());
    if (const int paid = unsent->front().get<int>(1); paid > 0) {
        const auto n = unsent->front().get<std::int64_t>(0);
        auto refund = credit(
            c, {.tenant = tenant,
                .credits = paid,
                .description = "refund for " + std::to_string(n) + " messages to a deleted contact",
                .transaction_type = "refund"});
        if (!refund) return std::unexpected(refund.error());
    }
    // What ON DELETE SET NULL did: the log keeps the number, not the link.
    if (auto n = c.exec_prepared(
            "UPDATE sms_delivery_logs SET recipient_id = NULL WHERE recipient_id = $1", {id});
        !n)
        return std::unexpected(n.error());
    auto rs = c.exec("DELETE FROM contacts WHERE id = $1 AND user_id = $2", {id, tenant});
    if (!rs) return std::unexpected(rs.error());
    if (rs->affected() == 0) return fail(errc::not_found, "contact not found");
    return {};
}

statement list_contacts_statement(const core::uuid& tenant, const contact_filter& f,
                                  const page_request& p) {
    // Build the statement from the filters present, so that each shape gets its own plan.
    statement st{std::string("SELECT ") + contact_columns + " FROM contacts c",
                 {tenant, p.limit + 1}};
    auto& args = st.args;
    std::string where = " WHERE c.user_id = $1";
    if (f.group_id) {
        args.emplace_back(*f.group_id);
        st.sql += " JOIN contact_group_members m ON m.contact_id = c.id AND m.group_id = $"
                  + std::to_string(args.size());
    }
    if (f.status) {
        args.emplace_back(*f.status);
        where += " AND c.status = $" + std::to_string(args.size());
    }
    if (f.search) {
        args.emplace_back(like_pattern(*f.search));
        where +=
            " AND (coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '') || ' ' || "
            "c.phone_number) ILIKE $"
            + std::to_string(args.size());
    }
    if (p.after) {
        args.emplace_back(*p.after);
        where += " AND c.id < $" + std::to_string(args.size());
    }
    st.sql += where + " ORDER BY c.id DESC LIMIT $2";
    return st;
}

page<contact_view> contacts_page(const db::rows& rs, const page_request& p) {
    return paged<contact_view>(rs, p.limit, read_contact_view, &contact_view::id);
}

result<int> add_members(db::connection& c, const core::uuid& tenant, const core::uuid& group,
                        const std::vector<core::uuid>& contacts) {
    if (auto g = get_group(c, tenant, group); !g) return std::unexpected(g.error());
    std::set<core::uuid> distinct(contacts.begin(), contacts.end());
    auto found = c.exec("SELECT count(*) FROM contacts WHERE user_id = $1 AND id = ANY($2::uuid[])",
                        {tenant, uuid_array(contacts)});
    if (!found) return std::unexpected(found.error());
    if (found->front().get<std::int64_t>(0) != std::int64_t(distinct.size()))
        return fail(errc::invalid_reference, "one or more contacts do not exist", "contact_ids");
    auto rs = c.exec(
        "INSERT INTO contact_group_members (group_id, contact_id, user_id) "
        "SELECT $1, x, $2 FROM unnest($3::uuid[]) AS x ON CONFLICT DO NOTHING",
        {group, tenant, uuid_array(contacts)});
    if (!rs) return std::unexpected(rs.error());
    return int(rs->affected());
}

result<void> remove_member(db::connection& c, const core::uuid& tenant, const core::uuid& group,
                           const core::uuid& contact_id) {
    auto rs = c.exec(
        "DELETE FROM contact_group_members WHERE group_id = $1 AND contact_id = $2 AND user_id = "
        "$3",
        {group, contact_id, tenant});
    if (!rs) return std::unexpected(rs.error());
    if (rs->affected() == 0) return fail(errc::not_found, "the contact is not in this group");
    return {};
}

result<std::int64_t> export_group_csv(db::connection& c, const core::uuid& tenant,
                                      const core::uuid& group,
                                      const std::function<void(std::string_view)>& sink) {
    if (auto g = get_group(c, tenant, group); !g) return std::unexpected(g.error());
    auto keys = c.exec(
        "SELECT DISTINCT k FROM contacts c JOIN contact_group_members m ON m.contact_id = c.id AND "
        "m.group_id = $1, "
        "jsonb_object_keys(c.custom_fields) AS k WHERE c.user_id = $2 ORDER BY k LIMIT 200",
        {group, tenant});
    if (!keys) return std::unexpected(keys.error());
    std::string columns =
        "c.phone_number, c.first_name, c.last_name, c.email, c.status, c.time_zone";
    for (auto k : *keys) {
        std::string key = k.get<std::string>(0);
        std::string literal = "'";
        for (char ch : key) literal += ch == '\'' ? std::string("''") : std::string(1, ch);
        literal += "'";
        columns += ", c.custom_fields ->> " + literal + " AS " + c.quote_identifier(key);
    }
    // COPY cannot take parameters: the ids are formatted in, and they are UUIDs we parsed.
    std::string sql =
        "COPY (SELECT " + columns
        + " FROM contacts c JOIN contact_group_members m ON m.contact_id = c.id AND m.group_id = '"
        + group.str() + "' WHERE c.user_id = '" + tenant.str()
        + "' ORDER BY c.id) TO STDOUT WITH (FORMAT csv, HEADER)";
    return c.copy_out(sql, sink);
}

}  // namespace herald::store
