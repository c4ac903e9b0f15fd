#include "store/tokens.hpp"

#include "core/errc.hpp"
#include "core/hash.hpp"
#include "db/param.hpp"
#include "store/accounts.hpp"
#include "store/errc.hpp"

namespace herald::store {
namespace {

constexpr const char* token_columns =
    "id, user_id, tenant_id, coalesce(name, ''), token_prefix, permissions::text, status, "
    "last_used, expires_at, "
    "created_at";

std::vector<std::string> read_array(std::string_view j) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while ((i = j.find('"', i)) != std::string_view::npos) {
        auto e = j.find('"', i + 1);
        if (e == std::string_view::npos) break;
        out.emplace_back(j.substr(i + 1, e - i - 1));
        i = e + 1;
    }
    return out;
}

api_token read_token(const db::row& r) {
    api_token t;
    t.id = r.get<core::uuid>(0);
    t.user_id = r.get<core::uuid>(1);
    t.tenant_id = r.get<std::optional<core::uuid>>(2);
    t.name = r.get<std::string>(3);
    t.prefix = r.get<std::string>(4);
    t.permissions = read_array(r.get<std::string_view>(5));
    t.status = r.get<std::string>(6);
    t.last_used = r.get<std::optional<std::chrono::system_clock::time_point>>(7);
    t.expires_at = r.get<std::optional<std::chrono::system_clock::time_point>>(8);
    t.created_at = r.get<std::chrono::system_clock::time_point>(9);
    return t;
}

}  // namespace

result<created_token> create_token(
    db::connection& c, const core::uuid& user_id, const std::optional<core::uuid>& tenant,
    std::string_view name, const std::vector<std::string>& permissions,
    std::optional<std::chrono::system_clock::time_point> expires_at) {
    if (name.empty() || name.size() > 100)
        return fail(core::errc::invalid_value, "name must be 1 to 100 characters", "name");
    std::string perms = "[";
    for (std::size_t i = 0; i < permissions.size(); ++i) {
        if (!is_permission(permissions[i]) && permissions[i] != "admin")
            return fail(core::errc::invalid_value, "unknown permission \"" + permissions[i] + "\"",
                        "permissions");
        perms += (i ? ",\"" : "\"") + permissions[i] + "\"";
    }
    perms += "]";
    if (expires_at && *expires_at <= std::chrono::system_clock::now())
        return fail(core::errc::invalid_value, "expires_at must be in the future", "expires_at");
    std::string secret = "hld_" + core::random_token(30);
    auto rs = c.exec(
        std::string(
            "INSERT INTO api_tokens (user_id, tenant_id, token, token_prefix, name, permissions, "
            "expires_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) RETURNING ")
            + token_columns,
        {user_id, tenant, core::sha256_hex(secret), secret.substr(0, 12), std::string(name), perms,
         expires_at});
    if (!rs) return std::unexpected(rs.error());
    return created_token{read_token(rs->front()), std::move(secret)};
}

result<api_token> find_token(db::connection& c, std::string_view secret) {
    auto rs = c.exec_prepared(
        std::string("SELECT ") + token_columns + " FROM api_tokens WHERE token = $1",
        {core::sha256_hex(secret)});
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty()) return fail(errc::invalid_credentials, "the API token is not valid");
    return read_token(rs->front());
}

result<page<api_token>> list_tokens(db::connection& c, const std::optional<core::uuid>& tenant,
                                    const page_request& p) {
    auto rs = c.exec_prepared(std::string("SELECT ") + token_columns +
                                  " FROM api_tokens WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2::uuid IS NULL OR "
                                  "id < $2) ORDER BY id DESC LIMIT $3",
                              {tenant, p.after, p.limit + 1});
    if (!rs) return std::unexpected(rs.error());
    page<api_token> out;
    for (auto r : *rs) out.items.push_back(read_token(r));
    if (int(out.items.size()) > p.limit) {
        out.items.pop_back();
        out.next = out.items.back().id;
    }
    return out;
}

result<api_token> get_token(db::connection& c, const std::optional<core::uuid>& tenant,
                            const core::uuid& id) {
    auto rs = c.exec_prepared(
        std::string("SELECT ") + token_columns
            + " FROM api_tokens WHERE id = $1 AND ($2::uuid IS NULL OR tenant_id = $2)",
        {id, tenant});
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty()) return fail(errc::not_found, "token not found");
    return read_token(rs->front());
}

result<api_token> revoke_token(db::connection& c, const std::optional<core::uuid>& tenant,
                               const core::uuid& id) {
    auto rs =
        c.exec(std::string("UPDATE api_tokens SET status = 'revoked', revoked_at = now() "
                           "WHERE id = $1 AND ($2::uuid IS NULL OR tenant_id = $2) RETURNING ")
                   + token_columns,
               {id, tenant});
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty()) return fail(errc::not_found, "token not found");
    return read_token(rs->front());
}

result<void> touch_tokens(
    db::connection& c,
    const std::vector<std::pair<core::uuid, std::chrono::system_clock::time_point>>& uses) {
    if (uses.empty()) return {};
    std::vector<std::string> ids, times;
    for (auto& [id, t] : uses) {
        ids.push_back(id.str());
        times.push_back(db::format_timestamp(t));
    }
    auto rs = c.exec(
        "UPDATE api_tokens t SET last_used = greatest(coalesce(t.last_used, u.at), u.at) "
        "FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at) WHERE t.id = u.id",
        {db::array_literal(ids), db::array_literal(times)});
    if (!rs) return std::unexpected(rs.error());
    return {};
}

}  // namespace herald::store
