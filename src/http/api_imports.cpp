// CSV contact imports: upload (202 with a job), progress, and the rejected rows.

#include "http/detail/api_impl.hpp"
#include "http/views.hpp"
#include "store/errc.hpp"
#include "store/imports.hpp"

namespace herald::http::detail {

void register_imports(impl& api, router& routes) {
    routes.add_upload("POST", "/v1/contacts/import", api.guarded({.permission = "contacts:write"}, [&api](call& c) {
        store::import_options o;
        o.tenant = c.tenant_id();
        o.created_by = c.who.user_id;
        if (auto g = c.req.query("group_id"); g && !g->empty()) {
            auto u = core::uuid::parse(*g);
            if (!u) return error_response(422, "invalid_value", "group_id must be a group id", "group_id");
            o.group = *u;
        }
        o.on_duplicate = c.req.query("on_duplicate").value_or("skip");
        o.default_region = c.req.query("default_region").value_or("");
        for (auto& ch : o.default_region) ch = char(std::toupper(static_cast<unsigned char>(ch)));
        o.file_name = c.req.query("file_name").value_or("");
        // map.<field>=<column header>
        std::string_view qs = c.req.query_string;
        while (!qs.empty()) {
            auto amp = qs.find('&');
            std::string pair = url_decode(qs.substr(0, amp), true);
            qs = amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
            if (!pair.starts_with("map.")) continue;
            auto eq = pair.find('=');
            if (eq == std::string::npos) continue;
            o.mapping[pair.substr(4, eq - 4)] = pair.substr(eq + 1);
        }
        std::error_code ec;
        const auto size = std::filesystem::file_size(c.req.body_file, ec);
        if (ec || size == 0) return error_response(422, "empty_file", "send the CSV file as the request body");
        std::optional<impl::import_task> task;
        auto resp = with_db(api, [&](db::connection& conn) {
            return in_transaction(conn, [&]() -> result<response> {
                auto job = store::create_import(conn, o, std::int64_t(size));
                if (!job) return std::unexpected(job.error());
                auto a = c.audit("contacts.import", "contact_import", job->id.str(),
                                 {{"bytes", size}, {"group_id", opt(o.group)}, {"on_duplicate", o.on_duplicate}});
                if (auto w = store::write_audit(conn, a); !w) return std::unexpected(w.error());
                // Keep the upload for the worker (the server deletes it otherwise).
                auto kept = api.options.spool_dir / ("import-" + job->id.str() + ".csv");
                std::error_code move_ec;
                std::filesystem::rename(c.req.body_file, kept, move_ec);
                if (move_ec)
                    return error_response(503, "upload_unavailable", "the upload could not be kept: " + move_ec.message());
                task = impl::import_task{job->id, o, kept};
                auto accepted = json_response(202, import_json(*job));
                accepted.set("location", "/v1/contacts/imports/" + job->id.str());
                return accepted;
            });
        });
        // Only a committed job goes to the workers.
        if (resp.status == 202 && task) api.enqueue_import(std::move(*task));
        else if (task) std::filesystem::remove(task->file, ec);
        return resp;
    }), api.options.import_max_bytes);

    routes.add("GET", "/v1/contacts/imports", api.guarded({.permission = "contacts:read"}, [&api](call& c) {
        auto p = page_from(c.req);
        if (!p) return error_response(p.error());
        return with_db(api, [&](db::connection& conn) -> result<response> {
            auto jobs = store::list_imports(conn, c.tenant_id(), *p);
            if (!jobs) return std::unexpected(jobs.error());
            return json_response(200, page_json(*jobs, import_json));
        });
    }));

    routes.add("GET", "/v1/contacts/imports/{id}", api.guarded({.permission = "contacts:read"}, [&api](call& c) {
        auto id = id_param(c.req);
        if (!id) return error_response(id.error());
        return with_db(api, [&](db::connection& conn) -> result<response> {
            auto job = store::get_import(conn, c.tenant_id(), *id);
            if (!job) return std::unexpected(job.error());
            return json_response(200, import_json(*job));
        });
    }));

    routes.add("GET", "/v1/contacts/imports/{id}/rejects", api.guarded({.permission = "contacts:read"}, [&api](call& c) {
        auto id = id_param(c.req);
        if (!id) return error_response(id.error());
        return with_db(api, [&](db::connection& conn) -> result<response> {
            std::string csv;
            auto rows = store::export_rejects_csv(conn, c.tenant_id(), *id, [&](std::string_view s) { csv.append(s); });
            if (!rows) return std::unexpected(rows.error());
            response resp(200, "text/csv; charset=utf-8", std::move(csv));
            resp.set("content-disposition", "attachment; filename=\"import-" + id->str() + "-rejected.csv\"");
            resp.set("x-row-count", std::to_string(*rows));
            return resp;
        });
    }));
}

}  // namespace herald::http::detail
