#include "berth/runtime/lxc_driver.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <exception>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lxc/cgroup_fs.h"
#include "berth/runtime/console_attachment.h"
#include "lxc/exit_monitor.h"
#include "lxc/exit_status_feed.h"
#include "lxc/fs_util.h"
#include "lxc/helper_client.h"
#include "lxc/log_errors.h"
#include "lxc/lxc_config.h"
#include "lxc/lxc_handle.h"
#include "lxc/proc_net.h"
#include "lxc/state_name.h"
#include "lxc/string_views.h"
#include "lxc/validation.h"
#include "spdlog/spdlog.h"

namespace berth::runtime {
namespace {

using lxc::LxcHandle;

// How long Stop waits for STOPPED after the kill.
constexpr int kKillWaitSeconds = 10;
constexpr size_t kMaxConfigBytes = 1 << 20;
constexpr size_t kMaxProcNetBytes = 4 << 20;
// Getting a console is one request to the container's monitor; a wedged monitor must not hold a
// client (and an executor-less pump thread) for the helper's long template timeout.
constexpr absl::Duration kConsoleHelperTimeout = absl::Seconds(30);

using lxc::ToAbsl;

std::string Quoted(std::string_view s) { return absl::StrCat("\"", ToAbsl(s), "\""); }

// A handle on a container that liblxc knows (has a config) under `lxc_path`.
absl::StatusOr<LxcHandle> OpenDefined(const std::string& lxc_path, const std::string& name) {
  LxcHandle c(lxc_container_new(name.c_str(), lxc_path.c_str()));
  if (!c) {
    if (!lxc::PathExists(lxc::ContainerDir(lxc_path, name))) {
      return absl::NotFoundError(absl::StrCat("Container ", Quoted(name), " does not exist"));
    }
    return absl::InternalError(
        absl::StrCat("liblxc could not load container ", Quoted(name), " (is its config valid?)"));
  }
  if (!c->is_defined(c.get())) {
    return absl::NotFoundError(absl::StrCat("Container ", Quoted(name), " does not exist"));
  }
  return c;
}

absl::StatusOr<LiveState> StateOf(const LxcHandle& c, const std::string& name) {
  const char* state = c->state(c.get());
  std::optional<LiveState> parsed =
      lxc::ParseLiveState(state == nullptr ? std::string_view() : std::string_view(state));
  if (!parsed.has_value()) {
    return absl::InternalError(absl::StrCat("liblxc reported an unknown state ",
                                            Quoted(state == nullptr ? "(null)" : state), " for ",
                                            Quoted(name)));
  }
  return *parsed;
}

absl::Status WrongState(const std::string& name, LiveState state, std::string_view need) {
  return absl::FailedPreconditionError(absl::StrCat(
      "Container ", Quoted(name), " is ", ToAbsl(LiveStateName(state)), ", not ", ToAbsl(need)));
}

// "<what>: <ERROR lines the container's log got since offset>".
absl::Status LxcFailure(std::string_view what, const std::string& log_path, off_t offset) {
  return absl::InternalError(
      absl::StrCat(ToAbsl(what), ": ",
                   lxc::JoinErrorLines(lxc::ErrorLinesSince(log_path, offset),
                                       "no ERROR lines in the container's LXC log")));
}

bool HasInit(LiveState state) {
  return state == LiveState::kRunning || state == LiveState::kFrozen ||
         state == LiveState::kFreezing || state == LiveState::kThawed;
}

// A cgroup file's value through liblxc (which knows where the container's cgroup is, v1 or v2).
std::optional<std::string> CgroupItem(const LxcHandle& c, const char* item) {
  char buf[4096];
  const int n = c->get_cgroup_item(c.get(), item, buf, sizeof(buf));
  if (n <= 0) return std::nullopt;
  return std::string(buf, std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1));
}

uint64_t MemoryBytes(const LxcHandle& c) {
  uint64_t value = 0;
  for (const char* item : {"memory.usage_in_bytes", "memory.current"}) {
    std::optional<std::string> text = CgroupItem(c, item);
    if (text.has_value() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &value)) {
      return value;
    }
  }
  return 0;
}

uint64_t CpuNanoseconds(const LxcHandle& c) {
  uint64_t value = 0;
  std::optional<std::string> usage = CgroupItem(c, "cpuacct.usage");  // v1, nanoseconds
  if (usage.has_value() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*usage), &value)) {
    return value;
  }
  std::optional<std::string> stat = CgroupItem(c, "cpu.stat");  // v2: usage_usec
  if (!stat.has_value()) return 0;
  for (absl::string_view line : absl::StrSplit(*stat, '\n')) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, ' ');
    if (kv.first == "usage_usec" && absl::SimpleAtoi(kv.second, &value)) return value * 1000;
  }
  return 0;
}

// A number from a cgroup file; "max" (v2) and v1's "unlimited" (near 2^63) read as 0.
uint64_t ReadCgroupNumber(const absl::StatusOr<std::string>& dir, const char* file) {
  if (!dir.ok()) return 0;
  absl::StatusOr<std::string> text = lxc::ReadFileToString(absl::StrCat(*dir, "/", file), 64);
  uint64_t value = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &value)) return 0;
  return value >= (uint64_t{1} << 62) ? 0 : value;
}

// Memory peak and limit, and the number of tasks, from the cgroup files of the container whose
// init is `pid` (no liblxc: its get_cgroup_item knows no peak on every layout).
void ReadCgroupUsage(pid_t pid, const lxc::CgroupLayout& layout, LiveInfo& info) {
  absl::StatusOr<std::string> proc =
      lxc::ReadFileToString(absl::StrCat("/proc/", pid, "/cgroup"), 64 * 1024);
  if (!proc.ok()) return;
  const absl::StatusOr<std::string> memory = lxc::CgroupDir(*proc, "memory", layout);
  const bool v1 = layout.IsV1("memory");
  info.memory_peak_bytes =
      ReadCgroupNumber(memory, v1 ? "memory.max_usage_in_bytes" : "memory.peak");
  info.memory_limit_bytes = ReadCgroupNumber(memory, v1 ? "memory.limit_in_bytes" : "memory.max");
  info.processes = ReadCgroupNumber(lxc::CgroupDir(*proc, "pids", layout), "pids.current");
}

// Writes `value` to a cgroup file (opened without O_CREAT: a missing file is an error, never a
// new file in cgroupfs). The error carries the kernel's reason.
absl::Status WriteCgroupFile(const std::string& path, const std::string& value) {
  lxc::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return lxc::ErrnoError(errno, absl::StrCat("cannot open ", Quoted(path)));
  // cgroupfs takes one value per write(2); an empty value (v2 cpuset "inherit") is a newline.
  const std::string text = value.empty() ? "\n" : value;
  const ssize_t n = ::write(fd.get(), text.data(), text.size());
  if (n != static_cast<ssize_t>(text.size())) {
    return lxc::ErrnoError(
        n < 0 ? errno : EIO,
        absl::StrCat("the kernel refused ", value.empty() ? "an empty value" : Quoted(value),
                     " for ", Quoted(path)));
  }
  return absl::OkStatus();
}

absl::Status CheckHelper(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("berth-lxc-helper not found at ", Quoted(path)));
  }
  if (!S_ISREG(st.st_mode) || ::access(path.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("berth-lxc-helper at ", Quoted(path), " is not an executable file"));
  }
  return absl::OkStatus();
}

bool IsCleanAbsolutePath(std::string_view path) {
  return !path.empty() && path.front() == '/' && (path.size() == 1 || path.back() != '/') &&
         !lxc::HasControlChars(path);
}

absl::Status MakeDirs(const std::string& path, mode_t leaf_mode) {
  std::string partial;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    absl::StrAppend(&partial, "/", part);
    const bool leaf = partial.size() == path.size();
    if (::mkdir(partial.c_str(), leaf ? leaf_mode : 0755) != 0 && errno != EEXIST) {
      return lxc::ErrnoError(errno, absl::StrCat("Cannot create ", Quoted(partial)));
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InternalError(absl::StrCat(Quoted(path), " is not a directory"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<LxcDriver>> LxcDriver::Open(const LxcDriverOptions& options) {
  if (!IsCleanAbsolutePath(options.lxc_path) || options.lxc_path == "/") {
    return absl::InvalidArgumentError(absl::StrCat(
        "The lxcpath must be an absolute path without a trailing '/': ", Quoted(options.lxc_path)));
  }
  if (!IsCleanAbsolutePath(options.template_dir)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "The template directory must be an absolute path: ", Quoted(options.template_dir)));
  }
  if (absl::Status status = CheckHelper(options.helper_path); !status.ok()) return status;
  if (!lxc::PathExists(options.lxc_path)) {
    if (absl::Status status = MakeDirs(options.lxc_path, 0700); !status.ok()) return status;
  }
  std::unique_ptr<LxcDriver> driver(new LxcDriver(options));
  // Without the feed containers still work; only their exit codes are unknown.
  absl::StatusOr<std::unique_ptr<lxc::ExitStatusFeed>> feed = lxc::ExitStatusFeed::Open(
      lxc::ExitStatusFeed::FifoPath(options.run_dir, options.lxc_path));
  if (feed.ok()) {
    driver->exit_codes_ = std::move(*feed);
  } else {
    driver->logger_->warn("Container exit codes will be unknown: {}",
                          std::string(feed.status().message()));
  }
  absl::StatusOr<std::unique_ptr<lxc::ExitMonitor>> monitor = lxc::ExitMonitor::Create(
      [raw = driver.get()](const std::string& name) { raw->OnInitExit(name); });
  if (!monitor.ok()) return monitor.status();
  driver->monitor_ = std::move(*monitor);
  return driver;
}

std::string LxcDriver::Version() {
  const char* version = lxc_get_version();
  return version == nullptr ? "unknown" : version;
}

LxcDriver::LxcDriver(LxcDriverOptions options)
    : options_(std::move(options)),
      logger_(spdlog::get("runtime") ? spdlog::get("runtime")
                                     : spdlog::default_logger()->clone("runtime")),
      layout_(std::make_unique<const lxc::CgroupLayout>(lxc::DetectCgroupLayout())) {}

LxcDriver::~LxcDriver() {
  // Join the monitor thread while every member (monitor_ included) is still intact: an exit
  // handler in progress may call back into this driver.
  if (monitor_ != nullptr) monitor_->Stop();
}

void LxcDriver::SetExitHandler(ExitHandler handler) {
  absl::MutexLock lock(&handler_mu_);
  exit_handler_ = std::move(handler);
}

absl::Status LxcDriver::CreateFromImage(const CreateSpec& spec) {
  std::vector<lxc::ConfigEntry> image_entries;
  for (const auto& [key, value] : spec.image_entries) {
    lxc::ConfigEntry entry{key, value};
    if (!lxc::IsAllowedTemplateEntry(entry)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "The image asks for LXC setting ", Quoted(key), ", which berth does not write"));
    }
    image_entries.push_back(std::move(entry));
  }
  struct stat st;
  if (::stat(spec.image_rootfs.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat("The image's root filesystem ",
                                                      Quoted(spec.image_rootfs), " is missing"));
  }
  lxc::BerthConfig config{options_.lxc_path, spec.name, "", std::move(image_entries),
                          spec.image_rootfs};
  absl::StatusOr<std::string> rendered = lxc::RenderLxcConfig(config);
  if (!rendered.ok()) return rendered.status();
  const std::string dir = lxc::ContainerDir(options_.lxc_path, spec.name);
  if (::mkdir(dir.c_str(), 0750) != 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(
          absl::StrCat("Container ", Quoted(spec.name), " already exists (", Quoted(dir), ")"));
    }
    return lxc::ErrnoError(errno, absl::StrCat("Cannot create ", Quoted(dir)));
  }
  const std::string delta = lxc::ContainerDeltaPath(options_.lxc_path, spec.name);
  absl::Status status;
  if (::mkdir(delta.c_str(), 0755) != 0) {
    status = lxc::ErrnoError(errno, absl::StrCat("Cannot create ", Quoted(delta)));
  } else {
    status = lxc::WriteFileAtomically(lxc::ContainerConfigPath(options_.lxc_path, spec.name),
                                      *rendered, 0640);
  }
  if (!status.ok()) {
    if (absl::Status removed = lxc::RemoveTree(dir); !removed.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat(status.message(), "; cleanup failed: ", removed.message()));
    }
    return status;
  }
  logger_->debug("Created container \"{}\" over image rootfs \"{}\"", spec.name,
                 spec.image_rootfs);
  return absl::OkStatus();
}

absl::Status LxcDriver::Create(const CreateSpec& spec) {
  if (absl::Status s = lxc::ValidateContainerName(spec.name); !s.ok()) return s;
  if (!spec.image_rootfs.empty()) return CreateFromImage(spec);
  if (absl::Status s = lxc::ValidateTemplateName(spec.template_name); !s.ok()) return s;
  if (absl::Status s = lxc::ValidateTemplateArgs(spec.template_args); !s.ok()) return s;
  const std::string template_path =
      absl::StrCat(options_.template_dir, "/lxc-", spec.template_name);
  if (::access(template_path.c_str(), X_OK) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("Unknown template ", Quoted(spec.template_name),
                                                   " (no executable ", Quoted(template_path), ")"));
  }
  const std::string dir = lxc::ContainerDir(options_.lxc_path, spec.name);
  if (lxc::PathExists(dir)) {
    return absl::AlreadyExistsError(
        absl::StrCat("Container ", Quoted(spec.name), " already exists (", Quoted(dir), ")"));
  }

  std::vector<std::string> args = {options_.lxc_path, spec.name, template_path};
  args.insert(args.end(), spec.template_args.begin(), spec.template_args.end());
  absl::Status status =
      lxc::RunHelper(options_.helper_path, lxc::HelperOp::kCreate, args, options_.helper_timeout);
  if (status.ok()) {
    logger_->debug("Created container \"{}\" from template \"{}\"", spec.name, spec.template_name);
    return status;
  }
  // The helper cleans up after itself, unless it was killed. The directory did not exist before
  // the call; unless someone else made it meanwhile (ALREADY_EXISTS), what is there is ours.
  if (status.code() == absl::StatusCode::kAlreadyExists) return status;
  if (absl::Status removed = lxc::RemoveTree(dir); !removed.ok()) {
    logger_->error("Cannot remove the remains of container \"{}\": {}", spec.name,
                   std::string(removed.message()));
    return absl::Status(status.code(),
                        absl::StrCat(status.message(), "; cleanup failed: ", removed.message()));
  }
  return status;
}

absl::Status LxcDriver::WriteSettings(const std::string& name, const ContainerSettings& settings) {
  absl::StatusOr<std::vector<lxc::ConfigEntry>> entries = lxc::SettingsEntries(settings, *layout_);
  if (!entries.ok()) return entries.status();
  const std::string path = lxc::ContainerConfigPath(options_.lxc_path, name);
  absl::StatusOr<std::string> text = lxc::ReadFileToString(path, kMaxConfigBytes);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::string> updated = lxc::ReplaceSettingsSection(*text, *entries);
  if (!updated.ok()) return updated.status();
  if (*updated == *text) return absl::OkStatus();
  return lxc::WriteFileAtomically(path, *updated, 0640);
}

absl::Status LxcDriver::Start(std::string_view name_view, const ContainerSettings& settings) {
  const std::string name(name_view);
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  {
    absl::StatusOr<LxcHandle> c = OpenDefined(options_.lxc_path, name);
    if (!c.ok()) return c.status();
    absl::StatusOr<LiveState> state = StateOf(*c, name);
    if (!state.ok()) return state.status();
    if (*state != LiveState::kStopped) return WrongState(name, *state, "STOPPED");
  }
  // A disk device's source must be there now: liblxc would fail the start with a less clear
  // message (or create=dir would not apply to the host side).
  for (const BindMount& mount : settings.mounts) {
    struct stat st {};
    if (::stat(mount.source.c_str(), &st) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the source ", Quoted(mount.source), " of the mount at ", Quoted(mount.path), " of ",
          Quoted(name), " does not exist on the host; create it or remove the device"));
    }
  }
  if (absl::Status s = WriteSettings(name, settings); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("Cannot write the settings of ", Quoted(name),
                                               " into its LXC config: ", s.message()));
  }
  const std::string log_path = lxc::ContainerLogPath(options_.lxc_path, name);
  const off_t offset = lxc::LogOffset(log_path);
  if (exit_codes_ != nullptr) exit_codes_->Forget(name);  // a status left by an earlier run
  absl::Status status = lxc::RunHelper(options_.helper_path, lxc::HelperOp::kStart,
                                       {options_.lxc_path, name}, options_.helper_timeout);
  if (!status.ok()) return status;

  absl::StatusOr<LxcHandle> c = OpenDefined(options_.lxc_path, name);
  if (!c.ok()) return c.status();
  absl::StatusOr<LiveState> state = StateOf(*c, name);
  if (!state.ok()) return state.status();
  if (*state != LiveState::kRunning) {
    return LxcFailure(absl::StrCat("Container ", Quoted(name), " is ",
                                   ToAbsl(LiveStateName(*state)), " right after it was started"),
                      log_path, offset);
  }
  if (absl::Status watched = EnsureWatched(name); !watched.ok()) {
    // Either the container died at once (then say so: no exit would be reported), or watching
    // failed for another reason (then it runs; the next Inspect tries to watch again).
    absl::StatusOr<LiveState> now = StateOf(*c, name);
    if (now.ok() && !HasInit(*now)) {
      return LxcFailure(
          absl::StrCat("Container ", Quoted(name), " stopped right after it was started"), log_path,
          offset);
    }
    logger_->warn("Cannot watch the init of \"{}\": {}", name, std::string(watched.message()));
  }
  logger_->debug("Started container \"{}\"", name);
  return absl::OkStatus();
}

absl::Status LxcDriver::Stop(std::string_view name_view, absl::Duration timeout, bool force) {
  const std::string name(name_view);
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  absl::StatusOr<LxcHandle> c = OpenDefined(options_.lxc_path, name);
  if (!c.ok()) return c.status();
  absl::StatusOr<LiveState> state = StateOf(*c, name);
  if (!state.ok()) return state.status();
  if (*state == LiveState::kStopped) return WrongState(name, *state, "running");

  const std::string log_path = lxc::ContainerLogPath(options_.lxc_path, name);
  const off_t offset = lxc::LogOffset(log_path);
  monitor_->Forget(name);  // an exit the driver causes is not reported to the exit handler

  // A frozen init can take neither the halt signal nor (cgroup v1) a kill: thaw it first.
  if (*state == LiveState::kFrozen || *state == LiveState::kFreezing) {
    if (!(*c)->unfreeze(c->get())) {
      logger_->warn("Cannot thaw \"{}\" before stopping it", name);
    }
  }
  bool stopped = false;
  if (!force && timeout > absl::ZeroDuration()) {
    const int seconds = static_cast<int>(
        std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(timeout, absl::Seconds(1)))));
    stopped = (*c)->shutdown(c->get(), seconds);
    if (!stopped) {
      logger_->info("Container \"{}\" did not halt within {}s; killing it", name, seconds);
    }
  }
  if (!stopped) {
    if ((*c)->stop(c->get())) {
      stopped = (*c)->wait(c->get(), "STOPPED", kKillWaitSeconds);
    }
  }
  absl::StatusOr<LiveState> final_state = StateOf(*c, name);
  if (stopped || (final_state.ok() && *final_state == LiveState::kStopped)) {
    logger_->debug("Stopped container \"{}\"{}", name, force ? " (killed)" : "");
    return absl::OkStatus();
  }
  if (absl::Status watched = EnsureWatched(name); !watched.ok()) {
    logger_->warn("Cannot watch the init of \"{}\" again: {}", name,
                  std::string(watched.message()));
  }
  return LxcFailure(absl::StrCat("Stopping ", Quoted(name), " failed"), log_path, offset);
}

absl::Status LxcDriver::Freeze(std::string_view name_view) {
  const std::string name(name_view);
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  absl::StatusOr<LxcHandle> c = OpenDefined(options_.lxc_path, name);
  if (!c.ok()) return c.status();
  absl::StatusOr<LiveState> state = StateOf(*c, name);
  if (!state.ok()) return state.status();
  if (*state != LiveState::kRunning) return WrongState(name, *state, "RUNNING");
  const std::string log_path = lxc::ContainerLogPath(options_.lxc_path, name);
  const off_t offset = lxc::LogOffset(log_path);
  if (!(*c)->freeze(c->get())) {
    return LxcFailure(absl::StrCat("Freezing ", Quoted(name), " failed"), log_path, offset);
  }
  return absl::OkStatus();
}

absl::Status LxcDriver::Unfreeze(std::string_view name_view) {
  const std::string name(name_view);
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  absl::StatusOr<LxcHandle> c = OpenDefined(options_.lxc_path, name);
  if (!c.ok()) return c.status();
  absl::StatusOr<LiveState> state = StateOf(*c, name);
  if (!state.ok()) return state.status();
  if (*state != LiveState::kFrozen) return WrongState(name, *state, "FROZEN");
  const std::string log_path = lxc::ContainerLogPath(options_.lxc_path, name);
  const off_t offset = lxc::LogOffset(log_path);
  if (!(*c)->unfreeze(c->get())) {
    return LxcFailure(absl::StrCat("Thawing ", Quoted(name), " failed"), log_path, offset);
  }
  return absl::OkStatus();
}

absl::Status LxcDriver::ApplyLive(std::string_view name_view, const ContainerSettings& before,
                                  const ContainerSettings& after) {
  const std::string name(name_view);
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  // Checked as for a start, although only the cgroup items are written now.
  if (absl::Status s = lxc::SettingsEntries(after, *layout_).status(); !s.ok()) return s;
  absl::StatusOr<LxcHandle> c = OpenDefined(options_.lxc_path, name);
  if (!c.ok()) return c.status();
  absl::StatusOr<LiveState> state = StateOf(*c, name);
  if (!state.ok()) return state.status();
  if (!HasInit(*state)) return WrongState(name, *state, "RUNNING");
  const pid_t pid = (*c)->init_pid(c->get());
  if (pid <= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("Container ", Quoted(name), " has no init process"));
  }
  absl::StatusOr<std::string> proc =
      lxc::ReadFileToString(absl::StrCat("/proc/", pid, "/cgroup"), 64 * 1024);
  if (!proc.ok()) return proc.status();

  const int host_cpus = static_cast<int>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  const std::vector<lxc::CgroupItem> changes = lxc::LiveChanges(before, after, *layout_, host_cpus);
  const std::vector<lxc::CgroupItem> old_items =
      lxc::CgroupItems(before, *layout_, host_cpus, /*with_resets=*/true);
  for (size_t i = 0; i < changes.size(); ++i) {
    const lxc::CgroupItem& item = changes[i];
    absl::StatusOr<std::string> dir = lxc::CgroupDir(*proc, item.controller, *layout_);
    absl::Status written =
        dir.ok() ? WriteCgroupFile(absl::StrCat(*dir, "/", item.file), item.value) : dir.status();
    if (written.ok()) continue;
    // Put back what was already changed, newest first, so the container keeps its old limits.
    for (size_t j = i; j-- > 0;) {
      for (const lxc::CgroupItem& old : old_items) {
        if (old.file != changes[j].file) continue;
        absl::StatusOr<std::string> old_dir = lxc::CgroupDir(*proc, old.controller, *layout_);
        if (!old_dir.ok() ||
            !WriteCgroupFile(absl::StrCat(*old_dir, "/", old.file), old.value).ok()) {
          logger_->error("Cannot restore {} of \"{}\" after a refused change", old.file, name);
        }
      }
    }
    return absl::FailedPreconditionError(absl::StrCat("Cannot set ", item.file,
                                                      " of running container ", Quoted(name), ": ",
                                                      written.message(), "; nothing was changed"));
  }
  logger_->debug("Applied {} cgroup change(s) to \"{}\"", changes.size(), name);
  return absl::OkStatus();
}

absl::Status LxcDriver::Rename(std::string_view name_view, std::string_view new_name_view) {
  const std::string name(name_view);
  const std::string new_name(new_name_view);
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  if (absl::Status s = lxc::ValidateContainerName(new_name); !s.ok()) return s;
  if (name == new_name) {
    return absl::InvalidArgumentError(
        absl::StrCat("Container ", Quoted(name), " already has that name"));
  }
  {
    absl::StatusOr<LxcHandle> c = OpenDefined(options_.lxc_path, name);
    if (!c.ok()) return c.status();
    absl::StatusOr<LiveState> state = StateOf(*c, name);
    if (!state.ok()) return state.status();
    if (*state != LiveState::kStopped) return WrongState(name, *state, "STOPPED");
  }
  const std::string old_dir = lxc::ContainerDir(options_.lxc_path, name);
  const std::string new_dir = lxc::ContainerDir(options_.lxc_path, new_name);
  if (lxc::PathExists(new_dir)) {
    return absl::AlreadyExistsError(
        absl::StrCat("Container ", Quoted(new_name), " already exists"));
  }

  // Render the new config before touching anything.
  absl::StatusOr<std::string> text =
      lxc::ReadFileToString(lxc::ContainerConfigPath(options_.lxc_path, name), kMaxConfigBytes);
  if (!text.ok()) return text.status();
  // The settings section is rewritten at the next start; its lines (lxc.environment is also a
  // template key) must not be taken for the template's.
  absl::StatusOr<std::vector<lxc::ConfigEntry>> entries =
      lxc::ParseLxcConfig(lxc::StripSettingsSection(*text));
  if (!entries.ok()) {
    return absl::InternalError(absl::StrCat("The config of ", Quoted(name),
                                            " is unreadable: ", entries.status().message()));
  }
  absl::StatusOr<std::string> rendered =
      lxc::RenderLxcConfig({options_.lxc_path, new_name, lxc::TemplateNameFromConfig(*text),
                            lxc::FilterTemplateEntries(*entries),
                            lxc::ImageRootfsFromEntries(*entries)});
  if (!rendered.ok()) return rendered.status();

  monitor_->Forget(name);
  monitor_->Forget(new_name);
  // Atomic, and never over an existing directory. Between this and the config rewrite the
  // container's config still names the old paths; a crash there leaves a container that fails
  // to start (its rootfs path does not exist), never one that uses another's files.
  if (::renameat2(AT_FDCWD, old_dir.c_str(), AT_FDCWD, new_dir.c_str(), RENAME_NOREPLACE) != 0) {
    const int err = errno;
    if (err == EEXIST) {
      return absl::AlreadyExistsError(
          absl::StrCat("Container ", Quoted(new_name), " already exists"));
    }
    return lxc::ErrnoError(
        err, absl::StrCat("Cannot rename ", Quoted(old_dir), " to ", Quoted(new_dir)));
  }
  absl::Status written = lxc::WriteFileAtomically(
      lxc::ContainerConfigPath(options_.lxc_path, new_name), *rendered, 0640);
  if (!written.ok()) {
    if (::renameat2(AT_FDCWD, new_dir.c_str(), AT_FDCWD, old_dir.c_str(), RENAME_NOREPLACE) != 0) {
      logger_->error("Cannot move \"{}\" back to \"{}\" after a failed rename", new_dir, old_dir);
    }
    return written;
  }
  logger_->debug("Renamed container \"{}\" to \"{}\"", name, new_name);
  return absl::OkStatus();
}

absl::Status LxcDriver::Destroy(std::string_view name_view) {
  const std::string name(name_view);
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  const std::string dir = lxc::ContainerDir(options_.lxc_path, name);
  {
    absl::StatusOr<LxcHandle> c = OpenDefined(options_.lxc_path, name);
    if (absl::IsNotFound(c.status()) && lxc::PathExists(dir)) {
      // The remains of a creation that never finished (its helper was killed with berthd):
      // nothing liblxc knows as a container, never started, so nothing is mounted below it.
      if (absl::Status removed = lxc::RemoveTree(dir); !removed.ok()) return removed;
      logger_->info("Removed the remains of unfinished container \"{}\"", name);
      return absl::OkStatus();
    }
    if (!c.ok()) return c.status();
    absl::StatusOr<LiveState> state = StateOf(*c, name);
    if (!state.ok()) return state.status();
    if (*state != LiveState::kStopped) return WrongState(name, *state, "STOPPED");
  }
  monitor_->Forget(name);
  absl::Status status = lxc::RunHelper(options_.helper_path, lxc::HelperOp::kDestroy,
                                       {options_.lxc_path, name}, options_.helper_timeout);
  if (!status.ok()) return status;
  if (lxc::PathExists(dir)) {
    return absl::InternalError(
        absl::StrCat("Destroying ", Quoted(name), " left ", Quoted(dir), " behind"));
  }
  logger_->debug("Destroyed container \"{}\"", name);
  return absl::OkStatus();
}

absl::StatusOr<LiveInfo> LxcDriver::Inspect(std::string_view name_view) {
  const std::string name(name_view);
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  absl::StatusOr<LxcHandle> c = OpenDefined(options_.lxc_path, name);
  if (!c.ok()) return c.status();
  absl::StatusOr<LiveState> state = StateOf(*c, name);
  if (!state.ok()) return state.status();

  LiveInfo info;
  info.state = *state;
  if (!HasInit(*state)) return info;
  const pid_t pid = (*c)->init_pid(c->get());
  if (pid <= 0) return info;
  info.init_pid = pid;

  const std::string proc_net = absl::StrCat("/proc/", pid, "/net/");
  if (absl::StatusOr<std::string> trie =
          lxc::ReadFileToString(proc_net + "fib_trie", kMaxProcNetBytes);
      trie.ok()) {
    info.ipv4 = lxc::ParseFibTrieLocalAddresses(*trie);
  }
  if (absl::StatusOr<std::string> inet6 =
          lxc::ReadFileToString(proc_net + "if_inet6", kMaxProcNetBytes);
      inet6.ok()) {
    info.ipv6 = lxc::ParseIfInet6Addresses(*inet6);
  }
  info.memory_bytes = MemoryBytes(*c);
  info.cpu_ns = CpuNanoseconds(*c);
  ReadCgroupUsage(pid, *layout_, info);

  if (!monitor_->IsWatched(name)) {
    if (absl::Status watched = EnsureWatched(name); !watched.ok()) {
      logger_->warn("Cannot watch the init of \"{}\": {}", name, std::string(watched.message()));
    }
  }
  return info;
}

absl::StatusOr<LiveInfo> LxcDriver::InspectState(std::string_view name_view) {
  const std::string name(name_view);
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  absl::StatusOr<LxcHandle> c = OpenDefined(options_.lxc_path, name);
  if (!c.ok()) return c.status();
  absl::StatusOr<LiveState> state = StateOf(*c, name);
  if (!state.ok()) return state.status();
  LiveInfo info;
  info.state = *state;
  if (!HasInit(*state)) return info;
  const pid_t pid = (*c)->init_pid(c->get());
  if (pid > 0) info.init_pid = pid;
  return info;
}

absl::StatusOr<std::vector<std::string>> LxcDriver::ListNames() {
  char** raw = nullptr;
  const int count = list_defined_containers(options_.lxc_path.c_str(), &raw, nullptr);
  if (count < 0) {
    return absl::InternalError(
        absl::StrCat("liblxc cannot list the containers in ", Quoted(options_.lxc_path)));
  }
  lxc::LxcNameList names(raw, count);
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(names.size()));
  for (int i = 0; i < names.size(); ++i) {
    std::string_view name = names[i];
    if (!lxc::ValidateContainerName(name).ok()) {
      logger_->warn("Ignoring a container with a name berth does not accept in \"{}\"",
                    options_.lxc_path);
      continue;
    }
    out.emplace_back(name);
  }
  return out;
}

absl::Status LxcDriver::EnsureWatched(const std::string& name) {
  if (monitor_->IsWatched(name)) return absl::OkStatus();
  absl::StatusOr<LxcHandle> c = OpenDefined(options_.lxc_path, name);
  if (!c.ok()) return c.status();
  lxc::UniqueFd pidfd((*c)->init_pidfd(c->get()));
  if (!pidfd.valid()) {
    // Older monitors cannot hand out a pidfd; open one from the pid.
    const pid_t pid = (*c)->init_pid(c->get());
    if (pid <= 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("Container ", Quoted(name), " has no init process"));
    }
    pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd.valid()) {
      return lxc::ErrnoError(errno, absl::StrCat("pidfd_open of the init of ", Quoted(name)));
    }
  }
  ::fcntl(pidfd.get(), F_SETFD, FD_CLOEXEC);
  return monitor_->Watch(name, std::move(pidfd));
}

void LxcDriver::OnInitExit(const std::string& name) {
  // The init is gone; liblxc's monitor still has to tear down. Wait (bounded) until it reports
  // STOPPED so that an Inspect from the handler sees the container stopped.
  {
    LxcHandle c(lxc_container_new(name.c_str(), options_.lxc_path.c_str()));
    if (c && c->is_defined(c.get())) {
      const int seconds = static_cast<int>(std::max<int64_t>(
          1, absl::ToInt64Seconds(absl::Ceil(options_.exit_settle_timeout, absl::Seconds(1)))));
      c->wait(c.get(), "STOPPED", seconds);
    }
  }
  // liblxc's monitor sent the status before it reported STOPPED; usually it is there already.
  std::optional<int> code;
  if (exit_codes_ != nullptr) code = exit_codes_->Take(name, options_.exit_code_timeout);
  logger_->debug("The init of container \"{}\" exited ({})", name,
                 code ? absl::StrCat("exit code ", *code) : "exit code unknown");
  ExitHandler handler;
  {
    absl::MutexLock lock(&handler_mu_);
    handler = exit_handler_;
  }
  if (!handler) return;
  try {
    handler(name, code);
  } catch (const std::exception& e) {
    logger_->error("The exit handler threw for \"{}\": {}", name, e.what());
  } catch (...) {
    logger_->error("The exit handler threw for \"{}\"", name);
  }
}

absl::StatusOr<std::unique_ptr<ExecProcess>> LxcDriver::Exec(std::string_view name_view,
                                                             const ExecSpec& spec) {
  const std::string name(name_view);
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  if (spec.argv.empty()) return absl::InvalidArgumentError("exec needs a command");
  if (spec.cwd.empty() || spec.cwd.front() != '/') {
    return absl::InvalidArgumentError("the working directory must be an absolute path");
  }
  std::vector<std::string> argv = {options_.helper_path, "exec", options_.lxc_path, name};
  if (spec.tty) argv.push_back("--tty");
  argv.insert(argv.end(), {"--uid", absl::StrCat(spec.uid), "--gid", absl::StrCat(spec.gid),
                           "--cwd", spec.cwd});
  for (const std::string& var : spec.env) {
    if (var.find('=') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad environment entry \"", var, "\""));
    }
    argv.insert(argv.end(), {"--env", var});
  }
  argv.push_back("--");
  argv.insert(argv.end(), spec.argv.begin(), spec.argv.end());
  static const std::vector<std::string> kEnv = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"};
  return ExecProcess::Spawn(ExecProcess::Protocol::kHelper, argv, kEnv, "/", spec.tty, spec.rows,
                            spec.cols);
}

absl::StatusOr<std::unique_ptr<StdioEndpoint>> LxcDriver::AttachConsole(std::string_view name_view,
                                                                        uint16_t rows,
                                                                        uint16_t cols) {
  const std::string name(name_view);
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  std::vector<lxc::UniqueFd> fds;
  absl::Status status =
      lxc::RunHelper(options_.helper_path, lxc::HelperOp::kConsole, {options_.lxc_path, name},
                     std::min(options_.helper_timeout, kConsoleHelperTimeout), &fds);
  if (!status.ok()) return status;
  if (fds.size() != static_cast<size_t>(lxc::kConsoleFdCount)) {
    return absl::InternalError(absl::StrCat("berth-lxc-helper console sent ", fds.size(),
                                            " fds instead of ", lxc::kConsoleFdCount));
  }
  auto console =
      std::make_unique<ConsoleAttachment>(fds[0].release(), fds[1].release(), fds[2].release());
  if (absl::Status resized = console->Resize(rows, cols); !resized.ok()) {
    logger_->warn("Cannot size the console of \"{}\": {}", name, std::string(resized.message()));
  }
  logger_->debug("Attached to the console of \"{}\"", name);
  return console;
}

absl::StatusOr<ConsoleLog> LxcDriver::ReadConsoleLog(std::string_view name_view, size_t max_bytes) {
  const std::string name(name_view);
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  if (!lxc::PathExists(lxc::ContainerDir(options_.lxc_path, name))) {
    return absl::NotFoundError(absl::StrCat("Container ", Quoted(name), " does not exist"));
  }
  // The newest bytes are in the current file; older ones in the file rotated before it.
  const std::string current = lxc::ContainerConsoleLogPath(options_.lxc_path, name);
  ConsoleLog log;
  size_t wanted = max_bytes;
  for (const std::string& path : {current, current + ".1"}) {
    lxc::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) {
      if (errno == ENOENT) continue;
      return lxc::ErrnoError(errno, absl::StrCat("Cannot open the console log ", Quoted(path)));
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return absl::InternalError(
          absl::StrCat("The console log ", Quoted(path), " is not a regular file"));
    }
    uint64_t size = 0;
    std::string tail = lxc::ReadTail(fd.get(), wanted, &size);
    if (size > tail.size()) log.truncated = true;
    wanted -= std::min(wanted, tail.size());
    log.data.insert(0, tail);
    if (wanted == 0) {
      // Whatever is older (the rotated file, if this was the current one) is cut off too.
      if (path == current && lxc::PathExists(current + ".1")) log.truncated = true;
      break;
    }
  }
  return log;
}

absl::StatusOr<std::string> LxcDriver::RootfsPath(std::string_view name) {
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  return absl::StrCat(options_.lxc_path, "/", ToAbsl(name), "/rootfs");
}

}  // namespace berth::runtime
