// ContainerManager::Exec: validation and policy for processes started inside containers.

#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "berth/core/container_manager.h"
#include "berth/core/profiles.h"
#include "berth/core/validation.h"

namespace berth::core {
namespace {

constexpr size_t kMaxArgs = 4096;
constexpr size_t kMaxArgBytes = 256 * 1024;  // argv and env together
constexpr uint32_t kMaxId = (1u << 31) - 1;
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

bool ValidEnvName(const std::string& name) {
  if (name.empty() || absl::ascii_isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

absl::Status ValidateExec(const ExecParams& p) {
  if (p.argv.empty() || p.argv[0].empty()) {
    return absl::InvalidArgumentError("exec needs a command: give at least one argument");
  }
  if (p.argv.size() > kMaxArgs) {
    return absl::InvalidArgumentError(absl::StrCat("exec takes at most ", kMaxArgs, " arguments"));
  }
  size_t bytes = 0;
  for (const std::string& arg : p.argv) {
    if (HasNul(arg)) return absl::InvalidArgumentError("an exec argument contains a NUL byte");
    bytes += arg.size() + 1;
  }
  for (const auto& [key, value] : p.env) {
    if (!ValidEnvName(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("environment variable name \"", absl::CEscape(key),
                       "\" is invalid; use letters, digits and '_', not starting with a digit"));
    }
    if (HasNul(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("environment variable ", key, " contains a NUL byte"));
    }
    bytes += key.size() + value.size() + 2;
  }
  if (bytes > kMaxArgBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("exec arguments and environment exceed ", kMaxArgBytes, " bytes"));
  }
  if (!p.cwd.empty() && (p.cwd.front() != '/' || HasNul(p.cwd) || p.cwd.size() > 4096)) {
    return absl::InvalidArgumentError(
        absl::StrCat("working directory \"", absl::CEscape(p.cwd), "\" must be an absolute path"));
  }
  if (p.uid > kMaxId || p.gid > kMaxId) {
    return absl::InvalidArgumentError("uid and gid must be below 2^31");
  }
  if (p.rows > UINT16_MAX || p.cols > UINT16_MAX) {
    return absl::InvalidArgumentError("window size must be below 65536 rows and columns");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<runtime::ExecProcess>> ContainerManager::Exec(
    const std::string& name, const ExecParams& params) {
  if (auto s = ValidateContainerName(name); !s.ok()) return s;
  if (auto s = ValidateExec(params); !s.ok()) return s;
  {
    // The state check and the spawn under the container's lock, so a stop or delete in progress
    // is not raced; the process then runs without it.
    auto guard = locks_.Lock(name);
    auto record = GetReady(name);
    if (!record.ok()) return record.status();
    auto live = driver_->InspectState(name);
    if (absl::IsNotFound(live.status())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "container \"", name,
          "\" is defined in berth but missing from the runtime's container directory"));
    }
    if (!live.ok()) return live.status();
    if (live->state != runtime::LiveState::kRunning) {
      return absl::FailedPreconditionError(
          absl::StrCat("container \"", name, "\" is ", std::string(LiveStateName(live->state)),
                       "; start it first (berth start ", name, ")"));
    }
    runtime::ExecSpec spec;
    spec.argv = params.argv;
    std::map<std::string, std::string> env = {
        {"PATH", kDefaultPath},
        {"HOME", params.uid == 0 ? "/root" : "/"},
    };
    if (params.tty) env["TERM"] = "xterm-256color";
    // The container's environment.* keys, as its init has them (from the stored config, so a
    // change reaches exec at once), then the caller's own.
    constexpr absl::string_view kEnvPrefix = "environment.";
    for (const auto& [key, value] : ExpandedConfigOrOwn(*store_, *record)) {
      if (absl::StartsWith(key, kEnvPrefix)) env[key.substr(kEnvPrefix.size())] = value;
    }
    for (const auto& [key, value] : params.env) env[key] = value;
    for (const auto& [key, value] : env) spec.env.push_back(absl::StrCat(key, "=", value));
    spec.cwd = params.cwd.empty() ? "/" : params.cwd;
    spec.uid = params.uid;
    spec.gid = params.gid;
    spec.tty = params.tty;
    spec.rows = static_cast<uint16_t>(params.rows == 0 ? 24 : params.rows);
    spec.cols = static_cast<uint16_t>(params.cols == 0 ? 80 : params.cols);
    return driver_->Exec(name, spec);
  }
}

}  // namespace berth::core
