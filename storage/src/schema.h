#pragma once

#include <cstdint>
#include <string_view>

#include "absl/types/span.h"

namespace berth::storage {

// One step of the state database's schema. See the rules at the top of schema.cc.
struct Migration {
  int64_t version;               // 1, 2, 3...: its position in the list, plus one.
  std::string_view description;  // For logs: what the step does.
  std::string_view sql;          // Runs inside the step's transaction.
};

// Every migration this binary knows, in order. The database's schema version (PRAGMA
// user_version) is the version of the last one applied; 0 is an empty database.
absl::Span<const Migration> Migrations();

// Written into every berth state database (PRAGMA application_id) by migration 1, so that another
// program's SQLite file is told apart from ours. "BRTH".
inline constexpr int64_t kApplicationId = 0x42525448;

}  // namespace berth::storage
