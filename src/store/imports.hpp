#pragma once
/// CSV imports of contacts.
///
/// A job reads the file as a stream: the CSV reader hands out records, numbers are
/// normalised on several threads, and good rows go by COPY into a temporary staging table
/// while the next batch is prepared; rejected rows go by COPY into contact_import_rejects
/// with their reason. At the end one transaction merges the staged rows into contacts (new
/// numbers inserted, existing ones skipped or updated as asked, repeats within the file
/// counted once) and into the group. Progress is written as it goes, so a client can poll it.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "core/uuid.hpp"
#include "db/connection.hpp"
#include "db/pool.hpp"
#include "store/page.hpp"

namespace herald::store {

struct import_options {
    core::uuid tenant;
    std::optional<core::uuid> group;
    std::string on_duplicate = "skip";  ///< skip or update
    std::string default_region;         ///< ISO alpha-2 for numbers in national form
    /// Explicit column choices: field (phone_number, first_name, last_name, email,
    /// country_code, time_zone) -> header name. Unmapped headers become custom fields.
    std::map<std::string, std::string> mapping;
    std::string file_name;
    std::optional<core::uuid> created_by;
};

struct import_job {
    core::uuid id;
    std::optional<core::uuid> group_id;
    std::string status;  ///< queued, running, completed, failed
    std::string on_duplicate;
    std::optional<std::string> default_region, file_name, error;
    std::int64_t bytes_total = 0, bytes_read = 0;
    int rows_read = 0, imported = 0, updated = 0, skipped = 0, duplicates = 0, rejected = 0;
    std::chrono::system_clock::time_point created_at;
    std::optional<std::chrono::system_clock::time_point> finished_at;
};

/// Checks options (region, policy, mapping names, group ownership) and records a queued job.
result<import_job> create_import(db::connection& c, const import_options& o, std::int64_t bytes_total);
result<import_job> get_import(db::connection& c, const core::uuid& tenant, const core::uuid& id);
result<page<import_job>> list_imports(db::connection& c, const core::uuid& tenant, const page_request& p);
/// Streams the rejected rows as CSV: line, reason, raw.
result<std::int64_t> export_rejects_csv(db::connection& c, const core::uuid& tenant, const core::uuid& id,
                                        const std::function<void(std::string_view)>& sink);

/// Runs a queued job to its end (blocking). The job row ends completed or failed, with the
/// reason; the returned error is only for failures to record that.
result<import_job> run_import(db::pool& pool, const core::uuid& job_id, const import_options& o,
                              const std::filesystem::path& file, int threads = 2);

/// Marks jobs left queued or running by a crashed process (no progress for `stale`) failed.
result<int> fail_stale_imports(db::connection& c, std::chrono::seconds stale);

}  // namespace herald::store
