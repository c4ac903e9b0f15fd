#include "http/json.hpp"

#include "http/errc.hpp"

namespace herald::http {

response json_response(int status, const json& body) {
    return response(status, "application/json",
                    body.dump(-1, ' ', false, json::error_handler_t::replace));
}

namespace {
result<json> json_result(json j) {
    return j;
}
}  // namespace

result<json> parse_json_object(const request& req) {
    auto ct = req.header("content-type");
    if (!ct.empty() && ct.find("json") == std::string_view::npos)
        return fail(errc::unsupported_media_type,
                    "send the body as application/json (got " + std::string(ct) + ")");
    if (req.body.empty())
        return fail(errc::invalid_json, "the request body is empty; send a JSON object");
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded()) {
        // Re-parse with exceptions on to learn where it broke.
        try {
            json again = json::parse(req.body);
            return again.is_object() ? json_result(std::move(again))
                                     : fail(errc::invalid_json, "the body must be a JSON object");
        } catch (const json::parse_error& e) {
            return fail(errc::invalid_json,
                        "the body is not valid JSON (at byte " + std::to_string(e.byte) + ")");
        }
        return fail(errc::invalid_json, "the body is not valid JSON");
    }
    if (!j.is_object()) return fail(errc::invalid_json, "the body must be a JSON object");
    return j;
}

}  // namespace herald::http
