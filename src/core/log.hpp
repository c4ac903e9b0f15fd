#pragma once
/// Process-wide logging set-up (spdlog). Components log through spdlog directly; this sets
/// the level and the format once at start-up.

#include "core/config.hpp"

namespace herald::core {

/// Configures the default logger to write to stderr in the configured format and level.
/// Safe to call again (tests, reloads).
void setup_logging(const log_config& cfg);

}  // namespace herald::core
