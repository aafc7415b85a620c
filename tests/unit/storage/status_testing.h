#pragma once

// absl::Status helpers for GoogleTest (GoogleTest 1.12 has none).

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::storage::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// Matches an absl::Status or absl::StatusOr<T> with `code` and a message matching `message`
// (a matcher, or a string for equality).
MATCHER_P2(StatusIs, code, message, "") {
  const absl::Status& status = ::berth::storage::testing::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code && ::testing::Matches(message)(std::string(status.message()));
}

MATCHER(IsOk, "") {
  const absl::Status& status = ::berth::storage::testing::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.ok();
}

// Matches an OK absl::StatusOr<T> whose value matches `value` (a matcher, or a value).
MATCHER_P(IsOkAndHolds, value, "") {
  if (!arg.ok()) {
    *result_listener << "whose status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(value, *arg, result_listener);
}

}  // namespace berth::storage::testing

#define BERTH_STATUS_CONCAT_INNER(a, b) a##b
#define BERTH_STATUS_CONCAT(a, b) BERTH_STATUS_CONCAT_INNER(a, b)

#define ASSERT_OK(expr) ASSERT_THAT((expr), ::berth::storage::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT((expr), ::berth::storage::testing::IsOk())

// Evaluates `expr` (an absl::StatusOr<T>), fails the test unless it is OK, and assigns its value
// to `lhs` (a declaration or an lvalue).
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(BERTH_STATUS_CONCAT(status_or_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  ASSERT_TRUE(tmp.ok()) << tmp.status();          \
  lhs = *std::move(tmp)
