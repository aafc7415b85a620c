#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/runtime/runtime_driver.h"

namespace spdlog {
class logger;
}

namespace berth::runtime {

namespace lxc {
class ExitMonitor;
struct CgroupLayout;
class ExitStatusFeed;
}

struct LxcDriverOptions {
  // berth's own lxcpath, e.g. /var/lib/berth/containers. Absolute. Created 0700 when missing.
  std::string lxc_path;
  // The berth-lxc-helper executable (installed under BERTH_LIBEXECDIR).
  std::string helper_path;
  // Where templates live as lxc-<name>. Tests may point it at a directory of their own.
  std::string template_dir = "/usr/share/lxc/templates";
  // The longest a helper run (create from a template, start, destroy) may take before it is
  // killed and the operation fails with DEADLINE_EXCEEDED.
  absl::Duration helper_timeout = absl::Minutes(10);
  // How long the exit monitor waits, after an init exited, for liblxc to report the container
  // STOPPED before it calls the exit handler anyway.
  absl::Duration exit_settle_timeout = absl::Seconds(5);
  // liblxc's run directory ("/run" when running as root), where its monitor FIFO for lxc_path
  // lives; the driver reads container exit codes from it (see lxc/exit_status_feed.h).
  std::string run_dir = "/run";
  // How long the exit handler waits for the exit code after liblxc reported STOPPED. The code is
  // sent before STOPPED, so this only covers the reader thread being a little behind.
  absl::Duration exit_code_timeout = absl::Seconds(1);
};

// RuntimeDriver on liblxc.
//
// Forking liblxc calls (create from a template, daemonized start, destroy) run in
// berth-lxc-helper, spawned per call; the daemon never forks inside liblxc. In process, only
// calls that do not fork: state, init_pid/init_pidfd, config and cgroup reads, stop (kill),
// bounded shutdown, freeze/unfreeze, wait, list. Rename is done by berth itself (rename(2) of the
// container directory and a rewritten config) because liblxc's rename copies the whole rootfs.
//
// berth writes every container's LXC config: after the template ran, the config is rewritten from
// scratch with berth's keys plus an allow-list of the template's (see lxc/lxc_config.h).
//
// Threading: every RuntimeDriver method may be called from any thread, concurrently for
// different containers (the caller serializes operations on one container). Each call opens its
// own lxc_container. One monitor thread, owned by the driver, learns of container exits from
// init pidfds in an epoll loop and calls the exit handler (see SetExitHandler). Nothing the driver
// does ties a container's lifetime to the daemon: containers keep running after the driver is
// destroyed or the process dies, and a later driver adopts them on Inspect.
//
// Exit handler semantics: called on the monitor thread when a watched init exits, once liblxc
// reports the container STOPPED (or after exit_settle_timeout), with the init's exit code as
// liblxc's monitor process reported it on the monitor FIFO (empty when it did not arrive, e.g.
// the monitor process itself was killed, or the FIFO could not be opened). Stop() forgets the watch first, so
// stops made through the driver do not call it; exits from inside the container, kills from
// outside, crashes do. An exit racing with a Stop may still be reported; the handler should treat
// it as "look at this container" and Inspect. A container that rebooted is RUNNING again with a
// new init; Inspect watches it again.
class LxcDriver final : public RuntimeDriver {
 public:
  // Opens berth's lxcpath: makes `lxc_path` (0700) when missing, checks the helper is an
  // executable file and starts the monitor thread. INVALID_ARGUMENT for a relative or odd path,
  // FAILED_PRECONDITION when the helper is missing or not executable, INTERNAL when the directory
  // cannot be made. (Not named Create: that would overload RuntimeDriver::Create(CreateSpec) and
  // make `driver->Create({...})` ambiguous.)
  static absl::StatusOr<std::unique_ptr<LxcDriver>> Open(const LxcDriverOptions& options);

  // The version of the liblxc this binary runs with, e.g. "5.0.2".
  static std::string Version();

  // Stops the monitor thread (waiting for a handler call in progress). Containers keep running.
  // Must not be destroyed from inside the exit handler.
  ~LxcDriver() override;

  LxcDriver(const LxcDriver&) = delete;
  LxcDriver& operator=(const LxcDriver&) = delete;

  // INVALID_ARGUMENT (bad name, unknown template, bad argument), ALREADY_EXISTS, INTERNAL with
  // the template's and liblxc's errors, DEADLINE_EXCEEDED. Nothing is left on disk on failure.
  absl::Status Create(const CreateSpec& spec) override;
  // First rewrites the settings section of the container's LXC config (see lxc_config.h) from
  // `settings`, in the item names of the host's cgroup layout. NOT_FOUND, FAILED_PRECONDITION
  // (not STOPPED; names the state), INVALID_ARGUMENT (a setting it would not write), INTERNAL
  // with the ERROR lines the start wrote to the container's lxc.log. Watches the new init on
  // success.
  using RuntimeDriver::Start;
  absl::Status Start(std::string_view name, const ContainerSettings& settings) override;
  // Writes the changed cgroup files under the container's cgroup directories (found from
  // /proc/<init>/cgroup) directly: no liblxc call, no fork.
  absl::Status ApplyLive(std::string_view name, const ContainerSettings& before,
                         const ContainerSettings& after) override;
  // NOT_FOUND, FAILED_PRECONDITION when STOPPED. A FROZEN container is thawed first. `force`
  // kills at once; otherwise the halt signal, then a kill when `timeout` passes. INTERNAL when it
  // still runs after the kill.
  absl::Status Stop(std::string_view name, absl::Duration timeout, bool force) override;
  // FAILED_PRECONDITION unless RUNNING (Freeze) / FROZEN (Unfreeze).
  absl::Status Freeze(std::string_view name) override;
  absl::Status Unfreeze(std::string_view name) override;
  // NOT_FOUND, ALREADY_EXISTS (new name taken), FAILED_PRECONDITION unless STOPPED.
  absl::Status Rename(std::string_view name, std::string_view new_name) override;
  // NOT_FOUND, FAILED_PRECONDITION unless STOPPED, INTERNAL with liblxc's errors.
  absl::Status Destroy(std::string_view name) override;
  // NOT_FOUND when not defined. For a running or frozen container: init pid, non-loopback
  // addresses (from /proc/<init>/net, no fork), memory (usage, peak, limit), CPU and processes
  // from its cgroup; starts watching
  // its init when not yet watched (this is how a restarted daemon adopts running containers).
  absl::StatusOr<LiveInfo> Inspect(std::string_view name) override;
  absl::StatusOr<LiveInfo> InspectState(std::string_view name) override;
  // Names of the containers defined under lxc_path that are valid berth names (others are
  // logged and left out).
  absl::StatusOr<std::vector<std::string>> ListNames() override;
  void SetExitHandler(ExitHandler handler) override;
  // Spawns `berth-lxc-helper exec` (liblxc attach in the helper) with the process's stdio; does
  // not wait for it. INVALID_ARGUMENT (bad name, argv, env or cwd), INTERNAL when the spawn fails.
  // A container that is missing or not running is reported by the helper, through Wait.
  absl::StatusOr<std::unique_ptr<ExecProcess>> Exec(std::string_view name,
                                                    const ExecSpec& spec) override;
  // <lxc_path>/<name>/rootfs (the directory-backed rootfs berth creates).
  absl::StatusOr<std::string> RootfsPath(std::string_view name) override;
  // Through berth-lxc-helper console (see lxc/helper_protocol.h).
  absl::StatusOr<std::unique_ptr<StdioEndpoint>> AttachConsole(std::string_view name,
                                                              uint16_t rows,
                                                              uint16_t cols) override;
  // From the console log files the monitor writes (lxc.console.logfile and its rotated ".1").
  absl::StatusOr<ConsoleLog> ReadConsoleLog(std::string_view name, size_t max_bytes) override;

  // Snapshots under <lxc_path>/<name>/snapshots/<snapshot>/{rootfs|delta}; copies and restores
  // by lxc/tree_copy.h in the daemon (no liblxc, no fork). Implemented in lxc/snapshots.cc.
  absl::Status CreateSnapshot(std::string_view name, std::string_view snapshot) override;
  absl::Status RestoreSnapshot(std::string_view name, std::string_view snapshot) override;
  absl::Status DeleteSnapshot(std::string_view name, std::string_view snapshot) override;
  absl::Status Copy(std::string_view name, std::string_view new_name) override;

  const LxcDriverOptions& options() const { return options_; }

 private:
  class FreezeGuard;  // lxc/snapshots.cc
  explicit LxcDriver(LxcDriverOptions options);
  void OnInitExit(const std::string& name);
  // Starts watching the init of a running container (no-op when already watched).
  absl::Status EnsureWatched(const std::string& name);

  // Writes `settings` into the container's LXC config (its settings section only).
  absl::Status WriteSettings(const std::string& name, const ContainerSettings& settings);
  // Create for a container from an image: writes its directory, overlay layer and config in the
  // daemon (no liblxc call, nothing that forks).
  absl::Status CreateFromImage(const CreateSpec& spec);

  const LxcDriverOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  // The host's cgroup layout, detected once at Open (it does not change while the host runs).
  std::unique_ptr<const lxc::CgroupLayout> layout_;

  absl::Mutex handler_mu_;
  ExitHandler exit_handler_ ABSL_GUARDED_BY(handler_mu_);  // guarded: set once, read per exit

  // Null when liblxc's monitor FIFO could not be opened (exit codes are then unknown).
  std::unique_ptr<lxc::ExitStatusFeed> exit_codes_;
  std::unique_ptr<lxc::ExitMonitor> monitor_;  // last: its thread uses the members above
};

}  // namespace berth::runtime
