#pragma once
/// A real `herald serve` process on a fresh database of the test cluster, with an admin
/// bootstrapped through the CLI, and helpers to make tenants and call the API.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/process.hpp"
#include "support/background.hpp"
#include "support/http_client.hpp"

namespace herald::test {

using json = nlohmann::json;

/// One API reply with its body parsed (null when not JSON).
struct api_reply {
    int status = 0;
    json body;
    std::string raw;
    http_reply http;
    std::string error_code() const {
        return body.is_object() && body.contains("error") ? body["error"].value("code", "") : "";
    }
};

/// Credentials to call the API with: a bearer token, or a session cookie with its CSRF token.
struct credentials {
    std::string token;
    std::string cookie, csrf;
    std::string tenant;  ///< X-Tenant-Id to send (admins acting for a tenant)
    std::vector<std::string> headers() const;
};

struct tenant_account {
    std::string id, username, password;
    credentials token;    ///< an API token with every permission
    credentials session;  ///< a dashboard login
};

class api_server {
  public:
    /// Starts a server; `env` adds HERALD_* settings.
    explicit api_server(std::vector<std::string> env = {});
    ~api_server();

    int port() const noexcept { return port_; }
    const std::string& database() const noexcept { return database_; }
    const std::string& data_dir() const noexcept { return data_dir_; }
    const credentials& admin() const noexcept { return admin_; }

    api_reply call(const std::string& method, const std::string& path, const credentials& who,
                   const json& body = nullptr, std::vector<std::string> extra_headers = {});
    /// Sends a raw body with a content type (CSV uploads).
    api_reply send(const std::string& method, const std::string& path, const credentials& who,
                   const std::string& body, const std::string& content_type);

    /// Creates a tenant through the admin API, logs it in and gives it a token.
    tenant_account make_tenant(const std::string& name, int credits = 0);
    /// Logs in; returns the session credentials (empty on failure).
    credentials login(const std::string& login, const std::string& password);
    /// kill -9 the server, then start it again on the same database and data folder.
    void crash_and_restart();
    /// Another `herald serve` on the same database (a second node); `env` adds settings or
    /// replaces this server's.
    std::unique_ptr<background_process> start_node(std::vector<std::string> env = {});
    /// Runs the herald CLI against this server's database.
    core::process_result cli(std::vector<std::string> args, std::string stdin_text = {});
    background_process& process() { return *process_; }

  private:
    std::string database_, data_dir_;
    std::unique_ptr<background_process> process_;
    std::vector<std::string> env_;
    int port_ = 0;
    void launch();
    credentials admin_;
};

/// A name no other test in this run uses: `prefix`, the process id and a counter.
std::string unique(const std::string& prefix);

/// Polls an import until it finishes (or 60 s pass); returns its last state.
json wait_for_import(api_server& s, const credentials& who, const std::string& import_id);

}  // namespace herald::test
