#pragma once
/// HTTP requests and responses as plain values. Handlers see only these, never sockets or
/// Beast types, so they stay pure and cheap to compile: handle(request) -> response.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::http {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct request {
    std::string method;        ///< "GET", "POST", ...
    std::string target;        ///< path and query as received
    std::string path;          ///< percent-decoded path without the query
    std::string query_string;  ///< raw text after '?'
    header_list headers;       ///< names in lower case
    std::string body;
    /// For upload routes: the file the body was streamed to (the server deletes it after the
    /// handler unless the handler moved it away).
    std::filesystem::path body_file;
    std::string remote_ip;
    std::string request_id;
    /// Values of {name} segments of the matched route.
    std::vector<std::pair<std::string, std::string>> path_params;
    std::chrono::steady_clock::time_point received_at = std::chrono::steady_clock::now();

    /// A header's value, or empty. `name` must be lower case.
    std::string_view header(std::string_view name) const noexcept;
    /// A decoded query parameter (the first if repeated), or nullopt.
    std::optional<std::string> query(std::string_view key) const;
    /// A path parameter of the matched route, or empty.
    std::string_view param(std::string_view name) const noexcept;
};

struct response {
    int status = 200;
    header_list headers;
    std::string body;

    response() = default;
    response(int s, std::string content_type, std::string b);

    /// Sets (replaces) a header.
    response& set(std::string name, std::string value);
    std::string_view header(std::string_view name) const noexcept;
};

/// "%41bc+d" -> "Abc d" (form-style '+' only when `plus_is_space`). Invalid escapes stay as-is.
std::string url_decode(std::string_view in, bool plus_is_space);

/// The standard reason phrase for a status code.
std::string_view reason_phrase(int status) noexcept;

}  // namespace herald::http
