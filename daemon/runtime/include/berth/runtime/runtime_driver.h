#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "berth/runtime/container_settings.h"
#include "berth/runtime/exec_process.h"
#include "berth/runtime/stdio_endpoint.h"

namespace berth::runtime {

// The states liblxc reports, one to one.
enum class LiveState {
  kStopped,
  kStarting,
  kRunning,
  kStopping,
  kAborting,
  kFreezing,
  kFrozen,
  kThawed,
};

std::string_view LiveStateName(LiveState state);  // "STOPPED", "RUNNING", ...

struct LiveInfo {
  LiveState state = LiveState::kStopped;
  pid_t init_pid = 0;  // 0 unless running or frozen.
  std::vector<std::string> ipv4;
  std::vector<std::string> ipv6;
  uint64_t memory_bytes = 0;        // 0 when unknown.
  uint64_t cpu_ns = 0;              // 0 when unknown.
  uint64_t memory_peak_bytes = 0;   // Highest memory use seen; 0 when unknown.
  uint64_t memory_limit_bytes = 0;  // 0 when unlimited or unknown.
  uint64_t processes = 0;           // Tasks in the container's cgroup; 0 when unknown.
};

// What to create. Every string has been validated by the core before it gets here; the driver
// validates again anything it writes into an LXC config and refuses (INVALID_ARGUMENT) what it
// would not write verbatim.
struct CreateSpec {
  std::string name;
  std::string template_name;  // e.g. "busybox"; empty when the container comes from an image
  std::vector<std::string> template_args;
  // Set instead of a template: the absolute path of an image's shared, read-only root
  // filesystem. The container gets an overlayfs root over it (lxc.rootfs.path =
  // overlay:<image_rootfs>:<lxcpath>/<name>/delta, the writable layer), made without running a
  // template or copying anything, so creating costs the same for any image size.
  std::string image_rootfs = {};
  // LXC entries the image asks for (only keys a template may set are accepted).
  std::vector<std::pair<std::string, std::string>> image_entries = {};
};

// The tail of a container's console log.
struct ConsoleLog {
  std::string data;        // the last bytes the console printed (empty: none yet)
  bool truncated = false;  // older output exists beyond `data`
};

// Called from the driver's own exit-monitor thread when a container's init exits. `exit_code` is
// the init's exit status (0-255, or 128+N when signal N killed it) when the runtime reported one,
// and empty when it could not be learned: it is never guessed.
using ExitHandler =
    std::function<void(const std::string& name, std::optional<int> exit_code)>;

// Drives the container runtime. Implementations: LxcDriver (liblxc, the daemon's) and
// FakeRuntimeDriver (unit and integration tests).
//
// Thread-safety: methods may be called from any executor thread, concurrently for different
// containers. The caller (the core) serializes operations on one container; the driver does not.
// Every method may block (liblxc, child processes). Errors: INVALID_ARGUMENT, NOT_FOUND (no such
// container in the runtime), FAILED_PRECONDITION (wrong state), INTERNAL with the LXC log's ERROR
// lines in the message, DEADLINE_EXCEEDED where a timeout is given.
class RuntimeDriver {
 public:
  virtual ~RuntimeDriver() = default;

  // Creates the container's root filesystem and config. On failure nothing is left on disk.
  virtual absl::Status Create(const CreateSpec& spec) = 0;

  // Starts the container daemonized with `settings` (limits, init environment, raw LXC lines:
  // the whole of them, replacing what an earlier start had); returns once liblxc reports it
  // RUNNING. INVALID_ARGUMENT when a setting is not one the driver would write.
  virtual absl::Status Start(std::string_view name, const ContainerSettings& settings) = 0;
  // Start with no settings (no limits, no extra environment).
  absl::Status Start(std::string_view name) { return Start(name, ContainerSettings{}); }

  // Changes the limits of a running or frozen container from `before` to `after` at once, by
  // writing its cgroup files (only those whose value differs). The environment and raw LXC lines
  // are not live: they take effect at the next Start. When the kernel refuses a value, the files
  // already written are put back to `before` and the error names the item and the kernel's
  // reason (FAILED_PRECONDITION). NOT_FOUND, FAILED_PRECONDITION when not running,
  // INVALID_ARGUMENT for a setting the driver would not write.
  virtual absl::Status ApplyLive(std::string_view name, const ContainerSettings& before,
                                 const ContainerSettings& after) = 0;

  // Clean shutdown within `timeout`, then kill. `force` kills at once.
  virtual absl::Status Stop(std::string_view name, absl::Duration timeout, bool force) = 0;

  virtual absl::Status Freeze(std::string_view name) = 0;
  virtual absl::Status Unfreeze(std::string_view name) = 0;

  // Renames a stopped container (directory and config).
  virtual absl::Status Rename(std::string_view name, std::string_view new_name) = 0;

  // Removes a stopped container and everything of it on disk, including the remains of a
  // creation that never finished (a directory without a config). NOT_FOUND when neither exists.
  virtual absl::Status Destroy(std::string_view name) = 0;

  // Live state. NOT_FOUND when the runtime has no such container.
  virtual absl::StatusOr<LiveInfo> Inspect(std::string_view name) = 0;

  // Inspect's state and init_pid only, the other fields left empty: for the paths that only
  // check that a container runs (exec, file transfers), where the addresses and usage figures
  // Inspect also reads cost several liblxc monitor round trips per call. Codes as Inspect. By
  // default it is Inspect.
  virtual absl::StatusOr<LiveInfo> InspectState(std::string_view name) { return Inspect(name); }

  // The names of every container the runtime has under berth's lxcpath.
  virtual absl::StatusOr<std::vector<std::string>> ListNames() = 0;

  // Registers the one handler told about container exits (set once, before containers start).
  // After Start or Inspect of a running container, the driver watches its init and calls the
  // handler when it exits.
  virtual void SetExitHandler(ExitHandler handler) = 0;

  // Starts `spec` inside the running container `name` and returns at once with the process's
  // fds (see ExecProcess: the caller owns it and pumps its fds from any one thread at a time).
  // Never forks the daemon inside liblxc: LxcDriver spawns berth-lxc-helper exec, which attaches.
  // The exit (including "command not found" = 127) comes from ExecProcess::Wait. Errors here:
  // INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION (not running), INTERNAL (spawn failed).
  virtual absl::StatusOr<std::unique_ptr<ExecProcess>> Exec(std::string_view name,
                                                            const ExecSpec& spec) = 0;

  // Attaches to the console (/dev/console) of the running container `name`, sized rows x cols,
  // and returns at once with the endpoint to pump (a terminal; exit_fd() is readable when the
  // console goes away, i.e. the container stops). Destroying it detaches. Never in the daemon's
  // process: LxcDriver gets the console from liblxc in berth-lxc-helper. Errors: INVALID_ARGUMENT,
  // NOT_FOUND, FAILED_PRECONDITION (not running, or liblxc refused: e.g. another client holds
  // the console), INTERNAL.
  virtual absl::StatusOr<std::unique_ptr<StdioEndpoint>> AttachConsole(std::string_view name,
                                                                      uint16_t rows,
                                                                      uint16_t cols) = 0;

  // The last (at most) `max_bytes` the console of `name` printed since it was created, running
  // or stopped; reads at most `max_bytes` from disk. Empty when it never printed. Errors:
  // INVALID_ARGUMENT, NOT_FOUND (no such container), INTERNAL (the log cannot be read).
  virtual absl::StatusOr<ConsoleLog> ReadConsoleLog(std::string_view name, size_t max_bytes) = 0;

  // The host path of the container's root filesystem directory as it is when the container is
  // stopped (berth file push/pull on a stopped container open it as the root to resolve in; a
  // running one is reached through /proc/<init_pid>/root instead). Does not check that it exists.
  // Errors: INVALID_ARGUMENT (bad name), UNIMPLEMENTED (a runtime without one, e.g. the fake).
  virtual absl::StatusOr<std::string> RootfsPath(std::string_view name) = 0;

  // Snapshots and copies of a container's files. A snapshot holds what the container's rootfs
  // holds of its own: the whole directory for a directory rootfs, only the upper "delta" layer
  // for an overlay rootfs (the lower layer is a shared, read-only image). Each checks the free
  // space first and leaves nothing behind on failure. Defaults: UNIMPLEMENTED (a runtime without
  // files, e.g. the fake).
  //
  // Copies the container's files into snapshot `snapshot`. A running container is frozen for
  // the copy and thawed after it, so the snapshot is consistent. NOT_FOUND, ALREADY_EXISTS,
  // FAILED_PRECONDITION (not enough space; an unsupported rootfs), RESOURCE_EXHAUSTED (the disk
  // filled up meanwhile), INTERNAL.
  virtual absl::Status CreateSnapshot(std::string_view name, std::string_view snapshot);
  // Replaces the stopped container's files by the snapshot's. NOT_FOUND (container or snapshot),
  // FAILED_PRECONDITION (not STOPPED; not enough space), INTERNAL. The container's files are
  // unchanged on failure.
  virtual absl::Status RestoreSnapshot(std::string_view name, std::string_view snapshot);
  // NOT_FOUND (container or snapshot), INTERNAL.
  virtual absl::Status DeleteSnapshot(std::string_view name, std::string_view snapshot);
  // Makes container `new_name` with a copy of `name`'s files (its snapshots are not copied) and
  // the same LXC config but for its own paths; an overlay copy keeps the same lower layer. A
  // running source is frozen for the copy. NOT_FOUND, ALREADY_EXISTS (new_name taken),
  // FAILED_PRECONDITION, RESOURCE_EXHAUSTED, INTERNAL.
  virtual absl::Status Copy(std::string_view name, std::string_view new_name);
};

}  // namespace berth::runtime
