#include "http/views.hpp"

#include "db/param.hpp"

namespace herald::http {
namespace {

json when(std::chrono::system_clock::time_point t) {
    return db::format_timestamp(t);
}
json when(const std::optional<std::chrono::system_clock::time_point>& t) {
    return t ? json(db::format_timestamp(*t)) : json(nullptr);
}
json maybe(const std::optional<std::string>& s) {
    return s ? json(*s) : json(nullptr);
}
json maybe(const std::optional<core::uuid>& u) {
    return u ? json(u->str()) : json(nullptr);
}
json object_text(const std::string& text) {
    auto j = json::parse(text, nullptr, false);
    return j.is_discarded() ? json::object() : j;
}

}  // namespace

json user_json(const store::user& u) {
    json j = {{"id", u.id.str()},
              {"username", u.username},
              {"email", u.email},
              {"role", u.role},
              {"tenant_id", maybe(u.tenant_id)},
              {"account_status", u.account_status},
              {"company_name", maybe(u.company_name)},
              {"phone_number", maybe(u.phone_number)},
              {"created_at", when(u.created_at)},
              {"last_login", when(u.last_login)}};
    if (u.is_tenant_owner()) {
        j["sms_credits"] = u.sms_credits;
        j["settings"] = object_text(u.settings);
    }
    return j;
}

json role_json(const store::role_grant& r) {
    return {{"role_name", r.role_name},
            {"permissions", r.permissions},
            {"created_at", when(r.created_at)}};
}

json token_json(const store::api_token& t) {
    return {{"id", t.id.str()},
            {"name", t.name},
            {"prefix", t.prefix},
            {"permissions", t.permissions},
            {"status", t.status},
            {"user_id", t.user_id.str()},
            {"last_used", when(t.last_used)},
            {"expires_at", when(t.expires_at)},
            {"created_at", when(t.created_at)}};
}

json group_json(const store::group& g) {
    return {{"id", g.id.str()},
            {"name", g.name},
            {"description", maybe(g.description)},
            {"total_contacts", g.total_contacts},
            {"created_at", when(g.created_at)},
            {"updated_at", when(g.updated_at)}};
}

json contact_json(const store::contact& c, bool with_groups) {
    json j = {{"id", c.id.str()},
              {"phone_number", c.phone_number},
              {"country_code", maybe(c.country_code)},
              {"first_name", maybe(c.first_name)},
              {"last_name", maybe(c.last_name)},
              {"email", maybe(c.email)},
              {"time_zone", maybe(c.time_zone)},
              {"custom_fields", object_text(c.custom_fields)},
              {"status", c.status},
              {"group_id", maybe(c.group_id)},
              {"created_at", when(c.created_at)},
              {"updated_at", when(c.updated_at)}};
    if (with_groups) {
        json g = json::array();
        for (const auto& id : c.groups) g.push_back(id.str());
        j["groups"] = g;
    }
    return j;
}

std::string contacts_page_body(const store::page<store::contact>& p) {
    // Written straight into one buffer: this is the API's most read answer.
    json_writer w(256 + p.items.size() * 400);
    char id[36], stamp[40];
    auto uuid_text = [&id](const core::uuid& u) {
        u.write(id);
        return std::string_view(id, sizeof id);
    };
    auto time_text = [&stamp](std::chrono::system_clock::time_point t) {
        return std::string_view(stamp, db::format_timestamp(t, stamp));
    };
    w.begin_object().key("data").begin_array();
    for (const auto& c : p.items) {
        w.begin_object();
        w.key("id").value(uuid_text(c.id));
        w.key("phone_number").value(c.phone_number);
        w.key("country_code").value(c.country_code);
        w.key("first_name").value(c.first_name);
        w.key("last_name").value(c.last_name);
        w.key("email").value(c.email);
        w.key("time_zone").value(c.time_zone);
        // PostgreSQL prints jsonb as valid JSON; the column only ever holds objects.
        w.key("custom_fields")
            .raw(c.custom_fields.starts_with('{') ? std::string_view(c.custom_fields) : "{}");
        w.key("status").value(c.status);
        w.key("group_id");
        if (c.group_id)
            w.value(uuid_text(*c.group_id));
        else
            w.null();
        w.key("created_at").value(time_text(c.created_at));
        w.key("updated_at").value(time_text(c.updated_at));
        w.end_object();
    }
    w.end_array().key("next_cursor");
    if (p.next)
        w.value(uuid_text(*p.next));
    else
        w.null();
    return w.end_object().take();
}

json import_json(const store::import_job& j) {
    return {{"id", j.id.str()},
            {"status", j.status},
            {"group_id", maybe(j.group_id)},
            {"on_duplicate", j.on_duplicate},
            {"default_region", maybe(j.default_region)},
            {"file_name", maybe(j.file_name)},
            {"bytes_total", j.bytes_total},
            {"bytes_read", j.bytes_read},
            {"progress", j.bytes_total > 0 ? double(j.bytes_read) / double(j.bytes_total)
                                           : (j.status == "completed" ? 1.0 : 0.0)},
            {"rows_read", j.rows_read},
            {"imported", j.imported},
            {"updated", j.updated},
            {"skipped", j.skipped},
            {"duplicates", j.duplicates},
            {"rejected", j.rejected},
            {"error", maybe(j.error)},
            {"created_at", when(j.created_at)},
            {"finished_at", when(j.finished_at)}};
}

json ledger_json(const store::ledger_row& l) {
    return {{"id", l.id.str()},
            {"transaction_type", l.transaction_type},
            {"credits", l.credits},
            {"credits_before", l.credits_before},
            {"credits_after", l.credits_after},
            {"amount", l.amount},
            {"description", maybe(l.description)},
            {"payment_method", maybe(l.payment_method)},
            {"transaction_status", l.transaction_status},
            {"created_by", maybe(l.created_by)},
            {"campaign_id", maybe(l.campaign_id)},
            {"created_at", when(l.created_at)}};
}

json audit_json(const store::audit_row& a) {
    return {{"id", a.id.str()},
            {"user_id", maybe(a.user_id)},
            {"tenant_id", maybe(a.tenant_id)},
            {"action", a.action},
            {"details", object_text(a.details)},
            {"ip_address", a.ip_address},
            {"user_agent", a.user_agent},
            {"target_type", a.target_type.empty() ? json(nullptr) : json(a.target_type)},
            {"target_id", a.target_id.empty() ? json(nullptr) : json(a.target_id)},
            {"created_at", when(a.created_at)}};
}

}  // namespace herald::http
