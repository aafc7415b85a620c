#include "lxc/helper_protocol.h"

namespace berth::runtime::lxc {
namespace {

constexpr int kMaxStatusCode = static_cast<int>(absl::StatusCode::kUnauthenticated);  // 16

}  // namespace

std::string_view HelperOpName(HelperOp op) {
  switch (op) {
    case HelperOp::kCreate:
      return "create";
    case HelperOp::kStart:
      return "start";
    case HelperOp::kDestroy:
      return "destroy";
    case HelperOp::kExec:
      return "exec";
    case HelperOp::kConsole:
      return "console";
  }
  return "unknown";
}

std::optional<HelperOp> ParseHelperOp(std::string_view name) {
  for (HelperOp op : {HelperOp::kCreate, HelperOp::kStart, HelperOp::kDestroy, HelperOp::kExec,
                      HelperOp::kConsole}) {
    if (HelperOpName(op) == name) return op;
  }
  return std::nullopt;
}

int HelperExitCode(absl::StatusCode code) {
  const int value = static_cast<int>(code);
  if (value == 0) return 0;
  if (value < 1 || value > kMaxStatusCode) {
    return kHelperExitBase + static_cast<int>(absl::StatusCode::kUnknown);
  }
  return kHelperExitBase + value;
}

std::optional<absl::StatusCode> StatusCodeFromHelperExit(int exit_code) {
  if (exit_code == 0) return absl::StatusCode::kOk;
  const int value = exit_code - kHelperExitBase;
  if (value < 1 || value > kMaxStatusCode) return std::nullopt;
  return static_cast<absl::StatusCode>(value);
}

}  // namespace berth::runtime::lxc
