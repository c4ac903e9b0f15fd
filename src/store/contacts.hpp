#pragma once
/// Contacts and contact groups of a tenant. Every function takes the tenant and only ever
/// sees that tenant's rows: another tenant's id is "not found".

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/uuid.hpp"
#include "db/connection.hpp"
#include "store/page.hpp"
#include "store/statement.hpp"

namespace herald::store {

struct group {
    core::uuid id;
    std::string name;
    std::optional<std::string> description;
    int total_contacts = 0;
    std::chrono::system_clock::time_point created_at, updated_at;
};

struct group_input {
    std::optional<std::string> name;
    std::optional<std::optional<std::string>> description;  ///< set to nullopt inside to clear
};

result<group> create_group(db::connection& c, const core::uuid& tenant, const group_input& in);
result<group> get_group(db::connection& c, const core::uuid& tenant, const core::uuid& id);
result<group> update_group(db::connection& c, const core::uuid& tenant, const core::uuid& id,
                           const group_input& in);
/// Deletes a group (its contacts stay). Refused while a campaign uses it.
result<void> delete_group(db::connection& c, const core::uuid& tenant, const core::uuid& id);
result<page<group>> list_groups(db::connection& c, const core::uuid& tenant, const page_request& p,
                                std::optional<std::string> name_search = std::nullopt);

struct contact {
    core::uuid id;
    std::string phone_number;  ///< E.164
    std::optional<std::string> country_code, first_name, last_name, email, time_zone;
    std::string custom_fields = "{}";    ///< JSON object text
    std::string status;                  ///< active, unsubscribed or invalid
    std::optional<core::uuid> group_id;  ///< the group it was created in
    std::vector<core::uuid> groups;      ///< every group it belongs to (get_contact only)
    std::chrono::system_clock::time_point created_at, updated_at;
};

/// Fields to set; absent ones are left alone (create: defaults). Values are already
/// validated: phone_number is E.164, custom_fields a JSON object, time_zone an IANA name.
struct contact_input {
    std::optional<std::string> phone_number, country_code;
    std::optional<std::optional<std::string>> first_name, last_name, email, time_zone;
    std::optional<std::string> custom_fields;
    std::optional<std::string> status;
    std::vector<core::uuid> add_to_groups;  ///< memberships to add
};

result<contact> create_contact(db::connection& c, const core::uuid& tenant,
                               const contact_input& in);
result<contact> get_contact(db::connection& c, const core::uuid& tenant, const core::uuid& id);
result<contact> update_contact(db::connection& c, const core::uuid& tenant, const core::uuid& id,
                               const contact_input& in);
result<void> delete_contact(db::connection& c, const core::uuid& tenant, const core::uuid& id);

struct contact_filter {
    std::optional<std::string> search;  ///< part of a name or number
    std::optional<core::uuid> group_id;
    std::optional<std::string> status;
};

/// A contact as read from a query result, without copies: valid while the result is.
struct contact_view {
    core::uuid id;
    std::string_view phone_number;
    std::optional<std::string_view> country_code, first_name, last_name, email, time_zone;
    std::string_view custom_fields;  ///< JSON object text
    std::string_view status;
    std::optional<core::uuid> group_id;
    std::chrono::system_clock::time_point created_at, updated_at;
};

/// Listing contacts comes in two halves, for a caller that runs the statement itself (the
/// HTTP lanes' pipelined reads, decision 0012): the statement (run it with binary results),
/// and the page read from what it returned.
statement list_contacts_statement(const core::uuid& tenant, const contact_filter& f,
                                  const page_request& p);
page<contact_view> contacts_page(const db::rows& rs, const page_request& p);

/// Adds contacts to a group; every id must be the tenant's. Returns how many were new members.
result<int> add_members(db::connection& c, const core::uuid& tenant, const core::uuid& group,
                        const std::vector<core::uuid>& contacts);
result<void> remove_member(db::connection& c, const core::uuid& tenant, const core::uuid& group,
                           const core::uuid& contact);

/// Streams a group as CSV (header first): phone_number, first_name, last_name, email,
/// status, time_zone, then one column per custom field key. Returns the rows written.
result<std::int64_t> export_group_csv(db::connection& c, const core::uuid& tenant,
                                      const core::uuid& group,
                                      const std::function<void(std::string_view)>& sink);

}  // namespace herald::store
