#pragma once
/// The I/O engine that SMPP clients, servers and the simulator run on: an event loop with
/// its own threads. Everything public is thread-safe; callbacks from clients and servers run
/// on the engine's threads.

#include <functional>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace herald::smpp {

class engine {
  public:
    /// Starts `threads` threads running the loop, each named `name`, a string literal, at
    /// nice value `nice` (see core::named_thread).
    explicit engine(int threads = 1, const char* name = "smpp", int nice = 0);
    /// Stops the loop and joins the threads.
    ~engine();
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    /// Runs `fn` on an engine thread.
    void post(std::function<void()> fn);
    /// For components that need the loop itself (inside smpp/ only).
    boost::asio::io_context& context() noexcept;
    /// Stops the loop early (the destructor does it too).
    void stop();

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace herald::smpp
