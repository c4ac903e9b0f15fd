// A tenant's balance, ledger and the price list.

#include "http/detail/api_impl.hpp"
#include "http/views.hpp"
#include "store/billing.hpp"

namespace herald::http::detail {

void register_billing(impl& api, router& routes) {
    routes.add("GET", "/v1/billing/balance", api.guarded({.permission = "billing:read"}, [&api](call& c) {
        return with_db(api, [&](db::connection& conn) -> result<response> {
            auto b = store::balance(conn, c.tenant_id());
            if (!b) return std::unexpected(b.error());
            return json_response(200, {{"tenant_id", c.tenant_id().str()}, {"sms_credits", *b}});
        });
    }));

    routes.add("GET", "/v1/billing/transactions", api.guarded({.permission = "billing:read"}, [&api](call& c) {
        auto p = page_from(c.req);
        if (!p) return error_response(p.error());
        return with_db(api, [&](db::connection& conn) -> result<response> {
            auto rows = store::list_ledger(conn, c.tenant_id(), *p);
            if (!rows) return std::unexpected(rows.error());
            return json_response(200, page_json(*rows, ledger_json));
        });
    }));

    routes.add("GET", "/v1/prices", api.guarded({.tenant_scoped = false}, [&api](call&) {
        return with_db(api, [&](db::connection& conn) -> result<response> {
            auto prices = store::list_prices(conn);
            if (!prices) return std::unexpected(prices.error());
            json data = json::array();
            for (const auto& p : *prices)
                data.push_back({{"country_code", p.country_code}, {"credits_per_segment", p.credits_per_segment}});
            return json_response(200, {{"data", data}});
        });
    }));
}

}  // namespace herald::http::detail
