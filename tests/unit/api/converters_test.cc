#include "berth/api/converters.h"

#include "gtest/gtest.h"

namespace berth::api {
namespace {

using runtime::LiveState;

TEST(Converters, EveryLiveStateRoundTrips) {
  for (LiveState s : {LiveState::kStopped, LiveState::kStarting, LiveState::kRunning,
                      LiveState::kStopping, LiveState::kAborting, LiveState::kFreezing,
                      LiveState::kFrozen, LiveState::kThawed}) {
    berth::v1::State p = ToProto(s);
    EXPECT_NE(p, berth::v1::STATE_UNSPECIFIED);
    EXPECT_EQ(FromProto(p), s);
  }
  EXPECT_EQ(FromProto(berth::v1::STATE_UNSPECIFIED), std::nullopt);
  EXPECT_EQ(FromProto(static_cast<berth::v1::State>(99)), std::nullopt);
}

TEST(Converters, StatusKeepsCodeAndMessage) {
  EXPECT_TRUE(ToGrpc(absl::OkStatus()).ok());
  grpc::Status s = ToGrpc(absl::FailedPreconditionError("container \"web\" is RUNNING"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "container \"web\" is RUNNING");
  EXPECT_EQ(ToGrpc(absl::AbortedError("x")).error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ToGrpc(absl::DataLossError("x")).error_code(), grpc::StatusCode::DATA_LOSS);
}

TEST(Converters, ViewBecomesContainer) {
  core::ContainerView view;
  auto& d = view.definition;
  d.name = "web";
  d.source_kind = "template";
  d.source_name = "busybox";
  d.source_args = {"--a", "b"};
  d.labels = {{"tier", "front"}};
  d.revision = 7;
  d.created_at = absl::FromUnixNanos(1'700'000'000'123'456'789);
  d.updated_at = absl::FromUnixSeconds(1'700'000'100);
  berth::v1::Container c;
  ToProto(view, &c);
  EXPECT_EQ(c.name(), "web");
  EXPECT_EQ(c.source().template_().name(), "busybox");
  ASSERT_EQ(c.source().template_().args_size(), 2);
  EXPECT_EQ(c.source().template_().args(1), "b");
  EXPECT_EQ(c.labels().at("tier"), "front");
  EXPECT_EQ(c.revision(), 7);
  EXPECT_EQ(c.created_at().seconds(), 1'700'000'000);
  EXPECT_EQ(c.created_at().nanos(), 123'456'789);
  EXPECT_EQ(c.updated_at().seconds(), 1'700'000'100);
  EXPECT_FALSE(c.has_status());  // No live state asked for: no status at all.

  view.live = runtime::LiveInfo{LiveState::kRunning, 4242, {"10.0.0.2"}, {"fd00::2"}, 1 << 20,
                                5'000'000};
  c.Clear();
  ToProto(view, &c);
  EXPECT_EQ(c.status().state(), berth::v1::STATE_RUNNING);
  EXPECT_EQ(c.status().init_pid(), 4242);
  EXPECT_EQ(c.status().ipv4_addresses(0), "10.0.0.2");
  EXPECT_EQ(c.status().ipv6_addresses(0), "fd00::2");
  EXPECT_EQ(c.status().memory_usage_bytes(), 1u << 20);
  EXPECT_EQ(c.status().cpu_usage_nanoseconds(), 5'000'000u);
}

}  // namespace
}  // namespace berth::api
