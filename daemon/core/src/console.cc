// ContainerManager::AttachConsole and ReadConsoleLog: policy for a container's console.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "berth/core/container_manager.h"
#include "berth/core/validation.h"

namespace berth::core {
namespace {

std::string Q(const std::string& name) { return absl::StrCat("\"", name, "\""); }

// The runtime's console plus the registration that keeps a second client out, released with it.
class RegisteredConsole final : public runtime::StdioEndpoint {
 public:
  RegisteredConsole(std::unique_ptr<runtime::StdioEndpoint> inner,
                    std::shared_ptr<ConsoleRegistry> registry, std::string name)
      : inner_(std::move(inner)), registry_(std::move(registry)), name_(std::move(name)) {}
  ~RegisteredConsole() override {
    inner_.reset();  // detach first: the next client may attach once the name is free
    absl::MutexLock lock(&registry_->mu);
    registry_->attached.erase(name_);
  }

  bool tty() const override { return inner_->tty(); }
  int stdin_fd() const override { return inner_->stdin_fd(); }
  int stdout_fd() const override { return inner_->stdout_fd(); }
  int stderr_fd() const override { return inner_->stderr_fd(); }
  void CloseOutput(int fd) override { inner_->CloseOutput(fd); }
  void CloseStdin() override { inner_->CloseStdin(); }
  int exit_fd() const override { return inner_->exit_fd(); }
  absl::Status Resize(uint16_t rows, uint16_t cols) override { return inner_->Resize(rows, cols); }

 private:
  std::unique_ptr<runtime::StdioEndpoint> inner_;
  const std::shared_ptr<ConsoleRegistry> registry_;
  const std::string name_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<runtime::StdioEndpoint>> ContainerManager::AttachConsole(
    const std::string& name, uint32_t rows, uint32_t cols) {
  if (auto s = ValidateContainerName(name); !s.ok()) return s;
  if (rows > UINT16_MAX || cols > UINT16_MAX) {
    return absl::InvalidArgumentError("window size must be below 65536 rows and columns");
  }
  // The state check and the attach under the container's lock, so a stop or delete in progress
  // is not raced; the session then runs without it.
  auto guard = locks_.Lock(name);
  auto record = GetReady(name);
  if (!record.ok()) return record.status();
  auto live = InspectForOperation(name);
  if (!live.ok()) return live.status();
  if (live->state == runtime::LiveState::kFrozen) {
    return absl::FailedPreconditionError(
        absl::StrCat("container ", Q(name), " is FROZEN; resume it with berth resume ", name));
  }
  if (live->state != runtime::LiveState::kRunning) {
    return absl::FailedPreconditionError(absl::StrCat(
        "container ", Q(name), " is ", std::string(runtime::LiveStateName(live->state)),
        "; start it with berth start ", name));
  }
  {
    absl::MutexLock lock(&consoles_->mu);
    // liblxc lends the console to one client at a time; say so before it would refuse.
    if (!consoles_->attached.insert(name).second) {
      return absl::FailedPreconditionError(
          absl::StrCat("the console of ", Q(name),
                       " is in use by another berth console session; one client at a time "
                       "(detach that one with Ctrl-a q)"));
    }
  }
  auto console = driver_->AttachConsole(name, static_cast<uint16_t>(rows == 0 ? 24 : rows),
                                        static_cast<uint16_t>(cols == 0 ? 80 : cols));
  if (!console.ok()) {
    absl::MutexLock lock(&consoles_->mu);
    consoles_->attached.erase(name);
    return console.status();
  }
  return std::unique_ptr<runtime::StdioEndpoint>(
      std::make_unique<RegisteredConsole>(*std::move(console), consoles_, name));
}

absl::StatusOr<runtime::ConsoleLog> ContainerManager::ReadConsoleLog(const std::string& name,
                                                                     uint32_t max_bytes) {
  if (auto s = ValidateContainerName(name); !s.ok()) return s;
  if (max_bytes > kMaxConsoleLogBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("at most ", kMaxConsoleLogBytes, " bytes of console log can be read at once"));
  }
  // Any phase: the log of a container being deleted or renamed is still worth reading.
  auto record = store_->Get(name);
  if (!record.ok()) return record.status();
  auto log = driver_->ReadConsoleLog(name, max_bytes == 0 ? kDefaultConsoleLogBytes : max_bytes);
  if (absl::IsNotFound(log.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("container ", Q(name),
                     " is defined in berth but missing from the runtime's container directory"));
  }
  return log;
}

}  // namespace berth::core
