#include "text/keywords.hpp"

#include <algorithm>

#include "text/utf8.hpp"

namespace herald::text {
namespace {

bool is_trimmable(char32_t cp) {
    if (cp < 0x80) return std::isspace(int(cp)) || std::ispunct(int(cp));
    switch (cp) {
        case U'\u00A0':
        case U'\u00A1':
        case U'\u00AB':
        case U'\u00BB':
        case U'\u00BF':
        case U'\u2018':
        case U'\u2019':
        case U'\u201C':
        case U'\u201D':
        case U'\u2026':
        case U'\u3000':
        case U'\u200B':
        case U'\uFEFF':
        case U'\u3002':
        case U'\uFF01':
        case U'\uFF0E':
        case U'\uFF1F':
            return true;
        default:
            return (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F;
    }
}

bool contains(const std::vector<std::string>& list, std::string_view word) {
    return std::find(list.begin(), list.end(), word) != list.end();
}

}  // namespace

std::string_view to_string(keyword_kind k) noexcept {
    switch (k) {
        case keyword_kind::opt_out:
            return "opt_out";
        case keyword_kind::opt_in:
            return "opt_in";
        case keyword_kind::help:
            return "help";
        case keyword_kind::none:
            break;
    }
    return "none";
}

std::string normalize_keyword(std::string_view utf8_text) {
    std::u32string cps = decode_utf8_lossy(utf8_text);
    std::size_t b = 0, e = cps.size();
    while (b < e && is_trimmable(cps[b])) ++b;
    while (e > b && is_trimmable(cps[e - 1])) --e;
    std::string out;
    for (std::size_t i = b; i < e; ++i) {
        char32_t cp = cps[i];
        if (cp >= U'a' && cp <= U'z') cp -= 32;
        append_utf8(out, cp);
    }
    return out;
}

void keyword_lists::extend(keyword_kind kind, const std::vector<std::string>& words) {
    std::vector<std::string>* list = kind == keyword_kind::opt_out  ? &opt_out
                                     : kind == keyword_kind::opt_in ? &opt_in
                                     : kind == keyword_kind::help   ? &help
                                                                    : nullptr;
    if (!list) return;
    for (const auto& w : words) {
        std::string n = normalize_keyword(w);
        if (!n.empty() && !contains(*list, n)) list->push_back(std::move(n));
    }
}

keyword_kind classify(std::string_view utf8_text, const keyword_lists& lists) {
    std::string word = normalize_keyword(utf8_text);
    if (word.empty()) return keyword_kind::none;
    // A keyword is a single word: any space left inside means it is a sentence.
    for (char c : word)
        if (std::isspace(static_cast<unsigned char>(c))) return keyword_kind::none;
    if (contains(lists.opt_out, word)) return keyword_kind::opt_out;
    if (contains(lists.opt_in, word)) return keyword_kind::opt_in;
    if (contains(lists.help, word)) return keyword_kind::help;
    return keyword_kind::none;
}

}  // namespace herald::text
