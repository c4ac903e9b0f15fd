#include "db/param.hpp"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace herald::db {

param::param(double v) {
    char buf[32];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
    text_.assign(buf, p);
}

param::param(std::chrono::system_clock::time_point v) : text_(format_timestamp(v)) {}

std::string format_timestamp(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    auto us = duration_cast<microseconds>(t.time_since_epoch()).count();
    std::int64_t secs = us >= 0 ? us / 1'000'000 : (us - 999'999) / 1'000'000;
    int frac = int(us - secs * 1'000'000);
    std::time_t tt = std::time_t(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view s) {
    // YYYY-MM-DD[ T]HH:MM:SS[.ffffff](Z|+HH[:MM[:SS]]|-HH...)
    auto num = [&](std::size_t pos, std::size_t len, int& out) {
        if (pos + len > s.size()) return false;
        auto [p, ec] = std::from_chars(s.data() + pos, s.data() + pos + len, out);
        return ec == std::errc() && p == s.data() + pos + len;
    };
    int y, mo, d, h, mi, sec;
    if (s.size() < 19 || !num(0, 4, y) || s[4] != '-' || !num(5, 2, mo) || s[7] != '-'
        || !num(8, 2, d) || (s[10] != ' ' && s[10] != 'T') || !num(11, 2, h) || s[13] != ':'
        || !num(14, 2, mi) || s[16] != ':' || !num(17, 2, sec))
        return std::nullopt;
    std::size_t pos = 19;
    std::int64_t micros = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        int digits = 0;
        while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
            if (digits < 6) micros = micros * 10 + (s[pos] - '0'), ++digits;
            ++pos;
        }
        while (digits++ < 6) micros *= 10;
    }
    int offset_seconds = 0;
    if (pos < s.size()) {
        if (s[pos] == 'Z') {
            ++pos;
        } else if (s[pos] == '+' || s[pos] == '-') {
            int sign = s[pos] == '-' ? -1 : 1, oh = 0, om = 0, os = 0;
            if (!num(pos + 1, 2, oh)) return std::nullopt;
            pos += 3;
            if (pos < s.size() && s[pos] == ':') {
                if (!num(pos + 1, 2, om)) return std::nullopt;
                pos += 3;
                if (pos < s.size() && s[pos] == ':') {
                    if (!num(pos + 1, 2, os)) return std::nullopt;
                    pos += 3;
                }
            }
            offset_seconds = sign * (oh * 3600 + om * 60 + os);
        }
    }
    if (pos != s.size()) return std::nullopt;
    using namespace std::chrono;
    auto days = sys_days(year(y) / month(unsigned(mo)) / day(unsigned(d)));
    if (!(year(y) / month(unsigned(mo)) / day(unsigned(d))).ok()) return std::nullopt;
    auto t = time_point_cast<microseconds>(days) + hours(h) + minutes(mi) + seconds(sec)
             + microseconds(micros) - seconds(offset_seconds);
    return time_point_cast<system_clock::duration>(t);
}

namespace {
void append_array_element(std::string& out, const std::string& v) {
    out.push_back('"');
    for (char c : v) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    out.push_back('"');
}
}  // namespace

std::string array_literal(const std::vector<std::optional<std::string>>& values) {
    std::string out = "{";
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i) out.push_back(',');
        if (values[i])
            append_array_element(out, *values[i]);
        else
            out += "NULL";
    }
    out.push_back('}');
    return out;
}

std::string array_literal(const std::vector<std::string>& values) {
    std::string out = "{";
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i) out.push_back(',');
        append_array_element(out, values[i]);
    }
    out.push_back('}');
    return out;
}

}  // namespace herald::db
