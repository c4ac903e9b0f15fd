#include "phone/time_zones.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include <date/tz.h>
#include <phonenumbers/geocoding/phonenumber_offline_geocoder.h>
#include <phonenumbers/phonenumberutil.h>
#include <spdlog/spdlog.h>

namespace herald::phone {
namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberOfflineGeocoder;
using i18n::phonenumbers::PhoneNumberUtil;

constexpr const char* zone1970_path = "/usr/share/zoneinfo/zone1970.tab";

/// country (ISO alpha-2) -> zones, read once from zone1970.tab.
const std::map<std::string, std::vector<std::string>, std::less<>>& zone_table() {
    static const auto table = [] {
        std::map<std::string, std::vector<std::string>, std::less<>> t;
        std::ifstream in(zone1970_path);
        if (!in) spdlog::warn("cannot read {}: recipient time zones are unknown", zone1970_path);
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty() || line[0] == '#') continue;
            std::istringstream fields(line);
            std::string countries, coords, zone;
            if (!std::getline(fields, countries, '\t') || !std::getline(fields, coords, '\t')
                || !std::getline(fields, zone, '\t'))
                continue;
            std::istringstream cs(countries);
            for (std::string cc; std::getline(cs, cc, ',');) t[cc].push_back(zone);
        }
        return t;
    }();
    return table;
}

struct subdivision {
    std::string_view code, name;
    std::vector<std::string_view> zones;
};

/// US states and Canadian provinces with the zones they span. Where a state straddles a
/// boundary, every zone is listed so that quiet hours use the overlap.
const std::vector<subdivision>& subdivisions() {
    static const std::vector<subdivision> table = {
        {"AL", "Alabama", {"America/Chicago"}},
        {"AK",
         "Alaska",
         {"America/Anchorage", "America/Juneau", "America/Sitka", "America/Nome", "America/Adak"}},
        {"AZ", "Arizona", {"America/Phoenix", "America/Denver"}},
        {"AR", "Arkansas", {"America/Chicago"}},
        {"CA", "California", {"America/Los_Angeles"}},
        {"CO", "Colorado", {"America/Denver"}},
        {"CT", "Connecticut", {"America/New_York"}},
        {"DE", "Delaware", {"America/New_York"}},
        {"DC", "Washington D.C.", {"America/New_York"}},
        {"FL", "Florida", {"America/New_York", "America/Chicago"}},
        {"GA", "Georgia", {"America/New_York"}},
        {"HI", "Hawaii", {"Pacific/Honolulu"}},
        {"ID", "Idaho", {"America/Boise", "America/Los_Angeles"}},
        {"IL", "Illinois", {"America/Chicago"}},
        {"IN", "Indiana", {"America/Indiana/Indianapolis", "America/Chicago"}},
        {"IA", "Iowa", {"America/Chicago"}},
        {"KS", "Kansas", {"America/Chicago", "America/Denver"}},
        {"KY", "Kentucky", {"America/Kentucky/Louisville", "America/Chicago"}},
        {"LA", "Louisiana", {"America/Chicago"}},
        {"ME", "Maine", {"America/New_York"}},
        {"MD", "Maryland", {"America/New_York"}},
        {"MA", "Massachusetts", {"America/New_York"}},
        {"MI", "Michigan", {"America/Detroit", "America/Menominee"}},
        {"MN", "Minnesota", {"America/Chicago"}},
        {"MS", "Mississippi", {"America/Chicago"}},
        {"MO", "Missouri", {"America/Chicago"}},
        {"MT", "Montana", {"America/Denver"}},
        {"NE", "Nebraska", {"America/Chicago", "America/Denver"}},
        {"NV", "Nevada", {"America/Los_Angeles", "America/Denver"}},
        {"NH", "New Hampshire", {"America/New_York"}},
        {"NJ", "New Jersey", {"America/New_York"}},
        {"NM", "New Mexico", {"America/Denver"}},
        {"NY", "New York", {"America/New_York"}},
        {"NC", "North Carolina", {"America/New_York"}},
        {"ND", "North Dakota", {"America/Chicago", "America/Denver"}},
        {"OH", "Ohio", {"America/New_York"}},
        {"OK", "Oklahoma", {"America/Chicago"}},
        {"OR", "Oregon", {"America/Los_Angeles", "America/Boise"}},
        {"PA", "Pennsylvania", {"America/New_York"}},
        {"RI", "Rhode Island", {"America/New_York"}},
        {"SC", "South Carolina", {"America/New_York"}},
        {"SD", "South Dakota", {"America/Chicago", "America/Denver"}},
        {"TN", "Tennessee", {"America/Chicago", "America/New_York"}},
        {"TX", "Texas", {"America/Chicago", "America/Denver"}},
        {"UT", "Utah", {"America/Denver"}},
        {"VT", "Vermont", {"America/New_York"}},
        {"VA", "Virginia", {"America/New_York"}},
        {"WA", "Washington", {"America/Los_Angeles"}},
        {"WV", "West Virginia", {"America/New_York"}},
        {"WI", "Wisconsin", {"America/Chicago"}},
        {"WY", "Wyoming", {"America/Denver"}},
        // Canada
        {"AB", "Alberta", {"America/Edmonton"}},
        {"BC",
         "British Columbia",
         {"America/Vancouver", "America/Edmonton", "America/Dawson_Creek", "America/Fort_Nelson"}},
        {"MB", "Manitoba", {"America/Winnipeg"}},
        {"NB", "New Brunswick", {"America/Moncton"}},
        {"NL", "Newfoundland and Labrador", {"America/St_Johns", "America/Goose_Bay"}},
        {"NS", "Nova Scotia", {"America/Halifax"}},
        {"NT", "Northwest Territories", {"America/Edmonton", "America/Inuvik"}},
        {"NU", "Nunavut", {"America/Iqaluit", "America/Rankin_Inlet", "America/Cambridge_Bay"}},
        {"ON", "Ontario", {"America/Toronto", "America/Winnipeg"}},
        {"PE", "Prince Edward Island", {"America/Halifax"}},
        {"QC", "Quebec", {"America/Toronto"}},
        {"SK", "Saskatchewan", {"America/Regina", "America/Edmonton"}},
        {"YT", "Yukon", {"America/Whitehorse"}},
    };
    return table;
}

/// Reads "New York, NY" or "New Jersey" into the subdivision it names.
const subdivision* subdivision_from_description(std::string_view desc) {
    std::string_view code;
    if (auto comma = desc.rfind(", "); comma != std::string_view::npos && desc.size() - comma == 4)
        code = desc.substr(comma + 2);
    for (const auto& s : subdivisions())
        if ((!code.empty() && s.code == code) || s.name == desc) return &s;
    return nullptr;
}

const PhoneNumberOfflineGeocoder& geocoder() {
    static const PhoneNumberOfflineGeocoder instance;  // thread-safe inside (absl::Mutex)
    return instance;
}

}  // namespace

std::vector<std::string> country_time_zones(std::string_view region) {
    const auto& t = zone_table();
    auto it = t.find(region);
    return it == t.end() ? std::vector<std::string>{} : it->second;
}

bool is_valid_time_zone(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    try {
        (void)date::locate_zone(name);
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

std::vector<std::string> candidate_time_zones(const phone_number& number,
                                              std::string_view explicit_zone) {
    if (!explicit_zone.empty() && is_valid_time_zone(explicit_zone))
        return {std::string(explicit_zone)};
    if ((number.region == "US" || number.region == "CA") && number.country_code == 1) {
        const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
        PhoneNumber parsed;
        if (util.Parse(number.e164, "ZZ", &parsed) == PhoneNumberUtil::NO_PARSING_ERROR) {
            std::string desc = geocoder().GetDescriptionForNumber(parsed, icu::Locale("en", "US"));
            if (const subdivision* s = subdivision_from_description(desc))
                return {s->zones.begin(), s->zones.end()};
        }
    }
    return country_time_zones(number.region);
}

}  // namespace herald::phone
