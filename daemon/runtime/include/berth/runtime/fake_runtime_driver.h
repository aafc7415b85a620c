#pragma once

#include <sys/types.h>

#include <array>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/runtime/runtime_driver.h"

namespace berth::runtime {

// An in-memory RuntimeDriver for core unit tests and gRPC integration tests. A real class with
// LxcDriver's semantics and codes (same name, template-name and template-argument rules; wrong
// state is FAILED_PRECONDITION naming the state; ALREADY_EXISTS; NOT_FOUND), plus hooks to make
// calls fail, block, or a container exit on its own.
//
// Thread-safe: every method may be called from any thread; one mutex guards all state. The exit
// handler runs on the thread that calls SimulateExit, without the lock held. Like LxcDriver, Stop
// does not call the exit handler.
class FakeRuntimeDriver final : public RuntimeDriver {
 public:
  enum class Op {
    kCreate,
    kStart,
    kStop,
    kFreeze,
    kUnfreeze,
    kRename,
    kDestroy,
    kInspect,
    kListNames,
    kApplyLive,
    kSnapshot,  // CreateSnapshot, RestoreSnapshot and DeleteSnapshot
    kCopy,
  };
  static constexpr size_t kOpCount = 12;
  static std::string_view OpName(Op op);  // "Create", "Start", ...

  // Known templates: {"busybox"}.
  FakeRuntimeDriver();
  ~FakeRuntimeDriver() override;

  absl::Status Create(const CreateSpec& spec) override;
  using RuntimeDriver::Start;
  // Records `settings` (see SettingsOf).
  absl::Status Start(std::string_view name, const ContainerSettings& settings) override;
  // Records `after` as the container's settings; FAILED_PRECONDITION unless RUNNING or FROZEN,
  // INVALID_ARGUMENT for a raw LXC line the real driver would refuse.
  absl::Status ApplyLive(std::string_view name, const ContainerSettings& before,
                         const ContainerSettings& after) override;
  absl::Status Stop(std::string_view name, absl::Duration timeout, bool force) override;
  absl::Status Freeze(std::string_view name) override;
  absl::Status Unfreeze(std::string_view name) override;
  absl::Status Rename(std::string_view name, std::string_view new_name) override;
  absl::Status Destroy(std::string_view name) override;
  absl::StatusOr<LiveInfo> Inspect(std::string_view name) override;
  absl::StatusOr<std::vector<std::string>> ListNames() override;  // sorted
  void SetExitHandler(ExitHandler handler) override;
  // Runs the command as a real process on the host (through /bin/sh, so a missing command exits
  // 127), in spec.cwd with spec.env; uid/gid are recorded, not applied. NOT_FOUND,
  // FAILED_PRECONDITION unless RUNNING.
  absl::StatusOr<std::unique_ptr<ExecProcess>> Exec(std::string_view name,
                                                    const ExecSpec& spec) override;
  // UNIMPLEMENTED: the fake has no root filesystems.
  absl::StatusOr<std::string> RootfsPath(std::string_view name) override;
  // Snapshots are names only (no files); a copy is a stopped container with the source's spec
  // and no snapshots. Codes as LxcDriver's: NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION
  // (restore unless STOPPED), INVALID_ARGUMENT.
  absl::Status CreateSnapshot(std::string_view name, std::string_view snapshot) override;
  absl::Status RestoreSnapshot(std::string_view name, std::string_view snapshot) override;
  absl::Status DeleteSnapshot(std::string_view name, std::string_view snapshot) override;
  absl::Status Copy(std::string_view name, std::string_view new_name) override;
  // The snapshot names of a container (empty when it does not exist) and how many restores it had.
  std::set<std::string> SnapshotsOf(std::string_view name) const;
  int RestoresOf(std::string_view name) const;
  // The fake's console is a real /bin/sh on a pseudo-terminal on the host (a new one per
  // attach); it ends when the shell exits. NOT_FOUND, FAILED_PRECONDITION unless RUNNING.
  absl::StatusOr<std::unique_ptr<StdioEndpoint>> AttachConsole(std::string_view name,
                                                              uint16_t rows,
                                                              uint16_t cols) override;
  // The tail of what SetConsoleLog set (empty by default). NOT_FOUND.
  absl::StatusOr<ConsoleLog> ReadConsoleLog(std::string_view name, size_t max_bytes) override;

  // --- Test hooks ---

  // The spec of the last Exec call that started a process, nullopt before the first.
  std::optional<ExecSpec> LastExecSpec() const;

  // Sets the console log of a container. NOT_FOUND.
  absl::Status SetConsoleLog(std::string_view name, std::string text);

  // The next call of `op` returns `status` (non-OK) and changes nothing. Calls queue up: N
  // FailNext calls fail the next N calls of that op, in order. Checked before argument
  // validation and state checks.
  void FailNext(Op op, absl::Status status);

  // The container's init exits on its own: RUNNING/FROZEN -> STOPPED, then the exit handler is
  // called with its name and `exit_code` (on this thread). NOT_FOUND, FAILED_PRECONDITION when not
  // running.
  absl::Status SimulateExit(std::string_view name, std::optional<int> exit_code = std::nullopt);

  // Sets the init pid Inspect reports for a running or frozen container (Start assigns one from
  // 1000 up). NOT_FOUND, FAILED_PRECONDITION when stopped.
  absl::Status SetInitPid(std::string_view name, pid_t pid);

  // Sets what Inspect reports besides state and pid. NOT_FOUND.
  absl::Status SetLiveDetails(std::string_view name, std::vector<std::string> ipv4,
                              std::vector<std::string> ipv6, uint64_t memory_bytes,
                              uint64_t cpu_ns);

  // Adds a container as if it had been made outside this driver (e.g. before a daemon restart),
  // in any state. ALREADY_EXISTS, INVALID_ARGUMENT for a bad name.
  absl::Status AddContainer(std::string_view name, LiveState state = LiveState::kStopped);

  // Replaces the set of template names Create accepts.
  void SetKnownTemplates(std::vector<std::string> names);

  // Calls of `op` block (after being counted, before anything else) until ReleaseOp(op).
  void HoldOp(Op op);
  void ReleaseOp(Op op);
  // True once at least one call of `op` is blocked by HoldOp, false after `timeout`.
  bool AwaitHeld(Op op, absl::Duration timeout);

  // How many times `op` was called (failed, refused and held calls included).
  int CallCount(Op op) const;
  // The state of a container, nullopt when it does not exist.
  std::optional<LiveState> StateOf(std::string_view name) const;
  // The spec a container was created with, nullopt when it does not exist or was added.
  std::optional<CreateSpec> SpecOf(std::string_view name) const;
  // The settings of the container's last Start or ApplyLive; nullopt when it does not exist.
  std::optional<ContainerSettings> SettingsOf(std::string_view name) const;
  // The arguments of the last Stop call, nullopt before the first.
  std::optional<std::pair<absl::Duration, bool>> LastStopArgs() const;

 private:
  struct Container {
    LiveState state = LiveState::kStopped;
    pid_t init_pid = 0;
    std::optional<CreateSpec> spec;
    std::vector<std::string> ipv4;
    std::vector<std::string> ipv6;
    uint64_t memory_bytes = 0;
    uint64_t cpu_ns = 0;
    ContainerSettings settings;
    std::string console_log;
    std::set<std::string> snapshots;
    int restores = 0;
  };

  // Counts the call, waits while `op` is held, and returns an injected failure if one is queued.
  absl::Status Enter(Op op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Container*> Find(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  // All guarded by mu_: the containers by name, the hooks' state and the counters.
  std::map<std::string, Container, std::less<>> containers_ ABSL_GUARDED_BY(mu_);
  std::set<std::string, std::less<>> templates_ ABSL_GUARDED_BY(mu_);
  std::array<std::deque<absl::Status>, kOpCount> failures_ ABSL_GUARDED_BY(mu_);
  std::array<int, kOpCount> calls_ ABSL_GUARDED_BY(mu_) = {};
  std::array<bool, kOpCount> held_ ABSL_GUARDED_BY(mu_) = {};
  std::array<int, kOpCount> waiting_ ABSL_GUARDED_BY(mu_) = {};  // calls blocked by a hold
  std::optional<std::pair<absl::Duration, bool>> last_stop_ ABSL_GUARDED_BY(mu_);
  pid_t next_pid_ ABSL_GUARDED_BY(mu_) = 1000;
  std::optional<ExecSpec> last_exec_ ABSL_GUARDED_BY(mu_);
  ExitHandler exit_handler_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::runtime
