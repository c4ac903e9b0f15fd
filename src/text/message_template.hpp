#pragma once
/// Message templates: "Hi {{first_name|there}}, your balance is {{custom.balance}}."
///
/// A placeholder is `{{name}}` or `{{name|fallback}}`, with optional spaces inside the braces.
/// Names are contact fields (first_name, last_name, email, phone_number, country_code),
/// `custom.<key>` for a contact's custom fields, or variables the caller declares. A template
/// is compiled once and rendered per recipient without re-parsing.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace herald::text {

/// One placeholder occurrence.
struct placeholder {
    std::string name;                     ///< "first_name" or "custom.balance"
    std::optional<std::string> fallback;  ///< text after '|', used when the value is empty
    bool is_custom() const noexcept { return name.starts_with("custom."); }
    std::string_view custom_key() const noexcept {
        return std::string_view(name).substr(is_custom() ? 7 : 0);
    }
};

/// A parsed template: literal text and placeholders in order.
class message_template {
  public:
    /// Parses a template. `known` decides which plain (non-custom) names exist; custom.* names
    /// are always allowed. Errors name the offending placeholder or position.
    static result<message_template> compile(std::string_view source,
                                            const std::function<bool(std::string_view)>& known,
                                            std::size_t max_length = 10'000);

    /// The standard contact fields a template may use without declaring them.
    static bool is_contact_field(std::string_view name) noexcept;

    /// Looks up a placeholder's value for one recipient; nullopt or empty means "no value".
    using lookup = std::function<std::optional<std::string_view>(const placeholder&)>;

    /// Renders for one recipient. A missing value uses the fallback, or renders empty; the
    /// names of placeholders that had neither are appended to `missing` when given.
    std::string render(const lookup& values, std::vector<std::string>* missing = nullptr) const;

    const std::vector<placeholder>& placeholders() const noexcept { return placeholders_; }
    const std::string& source() const noexcept { return source_; }

  private:
    struct piece {
        std::string literal;
        int placeholder = -1;  ///< index into placeholders_, or -1 for a literal piece
    };
    std::string source_;
    std::vector<piece> pieces_;
    std::vector<placeholder> placeholders_;
};

}  // namespace herald::text
