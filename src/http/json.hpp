#pragma once
/// JSON in and out of handlers (nlohmann::json). Include only in handler sources.

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "http/message.hpp"

namespace herald::http {

using json = nlohmann::json;

/// A response with a JSON body.
response json_response(int status, const json& body);

/// Parses a request body as a JSON object. Errors say where the syntax broke.
result<json> parse_json_object(const request& req);

}  // namespace herald::http
