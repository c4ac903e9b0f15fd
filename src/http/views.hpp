#pragma once
/// How Herald's records look in API responses.

#include "http/json.hpp"
#include "store/accounts.hpp"
#include "store/audit.hpp"
#include "store/billing.hpp"
#include "store/contacts.hpp"
#include "store/imports.hpp"
#include "store/tokens.hpp"

namespace herald::http {

json user_json(const store::user& u);
json role_json(const store::role_grant& r);
json token_json(const store::api_token& t);
json group_json(const store::group& g);
json contact_json(const store::contact& c, bool with_groups = false);
json import_json(const store::import_job& j);
json ledger_json(const store::ledger_row& l);
json audit_json(const store::audit_row& a);

/// A page of contacts as `{"data": [...], "next_cursor": ...}`, written directly (the list is
/// the hottest read in the API); each item is what contact_json gives.
std::string contacts_page_body(const store::page<store::contact_view>& p);

}  // namespace herald::http
