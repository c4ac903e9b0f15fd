#include "support/background.hpp"

#include <atomic>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace herald::test {

background_process::background_process(std::vector<std::string> argv,
                                       std::vector<std::string> env) {
    static std::atomic<int> n{0};
    log_ = (std::filesystem::temp_directory_path()
            / ("herald-bg-" + std::to_string(getpid()) + "-" + std::to_string(n++) + ".log"))
               .string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);

    std::vector<std::string> envs;
    for (char** e = environ; e && *e; ++e) envs.emplace_back(*e);
    // A later NAME=VALUE replaces an earlier one of the same name (getenv finds the first).
    for (auto& kv : env) {
        const auto name = kv.substr(0, kv.find('=') + 1);
        std::erase_if(envs, [&](const std::string& e) { return e.starts_with(name); });
        envs.push_back(kv);
    }
    std::vector<char*> cargv, cenv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    for (auto& e : envs) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    int rc = posix_spawnp(&pid_, cargv[0], &actions, &attr, cargv.data(), cenv.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
}

background_process::~background_process() {
    if (running()) {
        ::kill(pid_, SIGKILL);
        wait(std::chrono::seconds(10));
    }
    std::error_code ec;
    std::filesystem::remove(log_, ec);
}

std::string background_process::output() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool background_process::wait_for_output(const std::string& text,
                                         std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        if (output().find(text) != std::string::npos) return true;
        if (!running()) return output().find(text) != std::string::npos;
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
}

std::optional<int> background_process::number_after(const std::string& prefix) const {
    std::string out = output();
    auto p = out.find(prefix);
    if (p == std::string::npos) return std::nullopt;
    p += prefix.size();
    std::size_t e = p;
    while (e < out.size() && std::isdigit(static_cast<unsigned char>(out[e]))) ++e;
    if (e == p) return std::nullopt;
    return std::stoi(out.substr(p, e - p));
}

void background_process::signal(int sig) {
    if (running()) ::kill(pid_, sig);
}

bool background_process::running() {
    if (exit_code_) return false;
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return false;
    }
    return r == 0;
}

std::optional<int> background_process::wait(std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() >= until) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return exit_code_;
}

}  // namespace herald::test
