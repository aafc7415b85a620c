// Snapshots and copies: ContainerManager::CreateSnapshot, ListSnapshots, RestoreSnapshot,
// DeleteSnapshot and Copy. The runtime does the file work; this file keeps the store and the
// runtime in step and decides what may happen in which state.

#include <utility>

#include "absl/strings/str_cat.h"
#include "berth/core/container_manager.h"
#include "berth/core/logging.h"
#include "berth/core/validation.h"
#include "spdlog/spdlog.h"

namespace berth::core {
namespace {

using runtime::LiveState;
using storage::ContainerRecord;
using storage::Phase;
using storage::SnapshotRecord;

std::string Q(absl::string_view name) { return absl::StrCat("\"", name, "\""); }

absl::Status WithContext(const absl::Status& status, absl::string_view context) {
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

std::shared_ptr<spdlog::logger> Log() { return NamedLogger("core"); }

}  // namespace

absl::StatusOr<SnapshotRecord> ContainerManager::CreateSnapshot(const std::string& name,
                                                                const std::string& snapshot) {
  if (auto s = ValidateContainerName(name); !s.ok()) return s;
  if (auto s = ValidateSnapshotName(snapshot); !s.ok()) return s;
  auto guard = locks_.Lock(name);
  auto record = GetReady(name);
  if (!record.ok()) return record.status();
  if (store_->GetSnapshot(name, snapshot).ok()) {
    return absl::AlreadyExistsError(absl::StrCat("container ", Q(name), " already has a snapshot ",
                                                 Q(snapshot), "; pick another name or delete it"));
  }
  if (auto live = InspectForOperation(name); !live.ok()) return live.status();
  // Files without a record are the remains of a snapshot whose record was never written (a crash
  // between the two): never acknowledged, so they go.
  if (auto s = driver_->DeleteSnapshot(name, snapshot); s.ok()) {
    Log()->warn("Removed the unrecorded files of snapshot \"{}\" of \"{}\"", snapshot, name);
  }
  PublishStep(name, "snapshot", absl::StrCat("copying files into ", Q(snapshot)));
  if (auto s = driver_->CreateSnapshot(name, snapshot); !s.ok()) {
    return WithContext(s, absl::StrCat("cannot take snapshot ", Q(snapshot), " of ", Q(name)));
  }
  SnapshotRecord snap;
  snap.container = name;
  snap.name = snapshot;
  snap.config = record->config;
  snap.labels = record->labels;
  snap.created_at = clock_->Now();
  auto stored = store_->CreateSnapshot(snap);
  if (!stored.ok()) {
    (void)driver_->DeleteSnapshot(name, snapshot);
    return stored.status();
  }
  PublishStep(name, "snapshot", absl::StrCat("took ", Q(snapshot)));
  Log()->info("Took snapshot \"{}\" of \"{}\"", snapshot, name);
  return stored;
}

absl::StatusOr<std::vector<SnapshotRecord>> ContainerManager::ListSnapshots(
    const std::string& name) {
  if (auto s = ValidateContainerName(name); !s.ok()) return s;
  if (auto record = store_->Get(name); !record.ok()) return record.status();
  return store_->ListSnapshots(name);
}

absl::StatusOr<ContainerView> ContainerManager::RestoreSnapshot(const std::string& name,
                                                                const std::string& snapshot,
                                                                bool restart) {
  if (auto s = ValidateContainerName(name); !s.ok()) return s;
  if (auto s = ValidateSnapshotName(snapshot); !s.ok()) return s;
  auto guard = locks_.Lock(name);
  auto record = GetReady(name);
  if (!record.ok()) return record.status();
  auto snap = store_->GetSnapshot(name, snapshot);
  if (!snap.ok()) return snap.status();
  auto live = InspectForOperation(name);
  if (!live.ok()) return live.status();
  const bool was_running = live->state != LiveState::kStopped;
  if (was_running) {
    if (!restart) {
      return absl::FailedPreconditionError(absl::StrCat(
          "container ", Q(name), " is ", std::string(runtime::LiveStateName(live->state)),
          "; stop it first (berth stop ", name,
          "), or restore with --restart to stop it, "
          "restore and start it again"));
    }
    PublishStep(name, "restore", "stopping the container");
    if (auto s = driver_->Stop(name, kDefaultStopTimeout, /*force=*/false); !s.ok()) {
      return WithContext(s, absl::StrCat("cannot stop container ", Q(name), " to restore it"));
    }
    Publish(EventType::kStopped, name, LiveState::kStopped);
  }
  PublishStep(name, "restore", absl::StrCat("restoring files from ", Q(snapshot)));
  if (auto s = driver_->RestoreSnapshot(name, snapshot); !s.ok()) {
    return WithContext(
        s,
        absl::StrCat("cannot restore container ", Q(name), " from snapshot ", Q(snapshot),
                     was_running ? " (it was stopped for the restore and is still stopped)" : ""));
  }
  ContainerRecord restored = *record;
  restored.config = snap->config;
  restored.labels = snap->labels;
  restored.updated_at = clock_->Now();
  auto stored = store_->Update(name, restored, record->revision);
  if (!stored.ok()) {
    return WithContext(stored.status(),
                       absl::StrCat("the files of ", Q(name), " were restored from ", Q(snapshot),
                                    " but its config and labels were not"));
  }
  Log()->info("Restored \"{}\" from snapshot \"{}\"", name, snapshot);
  if (was_running) {
    if (auto s = StartWithConfig(name); !s.ok()) {
      return WithContext(
          s, absl::StrCat("container ", Q(name), " was restored but did not start again"));
    }
    Publish(EventType::kStarted, name, LiveState::kRunning);
  }
  PublishStep(name, "restore", "done");
  return ViewOf(*std::move(stored), /*with_live=*/true);
}

absl::Status ContainerManager::DeleteSnapshot(const std::string& name,
                                              const std::string& snapshot) {
  if (auto s = ValidateContainerName(name); !s.ok()) return s;
  if (auto s = ValidateSnapshotName(snapshot); !s.ok()) return s;
  auto guard = locks_.Lock(name);
  auto record = GetReady(name);
  if (!record.ok()) return record.status();
  if (auto snap = store_->GetSnapshot(name, snapshot); !snap.ok()) return snap.status();
  // Files first: a snapshot whose files could not be removed keeps its record, so the user can
  // see it and retry; a record without files is never left.
  if (auto s = driver_->DeleteSnapshot(name, snapshot); !s.ok() && !absl::IsNotFound(s)) {
    return WithContext(s, absl::StrCat("cannot delete snapshot ", Q(snapshot), " of ", Q(name)));
  }
  if (auto s = store_->DeleteSnapshot(name, snapshot); !s.ok()) return s;
  PublishStep(name, "snapshot", absl::StrCat("deleted ", Q(snapshot)));
  Log()->info("Deleted snapshot \"{}\" of \"{}\"", snapshot, name);
  return absl::OkStatus();
}

absl::StatusOr<ContainerView> ContainerManager::Copy(const std::string& name,
                                                     const std::string& new_name) {
  if (auto s = ValidateContainerName(name); !s.ok()) return s;
  if (auto s = ValidateContainerName(new_name); !s.ok()) return s;
  if (name == new_name) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot copy container ", Q(name), " onto itself; give a new name"));
  }
  auto guard = locks_.LockAll({name, new_name});
  auto record = GetReady(name);
  if (!record.ok()) return record.status();
  if (store_->Get(new_name).ok()) {
    return absl::AlreadyExistsError(
        absl::StrCat("container ", Q(new_name), " already exists; pick another name"));
  }
  if (driver_->Inspect(new_name).ok()) {
    return absl::AlreadyExistsError(
        absl::StrCat("a container named ", Q(new_name),
                     " already exists in the runtime's directory (not made by berth); pick "
                     "another name or remove it"));
  }
  if (auto live = InspectForOperation(name); !live.ok()) return live.status();

  // As Create: the intent first (phase kCreating), which Reconcile undoes after a crash.
  ContainerRecord copy = *record;
  copy.name = new_name;
  copy.phase = Phase::kCreating;
  copy.phase_detail.clear();
  copy.created_at = copy.updated_at = clock_->Now();
  auto stored = store_->Create(copy);
  if (!stored.ok()) return stored.status();
  PublishStep(new_name, "copy", absl::StrCat("copying the files of ", Q(name)));
  if (auto s = driver_->Copy(name, new_name); !s.ok()) {
    if (auto d = store_->Delete(new_name, stored->revision); !d.ok()) {
      Log()->error("Cannot remove the record of failed copy \"{}\": {}", new_name,
                   std::string(d.message()));
    }
    return WithContext(s, absl::StrCat("cannot copy container ", Q(name), " to ", Q(new_name)));
  }
  ContainerRecord ready = *stored;
  ready.phase = Phase::kReady;
  auto done = store_->Update(new_name, ready, stored->revision);
  if (!done.ok()) {
    (void)driver_->Destroy(new_name);
    (void)store_->Delete(new_name, stored->revision);
    return WithContext(done.status(), absl::StrCat("cannot copy container ", Q(name)));
  }
  Publish(EventType::kCreated, new_name, LiveState::kStopped, absl::StrCat("copy of ", name));
  PublishStep(new_name, "copy", "done");
  Log()->info("Copied container \"{}\" to \"{}\"", name, new_name);
  return ViewOf(*std::move(done), /*with_live=*/true);
}

}  // namespace berth::core
