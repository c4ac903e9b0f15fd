#include "store/accounts.hpp"

#include <algorithm>

#include "core/errc.hpp"
#include "core/hash.hpp"
#include "db/param.hpp"
#include "store/errc.hpp"
#include "store/passwords.hpp"

namespace herald::store {
namespace {

constexpr const char* user_columns =
    "id, username, email, role, tenant_id, account_status, sms_credits, company_name, "
    "phone_number, "
    "created_at, last_login, settings::text";

user read_user(const db::row& r) {
    user u;
    u.id = r.get<core::uuid>(0);
    u.username = r.get<std::string>(1);
    u.email = r.get<std::string>(2);
    u.role = r.get<std::string>(3);
    u.tenant_id = r.get<std::optional<core::uuid>>(4);
    u.account_status = r.get<std::string>(5);
    u.sms_credits = r.get<int>(6);
    u.company_name = r.get<std::optional<std::string>>(7);
    u.phone_number = r.get<std::optional<std::string>>(8);
    u.created_at = r.get<time_point>(9);
    u.last_login = r.get<std::optional<time_point>>(10);
    u.settings = r.get<std::string>(11);
    return u;
}

result<user> one_user(result<db::rows> rs, std::string_view what) {
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty()) return fail(errc::not_found, std::string(what) + " not found");
    return read_user(rs->front());
}

bool valid_username(std::string_view s) {
    if (s.size() < 3 || s.size() > 50) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    });
}

bool valid_email(std::string_view s) {
    auto at = s.find('@');
    return s.size() <= 120 && at != std::string_view::npos && at > 0 && at + 1 < s.size()
           && s.find('@', at + 1) == std::string_view::npos && s.find(' ') == std::string_view::npos
           && s.find('.', at) != std::string_view::npos;
}

std::vector<std::string> parse_text_array(std::string_view json_array) {
    // permissions are stored as a JSON array of strings we wrote ourselves; read it simply.
    std::vector<std::string> out;
    std::size_t i = 0;
    while ((i = json_array.find('"', i)) != std::string_view::npos) {
        auto e = json_array.find('"', i + 1);
        if (e == std::string_view::npos) break;
        out.emplace_back(json_array.substr(i + 1, e - i - 1));
        i = e + 1;
    }
    return out;
}

std::string json_array(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ",";
        out += "\"" + items[i] + "\"";  // permissions are validated names: no quotes inside
    }
    return out + "]";
}

}  // namespace

bool is_permission(std::string_view p) {
    const auto& all = all_permissions();
    return std::find(all.begin(), all.end(), p) != all.end();
}

result<user> create_user(db::connection& c, const new_user& u) {
    if (!valid_username(u.username))
        return fail(core::errc::invalid_value,
                    "username must be 3 to 50 letters, digits, '.', '_' or '-'", "username");
    if (!valid_email(u.email))
        return fail(core::errc::invalid_value, "email is not a valid address", "email");
    if (auto r = check_password(u.password); !r) return std::unexpected(r.error());
    if (u.company_name && u.company_name->size() > 100)
        return fail(core::errc::invalid_value, "company_name is longer than 100 characters",
                    "company_name");
    if (u.phone_number && u.phone_number->size() > 20)
        return fail(core::errc::invalid_value, "phone_number is longer than 20 characters",
                    "phone_number");
    core::uuid id = core::uuid_v4();
    std::optional<core::uuid> tenant;
    if (!u.admin) tenant = u.tenant_id.value_or(id);
    auto rs = c.exec(
        std::string(
            "INSERT INTO users (id, username, email, password_hash, role, tenant_id, company_name, "
            "phone_number) VALUES ($1, $2, lower($3), $4, $5, $6, $7, $8) RETURNING ")
            + user_columns,
        {id, u.username, u.email, hash_password(u.password), u.admin ? "admin" : "client", tenant,
         u.company_name, u.phone_number});
    if (!rs) {
        bool email = rs.error().message.find("email") != std::string::npos;
        return std::unexpected(translate_duplicate(
            rs.error(),
            email ? "a user with this email exists" : "a user with this username exists",
            email ? "email" : "username"));
    }
    return read_user(rs->front());
}

result<user> get_user(db::connection& c, const core::uuid& id) {
    return one_user(
        c.exec_prepared(std::string("SELECT ") + user_columns + " FROM users WHERE id = $1", {id}),
        "user");
}

result<user> find_user_by_login(db::connection& c, std::string_view login) {
    return one_user(
        c.exec_prepared(std::string("SELECT ") + user_columns
                            + " FROM users WHERE username = $1 OR email = lower($1) LIMIT 1",
                        {std::string(login)}),
        "user");
}

result<user> authenticate(db::connection& c, std::string_view login, std::string_view password) {
    auto rs = c.exec_prepared(
        "SELECT id, password_hash FROM users WHERE username = $1 OR email = lower($1) LIMIT 1",
        {std::string(login)});
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty()) {
        verify_dummy_password(password);
        return fail(errc::invalid_credentials, "wrong username or password");
    }
    if (!verify_password(rs->front().get<std::string_view>(1), password))
        return fail(errc::invalid_credentials, "wrong username or password");
    return get_user(c, rs->front().get<core::uuid>(0));
}

result<void> record_login(db::connection& c, const core::uuid& id) {
    auto rs = c.exec_prepared("UPDATE users SET last_login = now() WHERE id = $1", {id});
    if (!rs) return std::unexpected(rs.error());
    return {};
}

result<void> set_password(db::connection& c, const core::uuid& id, std::string_view password) {
    if (auto r = check_password(password); !r) return r;
    auto rs = c.exec("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
                     {id, hash_password(password)});
    if (!rs) return std::unexpected(rs.error());
    if (rs->affected() == 0) return fail(errc::not_found, "user not found");
    return {};
}

result<void> set_account_status(db::connection& c, const core::uuid& id, std::string_view status) {
    if (status != "active" && status != "suspended" && status != "closed")
        return fail(core::errc::invalid_value, "account_status must be active, suspended or closed",
                    "account_status");
    auto rs = c.exec(
        "UPDATE users SET account_status = $2, updated_at = now() WHERE id = $1 OR tenant_id = $1",
        {id, std::string(status)});
    if (!rs) return std::unexpected(rs.error());
    if (rs->affected() == 0) return fail(errc::not_found, "user not found");
    return {};
}

result<page<user>> list_users(db::connection& c, const std::optional<core::uuid>& tenant,
                              const page_request& p, std::optional<std::string> role) {
    auto rs = c.exec_prepared(std::string("SELECT ") + user_columns +
                                  " FROM users WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2::uuid IS NULL OR id < $2)"
                                  " AND ($4::text IS NULL OR role = $4) ORDER BY id DESC LIMIT $3",
                              {tenant, p.after, p.limit + 1, role});
    if (!rs) return std::unexpected(rs.error());
    page<user> out;
    for (auto r : *rs) out.items.push_back(read_user(r));
    if (int(out.items.size()) > p.limit) {
        out.items.pop_back();
        out.next = out.items.back().id;
    }
    return out;
}

result<page<user>> list_tenants(db::connection& c, const page_request& p) {
    auto rs = c.exec_prepared(std::string("SELECT ") + user_columns +
                                  " FROM users WHERE role = 'client' AND tenant_id = id AND ($1::uuid IS NULL OR id < $1) "
                                  "ORDER BY id DESC LIMIT $2",
                              {p.after, p.limit + 1});
    if (!rs) return std::unexpected(rs.error());
    page<user> out;
    for (auto r : *rs) out.items.push_back(read_user(r));
    if (int(out.items.size()) > p.limit) {
        out.items.pop_back();
        out.next = out.items.back().id;
    }
    return out;
}

result<user> update_settings(db::connection& c, const core::uuid& tenant, std::string_view patch) {
    auto rs = c.exec(std::string("UPDATE users SET settings = jsonb_strip_nulls(settings || "
                                 "$2::jsonb), updated_at = now() "
                                 "WHERE id = $1 AND tenant_id = id RETURNING ")
                         + user_columns,
                     {tenant, std::string(patch)});
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty()) return fail(errc::not_found, "tenant not found");
    return read_user(rs->front());
}

result<std::string> effective_status(db::connection& c, const user& u) {
    if (!u.tenant_id || *u.tenant_id == u.id) return u.account_status;
    auto rs = c.exec_prepared("SELECT account_status FROM users WHERE id = $1", {*u.tenant_id});
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty()) return fail(errc::not_found, "tenant not found");
    std::string tenant_status = rs->front().get<std::string>(0);
    return u.account_status != "active" ? u.account_status : tenant_status;
}

result<role_grant> grant_role(db::connection& c, const core::uuid& tenant,
                              const core::uuid& user_id, std::string_view role_name,
                              const std::vector<std::string>& permissions) {
    if (role_name.empty() || role_name.size() > 50)
        return fail(core::errc::invalid_value, "role_name must be 1 to 50 characters", "role_name");
    for (const auto& p : permissions)
        if (!is_permission(p))
            return fail(core::errc::invalid_value, "unknown permission \"" + p + "\"",
                        "permissions");
    auto rs = c.exec(
        "INSERT INTO user_roles (user_id, role_name, permissions, tenant_id) "
        "SELECT $2, $3, $4::jsonb, $1 FROM users WHERE id = $2 AND tenant_id = $1 AND id <> $1 "
        "ON CONFLICT (user_id, role_name) DO UPDATE SET permissions = EXCLUDED.permissions "
        "RETURNING id, user_id, role_name, permissions::text, created_at",
        {tenant, user_id, std::string(role_name), json_array(permissions)});
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty())
        return fail(errc::not_found, "user not found (roles are for a tenant's sub-users)");
    auto r = rs->front();
    return role_grant{r.get<core::uuid>(0), r.get<core::uuid>(1), r.get<std::string>(2),
                      parse_text_array(r.get<std::string_view>(3)), r.get<time_point>(4)};
}

result<void> revoke_role(db::connection& c, const core::uuid& tenant, const core::uuid& user_id,
                         std::string_view role_name) {
    auto rs =
        c.exec("DELETE FROM user_roles WHERE tenant_id = $1 AND user_id = $2 AND role_name = $3",
               {tenant, user_id, std::string(role_name)});
    if (!rs) return std::unexpected(rs.error());
    if (rs->affected() == 0) return fail(errc::not_found, "role not found");
    return {};
}

result<std::vector<role_grant>> list_roles(db::connection& c, const core::uuid& tenant,
                                           const core::uuid& user_id) {
    auto rs = c.exec_prepared(
        "SELECT id, user_id, role_name, permissions::text, created_at FROM user_roles "
        "WHERE tenant_id = $1 AND user_id = $2 ORDER BY role_name",
        {tenant, user_id});
    if (!rs) return std::unexpected(rs.error());
    std::vector<role_grant> out;
    for (auto r : *rs)
        out.push_back({r.get<core::uuid>(0), r.get<core::uuid>(1), r.get<std::string>(2),
                       parse_text_array(r.get<std::string_view>(3)), r.get<time_point>(4)});
    return out;
}

result<std::set<std::string>> permissions_of(db::connection& c, const user& u) {
    std::set<std::string> out;
    if (u.is_admin() || u.is_tenant_owner()) {
        out.insert(all_permissions().begin(), all_permissions().end());
        if (u.is_admin()) out.insert("admin");
        return out;
    }
    auto rs =
        c.exec_prepared("SELECT permissions::text FROM user_roles WHERE user_id = $1", {u.id});
    if (!rs) return std::unexpected(rs.error());
    for (auto r : *rs)
        for (auto& p : parse_text_array(r.get<std::string_view>(0))) out.insert(p);
    return out;
}

result<session_secrets> create_session(db::connection& c, const core::uuid& user_id,
                                       std::string_view ip, std::string_view user_agent,
                                       std::chrono::seconds ttl) {
    session_secrets s;
    s.cookie = core::random_token(32);
    s.csrf = core::random_token(24);
    s.expires_at = std::chrono::system_clock::now() + ttl;
    auto rs = c.exec(
        "INSERT INTO sessions (user_id, token_hash, csrf_hash, ip_address, user_agent, expires_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        {user_id, core::sha256_hex(s.cookie), core::sha256_hex(s.csrf),
         std::string(ip.substr(0, 45)), std::string(user_agent.substr(0, 500)), s.expires_at});
    if (!rs) return std::unexpected(rs.error());
    s.session_id = rs->front().get<core::uuid>(0);
    return s;
}

result<session_info> find_session(db::connection& c, std::string_view cookie) {
    auto rs = c.exec_prepared(
        "SELECT id, user_id, csrf_hash, expires_at FROM sessions "
        "WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()",
        {core::sha256_hex(cookie)});
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty())
        return fail(errc::invalid_credentials,
                    "the session has expired or was ended; log in again");
    auto r = rs->front();
    return session_info{r.get<core::uuid>(0), r.get<core::uuid>(1), r.get<std::string>(2),
                        r.get<time_point>(3)};
}

result<void> revoke_session(db::connection& c, const core::uuid& session_id) {
    auto rs = c.exec("UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
                     {session_id});
    if (!rs) return std::unexpected(rs.error());
    return {};
}

result<void> revoke_user_sessions(db::connection& c, const core::uuid& user_id) {
    auto rs =
        c.exec("UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
               {user_id});
    if (!rs) return std::unexpected(rs.error());
    return {};
}

}  // namespace herald::store
