#include "berth/core/container_manager.h"
#include "berth/core/image_manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "berth/core/config_schema.h"
#include "berth/core/logging.h"
#include "berth/core/validation.h"
#include "spdlog/spdlog.h"

namespace berth::core {
namespace {

using runtime::LiveInfo;
using runtime::LiveState;
using runtime::LiveStateName;
using storage::ContainerRecord;
using storage::Phase;

std::string Q(absl::string_view name) { return absl::StrCat("\"", name, "\""); }

absl::Status WrongState(const std::string& name, LiveState state, absl::string_view advice) {
  return absl::FailedPreconditionError(
      absl::StrCat("container ", Q(name), " is ", std::string(LiveStateName(state)), "; ", advice));
}

// Keeps the code of `status` and puts `context` before its message.
absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

bool IsRunningLike(LiveState s) {
  return s == LiveState::kRunning || s == LiveState::kStarting || s == LiveState::kFrozen ||
         s == LiveState::kFreezing || s == LiveState::kThawed;
}

std::shared_ptr<spdlog::logger> Log() { return NamedLogger("core"); }

}  // namespace

ContainerManager::ContainerManager(storage::ContainerStore* store, runtime::RuntimeDriver* driver,
                                   Clock* clock, EventBus* events)
    : store_(store), driver_(driver), clock_(clock), events_(events) {
  subscription_ = events_->Subscribe([this](const Event& e) { OnEvent(e); });
}

ContainerManager::~ContainerManager() {
  events_->Unsubscribe(subscription_);
  std::map<uint64_t, Waiter> waiters;
  {
    absl::MutexLock lock(&waiters_mu_);
    waiters.swap(waiters_);
  }
  for (auto& [id, w] : waiters) std::move(w.done)(absl::UnavailableError("berthd is stopping"));
}

void ContainerManager::Publish(EventType type, const std::string& name,
                               std::optional<LiveState> state, std::string detail) {
  Event e;
  e.type = type;
  e.container = name;
  e.state = state;
  e.detail = std::move(detail);
  events_->Publish(std::move(e));
}

void ContainerManager::PublishStep(const std::string& name, absl::string_view operation,
                                   absl::string_view step) {
  Publish(EventType::kOperation, name, std::nullopt, absl::StrCat(operation, ": ", step));
}

ContainerView ContainerManager::ViewOf(ContainerRecord record, bool with_live) {
  ContainerView view{std::move(record), std::nullopt};
  if (with_live && view.definition.phase != Phase::kCreating) {
    auto live = driver_->Inspect(view.definition.name);
    if (live.ok()) {
      view.live = *std::move(live);
    } else if (!absl::IsNotFound(live.status())) {
      Log()->warn("Cannot read the state of \"{}\": {}", view.definition.name,
                  std::string(live.status().message()));
    }
  }
  return view;
}

absl::StatusOr<ContainerRecord> ContainerManager::GetReady(const std::string& name) {
  if (auto s = ValidateContainerName(name); !s.ok()) return s;
  auto record = store_->Get(name);
  if (!record.ok()) return record.status();
  switch (record->phase) {
    case Phase::kReady:
      return record;
    case Phase::kCreating:
      return absl::FailedPreconditionError(
          absl::StrCat("container ", Q(name), " is still being created; retry when it is done"));
    case Phase::kDeleting:
      return absl::FailedPreconditionError(
          absl::StrCat("container ", Q(name), " is being deleted"));
    case Phase::kRenaming:
      return absl::FailedPreconditionError(
          absl::StrCat("container ", Q(name), " is being renamed; retry when it is done"));
  }
  return absl::InternalError("unknown phase");
}

absl::StatusOr<LiveInfo> ContainerManager::InspectForOperation(const std::string& name) {
  auto live = driver_->Inspect(name);
  if (absl::IsNotFound(live.status())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "container ", Q(name),
        " is defined in berth but missing from the runtime's container directory; delete it"));
  }
  return live;
}

absl::Status ContainerManager::Reconcile() {
  auto records = store_->List();
  if (!records.ok()) return records.status();
  for (const auto& record : *records) {
    auto guard = locks_.Lock(record.name);
    if (record.phase != Phase::kReady) {
      // One container that cannot be put right must not keep berthd from serving the others: it
      // stays in its phase (its operations answer FAILED_PRECONDITION) and the next start retries.
      if (auto s = FinishInterrupted(record); !s.ok()) {
        Log()->error("Cannot finish the interrupted operation on \"{}\": {}", record.name,
                     std::string(s.message()));
      }
      continue;
    }
    auto live = driver_->Inspect(record.name);  // Also makes the driver watch a running init.
    if (!live.ok()) {
      Log()->error("Container \"{}\" is defined but the runtime cannot show it: {}", record.name,
                   std::string(live.status().message()));
      continue;
    }
    Log()->info("Adopted container \"{}\" ({}{})", record.name,
                std::string(LiveStateName(live->state)),
                live->init_pid > 0 ? absl::StrCat(", init pid ", live->init_pid) : "");
  }
  auto names = driver_->ListNames();
  if (!names.ok()) return names.status();
  for (const auto& name : *names) {
    if (absl::IsNotFound(store_->Get(name).status())) {
      Log()->warn(
          "Container \"{}\" is in the runtime's directory but not in berth's database; leaving it "
          "alone",
          name);
    }
  }
  return absl::OkStatus();
}

// Finishes or undoes an operation that a crash interrupted. None of them was acknowledged to a
// client, so undoing is always allowed; finishing is chosen where it is the safer outcome.
absl::Status ContainerManager::FinishInterrupted(const ContainerRecord& record) {
  switch (record.phase) {
    case Phase::kReady:
      return absl::OkStatus();
    case Phase::kCreating:
    case Phase::kDeleting: {
      const char* what = record.phase == Phase::kCreating ? "creation" : "deletion";
      auto live = driver_->Inspect(record.name);
      if (live.ok() && IsRunningLike(live->state)) {
        if (auto s = driver_->Stop(record.name, absl::ZeroDuration(), /*force=*/true); !s.ok()) {
          return Annotate(
              s, absl::StrCat("cannot finish the interrupted ", what, " of ", Q(record.name)));
        }
      }
      if (auto s = driver_->Destroy(record.name); !s.ok() && !absl::IsNotFound(s)) {
        return Annotate(
            s, absl::StrCat("cannot finish the interrupted ", what, " of ", Q(record.name)));
      }
      if (auto s = store_->Delete(record.name, record.revision); !s.ok()) return s;
      Log()->warn("Removed container \"{}\" whose {} was interrupted", record.name, what);
      return absl::OkStatus();
    }
    case Phase::kRenaming: {
      const std::string& old_name = record.phase_detail;
      ContainerRecord updated = record;
      updated.phase = Phase::kReady;
      updated.phase_detail.clear();
      if (driver_->Inspect(record.name).ok()) {
        // The runtime already has the new name: the rename happened, only its record did not.
        auto s = store_->Update(record.name, updated, record.revision);
        if (!s.ok()) return s.status();
        Log()->warn("Finished the interrupted rename of \"{}\" to \"{}\"", old_name, record.name);
      } else {
        updated.name = old_name;
        auto s = store_->Update(record.name, updated, record.revision);
        if (!s.ok()) return s.status();
        Log()->warn("Undid the interrupted rename of \"{}\" to \"{}\"", old_name, record.name);
      }
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ContainerView> ContainerManager::Create(const CreateParams& params) {
  const bool from_image = !params.image_fingerprint.empty();
  if (auto s = ValidateContainerName(params.name); !s.ok()) return s;
  if (!from_image) {
    if (auto s = ValidateTemplateName(params.template_name); !s.ok()) return s;
    if (auto s = ValidateTemplateArgs(params.template_args); !s.ok()) return s;
  }
  if (auto s = ValidateLabels(params.labels); !s.ok()) return s;
  if (auto s = ValidateConfig(params.config); !s.ok()) return s;
  const std::vector<std::string> profiles =
      params.profiles.empty() ? std::vector<std::string>{std::string(storage::kDefaultProfile)}
                              : params.profiles;
  if (auto s = ValidateProfileList(profiles); !s.ok()) return s;
  if (auto s = ValidateDevices(params.devices); !s.ok()) return s;

  auto guard = locks_.Lock(params.name);
  if (driver_->Inspect(params.name).ok()) {
    return absl::AlreadyExistsError(
        absl::StrCat("a container named ", Q(params.name),
                     " already exists in the runtime's directory (not made by berth); pick "
                     "another name or remove it"));
  }
  ContainerRecord record;
  record.name = params.name;
  record.source_kind = from_image ? kImageSourceKind : "template";
  record.source_name = from_image ? params.image_fingerprint : params.template_name;
  if (!from_image) record.source_args = params.template_args;
  record.config = params.config;
  record.labels = params.labels;
  record.profiles = profiles;
  record.devices = params.devices;
  // The profiles must exist and the merged config pass before anything is made.
  if (auto expanded = Expand(*store_, record); !expanded.ok()) {
    return expanded.status();
  } else if (auto s = ValidateConfig(expanded->config); !s.ok()) {
    return Annotate(s, absl::StrCat("with its profiles, the config of ", Q(params.name)));
  }
  record.phase = Phase::kCreating;
  record.created_at = record.updated_at = clock_->Now();
  auto stored = store_->Create(record);
  if (!stored.ok()) {
    if (absl::IsAlreadyExists(stored.status())) {
      return absl::AlreadyExistsError(
          absl::StrCat("container ", Q(params.name), " already exists"));
    }
    return stored.status();
  }

  runtime::CreateSpec spec{params.name, params.template_name, params.template_args};
  const std::string origin =
      from_image ? absl::StrCat("image ", params.image_fingerprint.substr(0, 12))
                 : absl::StrCat("template ", Q(params.template_name));
  if (from_image) {
    spec.template_name.clear();
    spec.template_args.clear();
    spec.image_rootfs = params.image_rootfs;
    spec.image_entries = params.image_lxc_entries;
  }
  PublishStep(params.name, "create", absl::StrCat("creating root filesystem from ", origin));
  if (auto s = driver_->Create(spec); !s.ok()) {
    if (auto d = store_->Delete(params.name, stored->revision); !d.ok()) {
      Log()->error("Cannot remove the record of failed container \"{}\": {}", params.name,
                   std::string(d.message()));
    }
    return Annotate(s, absl::StrCat("cannot create container ", Q(params.name)));
  }
  ContainerRecord ready = *stored;
  ready.phase = Phase::kReady;
  auto done = store_->Update(params.name, ready, stored->revision);
  if (!done.ok()) {
    // Leave nothing half-done: the runtime's container goes with the record.
    (void)driver_->Destroy(params.name);
    (void)store_->Delete(params.name, stored->revision);
    return Annotate(done.status(), absl::StrCat("cannot create container ", Q(params.name)));
  }
  Publish(EventType::kCreated, params.name, LiveState::kStopped);
  PublishStep(params.name, "create", "done");
  Log()->info("Created container \"{}\" from {}", params.name, origin);

  if (params.start) {
    if (auto s = StartWithConfig(params.name); !s.ok()) {
      return Annotate(s,
                      absl::StrCat("container ", Q(params.name), " was created but did not start"));
    }
    Publish(EventType::kStarted, params.name, LiveState::kRunning);
    Log()->info("Started container \"{}\"", params.name);
  }
  return ViewOf(*std::move(done), /*with_live=*/true);
}

absl::StatusOr<ContainerView> ContainerManager::Get(const std::string& name, bool with_live) {
  if (auto s = ValidateContainerName(name); !s.ok()) return s;
  auto record = store_->Get(name);
  if (!record.ok()) return record.status();
  return ViewOf(*std::move(record), with_live);
}

absl::StatusOr<std::vector<ContainerView>> ContainerManager::List(bool with_live) {
  auto records = store_->List();
  if (!records.ok()) return records.status();
  std::vector<ContainerView> views;
  views.reserve(records->size());
  for (auto& record : *records) views.push_back(ViewOf(std::move(record), with_live));
  return views;
}

absl::StatusOr<ContainerView> ContainerManager::UpdateLabels(
    const std::string& name, int64_t expected_revision,
    const std::map<std::string, std::string>& labels) {
  if (auto s = ValidateLabels(labels); !s.ok()) return s;
  auto guard = locks_.Lock(name);
  auto record = GetReady(name);
  if (!record.ok()) return record.status();
  if (expected_revision != 0 && expected_revision != record->revision) {
    return absl::AbortedError(absl::StrCat("container ", Q(name), " changed since revision ",
                                           expected_revision, " (now ", record->revision,
                                           "); read it again and retry"));
  }
  ContainerRecord updated = *record;
  updated.labels = labels;
  updated.updated_at = clock_->Now();
  auto stored = store_->Update(name, updated, record->revision);
  if (!stored.ok()) return stored.status();
  return ViewOf(*std::move(stored), /*with_live=*/true);
}

absl::Status ContainerManager::StartWithConfig(const std::string& name) {
  auto record = store_->Get(name);
  if (!record.ok()) return record.status();
  auto expanded = Expand(*store_, *record);
  if (!expanded.ok()) return expanded.status();
  auto settings = SettingsForStart(name, *expanded);
  if (absl::IsFailedPrecondition(settings.status())) return settings.status();
  if (!settings.ok()) {
    // Stored before this berthd's rules (or on a host with fewer CPUs): say what to change.
    return absl::FailedPreconditionError(absl::StrCat(
        "the stored config of ", Q(name), " is not valid here: ", settings.status().message(),
        "; change it with berth config set or unset"));
  }
  return driver_->Start(name, *settings);
}

absl::StatusOr<ConfigUpdate> ContainerManager::UpdateConfig(
    const std::string& name, int64_t expected_revision,
    const std::map<std::string, std::string>& set, const std::vector<std::string>& unset) {
  if (auto s = ValidateContainerName(name); !s.ok()) return s;
  if (auto s = ValidateConfig(set); !s.ok()) return s;
  for (const std::string& key : unset) {
    if (auto s = ValidateFreeText("config key", key); !s.ok()) return s;
    if (FindConfigKey(key) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown config key ", Q(key), "; run 'berth config keys' to see the known keys"));
    }
  }
  auto guard = locks_.Lock(name);
  auto record = GetReady(name);
  if (!record.ok()) return record.status();
  if (expected_revision != 0 && expected_revision != record->revision) {
    return absl::AbortedError(absl::StrCat("container ", Q(name), " changed since revision ",
                                           expected_revision, " (now ", record->revision,
                                           "); read it again and retry"));
  }
  std::map<std::string, std::string> config = record->config;
  for (const auto& [key, value] : set) config[key] = value;
  for (const std::string& key : unset) config.erase(key);
  if (auto s = ValidateConfig(config); !s.ok()) return s;
  std::vector<std::string> changed;
  for (const auto& [key, value] : config) {
    auto old = record->config.find(key);
    if (old == record->config.end() || old->second != value) changed.push_back(key);
  }
  for (const auto& [key, value] : record->config) {
    if (!config.contains(key)) changed.push_back(key);
  }
  std::sort(changed.begin(), changed.end());
  if (changed.empty()) return ConfigUpdate{ViewOf(*std::move(record), /*with_live=*/true), {}};
  ContainerRecord updated = *record;
  updated.config = std::move(config);
  return StoreDefinition(*record, std::move(updated), absl::StrJoin(changed, ","));
}

absl::StatusOr<ContainerView> ContainerManager::Rename(const std::string& name,
                                                       const std::string& new_name) {
  if (auto s = ValidateContainerName(name); !s.ok()) return s;
  if (auto s = ValidateContainerName(new_name); !s.ok()) return s;
  if (name == new_name) {
    return absl::InvalidArgumentError(
        absl::StrCat("container ", Q(name), " already has that name; give a different new name"));
  }
  auto guard = locks_.LockAll({name, new_name});
  auto record = GetReady(name);
  if (!record.ok()) return record.status();
  auto live = InspectForOperation(name);
  if (!live.ok()) return live.status();
  if (live->state != LiveState::kStopped) {
    return WrongState(name, live->state, "stop it before renaming");
  }
  if (driver_->Inspect(new_name).ok()) {
    return absl::AlreadyExistsError(absl::StrCat("a container named ", Q(new_name),
                                                 " already exists in the runtime's directory"));
  }
  ContainerRecord renaming = *record;
  renaming.name = new_name;
  renaming.phase = Phase::kRenaming;
  renaming.phase_detail = name;
  renaming.updated_at = clock_->Now();
  auto stored = store_->Update(name, renaming, record->revision);
  if (!stored.ok()) {
    if (absl::IsAlreadyExists(stored.status())) {
      return absl::AlreadyExistsError(absl::StrCat("container ", Q(new_name), " already exists"));
    }
    return stored.status();
  }
  if (auto s = driver_->Rename(name, new_name); !s.ok()) {
    ContainerRecord back = *record;
    back.updated_at = clock_->Now();
    if (auto r = store_->Update(new_name, back, stored->revision); !r.ok()) {
      Log()->error("Cannot undo the record of the failed rename of \"{}\": {}", name,
                   std::string(r.status().message()));
    }
    return Annotate(s, absl::StrCat("cannot rename container ", Q(name)));
  }
  ContainerRecord ready = *stored;
  ready.phase = Phase::kReady;
  ready.phase_detail.clear();
  auto done = store_->Update(new_name, ready, stored->revision);
  if (!done.ok()) return done.status();  // Reconcile finishes it: the runtime has the new name.
  Publish(EventType::kRenamed, new_name, LiveState::kStopped, name);
  Log()->info("Renamed container \"{}\" to \"{}\"", name, new_name);
  return ViewOf(*std::move(done), /*with_live=*/true);
}

absl::Status ContainerManager::Delete(const std::string& name, bool force) {
  auto guard = locks_.Lock(name);
  auto record = GetReady(name);
  if (!record.ok()) return record.status();
  auto live = driver_->Inspect(name);
  if (live.ok() && live->state != LiveState::kStopped) {
    if (!force) return WrongState(name, live->state, "stop it first or delete it with force");
    PublishStep(name, "delete", "killing the running container");
    if (auto s = driver_->Stop(name, absl::ZeroDuration(), /*force=*/true); !s.ok()) {
      return Annotate(s, absl::StrCat("cannot stop container ", Q(name), " to delete it"));
    }
    Publish(EventType::kStopped, name, LiveState::kStopped);
  } else if (!live.ok() && !absl::IsNotFound(live.status())) {
    return live.status();
  }
  ContainerRecord deleting = *record;
  deleting.phase = Phase::kDeleting;
  deleting.updated_at = clock_->Now();
  auto stored = store_->Update(name, deleting, record->revision);
  if (!stored.ok()) return stored.status();
  PublishStep(name, "delete", "removing root filesystem");
  if (auto s = driver_->Destroy(name); !s.ok() && !absl::IsNotFound(s)) {
    // Nothing was removed: back to ready, so the user can retry.
    ContainerRecord back = *stored;
    back.phase = Phase::kReady;
    (void)store_->Update(name, back, stored->revision);
    return Annotate(s, absl::StrCat("cannot delete container ", Q(name)));
  }
  if (auto s = store_->Delete(name, stored->revision); !s.ok()) return s;
  Publish(EventType::kDeleted, name, std::nullopt);
  PublishStep(name, "delete", "done");
  Log()->info("Deleted container \"{}\"", name);
  return absl::OkStatus();
}

absl::StatusOr<ContainerView> ContainerManager::ChangeState(
    const std::string& name, absl::FunctionRef<absl::Status(LiveState)> change) {
  auto guard = locks_.Lock(name);
  auto record = GetReady(name);
  if (!record.ok()) return record.status();
  auto live = InspectForOperation(name);
  if (!live.ok()) return live.status();
  if (auto s = change(live->state); !s.ok()) return s;
  return ViewOf(*std::move(record), /*with_live=*/true);
}

absl::StatusOr<ContainerView> ContainerManager::Start(const std::string& name) {
  return ChangeState(name, [&](LiveState state) -> absl::Status {
    if (state != LiveState::kStopped) {
      return WrongState(
          name, state, state == LiveState::kFrozen ? "resume it instead" : "it is already running");
    }
    if (auto s = StartWithConfig(name); !s.ok()) {
      return Annotate(s, absl::StrCat("cannot start container ", Q(name)));
    }
    Publish(EventType::kStarted, name, LiveState::kRunning);
    Log()->info("Started container \"{}\"", name);
    return absl::OkStatus();
  });
}

absl::StatusOr<ContainerView> ContainerManager::Stop(const std::string& name,
                                                     absl::Duration timeout, bool force) {
  if (timeout <= absl::ZeroDuration()) timeout = kDefaultStopTimeout;
  return ChangeState(name, [&](LiveState state) -> absl::Status {
    if (state == LiveState::kStopped) return WrongState(name, state, "it is already stopped");
    PublishStep(name, "stop",
                force ? "killing"
                      : absl::StrCat("halting; killing after ", absl::FormatDuration(timeout)));
    if (auto s = driver_->Stop(name, timeout, force); !s.ok()) {
      return Annotate(s, absl::StrCat("cannot stop container ", Q(name)));
    }
    Publish(EventType::kStopped, name, LiveState::kStopped);
    PublishStep(name, "stop", "done");
    Log()->info("Stopped container \"{}\"{}", name, force ? " (forced)" : "");
    return absl::OkStatus();
  });
}

absl::StatusOr<ContainerView> ContainerManager::Restart(const std::string& name,
                                                        absl::Duration timeout, bool force) {
  if (timeout <= absl::ZeroDuration()) timeout = kDefaultStopTimeout;
  return ChangeState(name, [&](LiveState state) -> absl::Status {
    if (state != LiveState::kRunning && state != LiveState::kFrozen) {
      return WrongState(name, state, "start it instead");
    }
    if (auto s = driver_->Stop(name, timeout, force); !s.ok()) {
      return Annotate(s, absl::StrCat("cannot stop container ", Q(name), " to restart it"));
    }
    Publish(EventType::kStopped, name, LiveState::kStopped);
    if (auto s = StartWithConfig(name); !s.ok()) {
      return Annotate(s, absl::StrCat("container ", Q(name), " stopped but did not start again"));
    }
    Publish(EventType::kStarted, name, LiveState::kRunning);
    Log()->info("Restarted container \"{}\"", name);
    return absl::OkStatus();
  });
}

absl::StatusOr<ContainerView> ContainerManager::Freeze(const std::string& name) {
  return ChangeState(name, [&](LiveState state) -> absl::Status {
    if (state != LiveState::kRunning) {
      return WrongState(name, state, "only a running container can be paused");
    }
    if (auto s = driver_->Freeze(name); !s.ok()) {
      return Annotate(s, absl::StrCat("cannot pause container ", Q(name)));
    }
    Publish(EventType::kFrozen, name, LiveState::kFrozen);
    Log()->info("Paused container \"{}\"", name);
    return absl::OkStatus();
  });
}

absl::StatusOr<ContainerView> ContainerManager::Unfreeze(const std::string& name) {
  return ChangeState(name, [&](LiveState state) -> absl::Status {
    if (state != LiveState::kFrozen) {
      return WrongState(name, state, "only a paused container can be resumed");
    }
    if (auto s = driver_->Unfreeze(name); !s.ok()) {
      return Annotate(s, absl::StrCat("cannot resume container ", Q(name)));
    }
    Publish(EventType::kUnfrozen, name, LiveState::kRunning);
    Log()->info("Resumed container \"{}\"", name);
    return absl::OkStatus();
  });
}

absl::StatusOr<ContainerCounts> ContainerManager::Counts() {
  auto views = List(/*with_live=*/true);
  if (!views.ok()) return views.status();
  ContainerCounts counts;
  for (const auto& view : *views) {
    ++counts.total;
    LiveState state = view.live ? view.live->state : LiveState::kStopped;
    if (state == LiveState::kFrozen) {
      ++counts.frozen;
    } else if (state == LiveState::kStopped) {
      ++counts.stopped;
    } else {
      ++counts.running;
    }
  }
  return counts;
}

uint64_t ContainerManager::Wait(const std::string& name, LiveState state,
                                absl::AnyInvocable<void(absl::Status) &&> done) {
  if (auto s = ValidateContainerName(name); !s.ok()) {
    std::move(done)(s);
    return 0;
  }
  // Register first, then look: an event between the two completes the wait, never loses it.
  uint64_t id;
  {
    absl::MutexLock lock(&waiters_mu_);
    id = next_wait_id_++;
    waiters_.emplace(id, Waiter{name, state, std::move(done)});
  }
  absl::Status now;
  if (auto record = store_->Get(name); !record.ok()) {
    now = record.status();
  } else if (auto live = driver_->Inspect(name); live.ok() && live->state == state) {
    now = absl::OkStatus();
  } else {
    return id;
  }
  CancelWait(id, now);
  return id;
}

void ContainerManager::CancelWait(uint64_t wait_id, absl::Status why) {
  absl::AnyInvocable<void(absl::Status) &&> done;
  {
    absl::MutexLock lock(&waiters_mu_);
    auto it = waiters_.find(wait_id);
    if (it == waiters_.end()) return;
    done = std::move(it->second.done);
    waiters_.erase(it);
  }
  std::move(done)(std::move(why));
}

void ContainerManager::OnEvent(const Event& event) {
  std::vector<std::pair<absl::AnyInvocable<void(absl::Status) &&>, absl::Status>> ready;
  {
    absl::MutexLock lock(&waiters_mu_);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      Waiter& w = it->second;
      bool renamed_away = event.type == EventType::kRenamed && event.detail == w.name;
      if (event.container != w.name && !renamed_away) {
        ++it;
        continue;
      }
      if (event.type == EventType::kDeleted || renamed_away) {
        ready.emplace_back(
            std::move(w.done),
            absl::NotFoundError(
                absl::StrCat("container ", Q(w.name),
                             event.type == EventType::kDeleted ? " was deleted" : " was renamed")));
      } else if (event.state && *event.state == w.state) {
        ready.emplace_back(std::move(w.done), absl::OkStatus());
      } else {
        ++it;
        continue;
      }
      it = waiters_.erase(it);
    }
  }
  for (auto& [done, status] : ready) std::move(done)(std::move(status));
}

void ContainerManager::OnContainerExit(const std::string& name, std::optional<int> exit_code) {
  Log()->info("Container \"{}\" stopped: its init exited ({})", name,
              exit_code ? absl::StrCat("exit code ", *exit_code) : "exit code unknown");
  Event e;
  e.type = EventType::kExited;
  e.container = name;
  e.state = LiveState::kStopped;
  e.exit_code = exit_code;
  events_->Publish(std::move(e));
}

}  // namespace berth::core
