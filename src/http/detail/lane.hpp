#pragma once
/// Which HTTP lane (decision 0010) the calling thread is, for code that keeps per-lane state.
/// Not part of the public interface.

namespace boost::asio {
class io_context;
}

namespace herald::http::detail {

/// The io_context of the lane running on this thread, or nullptr on any other thread.
boost::asio::io_context* this_lane() noexcept;

}  // namespace herald::http::detail
