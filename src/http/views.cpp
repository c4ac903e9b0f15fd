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

std::string contacts_page_body(const store::page<store::contact_view>& p) {
    // Written straight into one buffer with the keys as literals: this is the API's most read
    // answer. The fields and their order are contact_json's (a unit test compares them).
    std::string out;
    out.reserve(64 + p.items.size() * 480);
    char buf[40];
    auto id = [&](std::string_view key, const core::uuid& u) {
        out.append(key);
        out.push_back('"');
        u.write(buf);
        out.append(buf, 36);
        out.push_back('"');
    };
    auto text = [&](std::string_view key, std::optional<std::string_view> v) {
        out.append(key);
        if (v)
            append_json_string(out, *v);
        else
            out.append("null");
    };
    auto stamp = [&](std::string_view key, std::chrono::system_clock::time_point t) {
        out.append(key);
        out.push_back('"');
        out.append(buf, db::format_timestamp(t, buf));
        out.push_back('"');
    };
    out.append("{\"data\":[");
    for (std::size_t i = 0; i < p.items.size(); ++i) {
        const auto& c = p.items[i];
        id(i == 0 ? "{\"id\":" : ",{\"id\":", c.id);
        text(",\"phone_number\":", c.phone_number);
        text(",\"country_code\":", c.country_code);
        text(",\"first_name\":", c.first_name);
        text(",\"last_name\":", c.last_name);
        text(",\"email\":", c.email);
        text(",\"time_zone\":", c.time_zone);
        // PostgreSQL prints jsonb as valid JSON; the column only ever holds objects.
        out.append(",\"custom_fields\":");
        out.append(c.custom_fields.starts_with('{') ? c.custom_fields : "{}");
        text(",\"status\":", c.status);
        if (c.group_id)
            id(",\"group_id\":", *c.group_id);
        else
            out.append(",\"group_id\":null");
        stamp(",\"created_at\":", c.created_at);
        stamp(",\"updated_at\":", c.updated_at);
        out.push_back('}');
    }
    if (p.next)
        id("],\"next_cursor\":", *p.next);
    else
        out.append("],\"next_cursor\":null");
    out.push_back('}');
    return out;
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
