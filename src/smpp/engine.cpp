#include "smpp/engine.hpp"

#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "core/thread.hpp"

namespace herald::smpp {

struct engine::impl {
    boost::asio::io_context ioc;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{
        ioc.get_executor()};
    std::vector<std::thread> threads;
};

engine::engine(int threads, const char* name, int nice) : impl_(std::make_unique<impl>()) {
    for (int i = 0; i < std::max(1, threads); ++i)
        impl_->threads.push_back(core::named_thread(
            name, [this] { impl_->ioc.run(); }, nice));
}

engine::~engine() {
    stop();
}

void engine::post(std::function<void()> fn) {
    boost::asio::post(impl_->ioc, std::move(fn));
}

boost::asio::io_context& engine::context() noexcept {
    return impl_->ioc;
}

void engine::stop() {
    if (impl_->threads.empty()) return;
    impl_->guard.reset();
    impl_->ioc.stop();
    for (auto& t : impl_->threads)
        if (t.joinable() && t.get_id() != std::this_thread::get_id())
            t.join();
        else if (t.joinable())
            t.detach();
    impl_->threads.clear();
}

}  // namespace herald::smpp
