#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace berth::api {

// Who may make a call.
enum class Rule {
  // Any client certificate, trusted or not: only Trust/Enroll, which itself demands a join token.
  kEnrolment,
  // A trusted client of either role: the call only reads, and its answer carries no secret.
  kReadonly,
  // A trusted admin client: everything that changes something, runs something in a container or
  // reads what a container holds (files, console output).
  kAdmin,
};

// Roles of trusted clients, as the trust store keeps them ("admin", "readonly").
enum class Role { kAdmin, kReadonly };

// The authorization table: the rule of every RPC berthd serves, by full method name
// ("/berth.v1.Containers/ListContainers"). One table for the whole daemon; a unit test
// (tests/unit/api/authorization_test.cc) enumerates every method of every service in the
// descriptor pool and fails when one has no rule here.
const std::map<std::string, Rule, std::less<>>& AuthorizationTable();

// The rule of `method`; nullopt for a method the table does not know (refused).
std::optional<Rule> RuleFor(absl::string_view method);

// Whether a caller with `role` may call a method under `rule`.
bool Allows(Role role, Rule rule);

std::optional<Role> ParseRole(absl::string_view text);
const char* RoleName(Role role);

}  // namespace berth::api
