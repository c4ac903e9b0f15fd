#include <map>

#include <gtest/gtest.h>

#include "text/errc.hpp"
#include "text/message_template.hpp"

namespace herald::text {
namespace {

bool contact_fields(std::string_view name) {
    return message_template::is_contact_field(name);
}

std::string render(const message_template& t, const std::map<std::string, std::string>& values,
                   std::vector<std::string>* missing = nullptr) {
    return t.render(
        [&](const placeholder& p) -> std::optional<std::string_view> {
            auto it = values.find(p.name);
            if (it == values.end()) return std::nullopt;
            return std::string_view(it->second);
        },
        missing);
}

TEST(message_template, renders_contact_and_custom_fields) {
    auto t = message_template::compile(
        "Hi {{first_name}} {{ last_name }}, you owe {{custom.balance}}.", contact_fields);
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(
        render(*t, {{"first_name", "Ada"}, {"last_name", "Lovelace"}, {"custom.balance", "$12"}}),
        "Hi Ada Lovelace, you owe $12.");
    ASSERT_EQ(t->placeholders().size(), 3u);
    EXPECT_TRUE(t->placeholders()[2].is_custom());
    EXPECT_EQ(t->placeholders()[2].custom_key(), "balance");
}

TEST(message_template, fallback_applies_when_value_missing_or_empty) {
    auto t = message_template::compile("Hi {{first_name|there}}!", contact_fields);
    ASSERT_TRUE(t);
    EXPECT_EQ(render(*t, {}), "Hi there!");
    EXPECT_EQ(render(*t, {{"first_name", ""}}), "Hi there!");
    EXPECT_EQ(render(*t, {{"first_name", "Bo"}}), "Hi Bo!");
    auto spaced = message_template::compile("Hi {{ first_name | dear customer }}!", contact_fields);
    EXPECT_EQ(render(*spaced, {}), "Hi dear customer!");
}

TEST(message_template, missing_without_fallback_renders_empty_and_is_reported) {
    auto t = message_template::compile("Hi {{first_name}}, code {{custom.code}}", contact_fields);
    std::vector<std::string> missing;
    EXPECT_EQ(render(*t, {}, &missing), "Hi , code ");
    EXPECT_EQ(missing, (std::vector<std::string>{"first_name", "custom.code"}));
}

TEST(message_template, unknown_placeholder_is_an_error_naming_it) {
    auto t = message_template::compile("Hi {{frist_name}}", contact_fields);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code, errc::unknown_placeholder);
    EXPECT_NE(t.error().message.find("{{frist_name}}"), std::string::npos);
    EXPECT_EQ(t.error().field, "frist_name");
}

TEST(message_template, caller_variables_are_allowed_when_declared) {
    auto t = message_template::compile("Your code is {{code}}",
                                       [](std::string_view n) { return n == "code"; });
    ASSERT_TRUE(t);
    EXPECT_EQ(render(*t, {{"code", "4711"}}), "Your code is 4711");
}

TEST(message_template, malformed_placeholders_are_errors) {
    for (const char* bad : {"Hi {{first_name", "Hi {{first_name {{last_name}}", "Hi {{}}",
                            "Hi {{ | x}}", "Hi {{first name}}", "Hi {{9lives}}", "{{custom.}}"}) {
        auto t = message_template::compile(bad, contact_fields);
        ASSERT_FALSE(t) << bad;
        EXPECT_EQ(t.error().code, errc::malformed_template) << bad;
    }
}

TEST(message_template, output_never_contains_placeholder_braces) {
    auto t = message_template::compile("{{first_name}}{{last_name|x}}{{custom.a}}", contact_fields);
    ASSERT_TRUE(t);
    std::string out = render(*t, {});
    EXPECT_EQ(out.find("{{"), std::string::npos);
    EXPECT_EQ(out.find("}}"), std::string::npos);
}

TEST(message_template, single_braces_are_literal) {
    auto t = message_template::compile("Use {code} or }} as-is", contact_fields);
    ASSERT_TRUE(t);
    EXPECT_EQ(render(*t, {}), "Use {code} or }} as-is");
}

TEST(message_template, length_and_utf8_limits) {
    auto long_t = message_template::compile(std::string(20'000, 'a'), contact_fields);
    ASSERT_FALSE(long_t);
    EXPECT_EQ(long_t.error().code, errc::template_too_long);
    auto bad = message_template::compile("Hi \xFF", contact_fields);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, errc::invalid_utf8);
}

}  // namespace
}  // namespace herald::text
