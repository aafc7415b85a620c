#include "journal_format.h"

#include <memory>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"

namespace berth {
namespace {

TEST(JournalPriorityTest, MapsEachSpdlogLevelToItsSyslogPriority) {
  EXPECT_EQ(JournalPriority(spdlog::level::trace), 7);     // LOG_DEBUG
  EXPECT_EQ(JournalPriority(spdlog::level::debug), 7);     // LOG_DEBUG
  EXPECT_EQ(JournalPriority(spdlog::level::info), 6);      // LOG_INFO
  EXPECT_EQ(JournalPriority(spdlog::level::warn), 4);      // LOG_WARNING
  EXPECT_EQ(JournalPriority(spdlog::level::err), 3);       // LOG_ERR
  EXPECT_EQ(JournalPriority(spdlog::level::critical), 2);  // LOG_CRIT
}

TEST(JournalFormatterTest, PrefixesPriorityAndOmitsTimestamp) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("api", sink);
  logger.set_formatter(MakeJournalFormatter());
  logger.set_level(spdlog::level::trace);
  logger.warn("socket {} busy", 3);
  logger.error("boom");
  logger.debug("detail");
  EXPECT_EQ(out.str(), "<4>[api] socket 3 busy\n<3>[api] boom\n<7>[api] detail\n");
}

}  // namespace
}  // namespace berth
