#include "berth/runtime/fake_runtime_driver.h"

#include "absl/strings/str_cat.h"
#include "lxc/string_views.h"
#include "lxc/validation.h"

namespace berth::runtime {
namespace {

using lxc::ToAbsl;

std::string Quoted(std::string_view s) { return absl::StrCat("\"", ToAbsl(s), "\""); }

absl::Status WrongState(std::string_view name, LiveState state, std::string_view need) {
  return absl::FailedPreconditionError(absl::StrCat(
      "Container ", Quoted(name), " is ", ToAbsl(LiveStateName(state)), ", not ", ToAbsl(need)));
}

size_t Index(FakeRuntimeDriver::Op op) { return static_cast<size_t>(op); }

}  // namespace

std::string_view FakeRuntimeDriver::OpName(Op op) {
  switch (op) {
    case Op::kCreate:
      return "Create";
    case Op::kStart:
      return "Start";
    case Op::kStop:
      return "Stop";
    case Op::kFreeze:
      return "Freeze";
    case Op::kUnfreeze:
      return "Unfreeze";
    case Op::kRename:
      return "Rename";
    case Op::kDestroy:
      return "Destroy";
    case Op::kInspect:
      return "Inspect";
    case Op::kListNames:
      return "ListNames";
    case Op::kApplyLive:
      return "ApplyLive";
    case Op::kSnapshot:
      return "Snapshot";
    case Op::kCopy:
      return "Copy";
  }
  return "Unknown";
}

FakeRuntimeDriver::FakeRuntimeDriver() : templates_({"busybox"}) {}

FakeRuntimeDriver::~FakeRuntimeDriver() = default;

absl::Status FakeRuntimeDriver::Enter(Op op) {
  const size_t i = Index(op);
  ++calls_[i];
  if (held_[i]) {
    ++waiting_[i];
    mu_.Await(absl::Condition(
        +[](bool* held) { return !*held; }, &held_[i]));
    --waiting_[i];
  }
  if (!failures_[i].empty()) {
    absl::Status status = std::move(failures_[i].front());
    failures_[i].pop_front();
    return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<FakeRuntimeDriver::Container*> FakeRuntimeDriver::Find(const std::string& name) {
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  auto it = containers_.find(name);
  if (it == containers_.end()) {
    return absl::NotFoundError(absl::StrCat("Container ", Quoted(name), " does not exist"));
  }
  return &it->second;
}

absl::Status FakeRuntimeDriver::Create(const CreateSpec& spec) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Enter(Op::kCreate); !s.ok()) return s;
  if (absl::Status s = lxc::ValidateContainerName(spec.name); !s.ok()) return s;
  if (absl::Status s = lxc::ValidateTemplateName(spec.template_name); !s.ok()) return s;
  if (absl::Status s = lxc::ValidateTemplateArgs(spec.template_args); !s.ok()) return s;
  if (!templates_.contains(spec.template_name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Unknown template ", Quoted(spec.template_name)));
  }
  if (containers_.contains(spec.name)) {
    return absl::AlreadyExistsError(
        absl::StrCat("Container ", Quoted(spec.name), " already exists"));
  }
  Container container;
  container.spec = spec;
  containers_.emplace(spec.name, std::move(container));
  return absl::OkStatus();
}

namespace {

// The checks LxcDriver makes of settings before it writes them, so the fake refuses the same.
absl::Status CheckSettings(const ContainerSettings& settings) {
  for (const auto& [key, value] : settings.raw_lxc) {
    if (absl::Status s = CheckRawLxcEntry(key, value); !s.ok()) return s;
  }
  for (const auto& [key, value] : settings.environment) {
    if (key.empty() || key.find('=') != std::string::npos || lxc::HasControlChars(key) ||
        lxc::HasControlChars(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("Environment variable ", Quoted(key), " cannot be written"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status FakeRuntimeDriver::Start(std::string_view name_view,
                                      const ContainerSettings& settings) {
  const std::string name(name_view);
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Enter(Op::kStart); !s.ok()) return s;
  absl::StatusOr<Container*> c = Find(name);
  if (!c.ok()) return c.status();
  if ((*c)->state != LiveState::kStopped) return WrongState(name, (*c)->state, "STOPPED");
  if (absl::Status s = CheckSettings(settings); !s.ok()) return s;
  (*c)->state = LiveState::kRunning;
  (*c)->init_pid = next_pid_++;
  (*c)->settings = settings;
  return absl::OkStatus();
}

absl::Status FakeRuntimeDriver::ApplyLive(std::string_view name_view, const ContainerSettings&,
                                          const ContainerSettings& after) {
  const std::string name(name_view);
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Enter(Op::kApplyLive); !s.ok()) return s;
  absl::StatusOr<Container*> c = Find(name);
  if (!c.ok()) return c.status();
  if ((*c)->state != LiveState::kRunning && (*c)->state != LiveState::kFrozen) {
    return WrongState(name, (*c)->state, "RUNNING");
  }
  if (absl::Status s = CheckSettings(after); !s.ok()) return s;
  // Like LxcDriver: only the limits change now; environment and raw lines wait for a start.
  ContainerSettings& now = (*c)->settings;
  now.cpuset = after.cpuset;
  now.cpu_quota_us = after.cpu_quota_us;
  now.cpu_period_us = after.cpu_period_us;
  now.memory_bytes = after.memory_bytes;
  now.memory_swap = after.memory_swap;
  now.processes = after.processes;
  return absl::OkStatus();
}

std::optional<ContainerSettings> FakeRuntimeDriver::SettingsOf(std::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(name);
  if (it == containers_.end()) return std::nullopt;
  return it->second.settings;
}

absl::Status FakeRuntimeDriver::Stop(std::string_view name_view, absl::Duration timeout,
                                     bool force) {
  const std::string name(name_view);
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Enter(Op::kStop); !s.ok()) return s;
  last_stop_ = std::make_pair(timeout, force);
  absl::StatusOr<Container*> c = Find(name);
  if (!c.ok()) return c.status();
  if ((*c)->state == LiveState::kStopped) return WrongState(name, (*c)->state, "running");
  (*c)->state = LiveState::kStopped;
  (*c)->init_pid = 0;
  return absl::OkStatus();
}

absl::Status FakeRuntimeDriver::Freeze(std::string_view name_view) {
  const std::string name(name_view);
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Enter(Op::kFreeze); !s.ok()) return s;
  absl::StatusOr<Container*> c = Find(name);
  if (!c.ok()) return c.status();
  if ((*c)->state != LiveState::kRunning) return WrongState(name, (*c)->state, "RUNNING");
  (*c)->state = LiveState::kFrozen;
  return absl::OkStatus();
}

absl::Status FakeRuntimeDriver::Unfreeze(std::string_view name_view) {
  const std::string name(name_view);
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Enter(Op::kUnfreeze); !s.ok()) return s;
  absl::StatusOr<Container*> c = Find(name);
  if (!c.ok()) return c.status();
  if ((*c)->state != LiveState::kFrozen) return WrongState(name, (*c)->state, "FROZEN");
  (*c)->state = LiveState::kRunning;
  return absl::OkStatus();
}

absl::Status FakeRuntimeDriver::Rename(std::string_view name_view, std::string_view new_name_view) {
  const std::string name(name_view);
  const std::string new_name(new_name_view);
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Enter(Op::kRename); !s.ok()) return s;
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  if (absl::Status s = lxc::ValidateContainerName(new_name); !s.ok()) return s;
  if (name == new_name) {
    return absl::InvalidArgumentError(
        absl::StrCat("Container ", Quoted(name), " already has that name"));
  }
  absl::StatusOr<Container*> c = Find(name);
  if (!c.ok()) return c.status();
  if ((*c)->state != LiveState::kStopped) return WrongState(name, (*c)->state, "STOPPED");
  if (containers_.contains(new_name)) {
    return absl::AlreadyExistsError(
        absl::StrCat("Container ", Quoted(new_name), " already exists"));
  }
  auto node = containers_.extract(name);
  node.key() = new_name;
  if (node.mapped().spec.has_value()) node.mapped().spec->name = new_name;
  containers_.insert(std::move(node));
  return absl::OkStatus();
}

absl::Status FakeRuntimeDriver::Destroy(std::string_view name_view) {
  const std::string name(name_view);
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Enter(Op::kDestroy); !s.ok()) return s;
  absl::StatusOr<Container*> c = Find(name);
  if (!c.ok()) return c.status();
  if ((*c)->state != LiveState::kStopped) return WrongState(name, (*c)->state, "STOPPED");
  containers_.erase(name);
  return absl::OkStatus();
}

absl::Status FakeRuntimeDriver::CreateSnapshot(std::string_view name_view,
                                               std::string_view snapshot) {
  const std::string name(name_view);
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Enter(Op::kSnapshot); !s.ok()) return s;
  if (absl::Status s = lxc::ValidateSnapshotName(snapshot); !s.ok()) return s;
  absl::StatusOr<Container*> c = Find(name);
  if (!c.ok()) return c.status();
  if (!(*c)->snapshots.emplace(snapshot).second) {
    return absl::AlreadyExistsError(absl::StrCat("container ", Quoted(name),
                                                 " already has a snapshot ",
                                                 Quoted(std::string(snapshot))));
  }
  return absl::OkStatus();
}

absl::Status FakeRuntimeDriver::RestoreSnapshot(std::string_view name_view,
                                                std::string_view snapshot) {
  const std::string name(name_view);
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Enter(Op::kSnapshot); !s.ok()) return s;
  absl::StatusOr<Container*> c = Find(name);
  if (!c.ok()) return c.status();
  if ((*c)->state != LiveState::kStopped) return WrongState(name, (*c)->state, "STOPPED");
  if (!(*c)->snapshots.contains(std::string(snapshot))) {
    return absl::NotFoundError(absl::StrCat("container ", Quoted(name), " has no snapshot ",
                                            Quoted(std::string(snapshot))));
  }
  ++(*c)->restores;
  return absl::OkStatus();
}

absl::Status FakeRuntimeDriver::DeleteSnapshot(std::string_view name_view,
                                               std::string_view snapshot) {
  const std::string name(name_view);
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Enter(Op::kSnapshot); !s.ok()) return s;
  absl::StatusOr<Container*> c = Find(name);
  if (!c.ok()) return c.status();
  if ((*c)->snapshots.erase(std::string(snapshot)) == 0) {
    return absl::NotFoundError(absl::StrCat("container ", Quoted(name), " has no snapshot ",
                                            Quoted(std::string(snapshot))));
  }
  return absl::OkStatus();
}

absl::Status FakeRuntimeDriver::Copy(std::string_view name_view, std::string_view new_name_view) {
  const std::string name(name_view);
  const std::string new_name(new_name_view);
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Enter(Op::kCopy); !s.ok()) return s;
  if (absl::Status s = lxc::ValidateContainerName(new_name); !s.ok()) return s;
  absl::StatusOr<Container*> c = Find(name);
  if (!c.ok()) return c.status();
  if (containers_.contains(new_name)) {
    return absl::AlreadyExistsError(
        absl::StrCat("Container ", Quoted(new_name), " already exists"));
  }
  Container copy;
  copy.spec = (*c)->spec;
  if (copy.spec.has_value()) copy.spec->name = new_name;
  containers_.emplace(new_name, std::move(copy));
  return absl::OkStatus();
}

std::set<std::string> FakeRuntimeDriver::SnapshotsOf(std::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(name);
  return it == containers_.end() ? std::set<std::string>{} : it->second.snapshots;
}

int FakeRuntimeDriver::RestoresOf(std::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(name);
  return it == containers_.end() ? 0 : it->second.restores;
}

absl::StatusOr<LiveInfo> FakeRuntimeDriver::Inspect(std::string_view name_view) {
  const std::string name(name_view);
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Enter(Op::kInspect); !s.ok()) return s;
  absl::StatusOr<Container*> c = Find(name);
  if (!c.ok()) return c.status();
  LiveInfo info;
  info.state = (*c)->state;
  if (info.state != LiveState::kStopped) {
    info.init_pid = (*c)->init_pid;
    info.ipv4 = (*c)->ipv4;
    info.ipv6 = (*c)->ipv6;
    info.memory_bytes = (*c)->memory_bytes;
    info.cpu_ns = (*c)->cpu_ns;
  }
  return info;
}

absl::StatusOr<std::vector<std::string>> FakeRuntimeDriver::ListNames() {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Enter(Op::kListNames); !s.ok()) return s;
  std::vector<std::string> names;
  names.reserve(containers_.size());
  for (const auto& [name, container] : containers_) names.push_back(name);
  return names;
}

void FakeRuntimeDriver::SetExitHandler(ExitHandler handler) {
  absl::MutexLock lock(&mu_);
  exit_handler_ = std::move(handler);
}

absl::StatusOr<std::unique_ptr<ExecProcess>> FakeRuntimeDriver::Exec(std::string_view name,
                                                                     const ExecSpec& spec) {
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<Container*> c = Find(std::string(name));
    if (!c.ok()) return c.status();
    if ((*c)->state != LiveState::kRunning) {
      return absl::FailedPreconditionError(absl::StrCat("Container \"", std::string(name), "\" is ",
                                                        std::string(LiveStateName((*c)->state))));
    }
    last_exec_ = spec;
  }
  if (spec.argv.empty()) return absl::InvalidArgumentError("exec needs a command");
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$@\"", "sh"};
  argv.insert(argv.end(), spec.argv.begin(), spec.argv.end());
  return ExecProcess::Spawn(ExecProcess::Protocol::kDirect, argv, spec.env, spec.cwd, spec.tty,
                            spec.rows, spec.cols);
}

absl::StatusOr<std::unique_ptr<StdioEndpoint>> FakeRuntimeDriver::AttachConsole(
    std::string_view name, uint16_t rows, uint16_t cols) {
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<Container*> c = Find(std::string(name));
    if (!c.ok()) return c.status();
    if ((*c)->state != LiveState::kRunning) {
      return absl::FailedPreconditionError(absl::StrCat("Container \"", std::string(name), "\" is ",
                                                        std::string(LiveStateName((*c)->state))));
    }
  }
  absl::StatusOr<std::unique_ptr<ExecProcess>> shell =
      ExecProcess::Spawn(ExecProcess::Protocol::kDirect, {"/bin/sh"},
                         {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "PS1=$ "}, "/", true, rows, cols);
  if (!shell.ok()) return shell.status();
  return std::unique_ptr<StdioEndpoint>(std::move(*shell));
}

absl::StatusOr<ConsoleLog> FakeRuntimeDriver::ReadConsoleLog(std::string_view name,
                                                             size_t max_bytes) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Container*> c = Find(std::string(name));
  if (!c.ok()) return c.status();
  const std::string& text = (*c)->console_log;
  ConsoleLog log;
  log.truncated = text.size() > max_bytes;
  log.data = log.truncated ? text.substr(text.size() - max_bytes) : text;
  return log;
}

absl::Status FakeRuntimeDriver::SetConsoleLog(std::string_view name, std::string text) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Container*> c = Find(std::string(name));
  if (!c.ok()) return c.status();
  (*c)->console_log = std::move(text);
  return absl::OkStatus();
}

std::optional<ExecSpec> FakeRuntimeDriver::LastExecSpec() const {
  absl::MutexLock lock(&mu_);
  return last_exec_;
}

void FakeRuntimeDriver::FailNext(Op op, absl::Status status) {
  if (status.ok()) status = absl::InternalError("FailNext was given an OK status");
  absl::MutexLock lock(&mu_);
  failures_[Index(op)].push_back(std::move(status));
}

absl::Status FakeRuntimeDriver::SimulateExit(std::string_view name_view,
                                             std::optional<int> exit_code) {
  const std::string name(name_view);
  ExitHandler handler;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<Container*> c = Find(name);
    if (!c.ok()) return c.status();
    if ((*c)->state == LiveState::kStopped) return WrongState(name, (*c)->state, "running");
    (*c)->state = LiveState::kStopped;
    (*c)->init_pid = 0;
    handler = exit_handler_;
  }
  if (handler) handler(name, exit_code);
  return absl::OkStatus();
}

absl::Status FakeRuntimeDriver::SetInitPid(std::string_view name_view, pid_t pid) {
  const std::string name(name_view);
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Container*> c = Find(name);
  if (!c.ok()) return c.status();
  if ((*c)->state == LiveState::kStopped) return WrongState(name, (*c)->state, "running");
  (*c)->init_pid = pid;
  return absl::OkStatus();
}

absl::Status FakeRuntimeDriver::SetLiveDetails(std::string_view name_view,
                                               std::vector<std::string> ipv4,
                                               std::vector<std::string> ipv6, uint64_t memory_bytes,
                                               uint64_t cpu_ns) {
  const std::string name(name_view);
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Container*> c = Find(name);
  if (!c.ok()) return c.status();
  (*c)->ipv4 = std::move(ipv4);
  (*c)->ipv6 = std::move(ipv6);
  (*c)->memory_bytes = memory_bytes;
  (*c)->cpu_ns = cpu_ns;
  return absl::OkStatus();
}

absl::Status FakeRuntimeDriver::AddContainer(std::string_view name_view, LiveState state) {
  const std::string name(name_view);
  if (absl::Status s = lxc::ValidateContainerName(name); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  if (containers_.contains(name)) {
    return absl::AlreadyExistsError(absl::StrCat("Container ", Quoted(name), " already exists"));
  }
  Container container;
  container.state = state;
  if (state != LiveState::kStopped) container.init_pid = next_pid_++;
  containers_.emplace(name, std::move(container));
  return absl::OkStatus();
}

void FakeRuntimeDriver::SetKnownTemplates(std::vector<std::string> names) {
  absl::MutexLock lock(&mu_);
  templates_ = std::set<std::string, std::less<>>(names.begin(), names.end());
}

void FakeRuntimeDriver::HoldOp(Op op) {
  absl::MutexLock lock(&mu_);
  held_[Index(op)] = true;
}

void FakeRuntimeDriver::ReleaseOp(Op op) {
  absl::MutexLock lock(&mu_);
  held_[Index(op)] = false;
}

bool FakeRuntimeDriver::AwaitHeld(Op op, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(
                                  +[](int* waiting) { return *waiting > 0; }, &waiting_[Index(op)]),
                              timeout);
}

int FakeRuntimeDriver::CallCount(Op op) const {
  absl::MutexLock lock(&mu_);
  return calls_[Index(op)];
}

std::optional<LiveState> FakeRuntimeDriver::StateOf(std::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(name);
  if (it == containers_.end()) return std::nullopt;
  return it->second.state;
}

std::optional<CreateSpec> FakeRuntimeDriver::SpecOf(std::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(name);
  if (it == containers_.end()) return std::nullopt;
  return it->second.spec;
}

std::optional<std::pair<absl::Duration, bool>> FakeRuntimeDriver::LastStopArgs() const {
  absl::MutexLock lock(&mu_);
  return last_stop_;
}

absl::StatusOr<std::string> FakeRuntimeDriver::RootfsPath(std::string_view /*name*/) {
  return absl::UnimplementedError("the fake runtime has no root filesystems");
}

}  // namespace berth::runtime
