#include "core/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace herald::core {
namespace {

/// %j: the log message as a JSON string body (quotes, backslashes and control characters
/// escaped), so that json format lines always parse.
class json_message_flag final : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        static constexpr char hex[] = "0123456789abcdef";
        for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
            switch (c) {
                case '"':
                    dest.append(std::string_view("\\\""));
                    break;
                case '\\':
                    dest.append(std::string_view("\\\\"));
                    break;
                case '\n':
                    dest.append(std::string_view("\\n"));
                    break;
                case '\r':
                    dest.append(std::string_view("\\r"));
                    break;
                case '\t':
                    dest.append(std::string_view("\\t"));
                    break;
                default:
                    if (static_cast<unsigned char>(c) < 0x20) {
                        char buf[6] = {'\\', 'u', '0', '0', hex[(c >> 4) & 0xF], hex[c & 0xF]};
                        dest.append(buf, buf + 6);
                    } else {
                        dest.push_back(c);
                    }
            }
        }
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<json_message_flag>();
    }
};

}  // namespace

void setup_logging(const log_config& cfg) {
    auto logger = spdlog::get("herald");
    if (!logger) logger = spdlog::stderr_logger_mt("herald");
    spdlog::set_default_logger(logger);
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    if (cfg.format == "json") {
        formatter->add_flag<json_message_flag>('j').set_pattern(
            R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","msg":"%j"})");
    } else {
        formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
    }
    spdlog::set_formatter(std::move(formatter));
    spdlog::set_level(spdlog::level::from_str(cfg.level));
    spdlog::flush_on(spdlog::level::warn);
}

}  // namespace herald::core
