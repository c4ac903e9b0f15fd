#include "phone/number.hpp"

#include <list>
#include <optional>
#include <unordered_map>
#include <vector>

#include <phonenumbers/phonenumberutil.h>

#include "phone/errc.hpp"

namespace herald::phone {
namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

constexpr core::error_entry<errc> entries[] = {
    {errc::not_a_number, "not_a_number", condition::invalid_input},
    {errc::too_short, "too_short", condition::invalid_input},
    {errc::too_long, "too_long", condition::invalid_input},
    {errc::invalid_country_code, "invalid_country_code", condition::invalid_input},
    {errc::invalid_for_region, "invalid_for_region", condition::invalid_input},
    {errc::unknown_region, "unknown_region", condition::invalid_input},
    {errc::unknown_time_zone, "unknown_time_zone", condition::invalid_input},
};

number_type map_type(PhoneNumberUtil::PhoneNumberType t) {
    switch (t) {
        case PhoneNumberUtil::MOBILE:
            return number_type::mobile;
        case PhoneNumberUtil::FIXED_LINE:
            return number_type::fixed_line;
        case PhoneNumberUtil::FIXED_LINE_OR_MOBILE:
            return number_type::fixed_line_or_mobile;
        case PhoneNumberUtil::TOLL_FREE:
            return number_type::toll_free;
        case PhoneNumberUtil::PREMIUM_RATE:
            return number_type::premium_rate;
        case PhoneNumberUtil::SHARED_COST:
            return number_type::shared_cost;
        case PhoneNumberUtil::VOIP:
            return number_type::voip;
        case PhoneNumberUtil::PERSONAL_NUMBER:
            return number_type::personal_number;
        case PhoneNumberUtil::PAGER:
            return number_type::pager;
        case PhoneNumberUtil::UAN:
            return number_type::uan;
        case PhoneNumberUtil::VOICEMAIL:
            return number_type::voicemail;
        case PhoneNumberUtil::UNKNOWN:
            break;
    }
    return number_type::unknown;
}

std::string quoted(std::string_view s) {
    constexpr std::size_t max_shown = 40;
    std::string out = "\"";
    out.append(s.substr(0, max_shown));
    if (s.size() > max_shown) out += "...";
    return out + "\"";
}

/// True when the text starts (after spaces) with + or 00, i.e. carries its own country code.
bool looks_international(std::string_view s) {
    auto b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) return false;
    s.remove_prefix(b);
    return s.starts_with('+') || s.starts_with("00");
}

}  // namespace

const std::error_category& phone_category() noexcept {
    static const core::table_category<errc, entries> instance("herald.phone");
    return instance;
}

std::string_view to_string(number_type t) noexcept {
    switch (t) {
        case number_type::mobile:
            return "mobile";
        case number_type::fixed_line:
            return "fixed_line";
        case number_type::fixed_line_or_mobile:
            return "fixed_line_or_mobile";
        case number_type::toll_free:
            return "toll_free";
        case number_type::premium_rate:
            return "premium_rate";
        case number_type::shared_cost:
            return "shared_cost";
        case number_type::voip:
            return "voip";
        case number_type::personal_number:
            return "personal_number";
        case number_type::pager:
            return "pager";
        case number_type::uan:
            return "uan";
        case number_type::voicemail:
            return "voicemail";
        case number_type::unknown:
            break;
    }
    return "unknown";
}

bool is_supported_region(std::string_view region) {
    if (region.size() != 2) return false;
    return PhoneNumberUtil::GetInstance()->GetCountryCodeForRegion(std::string(region)) != 0;
}

namespace {

/// The region a number belongs to, memoised per thread by country code and the first six
/// national digits: within one calling code, regions are allocated by leading digits.
std::string region_of(const PhoneNumberUtil& util, const PhoneNumber& n,
                      std::string_view national) {
    thread_local std::unordered_map<std::uint64_t, std::string> memo;
    std::uint64_t key = std::uint64_t(n.country_code()) * 10'000'000;
    std::uint64_t lead = 0;
    for (std::size_t i = 0; i < 6; ++i)
        lead = lead * 10 + (i < national.size() ? std::uint64_t(national[i] - '0') : 0);
    key = key + lead * 10 + std::min<std::size_t>(national.size(), 9);
    if (auto it = memo.find(key); it != memo.end()) return it->second;
    std::string region;
    util.GetRegionCodeForNumber(n, &region);
    if (memo.size() > 200'000) memo.clear();
    memo.emplace(key, region);
    return region;
}

/// The fast path for "+<digits>" input with ordinary separators; nullopt means "use the
/// full parser", which also produces the exact error for invalid numbers.
std::optional<phone_number> normalize_international(std::string_view input, bool with_type) {
    std::string digits;
    bool plus = false;
    for (char c : input) {
        if (c >= '0' && c <= '9')
            digits.push_back(c);
        else if (c == '+' && !plus && digits.empty())
            plus = true;
        else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')')
            return std::nullopt;
    }
    if (!plus || digits.size() < 7 || digits.size() > 15) return std::nullopt;
    const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
    int cc = 0;
    std::size_t cc_len = 0;
    std::string region;
    for (std::size_t k = 1; k <= 3; ++k) {
        cc = cc * 10 + (digits[k - 1] - '0');
        util.GetRegionCodeForCountryCode(cc, &region);
        if (region != "ZZ") {
            cc_len = k;
            break;
        }
    }
    if (cc_len == 0 || region == "001") return std::nullopt;  // unknown or non-geographic
    std::string_view national = std::string_view(digits).substr(cc_len);
    if (national.empty() || national.front() == '0')
        return std::nullopt;  // leading zeros: full parser
    PhoneNumber n;
    n.set_country_code(cc);
    n.set_national_number(std::stoull(std::string(national)));
    // A valid number is a possible one, so only validity is checked here; anything else goes
    // to the full parser, which also finds the precise reason.
    thread_local std::unordered_map<int, bool> shared_code;  // calling code -> several regions?
    auto it = shared_code.find(cc);
    if (it == shared_code.end()) {
        std::list<std::string> regions;
        util.GetRegionCodesForCountryCallingCode(cc, &regions);
        it = shared_code.emplace(cc, regions.size() > 1).first;
    }
    if (it->second) region = region_of(util, n, national);
    if (region.empty() || region == "ZZ" || !util.IsValidNumberForRegion(n, region))
        return std::nullopt;
    phone_number out;
    out.e164 = "+" + digits;
    out.region = region;
    out.country_code = cc;
    out.type = with_type ? map_type(util.GetNumberType(n)) : number_type::unknown;
    return out;
}

}  // namespace

result<phone_number> normalize(std::string_view input, std::string_view default_region,
                               bool with_type) {
    if (input.size() <= 64)
        if (auto fast = normalize_international(input, with_type)) return std::move(*fast);
    return normalize_slow(input, default_region, with_type);
}

result<phone_number> normalize_slow(std::string_view input, std::string_view default_region,
                                    bool with_type) {
    const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
    std::string region(default_region);
    for (auto& c : region) c = char(std::toupper(static_cast<unsigned char>(c)));
    if (!region.empty() && !is_supported_region(region))
        return fail(errc::unknown_region, "\"" + region + "\" is not a supported region code",
                    "default_region");
    if (region.empty()) region = "ZZ";  // unknown region: only +international numbers parse

    if (input.size() > 64)
        return fail(errc::not_a_number,
                    "phone number " + quoted(input) + " is too long to be a number");

    PhoneNumber number;
    switch (util.Parse(std::string(input), region, &number)) {
        case PhoneNumberUtil::NO_PARSING_ERROR:
            break;
        case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
            return fail(errc::invalid_country_code,
                        region == "ZZ" && !looks_international(input)
                                       ? "phone number " + quoted(input) +
                                             " has no country code; write it as +<country code>"
                                             "<number> or give a default region"
                                       : "phone number " + quoted(input) +
                                             " has an unknown country calling code");
        case PhoneNumberUtil::NOT_A_NUMBER:
            return fail(errc::not_a_number, quoted(input) + " is not a phone number");
        case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
        case PhoneNumberUtil::TOO_SHORT_NSN:
            return fail(errc::too_short, "phone number " + quoted(input) + " is too short");
        case PhoneNumberUtil::TOO_LONG_NSN:
            return fail(errc::too_long, "phone number " + quoted(input) + " is too long");
    }

    std::string number_region;
    util.GetRegionCodeForNumber(number, &number_region);
    std::string where = number_region.empty() || number_region == "ZZ"
                            ? "+" + std::to_string(number.country_code())
                            : number_region;
    switch (util.IsPossibleNumberWithReason(number)) {
        case PhoneNumberUtil::IS_POSSIBLE:
            break;
        case PhoneNumberUtil::IS_POSSIBLE_LOCAL_ONLY:
            return fail(errc::too_short, "phone number " + quoted(input) + " is too short for "
                                             + where + " (it lacks an area code)");
        case PhoneNumberUtil::INVALID_COUNTRY_CODE:
            return fail(errc::invalid_country_code,
                        "phone number " + quoted(input) + " has an unknown country calling code");
        case PhoneNumberUtil::TOO_SHORT:
            return fail(errc::too_short,
                        "phone number " + quoted(input) + " is too short for " + where);
        case PhoneNumberUtil::TOO_LONG:
            return fail(errc::too_long,
                        "phone number " + quoted(input) + " is too long for " + where);
        case PhoneNumberUtil::INVALID_LENGTH:
            return fail(errc::invalid_for_region,
                        "phone number " + quoted(input) + " has the wrong length for " + where);
    }
    if (!util.IsValidNumber(number)) {
        if (number_region.empty() || number_region == "ZZ") {
            std::string rc;
            util.GetRegionCodeForCountryCode(number.country_code(), &rc);
            where = rc == "ZZ" || rc == "001" ? "+" + std::to_string(number.country_code()) : rc;
        }
        return fail(errc::invalid_for_region,
                    "phone number " + quoted(input) + " is not a valid number in " + where);
    }

    phone_number out;
    util.Format(number, PhoneNumberUtil::E164, &out.e164);
    out.region = number_region;
    out.country_code = number.country_code();
    out.type = with_type ? map_type(util.GetNumberType(number)) : number_type::unknown;
    return out;
}

}  // namespace herald::phone
