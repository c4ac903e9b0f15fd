#pragma once
/// JSON in and out of handlers (nlohmann::json). Include only in handler sources.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "http/message.hpp"

namespace herald::http {

using json = nlohmann::json;

/// A response with a JSON body.
response json_response(int status, const json& body);

/// Parses a request body as a JSON object. Errors say where the syntax broke.
result<json> parse_json_object(const request& req);

/// Appends `s` to `out` as a JSON string, quotes included. Invalid UTF-8 becomes U+FFFD.
void append_json_string(std::string& out, std::string_view s);

/// Writes JSON straight into a string, for hot list endpoints where building a tree per row
/// would cost more than the query. Commas are placed automatically; keys and values must
/// alternate inside objects. Invalid UTF-8 in strings becomes U+FFFD, as in json_response.
class json_writer {
  public:
    explicit json_writer(std::size_t reserve = 0) { out_.reserve(reserve); }

    json_writer& begin_object();
    json_writer& end_object();
    json_writer& begin_array();
    json_writer& end_array();
    json_writer& key(std::string_view k);
    json_writer& value(std::string_view s);
    json_writer& value(const char* s) { return value(std::string_view(s)); }
    json_writer& value(std::int64_t n);
    json_writer& value(bool b);
    json_writer& null();
    /// Inserts text that is already JSON (for example a jsonb column as PostgreSQL prints it).
    json_writer& raw(std::string_view json_text);
    template <class T>
    json_writer& value(const std::optional<T>& v) {
        return v ? value(*v) : null();
    }

    std::string take() { return std::move(out_); }

  private:
    void separate();
    std::string out_;
    std::vector<unsigned char> first_;  // per open container: no element written yet
    bool after_key_ = false;
};

}  // namespace herald::http
