#pragma once
/// An asynchronous HTTP/1.1 client for outgoing calls (webhooks): http:// and https://, one
/// deadline per request covering resolve, connect, TLS, write and read. Requests run on the
/// client's own thread, so a slow peer only ever holds up its own request.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace herald::http {

struct outgoing_request {
    std::string method = "POST";
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::chrono::milliseconds timeout{10'000};
};

struct outgoing_result {
    int status = 0;     ///< HTTP status; 0 when no answer came
    std::string error;  ///< why there was no answer (timeout, refused, TLS, bad URL)
    std::string body;   ///< the first 1,000 bytes of the answer
    std::chrono::milliseconds took{0};
};

class client {
  public:
    client();
    ~client();  ///< abandons what is running: callbacks not yet run never run
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// Starts a request; `done` runs once on the client's thread.
    void send(outgoing_request r, std::function<void(outgoing_result)> done);

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

struct url_parts {
    bool tls = false;
    std::string host, port, target;
};
/// Splits an http(s) URL; false for anything else.
bool parse_url(std::string_view url, url_parts& out);

}  // namespace herald::http
