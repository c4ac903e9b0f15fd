#pragma once
/// A streaming CSV reader (RFC 4180 plus what real exports do): feed it chunks, pull
/// records. It handles a UTF-8 byte-order mark, quoted fields with "" escapes, CRLF and LF,
/// and quoted line breaks. It never holds more than one record: a line longer than the limit
/// is skipped (reported, not buffered), and a quote left open does not swallow the rest of
/// the file: if it does not close within a few lines, only its first line is rejected and
/// reading resumes on the next one.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::text {

struct csv_options {
    char delimiter = ',';
    /// Longest record accepted, in bytes; longer lines are rejected and skipped.
    std::size_t max_record_bytes = 64 * 1024;
    /// A quoted field may span at most this many physical lines.
    std::size_t max_record_lines = 8;
};

struct csv_record {
    std::vector<std::string> fields;
    std::size_t line = 0;  ///< 1-based physical line where the record starts
    /// Why the record is unusable (set instead of fields): "line is longer than ...",
    /// "quote opened at column N is never closed".
    std::string error;
    /// The record's text, up to 1 KiB, for reports.
    std::string raw;
};

class csv_reader {
public:
    explicit csv_reader(csv_options options = {});

    /// Adds input. Records become available through next().
    void feed(std::string_view chunk);
    /// Marks the end of input; the last record may lack a line break.
    void finish();
    /// The next complete record, or nullopt when more input is needed (or all is read).
    std::optional<csv_record> next();
    /// Bytes consumed so far (for progress).
    std::size_t bytes_consumed() const noexcept { return consumed_; }

    /// Picks ',' ';' or '\t' by which occurs most in a header line, outside quotes.
    static char detect_delimiter(std::string_view header_line);

private:
    /// Parses one record starting at buf_[pos_]; false when more input is needed.
    bool parse(csv_record& out);

    csv_options opts_;
    std::string buf_;
    std::size_t pos_ = 0;
    std::size_t consumed_ = 0;
    std::size_t line_ = 1;
    bool finished_ = false;
    bool bom_checked_ = false;
    bool skipping_ = false;  ///< inside an over-long line, discarding to its end
    std::size_t skip_line_no_ = 0;
    std::string skip_raw_;
};

/// Quotes a field for CSV output when it needs it.
std::string csv_escape(std::string_view field, char delimiter = ',');

}  // namespace herald::text
