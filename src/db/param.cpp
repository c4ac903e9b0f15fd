#include "db/param.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace herald::db {

param::param(double v) {
    char buf[32];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
    text_.assign(buf, p);
}

param::param(std::chrono::system_clock::time_point v) : text_(format_timestamp(v)) {}

std::size_t format_timestamp(std::chrono::system_clock::time_point t, char* out) noexcept {
    using namespace std::chrono;
    const auto us = floor<microseconds>(t);
    const auto day = floor<days>(us);
    const year_month_day ymd{day};
    const hh_mm_ss hms{us - day};
    const int y = int(ymd.year());
    if (y < 0 || y > 9999) {  // outside RFC 3339; never from Herald's own data
        int n = std::snprintf(out, 40, "%d-%02u-%02uT%02d:%02d:%02dZ", y, unsigned(ymd.month()),
                              unsigned(ymd.day()), int(hms.hours().count()),
                              int(hms.minutes().count()), int(hms.seconds().count()));
        return n > 0 ? std::min<std::size_t>(std::size_t(n), 39) : 0;
    }
    // Written by hand: this runs for every timestamp in every API answer.
    constexpr std::string_view pattern = "0000-00-00T00:00:00.000000Z";
    std::memcpy(out, pattern.data(), pattern.size());
    auto put = [out](std::size_t at, unsigned v, int width) {
        for (int i = width - 1; i >= 0; --i, v /= 10) out[at + std::size_t(i)] = char('0' + v % 10);
    };
    put(0, unsigned(y), 4);
    put(5, unsigned(ymd.month()), 2);
    put(8, unsigned(ymd.day()), 2);
    put(11, unsigned(hms.hours().count()), 2);
    put(14, unsigned(hms.minutes().count()), 2);
    put(17, unsigned(hms.seconds().count()), 2);
    put(20, unsigned(hms.subseconds().count()), 6);
    return pattern.size();
}

std::string format_timestamp(std::chrono::system_clock::time_point t) {
    char buf[40];
    return std::string(buf, format_timestamp(t, buf));
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
