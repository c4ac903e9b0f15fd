#pragma once
/// Keeping secrets out of logs and output.

#include <string>
#include <string_view>

namespace herald::core {

/// A database URL or libpq key=value string with any password replaced by "***".
std::string redact_connection_string(std::string_view conninfo);

}  // namespace herald::core
