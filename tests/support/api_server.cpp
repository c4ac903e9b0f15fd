#include "support/api_server.hpp"

#include <atomic>
#include <iostream>
#include <signal.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/pg.hpp"
#include "support/run.hpp"

namespace herald::test {

std::vector<std::string> credentials::headers() const {
    std::vector<std::string> h;
    if (!token.empty()) h.push_back("Authorization: Bearer " + token);
    if (!cookie.empty()) {
        h.push_back("Cookie: herald_session=" + cookie);
        if (!csrf.empty()) h.push_back("X-CSRF-Token: " + csrf);
    }
    if (!tenant.empty()) h.push_back("X-Tenant-Id: " + tenant);
    h.push_back("User-Agent: herald-tests");
    return h;
}

api_server::api_server(std::vector<std::string> env) : env_(std::move(env)) {
    database_ = pg::instance().fresh_database();
    data_dir_ = temp_dir("api");
    env_.push_back("HERALD_LOG_LEVEL=warn");
    env_.push_back("HERALD_HTTP_ACCESS_LOG=false");
    launch();
    auto made = cli({"user", "create", "--admin", "--username", "admin", "--email",
                     "admin@herald.test", "--password-stdin"},
                    "admin-password-1\n");
    auto token = cli({"token", "create", "--user", "admin", "--name", "tests"});
    if (made.exit_code != 0 || token.exit_code != 0) {
        std::cerr << "cannot bootstrap the admin:\n" << made.output << token.output << std::endl;
        std::abort();
    }
    admin_.token = token.output.substr(0, token.output.find('\n'));
}

void api_server::launch() {
    process_ = std::make_unique<background_process>(
        std::vector<std::string>{herald_binary(), "serve", "--database-url", database_,
                                 "--data-dir", data_dir_, "--http-port", "0"},
        env_);
    if (!process_->wait_for_output("Herald is running.", std::chrono::seconds(60))) {
        std::cerr << "herald serve did not start:\n" << process_->output() << std::endl;
        std::abort();
    }
    port_ = *process_->number_after("http://127.0.0.1:");
}

void api_server::crash_and_restart() {
    process_->signal(SIGKILL);
    process_->wait(std::chrono::seconds(20));
    launch();
}

std::unique_ptr<background_process> api_server::start_node(std::vector<std::string> env) {
    auto all = env_;
    all.insert(all.end(), env.begin(), env.end());
    auto node = std::make_unique<background_process>(
        std::vector<std::string>{herald_binary(), "serve", "--database-url", database_,
                                 "--data-dir", temp_dir("node"), "--http-port", "0"},
        all);
    if (!node->wait_for_output("Herald is running.", std::chrono::seconds(60))) {
        std::cerr << "a second herald serve did not start:\n" << node->output() << std::endl;
        std::abort();
    }
    return node;
}

api_server::~api_server() {
    process_->signal(SIGTERM);
    process_->wait(std::chrono::seconds(20));
    // When something failed, the server's warnings usually say why.
    if (::testing::UnitTest::GetInstance()->failed_test_count() > 0) {
        const std::string out = process_->output();
        std::string warnings;
        std::size_t at = 0;
        while (at < out.size() && warnings.size() < 8000) {
            const auto end = out.find('\n', at);
            const auto line = out.substr(at, end == std::string::npos ? end : end - at + 1);
            if (line.find(" warning ") != std::string::npos
                || line.find(" error ") != std::string::npos)
                warnings += line;
            if (end == std::string::npos) break;
            at = end + 1;
        }
        if (!warnings.empty()) std::cerr << "herald serve warnings:\n" << warnings << std::endl;
    }
}

core::process_result api_server::cli(std::vector<std::string> args, std::string stdin_text) {
    args.insert(args.end(), {"--database-url", database_});
    std::vector<std::string> argv = {herald_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    core::process_options o;
    if (!stdin_text.empty()) o.stdin_text = stdin_text;
    o.timeout = std::chrono::seconds(60);
    auto r = core::run_process(argv, o);
    if (!r) {
        std::cerr << "cannot run herald: " << r.error().message << std::endl;
        std::abort();
    }
    // Keep stdout apart from the stderr note for token create: the token is the first line.
    return *r;
}

api_reply api_server::send(const std::string& method, const std::string& path,
                           const credentials& who, const std::string& body,
                           const std::string& content_type) {
    std::vector<std::string> headers = who.headers();
    if (!content_type.empty()) headers.push_back("Content-Type: " + content_type);
    http_client client(port_);
    api_reply r;
    r.http = client.request(method, path, body, headers);
    r.status = r.http.status;
    r.raw = r.http.body;
    r.body = json::parse(r.raw, nullptr, false);
    if (r.body.is_discarded()) r.body = nullptr;
    return r;
}

api_reply api_server::call(const std::string& method, const std::string& path,
                           const credentials& who, const json& body,
                           std::vector<std::string> extra_headers) {
    std::vector<std::string> headers = who.headers();
    headers.insert(headers.end(), extra_headers.begin(), extra_headers.end());
    std::string text;
    if (!body.is_null()) {
        text = body.dump();
        headers.push_back("Content-Type: application/json");
    }
    http_client client(port_);
    api_reply r;
    r.http = client.request(method, path, text, headers);
    r.status = r.http.status;
    r.raw = r.http.body;
    r.body = json::parse(r.raw, nullptr, false);
    if (r.body.is_discarded()) r.body = nullptr;
    return r;
}

credentials api_server::login(const std::string& login, const std::string& password) {
    auto r = call("POST", "/v1/auth/login", {}, {{"login", login}, {"password", password}});
    credentials c;
    if (r.status != 200) return c;
    for (const auto& [k, v] : r.http.headers) {
        if (k != "set-cookie" || !v.starts_with("herald_session=")) continue;
        c.cookie = v.substr(15, v.find(';') - 15);
    }
    c.csrf = r.body["csrf_token"];
    return c;
}

tenant_account api_server::make_tenant(const std::string& name, int credits) {
    tenant_account t;
    t.username = name;
    t.password = name + "-password-1";
    auto r = call("POST", "/v1/admin/tenants", admin_,
                  {{"username", name},
                   {"email", name + "@tenant.test"},
                   {"password", t.password},
                   {"credits", credits}});
    if (r.status != 201) {
        std::cerr << "cannot create tenant " << name << ": " << r.raw << std::endl;
        std::abort();
    }
    t.id = r.body["id"];
    t.session = login(name, t.password);
    auto tok = call("POST", "/v1/tokens", t.session, {{"name", "tests"}});
    if (tok.status != 201) {
        std::cerr << "cannot create a token for " << name << ": " << tok.raw << std::endl;
        std::abort();
    }
    t.token.token = tok.body["token"];
    return t;
}

json wait_for_import(api_server& s, const credentials& who, const std::string& import_id) {
    json last;
    for (int i = 0; i < 600; ++i) {
        auto r = s.call("GET", "/v1/contacts/imports/" + import_id, who);
        last = r.body;
        if (r.status != 200) return last;
        if (last["status"] == "completed" || last["status"] == "failed") return last;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return last;
}

std::string unique(const std::string& prefix) {
    static std::atomic<int> n{0};
    return prefix + std::to_string(::getpid()) + "x" + std::to_string(n++);
}

}  // namespace herald::test
