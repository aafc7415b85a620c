#include "berth/client/console_command.h"
#include "gtest/gtest.h"

namespace berth::client {
namespace {

TEST(ConsoleEscapeTest, PlainBytesPassThrough) {
  ConsoleEscape escape;
  bool detach = false;
  EXPECT_EQ(escape.Feed("ls -l\r", detach), "ls -l\r");
  EXPECT_FALSE(detach);
}

TEST(ConsoleEscapeTest, CtrlAQDetachesAndDropsTheRest) {
  ConsoleEscape escape;
  bool detach = false;
  EXPECT_EQ(escape.Feed("echo\x01qmore", detach), "echo");
  EXPECT_TRUE(detach);
}

TEST(ConsoleEscapeTest, CtrlAASendsOneCtrlA) {
  ConsoleEscape escape;
  bool detach = false;
  EXPECT_EQ(escape.Feed("x\x01"
                        "ay",
                        detach),
            "x\x01y");
  EXPECT_FALSE(detach);
}

TEST(ConsoleEscapeTest, CtrlAThenAnotherKeySendsBoth) {
  ConsoleEscape escape;
  bool detach = false;
  EXPECT_EQ(escape.Feed("\x01z", detach), "\x01z");
  EXPECT_EQ(escape.Feed("\x01\x01", detach), "\x01\x01");
  EXPECT_FALSE(detach);
}

TEST(ConsoleEscapeTest, PrefixSplitAcrossReads) {
  ConsoleEscape escape;
  bool detach = false;
  EXPECT_EQ(escape.Feed("abc\x01", detach), "abc");
  EXPECT_FALSE(detach);
  EXPECT_EQ(escape.Feed("q", detach), "");
  EXPECT_TRUE(detach);

  ConsoleEscape other;
  detach = false;
  EXPECT_EQ(other.Feed("\x01", detach), "");
  EXPECT_EQ(other.Feed("a", detach), "\x01");
  EXPECT_FALSE(detach);
}

}  // namespace
}  // namespace berth::client
