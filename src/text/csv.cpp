#include "text/csv.hpp"

#include <algorithm>

namespace herald::text {
namespace {

constexpr std::size_t max_raw = 1024;

std::string trim_raw(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
    return std::string(s.substr(0, max_raw));
}

}  // namespace

csv_reader::csv_reader(csv_options options) : opts_(options) {}

void csv_reader::feed(std::string_view chunk) {
    // Drop what earlier records consumed before growing the buffer.
    if (pos_ > 0 && (pos_ >= buf_.size() || pos_ > (1u << 20))) {
        buf_.erase(0, pos_);
        pos_ = 0;
    }
    buf_.append(chunk);
    if (!bom_checked_ && buf_.size() >= 3) {
        bom_checked_ = true;
        if (buf_.compare(0, 3, "\xEF\xBB\xBF") == 0) {
            buf_.erase(0, 3);
            consumed_ += 3;
        }
    }
}

void csv_reader::finish() {
    finished_ = true;
    bom_checked_ = true;
}

char csv_reader::detect_delimiter(std::string_view header) {
    std::size_t comma = 0, semi = 0, tab = 0;
    bool quoted = false;
    for (char c : header) {
        if (c == '"') quoted = !quoted;
        if (quoted) continue;
        comma += c == ',';
        semi += c == ';';
        tab += c == '\t';
    }
    if (tab > comma && tab > semi) return '\t';
    if (semi > comma) return ';';
    return ',';
}

std::optional<csv_record> csv_reader::next() {
    for (;;) {
        csv_record r;
        if (!parse(r)) return std::nullopt;
        // Blank lines carry nothing; skip them.
        if (r.error.empty() && r.fields.size() == 1 && r.fields[0].empty()) continue;
        return r;
    }
}

bool csv_reader::parse(csv_record& out) {
    if (skipping_) {
        auto nl = buf_.find('\n', pos_);
        if (nl == std::string::npos && !finished_) {
            consumed_ += buf_.size() - pos_;
            pos_ = buf_.size();
            return false;
        }
        std::size_t end = nl == std::string::npos ? buf_.size() : nl + 1;
        consumed_ += end - pos_;
        pos_ = end;
        skipping_ = false;
        out.line = skip_line_no_;
        out.error = "line is longer than " + std::to_string(opts_.max_record_bytes) + " bytes";
        out.raw = std::move(skip_raw_);
        return true;
    }
    if (pos_ >= buf_.size()) return false;

    const std::size_t start = pos_;
    std::size_t i = pos_;
    std::string field;
    std::vector<std::string> fields;
    bool in_quotes = false, field_started = false;
    std::size_t lines = 1, quote_column = 0;

    auto reject_first_line = [&](std::string why) {
        auto nl = buf_.find('\n', start);
        std::size_t end = nl == std::string::npos ? buf_.size() : nl + 1;
        out.line = line_;
        out.error = std::move(why);
        out.raw = trim_raw(std::string_view(buf_).substr(start, end - start));
        consumed_ += end - start;
        pos_ = end;
        ++line_;
        return true;
    };

    for (;;) {
        if (i - start > opts_.max_record_bytes) {
            if (in_quotes)
                return reject_first_line("quote opened at column " + std::to_string(quote_column) + " is never closed");
            // A plain over-long line: report it and discard it up to its end without buffering.
            skipping_ = true;
            skip_line_no_ = line_;
            skip_raw_ = std::string(std::string_view(buf_).substr(start, max_raw));
            consumed_ += i - start;
            pos_ = i;
            ++line_;
            return parse(out);
        }
        if (i >= buf_.size()) {
            if (!finished_) return false;
            if (in_quotes)
                return reject_first_line("quote opened at column " + std::to_string(quote_column) + " is never closed");
            if (i == start) return false;
            fields.push_back(std::move(field));
            break;
        }
        const char c = buf_[i];
        if (in_quotes) {
            if (c == '"') {
                if (i + 1 >= buf_.size() && !finished_) return false;
                if (i + 1 < buf_.size() && buf_[i + 1] == '"') {
                    field.push_back('"');
                    i += 2;
                } else {
                    in_quotes = false;
                    ++i;
                }
            } else {
                if (c == '\n' && ++lines > opts_.max_record_lines)
                    return reject_first_line("quote opened at column " + std::to_string(quote_column) +
                                             " is never closed");
                field.push_back(c);
                ++i;
            }
            continue;
        }
        if (c == '"' && !field_started) {
            in_quotes = field_started = true;
            quote_column = fields.size() + 1;
            ++i;
        } else if (c == opts_.delimiter) {
            fields.push_back(std::move(field));
            field.clear();
            field_started = false;
            ++i;
        } else if (c == '\n' || c == '\r') {
            if (c == '\r') {
                if (i + 1 >= buf_.size() && !finished_) return false;
                i += (i + 1 < buf_.size() && buf_[i + 1] == '\n') ? 2 : 1;
            } else {
                ++i;
            }
            fields.push_back(std::move(field));
            break;
        } else {
            field.push_back(c);
            field_started = true;
            ++i;
        }
    }
    out.fields = std::move(fields);
    out.line = line_;
    out.raw = trim_raw(std::string_view(buf_).substr(start, i - start));
    line_ += lines;
    consumed_ += i - start;
    pos_ = i;
    return true;
}

std::string csv_escape(std::string_view field, char delimiter) {
    bool needs = field.find_first_of(std::string{delimiter, '"', '\n', '\r'}) != std::string_view::npos ||
                 (!field.empty() && (field.front() == ' ' || field.back() == ' '));
    if (!needs) return std::string(field);
    std::string out = "\"";
    for (char c : field) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

}  // namespace herald::text
