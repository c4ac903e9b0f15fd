#include "support/http_client.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace herald::test {

std::string http_reply::header(const std::string& name) const {
    for (const auto& [k, v] : headers)
        if (k == name) return v;
    return {};
}

http_client::http_client(int port, std::string host) : port_(port), host_(std::move(host)) {}

http_client::~http_client() {
    if (fd_ >= 0) close(fd_);
}

bool http_client::connect() {
    if (fd_ >= 0) close(fd_);
    buffer_.clear();
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(std::uint16_t(port_));
    inet_pton(AF_INET, host_.c_str(), &addr.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        close(fd_);
        fd_ = -1;
        return false;
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{60, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return true;
}

http_reply http_client::read_reply() {
    http_reply r;
    auto fill = [&]() {
        char buf[65536];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) return false;
        buffer_.append(buf, std::size_t(n));
        return true;
    };
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
        if (!fill()) return r;
    std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    std::size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    r.status = std::atoi(status_line.substr(9, 3).c_str());
    std::size_t content_length = 0;
    std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
        std::size_t e = head.find("\r\n", pos);
        if (e == std::string::npos) e = head.size();
        std::string line = head.substr(pos, e - pos);
        auto colon = line.find(':');
        if (colon != std::string::npos) {
            std::string name = line.substr(0, colon);
            for (auto& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
            std::string value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            if (name == "content-length") content_length = std::size_t(std::atoll(value.c_str()));
            r.headers.emplace_back(std::move(name), std::move(value));
        }
        pos = e + 2;
    }
    while (buffer_.size() < content_length)
        if (!fill()) {
            r.status = 0;
            return r;
        }
    r.body = buffer_.substr(0, content_length);
    buffer_.erase(0, content_length);
    if (r.header("connection") == "close") {
        close(fd_);
        fd_ = -1;
    }
    return r;
}

bool http_client::send_all(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        sent += std::size_t(n);
    }
    return true;
}

http_reply http_client::raw(const std::string& bytes) {
    if (fd_ < 0 && !connect()) {
        std::cerr << "cannot connect to 127.0.0.1:" << port_ << std::endl;
        std::abort();
    }
    send_all(bytes);
    return read_reply();
}

http_reply http_client::request(const std::string& method, const std::string& target,
                                const std::string& body, const std::vector<std::string>& headers) {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + host_ + "\r\n";
    for (const auto& h : headers) req += h + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
        req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (fd_ < 0 && !connect()) {
            std::cerr << "cannot connect to 127.0.0.1:" << port_ << std::endl;
            std::abort();
        }
        if (send_all(req)) {
            auto r = read_reply();
            if (r.status != 0 || attempt == 1) return r;
        } else if (attempt == 1) {
            // The server may answer (413) and close before taking the whole body.
            return read_reply();
        }
        close(fd_);  // the server closed an idle keep-alive connection; try once more
        fd_ = -1;
    }
    return {};
}

}  // namespace herald::test
