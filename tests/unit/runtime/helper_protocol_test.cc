#include "lxc/helper_protocol.h"

#include "gtest/gtest.h"

namespace berth::runtime::lxc {
namespace {

TEST(HelperProtocolTest, EveryStatusCodeRoundTrips) {
  for (int value = 0; value <= 16; ++value) {
    const auto code = static_cast<absl::StatusCode>(value);
    const int exit_code = HelperExitCode(code);
    EXPECT_GE(exit_code, 0);
    EXPECT_LE(exit_code, 255);
    std::optional<absl::StatusCode> back = StatusCodeFromHelperExit(exit_code);
    ASSERT_TRUE(back.has_value()) << value;
    EXPECT_EQ(*back, code);
  }
}

TEST(HelperProtocolTest, OkIsZeroAndOthersAreDistinct) {
  EXPECT_EQ(HelperExitCode(absl::StatusCode::kOk), 0);
  EXPECT_NE(HelperExitCode(absl::StatusCode::kInternal),
            HelperExitCode(absl::StatusCode::kNotFound));
}

TEST(HelperProtocolTest, ForeignExitCodesAreNotStatusCodes) {
  // exit(1) from a library, 127 from a failed exec, 126 not executable, and codes just outside.
  for (int exit_code : {1, 2, 99, 100, 117, 126, 127, 255}) {
    EXPECT_FALSE(StatusCodeFromHelperExit(exit_code).has_value()) << exit_code;
  }
}

TEST(HelperProtocolTest, OpNamesRoundTrip) {
  for (HelperOp op : {HelperOp::kCreate, HelperOp::kStart, HelperOp::kDestroy, HelperOp::kExec}) {
    std::optional<HelperOp> parsed = ParseHelperOp(HelperOpName(op));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, op);
  }
  EXPECT_FALSE(ParseHelperOp("rename").has_value());
  EXPECT_FALSE(ParseHelperOp("").has_value());
}

}  // namespace
}  // namespace berth::runtime::lxc
