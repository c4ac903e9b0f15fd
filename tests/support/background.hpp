#pragma once
/// A child process that runs while the test goes on: `herald serve`, the simulator, node.

#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace herald::test {

class background_process {
  public:
    /// Starts argv with extra NAME=VALUE env (a later one replaces an earlier or inherited
    /// one of the same name); stdout and stderr go to a log file.
    background_process(std::vector<std::string> argv, std::vector<std::string> env = {});
    ~background_process();  ///< SIGKILLs the child if it still runs
    background_process(const background_process&) = delete;
    background_process& operator=(const background_process&) = delete;

    pid_t pid() const noexcept { return pid_; }
    /// Everything the child printed so far.
    std::string output() const;
    /// Waits until the output contains `text`; false on timeout or if the child exited.
    bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout);
    /// The first number following `prefix` in the output (e.g. the port after "127.0.0.1:").
    std::optional<int> number_after(const std::string& prefix) const;
    void signal(int sig);
    /// Waits for exit; returns the exit code (128+signal when killed), or nullopt on timeout.
    std::optional<int> wait(std::chrono::milliseconds timeout);
    bool running();

  private:
    pid_t pid_ = -1;
    std::string log_;
    std::optional<int> exit_code_;
};

}  // namespace herald::test
