#include "store/imports.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "core/errc.hpp"
#include "core/uuid.hpp"
#include "db/errc.hpp"
#include "db/param.hpp"
#include "db/transaction.hpp"
#include "phone/number.hpp"
#include "phone/time_zones.hpp"
#include "store/contacts.hpp"
#include "store/errc.hpp"
#include "text/csv.hpp"
#include "text/utf8.hpp"

namespace herald::store {
namespace {

using time_point = std::chrono::system_clock::time_point;

constexpr const char* job_columns =
    "id, group_id, status, on_duplicate, default_region, file_name, error, bytes_total, "
    "bytes_read, rows_read, "
    "imported, updated, skipped, duplicates, rejected, created_at, finished_at";
constexpr std::size_t batch_rows = 16384;

import_job read_job(const db::row& r) {
    import_job j;
    j.id = r.get<core::uuid>(0);
    j.group_id = r.get<std::optional<core::uuid>>(1);
    j.status = r.get<std::string>(2);
    j.on_duplicate = r.get<std::string>(3);
    j.default_region = r.get<std::optional<std::string>>(4);
    j.file_name = r.get<std::optional<std::string>>(5);
    j.error = r.get<std::optional<std::string>>(6);
    j.bytes_total = r.get<std::int64_t>(7);
    j.bytes_read = r.get<std::int64_t>(8);
    j.rows_read = r.get<int>(9);
    j.imported = r.get<int>(10);
    j.updated = r.get<int>(11);
    j.skipped = r.get<int>(12);
    j.duplicates = r.get<int>(13);
    j.rejected = r.get<int>(14);
    j.created_at = r.get<time_point>(15);
    j.finished_at = r.get<std::optional<time_point>>(16);
    return j;
}

const std::vector<std::string>& known_fields() {
    static const std::vector<std::string> f = {"phone_number", "first_name",   "last_name",
                                               "email",        "country_code", "time_zone"};
    return f;
}

/// Header text as a lookup key: lower case, spaces and dashes as underscores.
std::string header_key(std::string_view h) {
    std::string k;
    for (char c : h) {
        if (c == ' ' || c == '-')
            k.push_back('_');
        else
            k.push_back(char(std::tolower(static_cast<unsigned char>(c))));
    }
    while (!k.empty() && k.front() == '_') k.erase(0, 1);
    while (!k.empty() && k.back() == '_') k.pop_back();
    return k;
}

std::optional<std::string> field_for_header(std::string_view header) {
    static const std::vector<std::pair<std::string, std::vector<std::string>>> aliases = {
        {"phone_number",
         {"phone", "phone_number", "phonenumber", "mobile", "mobile_number", "msisdn", "number",
          "cell", "cell_phone", "telephone", "tel"}},
        {"first_name", {"first_name", "firstname", "first", "given_name"}},
        {"last_name", {"last_name", "lastname", "last", "surname", "family_name"}},
        {"email", {"email", "e_mail", "email_address"}},
        {"country_code", {"country", "country_code", "region"}},
        {"time_zone", {"time_zone", "timezone", "tz"}},
    };
    std::string k = header_key(header);
    for (const auto& [field, names] : aliases)
        if (std::find(names.begin(), names.end(), k) != names.end()) return field;
    return std::nullopt;
}

struct column_plan {
    std::map<std::string, std::size_t> fields;                // field -> column index
    std::vector<std::pair<std::size_t, std::string>> custom;  // column index -> custom key
};

result<column_plan> plan_columns(const std::vector<std::string>& header,
                                 const std::map<std::string, std::string>& mapping) {
    column_plan plan;
    std::vector<bool> used(header.size(), false);
    for (const auto& [field, name] : mapping) {
        auto it = std::find_if(header.begin(), header.end(),
                               [&](const std::string& h) { return h == name; });
        if (it == header.end())
            return fail(core::errc::invalid_value,
                        "the file has no column \"" + name + "\" to use as " + field,
                        "map." + field);
        plan.fields[field] = std::size_t(it - header.begin());
        used[std::size_t(it - header.begin())] = true;
    }
    for (std::size_t i = 0; i < header.size(); ++i) {
        if (used[i]) continue;
        if (auto f = field_for_header(header[i]); f && !plan.fields.contains(*f)) {
            plan.fields[*f] = i;
            continue;
        }
        std::string key = header[i];
        while (!key.empty() && key.front() == ' ') key.erase(0, 1);
        while (!key.empty() && key.back() == ' ') key.pop_back();
        if (!key.empty() && key.size() <= 64) plan.custom.emplace_back(i, key);
    }
    if (!plan.fields.contains("phone_number"))
        return fail(core::errc::invalid_value,
                    "the file has no phone number column: name one phone, phone_number, mobile, "
                    "msisdn or number, or "
                    "choose it with map.phone_number=<column>",
                    "map.phone_number");
    return plan;
}

void copy_text(std::string& out, std::string_view v) {
    for (char c : v) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                out.push_back(c);
        }
    }
}

void copy_opt(std::string& out, const std::string* v) {
    if (v)
        copy_text(out, *v);
    else
        out += "\\N";
}

void json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (u < 0x20) {
            out += "\\u00";
            out.push_back(hex[u >> 4]);
            out.push_back(hex[u & 15]);
        } else {
            out.push_back(c);
        }
    }
    out.push_back('"');
}

std::string trimmed(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return std::string(s);
}

std::size_t characters(std::string_view s) {
    std::size_t n = 0;
    for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

/// What one record turned into.
struct row_outcome {
    bool ok = false;
    std::uint64_t number = 0;  ///< the E.164 digits as a number, for de-duplication
    std::string staged;        ///< the contact's columns after its id, as COPY text (no newline)
    std::string reason;
};

row_outcome process_row(const text::csv_record& rec, const column_plan& plan,
                        const std::string& default_region) {
    row_outcome out;
    auto reject = [&out](std::string why) {
        out.reason = std::move(why);
        return std::move(out);
    };
    if (!rec.error.empty()) {
        out.reason = rec.error;
        return out;
    }
    for (const auto& f : rec.fields) {
        if (!text::is_valid_utf8(f) || f.find('\0') != std::string::npos) {
            out.reason = "the row is not valid UTF-8 text";
            return out;
        }
    }
    auto value = [&](const char* field) -> std::optional<std::string> {
        auto it = plan.fields.find(field);
        if (it == plan.fields.end() || it->second >= rec.fields.size()) return std::nullopt;
        std::string v = trimmed(rec.fields[it->second]);
        if (v.empty()) return std::nullopt;
        return v;
    };
    auto phone_text = value("phone_number");
    if (!phone_text) {
        out.reason = "missing phone number";
        return out;
    }
    std::string region = default_region;
    if (auto cc = value("country_code")) {
        std::string up = *cc;
        for (auto& ch : up) ch = char(std::toupper(static_cast<unsigned char>(ch)));
        if (up.size() == 2 && phone::is_supported_region(up)) region = up;
    }
    auto number = phone::normalize(*phone_text, region, false);
    if (!number) {
        out.reason = number.error().message;
        return out;
    }
    auto first = value("first_name"), last = value("last_name"), email = value("email"),
         tz = value("time_zone");
    if (first && characters(*first) > 50) return reject("first_name is longer than 50 characters");
    if (last && characters(*last) > 50) return reject("last_name is longer than 50 characters");
    if (email && (characters(*email) > 120 || email->find('@') == std::string::npos))
        return reject("email \"" + email->substr(0, 60) + "\" is not a valid address");
    if (tz && !phone::is_valid_time_zone(*tz))
        return reject("unknown time zone \"" + tz->substr(0, 60) + "\"");
    std::string custom = "{";
    bool any = false;
    for (const auto& [col, key] : plan.custom) {
        if (col >= rec.fields.size() || rec.fields[col].empty()) continue;
        if (characters(rec.fields[col]) > 1000)
            return reject("custom field \"" + key + "\" is longer than 1000 characters");
        if (any) custom.push_back(',');
        json_string(custom, key);
        custom.push_back(':');
        json_string(custom, rec.fields[col]);
        any = true;
    }
    custom.push_back('}');
    for (char d : std::string_view(number->e164).substr(1))
        out.number = out.number * 10 + std::uint64_t(d - '0');
    std::string& s = out.staged;
    s.reserve(128);
    copy_text(s, number->e164);
    s.push_back('\t');
    copy_text(s, number->region);
    s.push_back('\t');
    copy_opt(s, first ? &*first : nullptr);
    s.push_back('\t');
    copy_opt(s, last ? &*last : nullptr);
    s.push_back('\t');
    copy_opt(s, email ? &*email : nullptr);
    s.push_back('\t');
    copy_opt(s, tz ? &*tz : nullptr);
    s.push_back('\t');
    copy_text(s, custom);
    out.ok = true;
    return out;
}

std::string reject_line(std::size_t line, std::string_view reason, std::string_view raw) {
    std::string s = std::to_string(line);
    s.push_back('\t');
    copy_text(s, reason);
    s.push_back('\t');
    // The raw text may hold invalid UTF-8: store it readable.
    copy_text(s, text::encode_utf8(text::decode_utf8_lossy(raw)));
    s.push_back('\n');
    return s;
}

/// A batch ready for the database.
struct staged_batch {
    /// COPY text: rows in contact_columns order (by number), the group's member rows
    /// (group_id, contact_id, user_id) when there is a group, and rejected lines.
    std::string rows, members, rejects;
    int rows_read = 0, rejected = 0, staged = 0, duplicates = 0;
    std::int64_t bytes_read = 0;
    bool last = false;
};

/// Hands batches from the reader to the database writer; holds at most two.
class batch_queue {
  public:
    void push(staged_batch b) {
        std::unique_lock l(m_);
        space_.wait(l, [&] { return q_.size() < 2 || failed_; });
        q_.push_back(std::move(b));
        ready_.notify_one();
    }
    std::optional<staged_batch> pop() {
        std::unique_lock l(m_);
        ready_.wait(l, [&] { return !q_.empty(); });
        auto b = std::move(q_.front());
        q_.pop_front();
        space_.notify_one();
        return b;
    }
    void fail() {
        std::lock_guard l(m_);
        failed_ = true;
        space_.notify_all();
    }
    bool failed() {
        std::lock_guard l(m_);
        return failed_;
    }

  private:
    std::mutex m_;
    std::condition_variable space_, ready_;
    std::deque<staged_batch> q_;
    bool failed_ = false;
};

result<void> finish_job(db::connection& c, const core::uuid& id, const std::string& error) {
    auto rs = c.exec(
        "UPDATE contact_imports SET status = 'failed', error = $2, finished_at = now(), updated_at "
        "= now() "
        "WHERE id = $1",
        {id, error});
    if (!rs) return std::unexpected(rs.error());
    return {};
}

/// The columns of a batch's rows, both in import_stage and in contacts.
constexpr const char* batch_columns =
    "(id, phone_number, country_code, first_name, last_name, email, time_zone, custom_fields, "
    "user_id, group_id)";

/// COPY ... FROM STDIN of `data` (nothing when it is empty).
result<void> copy_in(db::connection& c, const std::string& sql, const std::string& data) {
    if (data.empty()) return {};
    if (auto r = c.copy_begin(sql); !r) return r;
    if (auto r = c.copy_put(data); !r) {
        c.copy_abort("write failed");
        return r;
    }
    auto n = c.copy_end();
    if (!n) return std::unexpected(n.error());
    return {};
}

/// Adds a merged batch's counts to its job, in the batch's transaction.
result<void> record_progress(db::transaction& tx, const core::uuid& job, const staged_batch& b,
                             std::int64_t inserted, std::int64_t updated) {
    auto progress = tx.exec(
        "UPDATE contact_imports SET bytes_read = greatest(bytes_read, $2), rows_read = rows_read + "
        "$3, rejected = rejected + $4, "
        "duplicates = duplicates + $5, imported = imported + $6, updated = updated + $7, skipped = "
        "skipped + $8, "
        "updated_at = clock_timestamp() WHERE id = $1",
        {job, b.bytes_read, b.rows_read, b.rejected, b.duplicates, inserted, updated,
         std::int64_t(b.staged) - inserted - updated});
    if (!progress) return std::unexpected(progress.error());
    return {};
}

/// The quickest way in, while no batch of this import has met a number the tenant already
/// has (decision 0013): the rows are copied straight into contacts, and the members into the
/// group, in one transaction. False when that did not work; the caller then merges the batch
/// through the stage table. A number that exists (or that another import is adding) sets
/// `existing_seen`, and the later batches look before they insert.
bool copy_batch(db::connection& c, const core::uuid& job, const staged_batch& b,
                std::atomic<bool>& existing_seen) {
    auto tx = db::transaction::begin(c);
    if (!tx) return false;
    auto r = copy_in(c, std::string("COPY contacts ") + batch_columns + " FROM STDIN", b.rows);
    if (r)
        r = copy_in(c, "COPY contact_group_members (group_id, contact_id, user_id) FROM STDIN",
                    b.members);
    if (r) r = record_progress(*tx, job, b, b.staged, 0);
    if (r) r = tx->commit();
    if (r) return true;
    tx->rollback();
    if (r.error().code == db::errc::unique_violation || r.error().is(condition::retryable))
        existing_seen = true;
    return false;
}

/// Merges one staged batch into contacts (and the group) and adds its counts to the job,
/// in one transaction; the caller retries it on deadlocks.
result<void> merge_batch(db::connection& c, const core::uuid& job, const import_options& o,
                         const staged_batch& b) {
    auto tx = db::transaction::begin(c);
    if (!tx) return std::unexpected(tx.error());
    std::int64_t inserted = 0, updated = 0;
    if (b.staged > 0) {
        const std::string conflict =
            o.on_duplicate == "update"
                ? "DO UPDATE SET first_name = coalesce(EXCLUDED.first_name, contacts.first_name), "
                  "last_name = coalesce(EXCLUDED.last_name, contacts.last_name), "
                  "email = coalesce(EXCLUDED.email, contacts.email), "
                  "time_zone = coalesce(EXCLUDED.time_zone, contacts.time_zone), "
                  "country_code = EXCLUDED.country_code, "
                  "custom_fields = contacts.custom_fields || EXCLUDED.custom_fields, updated_at = "
                  "now()"
                : "DO NOTHING";
        // Rows go in number order so that concurrent imports lock in the same order. Members
        // come from the rows written (RETURNING) and, for numbers that already existed and were
        // skipped, from a lookup that the anti-join limits to those numbers.
        //
        // With `skip`, numbers already present are left out before inserting, so a plain
        // INSERT does: ON CONFLICT would cost a speculative insertion (and a WAL record more)
        // for every row. Only a number added by someone else since then can still collide;
        // then the batch is merged again with ON CONFLICT, from a savepoint (decision 0011).
        const bool skip = o.on_duplicate != "update";
        auto merge = [&](bool fast) {
            const std::string source =
                fast
                    ? "FROM import_stage s WHERE NOT EXISTS (SELECT 1 FROM contacts x WHERE "
                      "x.user_id = $1 AND x.phone_number = s.phone_number) ORDER BY phone_number "
                      "RETURNING id, phone_number, true AS inserted), "
                    : "FROM import_stage ORDER BY phone_number ON CONFLICT (user_id, phone_number) "
                          + conflict + " RETURNING id, phone_number, (xmax = 0) AS inserted), ";
            return tx->exec(
            "WITH ins AS (INSERT INTO contacts (id, user_id, group_id, phone_number, country_code, first_name, "
            "last_name, email, time_zone, custom_fields) SELECT id, $1, $2, phone_number, country_code, first_name, "
            "last_name, email, time_zone, custom_fields " +
                source +
                "m1 AS (INSERT INTO contact_group_members (group_id, contact_id, user_id) "
                "SELECT $2, id, $1 FROM ins WHERE $2::uuid IS NOT NULL ORDER BY id ON CONFLICT DO NOTHING), "
                "m2 AS (INSERT INTO contact_group_members (group_id, contact_id, user_id) "
                "SELECT $2, c.id, $1 FROM import_stage s JOIN contacts c ON c.user_id = $1 AND c.phone_number = s.phone_number "
                "WHERE $2::uuid IS NOT NULL AND s.phone_number NOT IN (SELECT phone_number FROM ins) ORDER BY c.id "
                "ON CONFLICT DO NOTHING) "
                "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM ins",
            {o.tenant, o.group});
        };
        auto run = [&]() -> result<db::rows> {
            if (!skip) return merge(false);
            if (auto sp = tx->exec("SAVEPOINT fast_merge"); !sp) return std::unexpected(sp.error());
            auto fast = merge(true);
            if (fast || fast.error().code != db::errc::unique_violation) return fast;
            if (auto rb = tx->exec("ROLLBACK TO SAVEPOINT fast_merge"); !rb)
                return std::unexpected(rb.error());
            return merge(false);
        };
        auto counts = run();
        if (!counts) return std::unexpected(counts.error());
        inserted = counts->front().get<std::int64_t>(0);
        updated = counts->front().get<std::int64_t>(1);
    }
    if (auto p = record_progress(*tx, job, b, inserted, updated); !p) return p;
    return tx->commit();
}

}  // namespace

result<import_job> create_import(db::connection& c, const import_options& o,
                                 std::int64_t bytes_total) {
    if (o.on_duplicate != "skip" && o.on_duplicate != "update")
        return fail(core::errc::invalid_value, "on_duplicate must be skip or update",
                    "on_duplicate");
    if (!o.default_region.empty() && !phone::is_supported_region(o.default_region))
        return fail(core::errc::invalid_value,
                    "default_region \"" + o.default_region + "\" is not a region code",
                    "default_region");
    for (const auto& [field, column] : o.mapping) {
        if (std::find(known_fields().begin(), known_fields().end(), field) == known_fields().end())
            return fail(core::errc::invalid_value,
                        "map." + field + ": unknown field (phone_number, first_name, last_name, email, country_code, time_zone)",
                        "map." + field);
        if (column.empty())
            return fail(core::errc::invalid_value, "map." + field + " names no column",
                        "map." + field);
    }
    if (o.group)
        if (auto g = get_group(c, o.tenant, *o.group); !g) return std::unexpected(g.error());
    auto rs = c.exec(
        std::string(
            "INSERT INTO contact_imports (user_id, group_id, on_duplicate, default_region, "
            "file_name, "
            "bytes_total, created_by) VALUES ($1, $2, $3, nullif($4, ''), nullif($5, ''), $6, $7) "
            "RETURNING ")
            + job_columns,
        {o.tenant, o.group, o.on_duplicate, o.default_region, o.file_name.substr(0, 200),
         bytes_total, o.created_by});
    if (!rs) return std::unexpected(rs.error());
    return read_job(rs->front());
}

result<import_job> get_import(db::connection& c, const core::uuid& tenant, const core::uuid& id) {
    auto rs = c.exec_prepared(std::string("SELECT ") + job_columns
                                  + " FROM contact_imports WHERE id = $1 AND user_id = $2",
                              {id, tenant});
    if (!rs) return std::unexpected(rs.error());
    if (rs->empty()) return fail(errc::not_found, "import not found");
    return read_job(rs->front());
}

result<page<import_job>> list_imports(db::connection& c, const core::uuid& tenant,
                                      const page_request& p) {
    auto rs = c.exec_prepared(std::string("SELECT ") + job_columns +
                                  " FROM contact_imports WHERE user_id = $1 AND ($2::uuid IS NULL OR id < $2) "
                                  "ORDER BY id DESC LIMIT $3",
                              {tenant, p.after, p.limit + 1});
    if (!rs) return std::unexpected(rs.error());
    page<import_job> out;
    for (auto r : *rs) out.items.push_back(read_job(r));
    if (int(out.items.size()) > p.limit) {
        out.items.pop_back();
        out.next = out.items.back().id;
    }
    return out;
}

result<std::int64_t> export_rejects_csv(db::connection& c, const core::uuid& tenant,
                                        const core::uuid& id,
                                        const std::function<void(std::string_view)>& sink) {
    if (auto j = get_import(c, tenant, id); !j) return std::unexpected(j.error());
    return c.copy_out(
        "COPY (SELECT line, reason, raw FROM contact_import_rejects WHERE import_id = '" + id.str()
            + "' ORDER BY line) TO STDOUT WITH (FORMAT csv, HEADER)",
        sink);
}

result<int> fail_stale_imports(db::connection& c, std::chrono::seconds stale) {
    auto rs = c.exec(
        "UPDATE contact_imports SET status = 'failed', error = 'interrupted: Herald stopped during "
        "the import; upload "
        "the file again', finished_at = now() WHERE status IN ('queued', 'running') AND updated_at "
        "< now() - $1::interval",
        {std::to_string(stale.count()) + " seconds"});
    if (!rs) return std::unexpected(rs.error());
    return int(rs->affected());
}

result<import_job> run_import(db::pool& pool, const core::uuid& job_id, const import_options& o,
                              const std::filesystem::path& file, int threads) {
    auto conn = pool.acquire();
    if (!conn) return std::unexpected(conn.error());
    db::connection& c = **conn;
    auto fail_with = [&](const std::string& why) -> result<import_job> {
        spdlog::warn("import {} failed: {}", job_id.str(), why);
        if (auto r = finish_job(c, job_id, why); !r) return std::unexpected(r.error());
        return get_import(c, o.tenant, job_id);
    };

    std::ifstream in(file, std::ios::binary);
    if (!in) return fail_with("the uploaded file could not be read");
    if (auto r = c.exec(
            "UPDATE contact_imports SET status = 'running', updated_at = now() WHERE id = $1",
            {job_id});
        !r)
        return std::unexpected(r.error());

    // Read the header (and pick the delimiter from it).
    std::string chunk(1 << 20, '\0');
    in.read(chunk.data(), std::streamsize(chunk.size()));
    chunk.resize(std::size_t(in.gcount()));
    std::string_view first_line = std::string_view(chunk).substr(0, chunk.find('\n'));
    if (first_line.starts_with("\xEF\xBB\xBF")) first_line.remove_prefix(3);
    text::csv_reader reader({.delimiter = text::csv_reader::detect_delimiter(first_line)});
    reader.feed(chunk);
    bool eof = in.eof() || chunk.empty();
    if (eof) reader.finish();
    std::optional<text::csv_record> header = reader.next();
    while (!header && !eof) {
        in.read(chunk.data(), std::streamsize(1 << 20));
        chunk.resize(std::size_t(in.gcount()));
        reader.feed(chunk);
        if ((eof = in.eof())) reader.finish();
        header = reader.next();
    }
    if (!header || !header->error.empty())
        return fail_with("the file is empty or its header line is unreadable");
    auto plan = plan_columns(header->fields, o.mapping);
    if (!plan) return fail_with(plan.error().message);

    // The writers: each takes a batch, COPYs it into its own stage table and the rejects, and
    // merges it, while the reader prepares the next ones. Batches hold disjoint numbers (the
    // reader removes repeats), so two writers never contend for the same rows. Intermediate
    // commits need not wait for the disk: a crash fails the whole job anyway.
    batch_queue queue;
    std::atomic<bool> existing_seen{false};
    std::mutex error_mutex;
    std::optional<error> write_error;
    auto write_batches = [&](db::connection& wc) {
        auto set_error = [&](const error& e) {
            std::lock_guard l(error_mutex);
            if (!write_error) write_error = e;
            queue.fail();
        };
        if (auto r = wc.exec("SET synchronous_commit = off; CREATE TEMP TABLE IF NOT EXISTS "
                             "import_stage (id uuid, phone_number text, country_code text, "
                             "first_name text, last_name text, email text, time_zone text, "
                             "custom_fields jsonb, user_id uuid, group_id uuid)");
            !r)
            set_error(r.error());
        for (;;) {
            auto b = queue.pop();
            if (!b || b->last) {
                queue.push(staged_batch{.last = true});  // let the other writers see the end too
                break;
            }
            {
                std::lock_guard l(error_mutex);
                if (write_error) continue;
            }
            result<void> r = {};
            if (!b->rejects.empty()) {
                // COPY cannot take parameters: the job id goes at the front of every line.
                std::string lines;
                lines.reserve(b->rejects.size() + std::size_t(b->rejected) * 40);
                std::string_view rest = b->rejects;
                const std::string prefix = job_id.str() + "\t";
                while (!rest.empty()) {
                    auto nl = rest.find('\n');
                    lines += prefix;
                    lines.append(rest.substr(0, nl + 1));
                    rest.remove_prefix(nl + 1);
                }
                r = copy_in(wc,
                            "COPY contact_import_rejects (import_id, line, reason, raw) FROM STDIN",
                            lines);
            }
            if (r && o.on_duplicate == "skip" && !existing_seen
                && copy_batch(wc, job_id, *b, existing_seen))
                continue;
            if (auto t = wc.exec("TRUNCATE import_stage"); r && !t) r = std::unexpected(t.error());
            if (r)
                r = copy_in(wc, std::string("COPY import_stage ") + batch_columns + " FROM STDIN",
                            b->rows);
            for (int attempt = 1; r; ++attempt) {
                auto m = merge_batch(wc, job_id, o, *b);
                if (m) break;
                if (attempt >= 4 || !m.error().is(condition::retryable))
                    r = std::unexpected(m.error());
                else
                    std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
            }
            if (!r) set_error(r.error());
        }
        (void)wc.exec("TRUNCATE import_stage; RESET synchronous_commit");
    };
    // The job's own connection is one writer; a second one comes from the pool when it can.
    std::vector<std::thread> writers;
    writers.emplace_back([&] { write_batches(c); });
    std::optional<db::pooled_connection> second;
    if (threads > 1) {
        if (auto extra = pool.acquire()) {
            second.emplace(std::move(*extra));
            writers.emplace_back([&] { write_batches(**second); });
        }
    }

    // The reader: parse, check numbers on several threads, drop numbers seen earlier in the
    // file (the first line wins), and queue batches.
    std::vector<text::csv_record> records;
    records.reserve(batch_rows);
    std::vector<row_outcome> outcomes;
    std::unordered_set<std::uint64_t> seen;
    // The end of every row (its tenant and group) and of every member row (its tenant).
    const std::string row_owner =
        "\t" + o.tenant.str() + "\t" + (o.group ? o.group->str() : std::string("\\N")) + "\n";
    const std::string member_owner = "\t" + o.tenant.str() + "\n";
    const std::string group_text = o.group ? o.group->str() + "\t" : std::string();
    auto flush = [&](bool last) {
        outcomes.assign(records.size(), {});
        const std::size_t n = records.size();
        const int workers = std::max(1, std::min<int>(threads, int(n / 512) + 1));
        std::vector<std::thread> pool_threads;
        for (int w = 1; w < workers; ++w)
            pool_threads.emplace_back([&, w] {
                for (std::size_t i = std::size_t(w); i < n; i += std::size_t(workers))
                    outcomes[i] = process_row(records[i], *plan, o.default_region);
            });
        for (std::size_t i = 0; i < n; i += std::size_t(workers))
            outcomes[i] = process_row(records[i], *plan, o.default_region);
        for (auto& t : pool_threads) t.join();
        staged_batch b;
        b.rows_read = int(n);
        b.bytes_read = std::int64_t(reader.bytes_consumed());
        std::vector<std::size_t> accepted;
        for (std::size_t i = 0; i < n; ++i) {
            if (!outcomes[i].ok) {
                b.rejects += reject_line(records[i].line, outcomes[i].reason, records[i].raw);
                ++b.rejected;
            } else if (!seen.insert(outcomes[i].number).second) {
                ++b.duplicates;
            } else {
                accepted.push_back(i);
            }
        }
        // In number order, so that concurrent imports into one tenant lock in the same order.
        std::sort(accepted.begin(), accepted.end(), [&](std::size_t x, std::size_t y) {
            return outcomes[x].number < outcomes[y].number;
        });
        b.rows.reserve(accepted.size() * 200);
        for (std::size_t i : accepted) {
            const std::string id = core::uuid_v7().str();
            b.rows += id;
            b.rows.push_back('\t');
            b.rows += outcomes[i].staged;
            b.rows += row_owner;
            if (o.group) {
                b.members += group_text;
                b.members += id;
                b.members += member_owner;
            }
            ++b.staged;
        }
        records.clear();
        queue.push(std::move(b));
        if (last) queue.push(staged_batch{.last = true});
    };
    for (;;) {
        while (auto rec = reader.next()) {
            records.push_back(std::move(*rec));
            if (records.size() == batch_rows) flush(false);
        }
        if (eof || queue.failed()) break;
        in.read(chunk.data(), std::streamsize(1 << 20));
        chunk.resize(std::size_t(in.gcount()));
        reader.feed(chunk);
        if ((eof = in.eof() || chunk.empty())) reader.finish();
    }
    flush(true);
    for (auto& w : writers) w.join();
    second.reset();
    if (write_error) return fail_with("database: " + write_error->message);
    auto done = c.exec(
        "UPDATE contact_imports SET status = 'completed', finished_at = clock_timestamp(), "
        "updated_at = clock_timestamp() WHERE id = $1",
        {job_id});
    if (!done) return std::unexpected(done.error());
    return get_import(c, o.tenant, job_id);
}

}  // namespace herald::store
