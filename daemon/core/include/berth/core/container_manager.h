#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/core/clock.h"
#include "berth/core/event_bus.h"
#include "berth/core/files.h"
#include "berth/core/keyed_mutex.h"
#include "berth/core/profiles.h"
#include "berth/runtime/runtime_driver.h"
#include "berth/storage/container_store.h"

namespace berth::core {

// A container as the API shows it: the stored definition and, when asked for and available, the
// live state from the runtime.
struct ContainerView {
  storage::ContainerRecord definition;
  std::optional<runtime::LiveInfo> live;
};

struct CreateParams {
  std::string name;
  std::string template_name;
  std::vector<std::string> template_args;
  std::map<std::string, std::string> config;
  std::map<std::string, std::string> labels;
  // Empty: the "default" profile.
  std::vector<std::string> profiles;
  std::map<std::string, storage::Device> devices;
  bool start = false;
  // From an image instead of a template (see ImageManager::WithImage): its fingerprint, shared
  // root filesystem and LXC entries. Empty fingerprint: from the template.
  std::string image_fingerprint = {};
  std::string image_rootfs = {};
  std::vector<std::pair<std::string, std::string>> image_lxc_entries = {};
};

// A change to a profile (ContainerManager::UpdateProfile). Removals apply before additions, so a
// device can be replaced by removing and adding it in one change.
struct ProfileChange {
  std::optional<std::string> description;
  std::map<std::string, std::string> set;
  std::vector<std::string> unset;
  std::map<std::string, storage::Device> add_devices;
  std::vector<std::string> remove_devices;
};

struct ProfileUpdate {
  storage::ProfileRecord profile;
  std::vector<std::string> notices;
};

// The outcome of UpdateConfig: the container as stored now, and notices for the user (e.g. which
// keys take effect only at the next start).
struct ConfigUpdate {
  ContainerView view;
  std::vector<std::string> notices;
};

struct ContainerCounts {
  uint32_t total = 0;
  uint32_t running = 0;
  uint32_t frozen = 0;
  uint32_t stopped = 0;
};

// What to run in a container (berth exec). Validated by ContainerManager::Exec.
struct ExecParams {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // on top of PATH, HOME and (with tty) TERM
  std::string cwd;                         // empty: "/"
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool tty = false;
  uint32_t rows = 24;
  uint32_t cols = 80;
};

inline constexpr absl::Duration kDefaultStopTimeout = absl::Seconds(30);
inline constexpr uint32_t kDefaultConsoleLogBytes = 64 * 1024;
inline constexpr uint32_t kMaxConsoleLogBytes = 1024 * 1024;

// The names of the containers whose console a client holds. Shared with each attachment, which
// removes its name when destroyed, whenever that is.
struct ConsoleRegistry {
  absl::Mutex mu;
  std::set<std::string> attached ABSL_GUARDED_BY(mu);
};

// The domain: every container operation goes through here, the same way each time: validate, take
// the container's lock, write the store, call the driver, publish an event. Policy (what may happen
// in which state) lives here and only here.
//
// Threading: every method blocks (store and driver calls) and is meant to run on an executor
// thread; all are thread-safe. Operations on one container are serialized by `locks_`; reads (Get,
// List) take no lock and may see an operation half-way (its phase tells). An operation, once
// begun, runs to its end whatever happens to the RPC that asked for it.
//
// Crash safety: a multi-step operation first records its intent in the store (phase kCreating,
// kDeleting, kRenaming), then acts, then records the outcome; Reconcile() finishes or undoes what
// a crash interrupted, so the store and the runtime agree again.
//
// Errors: INVALID_ARGUMENT (bad input), NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION (wrong
// state, naming it), ABORTED (revision conflict), INTERNAL (runtime or store failure with its
// reason).
class ContainerManager {
 public:
  ContainerManager(storage::ContainerStore* store, runtime::RuntimeDriver* driver, Clock* clock,
                   EventBus* events);
  ~ContainerManager();
  ContainerManager(const ContainerManager&) = delete;
  ContainerManager& operator=(const ContainerManager&) = delete;

  // Brings the store and the runtime into agreement after a start or a crash; adopts running
  // containers (the driver starts watching them). Call once before serving. Fails only when the
  // store or the runtime cannot be listed; a container it cannot put right is logged and left in
  // its phase for the next start.
  absl::Status Reconcile();

  absl::StatusOr<ContainerView> Create(const CreateParams& params);
  absl::StatusOr<ContainerView> Get(const std::string& name, bool with_live);
  // Ordered by name.
  absl::StatusOr<std::vector<ContainerView>> List(bool with_live);
  // Replaces the labels; expected_revision 0 means "current".
  absl::StatusOr<ContainerView> UpdateLabels(const std::string& name, int64_t expected_revision,
                                             const std::map<std::string, std::string>& labels);
  // Sets and removes config keys (unset wins over set for a key in both), in this order: validate
  // everything (the keys, and the whole new config), apply the live-applicable limits to a running
  // or frozen container, then store with compare-and-swap on the revision (expected_revision 0:
  // current) and publish kConfigChanged with the changed keys in its detail. A value the kernel
  // refuses leaves the definition unchanged; so does a stale revision (ABORTED). Keys that are
  // not live on a running container take effect at its next start and get a notice. Changing
  // nothing is OK (no new revision). INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION (mid
  // operation, or the kernel refused a limit), ABORTED.
  absl::StatusOr<ConfigUpdate> UpdateConfig(const std::string& name, int64_t expected_revision,
                                            const std::map<std::string, std::string>& set,
                                            const std::vector<std::string>& unset);
  absl::StatusOr<ContainerView> Rename(const std::string& name, const std::string& new_name);

  // ---- Profiles and devices (implemented in profile_ops.cc) ----

  // The container's definition with its profiles applied. NOT_FOUND, INVALID_ARGUMENT.
  absl::StatusOr<ExpandedDefinition> GetExpanded(const std::string& name);
  // Replaces the container's list of profiles (each must exist: NOT_FOUND), with the same steps
  // and guarantees as UpdateConfig: the new expanded config is validated, applied live to a
  // running container, then stored with compare-and-swap (ABORTED).
  absl::StatusOr<ConfigUpdate> SetProfiles(const std::string& name, int64_t expected_revision,
                                           const std::vector<std::string>& profiles);
  // Adds devices (ALREADY_EXISTS for a name the container already has) and removes devices
  // (NOT_FOUND for one it does not have; removals first). A running container gets them at its
  // next start (a notice says so). INVALID_ARGUMENT for a bad device, ABORTED.
  absl::StatusOr<ConfigUpdate> UpdateDevices(const std::string& name, int64_t expected_revision,
                                             const std::map<std::string, storage::Device>& add,
                                             const std::vector<std::string>& remove);
  absl::StatusOr<storage::ProfileRecord> CreateProfile(const std::string& name,
                                                       const std::string& description,
                                                       const std::map<std::string, std::string>& config,
                                                       const std::map<std::string, storage::Device>& devices);
  absl::StatusOr<storage::ProfileRecord> GetProfile(const std::string& name);
  absl::StatusOr<std::vector<storage::ProfileRecord>> ListProfiles();
  // The containers that use the profile, by name.
  absl::StatusOr<std::vector<std::string>> ProfileUsers(const std::string& name);
  // Changes a profile and every container using it: the new expanded config of each must pass;
  // running ones get the live keys at once (a value the kernel refuses for any of them changes
  // nothing, FAILED_PRECONDITION), the rest at their next start (notices name them). Then stored
  // with compare-and-swap (ABORTED).
  absl::StatusOr<ProfileUpdate> UpdateProfile(const std::string& name, int64_t expected_revision,
                                              const ProfileChange& change);
  // FAILED_PRECONDITION for "default" or a profile in use (naming the containers).
  absl::Status DeleteProfile(const std::string& name, int64_t expected_revision);
  absl::Status Delete(const std::string& name, bool force);

  absl::StatusOr<ContainerView> Start(const std::string& name);
  absl::StatusOr<ContainerView> Stop(const std::string& name, absl::Duration timeout, bool force);
  absl::StatusOr<ContainerView> Restart(const std::string& name, absl::Duration timeout,
                                        bool force);
  absl::StatusOr<ContainerView> Freeze(const std::string& name);
  absl::StatusOr<ContainerView> Unfreeze(const std::string& name);

  absl::StatusOr<ContainerCounts> Counts();

  // Starts a process in a running container and hands it over (the caller pumps its fds and
  // waits for it; see runtime::ExecProcess). Does not hold the container's lock while the process
  // runs. INVALID_ARGUMENT (empty or oversized argv, bad env name, relative cwd, NUL bytes, ids or
  // window size out of range), NOT_FOUND, FAILED_PRECONDITION (not RUNNING, or mid-operation),
  // INTERNAL (the runtime could not spawn). Implemented in exec.cc.
  absl::StatusOr<std::unique_ptr<runtime::ExecProcess>> Exec(const std::string& name,
                                                             const ExecParams& params);

  // Attaches to the console of a running container and hands it over (the caller pumps it; see
  // runtime::StdioEndpoint; destroying it detaches). One client per console: a second attach
  // while the first is held is FAILED_PRECONDITION. rows/cols 0 mean 24x80. INVALID_ARGUMENT
  // (bad name, size above 65535), NOT_FOUND, FAILED_PRECONDITION (not RUNNING, mid-operation,
  // console in use), INTERNAL. Implemented in console.cc.
  absl::StatusOr<std::unique_ptr<runtime::StdioEndpoint>> AttachConsole(const std::string& name,
                                                                        uint32_t rows,
                                                                        uint32_t cols);
  // The last (at most) `max_bytes` (0: kDefaultConsoleLogBytes) of what the container's console
  // printed, running or stopped. INVALID_ARGUMENT (bad name, max_bytes above
  // kMaxConsoleLogBytes), NOT_FOUND, FAILED_PRECONDITION (missing from the runtime), INTERNAL.
  absl::StatusOr<runtime::ConsoleLog> ReadConsoleLog(const std::string& name, uint32_t max_bytes);

  // A directory fd (O_PATH) of the container's root for berth file push/pull (see files.h): a
  // running or frozen container's is its init's /proc/<pid>/root (its own mount namespace view),
  // a stopped one's the runtime's rootfs directory. NOT_FOUND, INVALID_ARGUMENT (bad name),
  // FAILED_PRECONDITION (starting/stopping, or no rootfs), UNAVAILABLE (changed state meanwhile).
  // Implemented in files.cc.
  absl::StatusOr<FileFd> OpenRoot(const std::string& name);

  // Snapshots and copies (implemented in snapshots.cc). A snapshot saves the container's files
  // (see RuntimeDriver::CreateSnapshot) and its config and labels, which Restore puts back.
  //
  // Takes snapshot `snapshot` of a running (frozen for the copy), frozen or stopped container.
  // INVALID_ARGUMENT (bad names), NOT_FOUND, ALREADY_EXISTS (the container has a snapshot of that
  // name), FAILED_PRECONDITION (mid-operation, not enough space), RESOURCE_EXHAUSTED, INTERNAL.
  absl::StatusOr<storage::SnapshotRecord> CreateSnapshot(const std::string& name,
                                                         const std::string& snapshot);
  // Oldest first. INVALID_ARGUMENT, NOT_FOUND (no such container).
  absl::StatusOr<std::vector<storage::SnapshotRecord>> ListSnapshots(const std::string& name);
  // Puts the container's files, config and labels back as the snapshot has them. A running or
  // frozen container is refused (FAILED_PRECONDITION naming --restart) unless `restart`: then it
  // is stopped (cleanly, kDefaultStopTimeout), restored and started again. NOT_FOUND (container
  // or snapshot), INVALID_ARGUMENT, INTERNAL.
  absl::StatusOr<ContainerView> RestoreSnapshot(const std::string& name,
                                                const std::string& snapshot, bool restart);
  // NOT_FOUND (container or snapshot), INVALID_ARGUMENT, INTERNAL.
  absl::Status DeleteSnapshot(const std::string& name, const std::string& snapshot);
  // Makes container `new_name` from `name`: a copy of its files (not its snapshots), its config
  // and labels; the copy is stopped. A running source is frozen while its files are copied.
  // INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS (new_name taken), FAILED_PRECONDITION,
  // RESOURCE_EXHAUSTED, INTERNAL. Nothing of new_name is left on failure.
  absl::StatusOr<ContainerView> Copy(const std::string& name, const std::string& new_name);

  // Calls `done` exactly once: OK when the container is (or gets) into `state` (kStopped also
  // covers an init that exited), NOT_FOUND when it does not exist or is deleted, or the status
  // given to CancelWait. `done` may run on the calling thread (already there), on an executor
  // thread or on the driver's exit thread: it must not block. Returns an id for CancelWait.
  uint64_t Wait(const std::string& name, runtime::LiveState state,
                absl::AnyInvocable<void(absl::Status) &&> done);
  // Completes the wait with `why` unless it already completed.
  void CancelWait(uint64_t wait_id, absl::Status why);

  // The driver's exit handler: the container's init is gone, with `exit_code` when the runtime
  // reported it. Publishes kExited (the Supervisor applies the restart policy from there). Does
  // not block: it runs on the driver's exit-monitor thread.
  void OnContainerExit(const std::string& name, std::optional<int> exit_code);

  // The bus this manager publishes on (for the Events API).
  EventBus* events() const { return events_; }

 private:
  struct Waiter {
    std::string name;
    runtime::LiveState state;
    absl::AnyInvocable<void(absl::Status) &&> done;
  };

  absl::StatusOr<storage::ContainerRecord> GetReady(const std::string& name);
  // The shape of every state change: take the container's lock, read its live state, and let
  // `change` refuse a wrong state or act (driver call, event, log line); then the new view.
  absl::StatusOr<ContainerView> ChangeState(
      const std::string& name, absl::FunctionRef<absl::Status(runtime::LiveState)> change);
  absl::StatusOr<runtime::LiveInfo> InspectForOperation(const std::string& name);
  // Starts the container with the settings its stored config gives (driver Start). The caller
  // holds the container's lock.
  absl::Status StartWithConfig(const std::string& name);
  ContainerView ViewOf(storage::ContainerRecord record, bool with_live);
  // Moves a running container from the `before` to the `after` expanded definition: applies the
  // live keys (on failure the driver has put its cgroup files back) and adds a notice for what
  // waits for the next start. The caller holds the container's lock.
  absl::Status ApplyExpanded(const std::string& name, const ExpandedDefinition& before,
                             const ExpandedDefinition& after, std::vector<std::string>* notices);
  // Puts a running container back from `after` to `before` (after a later step failed).
  void RevertExpanded(const std::string& name, const ExpandedDefinition& before,
                      const ExpandedDefinition& after);
  // Stores a new definition of a ready container (`updated`, from `record`) the UpdateConfig way:
  // validate the expanded result, apply it live, store with compare-and-swap, publish
  // kConfigChanged with `what` as its detail. The caller holds the lock.
  absl::StatusOr<ConfigUpdate> StoreDefinition(const storage::ContainerRecord& record,
                                               storage::ContainerRecord updated,
                                               const std::string& what);
  void Publish(EventType type, const std::string& name, std::optional<runtime::LiveState> state,
               std::string detail = {});
  // A kOperation event: a step of a long operation, detail "<operation>: <step>", e.g.
  // "create: done", so a monitor shows progress before the operation's outcome.
  void PublishStep(const std::string& name, absl::string_view operation, absl::string_view step);
  void OnEvent(const Event& event);
  absl::Status FinishInterrupted(const storage::ContainerRecord& record);

  storage::ContainerStore* const store_;
  runtime::RuntimeDriver* const driver_;
  Clock* const clock_;
  EventBus* const events_;
  KeyedMutex locks_;
  uint64_t subscription_ = 0;
  const std::shared_ptr<ConsoleRegistry> consoles_ = std::make_shared<ConsoleRegistry>();

  absl::Mutex waiters_mu_;
  uint64_t next_wait_id_ ABSL_GUARDED_BY(waiters_mu_) = 1;
  std::map<uint64_t, Waiter> waiters_ ABSL_GUARDED_BY(waiters_mu_);  // Not yet completed waits.
};

}  // namespace berth::core
