// LxcDriver's snapshots and copies: file work in the daemon (lxc/tree_copy.h), never liblxc's
// snapshot or copy calls, which fork. Layout under the container's directory:
//
//   <lxc_path>/<name>/config, rootfs/ (or delta/ for an overlay rootfs), lxc.log, ...
//   <lxc_path>/<name>/snapshots/<snapshot>/rootfs (or delta)
//
// Work in progress lives under names that start with '.', which no snapshot name can (the core
// and lxc/validation.h refuse them), and is renamed into place once whole, so a crash leaves
// either nothing or a hidden remnant that the next attempt at the same name removes.

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cerrno>
#include <memory>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "berth/runtime/lxc_driver.h"
#include "lxc/fs_util.h"
#include "lxc/lxc_config.h"
#include "lxc/string_views.h"
#include "lxc/tree_copy.h"
#include "lxc/validation.h"
#include "spdlog/spdlog.h"

namespace berth::runtime {
namespace {

using lxc::ToAbsl;

constexpr size_t kMaxConfigBytes = 1 << 20;

std::string Quoted(std::string_view s) { return absl::StrCat("\"", ToAbsl(s), "\""); }

// Where a container keeps the files that are its own.
struct RootfsLayout {
  bool overlay = false;
  std::string lower;      // overlay only: the shared read-only layer, kept as it is
  std::string data_name;  // "rootfs" or "delta": the directory under the container's dir
};

// Reads lxc.rootfs.path from the container's config: "dir:<dir>/rootfs" (or a plain path), or
// "overlay:<lower>:<dir>/delta" (also "overlayfs:"). Anything else, or a data directory that is
// not directly in the container's directory, is FAILED_PRECONDITION: berth would not know what
// is the container's to copy.
absl::StatusOr<RootfsLayout> ReadLayout(const std::string& lxc_path, const std::string& name) {
  absl::StatusOr<std::string> text =
      lxc::ReadFileToString(lxc::ContainerConfigPath(lxc_path, name), kMaxConfigBytes);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::vector<lxc::ConfigEntry>> entries = lxc::ParseLxcConfig(*text);
  if (!entries.ok()) return entries.status();
  std::optional<std::string> value;
  for (const lxc::ConfigEntry& e : *entries) {
    if (e.key == "lxc.rootfs.path") value = e.value;
  }
  const std::string dir = lxc::ContainerDir(lxc_path, name);
  auto unsupported = [&](std::string_view why) {
    return absl::FailedPreconditionError(absl::StrCat(
        "container ", Quoted(name), " has a root filesystem berth cannot snapshot or copy (",
        ToAbsl(why), "); only dir: and overlay: roots under ", Quoted(dir), " are supported"));
  };
  if (!value.has_value()) return unsupported("no lxc.rootfs.path");
  RootfsLayout layout;
  std::string data;
  if (absl::StartsWith(*value, "overlay:") || absl::StartsWith(*value, "overlayfs:")) {
    std::vector<std::string> parts = absl::StrSplit(*value, ':');
    if (parts.size() != 3) return unsupported(absl::StrCat("lxc.rootfs.path = ", *value));
    layout.overlay = true;
    layout.lower = parts[1];
    data = parts[2];
  } else if (absl::StartsWith(*value, "dir:")) {
    data = value->substr(4);
  } else if (absl::StartsWith(*value, "/")) {
    data = *value;
  } else {
    return unsupported(absl::StrCat("lxc.rootfs.path = ", *value));
  }
  const std::string prefix = dir + "/";
  if (!absl::StartsWith(data, prefix) || data.size() == prefix.size() ||
      data.find('/', prefix.size()) != std::string::npos ||
      absl::StartsWith(data.substr(prefix.size()), ".")) {
    return unsupported(absl::StrCat("its files are at ", Quoted(data)));
  }
  layout.data_name = data.substr(prefix.size());
  if (layout.data_name == "snapshots") return unsupported("its files are at snapshots/");
  return layout;
}

absl::Status MakeDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return lxc::ErrnoError(errno, absl::StrCat("Cannot create ", Quoted(path)));
  }
  return absl::OkStatus();
}

absl::Status RenameNoReplace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0) {
    return lxc::ErrnoError(errno, absl::StrCat("Cannot rename ", Quoted(from), " to ", Quoted(to)));
  }
  return absl::OkStatus();
}

// FAILED_PRECONDITION unless the filesystem of `space_dir` has room for a copy of `from`. Runs
// before anything is written.
absl::Status CheckRoom(const std::string& from, const std::string& space_dir) {
  absl::StatusOr<lxc::TreeUsage> usage = lxc::MeasureTree(from);
  if (!usage.ok()) return usage.status();
  return lxc::CheckFreeSpace(space_dir, usage->bytes);
}

// `config_text` (rendered for the new name) with its lxc.rootfs.path line set to `value`.
std::string WithRootfsPath(std::string_view config_text, const std::string& value) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(ToAbsl(config_text), '\n')) {
    if (absl::StartsWith(line, "lxc.rootfs.path ") || absl::StartsWith(line, "lxc.rootfs.path=")) {
      absl::StrAppend(&out, "lxc.rootfs.path = ", value, "\n");
    } else if (!line.empty()) {
      absl::StrAppend(&out, line, "\n");
    }
  }
  return out;
}

}  // namespace

// Freezes a running container for the life of the object, so that its files hold still while
// they are copied; thaws it again. A stopped or already frozen container is left as it is.
class LxcDriver::FreezeGuard {
 public:
  static absl::StatusOr<std::unique_ptr<FreezeGuard>> Take(LxcDriver* driver,
                                                           const std::string& name) {
    absl::StatusOr<LiveInfo> live = driver->Inspect(name);
    if (!live.ok()) return live.status();
    auto guard = std::unique_ptr<FreezeGuard>(new FreezeGuard(driver, name));
    if (live->state == LiveState::kRunning) {
      if (absl::Status s = driver->Freeze(name); !s.ok()) return s;
      guard->thaw_ = true;
    } else if (live->state != LiveState::kStopped && live->state != LiveState::kFrozen) {
      return absl::FailedPreconditionError(absl::StrCat("container ", Quoted(name), " is ",
                                                        ToAbsl(LiveStateName(live->state)),
                                                        "; retry when it is running or stopped"));
    }
    return guard;
  }
  ~FreezeGuard() {
    if (thaw_) {
      if (absl::Status s = driver_->Unfreeze(name_); !s.ok()) {
        driver_->logger_->error("Cannot thaw \"{}\" after copying its files: {}", name_,
                                std::string(s.message()));
      }
    }
  }

 private:
  FreezeGuard(LxcDriver* driver, std::string name) : driver_(driver), name_(std::move(name)) {}
  LxcDriver* const driver_;
  const std::string name_;
  bool thaw_ = false;
};

absl::Status LxcDriver::CreateSnapshot(std::string_view name_view, std::string_view snap_view) {
  const std::string name(name_view);
  const std::string snap(snap_view);
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  if (absl::Status s = lxc::ValidateSnapshotName(snap); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<FreezeGuard>> frozen = FreezeGuard::Take(this, name);
  if (!frozen.ok()) return frozen.status();
  absl::StatusOr<RootfsLayout> layout = ReadLayout(options_.lxc_path, name);
  if (!layout.ok()) return layout.status();
  const std::string dir = lxc::ContainerDir(options_.lxc_path, name);
  const std::string snapshots = absl::StrCat(dir, "/snapshots");
  const std::string target = absl::StrCat(snapshots, "/", snap);
  const std::string partial = absl::StrCat(snapshots, "/.", snap, ".partial");
  if (lxc::PathExists(target)) {
    return absl::AlreadyExistsError(
        absl::StrCat("container ", Quoted(name), " already has a snapshot ", Quoted(snap)));
  }
  const std::string data = absl::StrCat(dir, "/", layout->data_name);
  if (absl::Status s = MakeDir(snapshots, 0700); !s.ok()) return s;
  if (absl::Status s = CheckRoom(data, snapshots); !s.ok()) return s;
  if (absl::Status s = lxc::RemoveTree(partial); !s.ok()) return s;  // an earlier crash's
  if (absl::Status s = MakeDir(partial, 0700); !s.ok()) return s;
  absl::Cleanup remove_partial = [&] { (void)lxc::RemoveTree(partial); };
  if (absl::Status s = lxc::CopyTree(data, absl::StrCat(partial, "/", layout->data_name));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = RenameNoReplace(partial, target); !s.ok()) return s;
  std::move(remove_partial).Cancel();
  logger_->debug("Took snapshot \"{}\" of \"{}\"", snap, name);
  return absl::OkStatus();
}

absl::Status LxcDriver::RestoreSnapshot(std::string_view name_view, std::string_view snap_view) {
  const std::string name(name_view);
  const std::string snap(snap_view);
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  if (absl::Status s = lxc::ValidateSnapshotName(snap); !s.ok()) return s;
  absl::StatusOr<LiveInfo> live = Inspect(name);
  if (!live.ok()) return live.status();
  if (live->state != LiveState::kStopped) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Container ", Quoted(name), " is ", ToAbsl(LiveStateName(live->state)), ", not STOPPED"));
  }
  absl::StatusOr<RootfsLayout> layout = ReadLayout(options_.lxc_path, name);
  if (!layout.ok()) return layout.status();
  const std::string dir = lxc::ContainerDir(options_.lxc_path, name);
  const std::string source = absl::StrCat(dir, "/snapshots/", snap, "/", layout->data_name);
  if (!lxc::PathExists(source)) {
    return absl::NotFoundError(
        absl::StrCat("container ", Quoted(name), " has no snapshot ", Quoted(snap)));
  }
  const std::string data = absl::StrCat(dir, "/", layout->data_name);
  const std::string incoming = absl::StrCat(dir, "/.", layout->data_name, ".restoring");
  const std::string outgoing = absl::StrCat(dir, "/.", layout->data_name, ".replaced");
  if (absl::Status s = lxc::RemoveTree(incoming); !s.ok()) return s;
  if (absl::Status s = lxc::RemoveTree(outgoing); !s.ok()) return s;
  if (absl::Status s = CheckRoom(source, dir); !s.ok()) return s;
  if (absl::Status s = lxc::CopyTree(source, incoming); !s.ok()) return s;
  // Two renames: the current files step aside whole, the copy steps in whole.
  if (absl::Status s = RenameNoReplace(data, outgoing); !s.ok()) {
    (void)lxc::RemoveTree(incoming);
    return s;
  }
  if (absl::Status s = RenameNoReplace(incoming, data); !s.ok()) {
    if (!RenameNoReplace(outgoing, data).ok()) {
      logger_->error("Cannot put back \"{}\" after a failed restore", data);
    }
    (void)lxc::RemoveTree(incoming);
    return s;
  }
  if (absl::Status s = lxc::RemoveTree(outgoing); !s.ok()) {
    logger_->warn("Cannot remove the replaced files of \"{}\": {}", name, std::string(s.message()));
  }
  logger_->debug("Restored \"{}\" from snapshot \"{}\"", name, snap);
  return absl::OkStatus();
}

absl::Status LxcDriver::DeleteSnapshot(std::string_view name_view, std::string_view snap_view) {
  const std::string name(name_view);
  const std::string snap(snap_view);
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  if (absl::Status s = lxc::ValidateSnapshotName(snap); !s.ok()) return s;
  const std::string dir = lxc::ContainerDir(options_.lxc_path, name);
  if (!lxc::PathExists(dir)) {
    return absl::NotFoundError(absl::StrCat("Container ", Quoted(name), " does not exist"));
  }
  const std::string target = absl::StrCat(dir, "/snapshots/", snap);
  if (!lxc::PathExists(target)) {
    return absl::NotFoundError(
        absl::StrCat("container ", Quoted(name), " has no snapshot ", Quoted(snap)));
  }
  // Out of the way first, so that a half-removed snapshot never looks like a whole one.
  const std::string doomed = absl::StrCat(dir, "/snapshots/.", snap, ".deleting");
  if (absl::Status s = lxc::RemoveTree(doomed); !s.ok()) return s;
  if (absl::Status s = RenameNoReplace(target, doomed); !s.ok()) return s;
  if (absl::Status s = lxc::RemoveTree(doomed); !s.ok()) return s;
  logger_->debug("Deleted snapshot \"{}\" of \"{}\"", snap, name);
  return absl::OkStatus();
}

absl::Status LxcDriver::Copy(std::string_view name_view, std::string_view new_name_view) {
  const std::string name(name_view);
  const std::string new_name(new_name_view);
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  if (absl::Status s = lxc::ValidateContainerName(new_name); !s.ok()) return s;
  const std::string new_dir = lxc::ContainerDir(options_.lxc_path, new_name);
  if (lxc::PathExists(new_dir)) {
    return absl::AlreadyExistsError(
        absl::StrCat("Container ", Quoted(new_name), " already exists"));
  }
  absl::StatusOr<std::unique_ptr<FreezeGuard>> frozen = FreezeGuard::Take(this, name);
  if (!frozen.ok()) return frozen.status();
  absl::StatusOr<RootfsLayout> layout = ReadLayout(options_.lxc_path, name);
  if (!layout.ok()) return layout.status();
  const std::string dir = lxc::ContainerDir(options_.lxc_path, name);

  // The new config, rendered before anything is written (as Rename does).
  absl::StatusOr<std::string> text =
      lxc::ReadFileToString(lxc::ContainerConfigPath(options_.lxc_path, name), kMaxConfigBytes);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::vector<lxc::ConfigEntry>> entries =
      lxc::ParseLxcConfig(lxc::StripSettingsSection(*text));
  if (!entries.ok()) {
    return absl::InternalError(absl::StrCat("The config of ", Quoted(name),
                                            " is unreadable: ", entries.status().message()));
  }
  absl::StatusOr<std::string> rendered =
      lxc::RenderLxcConfig({options_.lxc_path, new_name, lxc::TemplateNameFromConfig(*text),
                            lxc::FilterTemplateEntries(*entries)});
  if (!rendered.ok()) return rendered.status();
  const std::string new_data = absl::StrCat(new_dir, "/", layout->data_name);
  if (layout->overlay) {
    if (lxc::HasControlChars(layout->lower) || layout->lower.find(':') != std::string::npos) {
      return absl::FailedPreconditionError(
          absl::StrCat("the lower layer of ", Quoted(name),
                       " has a path berth will not write: ", Quoted(layout->lower)));
    }
    *rendered = WithRootfsPath(*rendered, absl::StrCat("overlay:", layout->lower, ":", new_data));
  }

  const std::string data = absl::StrCat(dir, "/", layout->data_name);
  if (absl::Status s = CheckRoom(data, options_.lxc_path); !s.ok()) return s;
  if (::mkdir(new_dir.c_str(), 0700) != 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(
          absl::StrCat("Container ", Quoted(new_name), " already exists"));
    }
    return lxc::ErrnoError(errno, absl::StrCat("Cannot create ", Quoted(new_dir)));
  }
  absl::Cleanup remove_new = [&] {
    if (absl::Status s = lxc::RemoveTree(new_dir); !s.ok()) {
      logger_->error("Cannot remove the partial copy \"{}\": {}", new_dir,
                     std::string(s.message()));
    }
  };
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) ::chmod(new_dir.c_str(), st.st_mode & 07777);
  if (absl::Status s = lxc::CopyTree(data, new_data); !s.ok()) return s;
  if (absl::Status s = lxc::WriteFileAtomically(
          lxc::ContainerConfigPath(options_.lxc_path, new_name), *rendered, 0640);
      !s.ok()) {
    return s;
  }
  std::move(remove_new).Cancel();
  logger_->debug("Copied container \"{}\" to \"{}\"", name, new_name);
  return absl::OkStatus();
}

}  // namespace berth::runtime
