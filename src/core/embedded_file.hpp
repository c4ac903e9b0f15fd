#pragma once
/// Files compiled into the binary (migrations, dashboard assets) by herald_embed_files().

#include <string_view>
#include <vector>

namespace herald::core {

/// A file carried inside the executable.
struct embedded_file {
    std::string_view name;  ///< base name, e.g. "0001_core.sql"
    std::string_view text;  ///< the whole content
};

}  // namespace herald::core
