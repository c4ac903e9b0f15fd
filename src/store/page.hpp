#pragma once
/// Keyset pagination: a page of rows and the cursor for the next one.

#include <optional>
#include <string>
#include <vector>

#include "core/uuid.hpp"

namespace herald::store {

/// Rows come newest first; `after` is the cursor a previous page returned.
struct page_request {
    int limit = 50;
    std::optional<core::uuid> after;
};

template <class T>
struct page {
    std::vector<T> items;
    std::optional<core::uuid> next;  ///< set when more rows follow
};

}  // namespace herald::store
