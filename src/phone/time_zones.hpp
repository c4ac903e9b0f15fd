#pragma once
/// Where a recipient might be, in time: the IANA zones a number could be in.

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "phone/number.hpp"

namespace herald::phone {

/// Candidate IANA time zones for a number, most likely first.
///
/// An explicit zone (a contact's `time_zone`) wins when given. Otherwise: every zone of the
/// number's country from the system tzdata's zone1970.tab, narrowed for US and Canadian
/// numbers to the zones of the state or province that the area code belongs to (from
/// libphonenumber's offline geocoder). An empty result means nothing is known.
std::vector<std::string> candidate_time_zones(const phone_number& number,
                                              std::string_view explicit_zone = {});

/// True when `name` is a time zone in the system tz database ("Europe/Berlin").
bool is_valid_time_zone(std::string_view name);

/// The zones zone1970.tab lists for a country (ISO alpha-2), in file order.
std::vector<std::string> country_time_zones(std::string_view region);

}  // namespace herald::phone
