#include "phone/number.hpp"

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

result<phone_number> normalize(std::string_view input, std::string_view default_region) {
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
    out.type = map_type(util.GetNumberType(number));
    return out;
}

}  // namespace herald::phone
