#pragma once
/// Running helper programs (initdb, pg_ctl, psql) and waiting for them.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace herald::core {

struct process_options {
    /// Run as this system user (only possible as root); empty keeps the current user.
    std::string as_user;
    /// Working directory of the child; empty keeps the current one.
    std::filesystem::path cwd;
    /// Extra NAME=VALUE entries added to the inherited environment.
    std::vector<std::string> env;
    /// Text written to the child's stdin, then closed. Without it stdin is /dev/null.
    std::optional<std::string> stdin_text;
    /// Kill the child (SIGKILL) when it runs longer than this; zero waits forever.
    std::chrono::milliseconds timeout{0};
};

struct process_result {
    int exit_code = -1;  ///< exit status, or 128 + signal number when killed
    std::string output;  ///< stdout and stderr, interleaved as written
};

/// Runs argv[0] (searched in PATH) with the arguments and waits. The child gets no file
/// descriptors of ours beyond stdio. Fails only when the program cannot be started.
result<process_result> run_process(const std::vector<std::string>& argv,
                                   const process_options& options = {});

/// Replaces this process with argv[0] (searched in PATH), optionally as another user.
/// Returns only on failure.
error exec_process(const std::vector<std::string>& argv, const std::string& as_user = {});

/// True when running with uid 0.
bool running_as_root() noexcept;

/// uid and gid of a system user, if it exists.
struct user_ids {
    unsigned uid, gid;
};
std::optional<user_ids> lookup_user(const std::string& name);

/// True when `user` may search (traverse) every folder down to `path` and access it with
/// `mode` (R_OK/W_OK/X_OK bits). Checked by a child running as that user; root only.
bool user_can_access(const std::string& user, const std::filesystem::path& path, int mode);

}  // namespace herald::core
