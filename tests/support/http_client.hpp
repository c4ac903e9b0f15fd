#pragma once
/// A small blocking HTTP/1.1 client over a loopback socket, for tests. Keeps the connection
/// alive between requests; reconnects when the server closed it.

#include <string>
#include <utility>
#include <vector>

namespace herald::test {

struct http_reply {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;  ///< names lower-cased
    std::string body;
    std::string header(const std::string& name) const;
};

class http_client {
  public:
    explicit http_client(int port, std::string host = "127.0.0.1");
    ~http_client();
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;

    /// Sends a request; `headers` are "Name: value" lines. Fails the test binary (abort) only
    /// when the server cannot be reached at all; returns status 0 when the reply is cut off.
    http_reply request(const std::string& method, const std::string& target,
                       const std::string& body = {}, const std::vector<std::string>& headers = {});
    http_reply get(const std::string& target, const std::vector<std::string>& headers = {}) {
        return request("GET", target, {}, headers);
    }
    /// Sends raw bytes and reads one reply; for malformed-request tests.
    http_reply raw(const std::string& bytes);

  private:
    bool connect();
    bool send_all(const std::string& bytes);
    http_reply read_reply();
    int port_;
    std::string host_;
    int fd_ = -1;
    std::string buffer_;
};

}  // namespace herald::test
