#pragma once
/// SMPP connectors, routes and bind leases (all in PostgreSQL so every node sees the same).

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/uuid.hpp"
#include "db/connection.hpp"

namespace herald::store {

struct connector {
    core::uuid id;
    std::string name, host;
    int port = 2775;
    std::string system_id, password, system_type;
    std::string bind_mode = "transceiver";
    int binds = 1;
    double tps = 0;  ///< across all binds and nodes; 0: no cap
    int window = 256;
    std::string data_coding = "gsm7", long_message = "udh", dlr_id_format = "exact";
    bool enabled = true;
    std::chrono::system_clock::time_point created_at, updated_at;
};

result<std::vector<connector>> list_connectors(db::connection& c);
/// True when at least one connector is configured (enabled or not).
result<bool> any_connector(db::connection& c);
result<connector> get_connector(db::connection& c, const std::string& name);
/// Inserts a new one (duplicate name: errc::duplicate).
result<connector> create_connector(db::connection& c, const connector& k);
/// Replaces every field but the name and id.
result<connector> update_connector(db::connection& c, const std::string& name, const connector& k);
/// Refused (wrong_state) while a route names it.
result<void> delete_connector(db::connection& c, const std::string& name);

struct route {
    std::string prefix;  ///< '' or '+' and digits
    std::vector<std::string> connectors;
    std::chrono::system_clock::time_point updated_at;
};
result<std::vector<route>> list_routes(db::connection& c);
/// Creates or replaces; every connector must exist (invalid_reference names the first that
/// does not).
result<route> put_route(db::connection& c, const std::string& prefix,
                        const std::vector<std::string>& connectors);
result<void> delete_route(db::connection& c, const std::string& prefix);

/// Heartbeat of `node`, then its share of each enabled connector's binds: renews the ones
/// it holds, gives back those above its share (so a new node gets some), and takes free
/// ones up to it.
struct bind_leases {
    std::map<core::uuid, int> held;  ///< connector id -> binds held
    int live_nodes = 1;              ///< nodes with a recent heartbeat, this one included
};
result<bind_leases> lease_binds(db::connection& c, const std::string& node,
                                std::chrono::seconds lease);
/// Gives back every bind of `node` and its heartbeat (clean shutdown).
result<void> release_binds(db::connection& c, const std::string& node);

}  // namespace herald::store
