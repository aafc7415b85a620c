#pragma once

// Log lines for the systemd journal: when berthd's stderr is a journal stream (JOURNAL_STREAM is
// set), each line starts with the sd-daemon "<N>" syslog priority and carries no timestamp (the
// journal adds its own). See sd-daemon(3).

#include <ctime>
#include <memory>

#include "spdlog/pattern_formatter.h"
#include "spdlog/spdlog.h"

namespace berth {

// syslog(3) priority of an spdlog level: LOG_DEBUG 7, LOG_INFO 6, LOG_WARNING 4, LOG_ERR 3,
// LOG_CRIT 2. trace has no syslog counterpart and is LOG_DEBUG too.
constexpr int JournalPriority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return 7;
    case spdlog::level::info:
      return 6;
    case spdlog::level::warn:
      return 4;
    case spdlog::level::err:
      return 3;
    case spdlog::level::critical:
      return 2;
    default:
      return 6;
  }
}

// The `%*` pattern flag: "<N>" for the message's level.
class JournalPriorityFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const char prefix[3] = {'<', static_cast<char>('0' + JournalPriority(msg.level)), '>'};
    dest.append(prefix, prefix + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JournalPriorityFlag>();
  }
};

// "<N>[logger] message" for the journal.
inline std::unique_ptr<spdlog::formatter> MakeJournalFormatter() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<JournalPriorityFlag>('*').set_pattern("%*[%n] %v");
  return formatter;
}

}  // namespace berth
