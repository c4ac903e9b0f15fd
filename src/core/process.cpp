#include "core/process.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/errc.hpp"

extern char** environ;

namespace herald::core {
namespace {

/// Everything a child needs, prepared before fork() so that the child only makes
/// async-signal-safe calls (the parent may be multi-threaded).
struct launch_plan {
    std::string program;  // absolute or relative path, never searched after fork
    std::vector<std::string> args, envs;
    std::vector<char*> argv, envp;
    bool switch_user = false;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
    std::string cwd;
};

std::string find_in_path(const std::string& name) {
    if (name.find('/') != std::string::npos) return name;
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        std::size_t end = dirs.find(':', start);
        if (end == std::string::npos) end = dirs.size();
        std::string candidate = dirs.substr(start, end - start);
        candidate = (candidate.empty() ? "." : candidate) + "/" + name;
        if (access(candidate.c_str(), X_OK) == 0) return candidate;
        start = end + 1;
    }
    return {};
}

result<launch_plan> plan_launch(const std::vector<std::string>& argv, const std::string& as_user,
                                const std::filesystem::path& cwd,
                                const std::vector<std::string>& extra_env) {
    if (argv.empty()) return fail(errc::invalid_value, "no program given");
    launch_plan p;
    p.program = find_in_path(argv[0]);
    if (p.program.empty())
        return fail(errc::io_failure, "cannot find program \"" + argv[0] + "\" in PATH");
    p.args = argv;
    for (char** e = environ; e && *e; ++e) p.envs.emplace_back(*e);
    auto set_env = [&](const std::string& kv) {
        auto name = kv.substr(0, kv.find('=') + 1);
        std::erase_if(p.envs, [&](const std::string& x) { return x.starts_with(name); });
        p.envs.push_back(kv);
    };
    if (!as_user.empty()) {
        passwd* pw = getpwnam(as_user.c_str());
        if (!pw) return fail(errc::invalid_value, "system user \"" + as_user + "\" does not exist");
        p.switch_user = true;
        p.uid = pw->pw_uid;
        p.gid = pw->pw_gid;
        int n = 64;
        p.groups.resize(std::size_t(n));
        if (getgrouplist(pw->pw_name, pw->pw_gid, p.groups.data(), &n) < 0) {
            p.groups.resize(std::size_t(n));
            getgrouplist(pw->pw_name, pw->pw_gid, p.groups.data(), &n);
        }
        p.groups.resize(std::size_t(n));
        set_env(std::string("HOME=") + pw->pw_dir);
        set_env(std::string("USER=") + pw->pw_name);
        set_env(std::string("LOGNAME=") + pw->pw_name);
    }
    for (const auto& kv : extra_env) set_env(kv);
    p.cwd = cwd.string();
    for (auto& a : p.args) p.argv.push_back(a.data());
    p.argv.push_back(nullptr);
    for (auto& e : p.envs) p.envp.push_back(e.data());
    p.envp.push_back(nullptr);
    return p;
}

/// In the child: switch user and directory, then exec. Returns only on failure.
const char* child_exec(const launch_plan& p) {
    if (p.switch_user) {
        if (setgroups(p.groups.size(), p.groups.data()) != 0) return "setgroups";
        if (setgid(p.gid) != 0) return "setgid";
        if (setuid(p.uid) != 0) return "setuid";
    }
    if (!p.cwd.empty() && chdir(p.cwd.c_str()) != 0) return "chdir";
    // The parent may block SIGINT/SIGTERM to take them with sigwait(); a child must not
    // inherit that, or a server it starts could not be stopped.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    execve(p.program.c_str(), p.argv.data(), p.envp.data());
    return "exec";
}

void close_from(int first) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, unsigned(first), ~0U, 0U) == 0) return;
#endif
    for (int fd = first; fd < 65536; ++fd) close(fd);
}

void write_all(int fd, const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        done += std::size_t(n);
    }
}

}  // namespace

bool running_as_root() noexcept {
    return geteuid() == 0;
}

std::optional<user_ids> lookup_user(const std::string& name) {
    passwd* pw = getpwnam(name.c_str());
    if (!pw) return std::nullopt;
    return user_ids{pw->pw_uid, pw->pw_gid};
}

result<process_result> run_process(const std::vector<std::string>& argv,
                                   const process_options& options) {
    auto plan = plan_launch(argv, options.as_user, options.cwd, options.env);
    if (!plan) return std::unexpected(plan.error());
    int out_pipe[2], err_pipe[2], in_pipe[2] = {-1, -1};
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0
        || (options.stdin_text && pipe2(in_pipe, O_CLOEXEC) != 0))
        return fail(errc::io_failure, std::string("pipe: ") + std::strerror(errno));
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

    pid_t pid = fork();
    if (pid < 0) return fail(errc::io_failure, std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        dup2(options.stdin_text ? in_pipe[0] : devnull, 0);
        dup2(out_pipe[1], 1);
        dup2(out_pipe[1], 2);
        dup2(err_pipe[1], 3);
        fcntl(3, F_SETFD, FD_CLOEXEC);  // closes on a successful exec: the parent sees EOF
        close_from(4);
        const char* what = child_exec(*plan);
        const char* why = std::strerror(errno);
        ssize_t ignored = write(3, what, std::strlen(what));
        ignored = write(3, ": ", 2);
        ignored = write(3, why, std::strlen(why));
        (void)ignored;
        _exit(127);
    }
    close(devnull);
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (options.stdin_text) {
        close(in_pipe[0]);
        write_all(in_pipe[1], *options.stdin_text);
        close(in_pipe[1]);
    }

    process_result r;
    const auto deadline = std::chrono::steady_clock::now() + options.timeout;
    bool killed = false;
    char buf[4096];
    for (;;) {
        int wait_ms = -1;
        if (options.timeout.count() > 0 && !killed) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                kill(pid, SIGKILL);
                killed = true;
            } else {
                wait_ms = int(left.count());
            }
        }
        pollfd p{out_pipe[0], POLLIN, 0};
        int pr = poll(&p, 1, wait_ms);
        if (pr < 0 && errno == EINTR) continue;
        if (pr == 0) continue;
        ssize_t n = read(out_pipe[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        r.output.append(buf, std::size_t(n));
    }
    close(out_pipe[0]);
    std::string exec_error;
    for (ssize_t n; (n = read(err_pipe[0], buf, sizeof buf)) > 0;)
        exec_error.append(buf, std::size_t(n));
    close(err_pipe[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!exec_error.empty())
        return fail(errc::io_failure, "cannot run " + argv[0] + ": " + exec_error);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

error exec_process(const std::vector<std::string>& argv, const std::string& as_user) {
    auto plan = plan_launch(argv, as_user, {}, {});
    if (!plan) return plan.error();
    const char* what = child_exec(*plan);
    return {make_error_code(errc::io_failure),
            "cannot run " + argv[0] + " (" + what + "): " + std::strerror(errno),
            {}};
}

bool user_can_access(const std::string& user, const std::filesystem::path& path, int mode) {
    if (!running_as_root()) return access(path.c_str(), mode) == 0;
    auto ids = lookup_user(user);
    if (!ids) return false;
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        if (setgroups(0, nullptr) != 0 || setgid(ids->gid) != 0 || setuid(ids->uid) != 0) _exit(2);
        _exit(access(path.c_str(), mode) == 0 ? 0 : 1);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace herald::core
