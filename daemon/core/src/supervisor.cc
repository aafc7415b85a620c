#include "berth/core/supervisor.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "berth/core/logging.h"
#include "berth/core/profiles.h"

namespace berth::core {
namespace {

using runtime::LiveState;

std::shared_ptr<spdlog::logger> Log() { return NamedLogger("supervisor"); }

// The first line of a small file, trimmed; empty when it cannot be read.
std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  return std::string(absl::StripAsciiWhitespace(line));
}

// Writes through a temporary file, fsync and rename, so a crash leaves the old or the new id.
absl::Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  const std::string tmp = absl::StrCat(path, ".tmp");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot write \"", tmp, "\": ", std::strerror(errno)));
  }
  const bool written = ::write(fd, contents.data(), contents.size()) ==
                           static_cast<ssize_t>(contents.size()) &&
                       ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return absl::InternalError(
        absl::StrCat("cannot write \"", path, "\": ", std::strerror(written ? errno : err)));
  }
  return absl::OkStatus();
}

std::string Seconds(absl::Duration d) { return absl::StrCat(absl::ToInt64Seconds(d), "s"); }

}  // namespace

Supervisor::Supervisor(ContainerManager* manager, storage::ContainerStore* store, EventBus* events,
                       Executor* executor, Timer* timer, Clock* clock, SupervisorOptions options)
    : manager_(manager),
      store_(store),
      events_(events),
      executor_(executor),
      timer_(timer),
      clock_(clock),
      options_(std::move(options)) {
  subscription_ = events_->Subscribe([this](const Event& e) { OnEvent(e); });
}

Supervisor::~Supervisor() {
  Quiesce();
  events_->Unsubscribe(subscription_);
}

void Supervisor::Quiesce() {
  absl::MutexLock lock(&mu_);
  if (quiesced_) return;
  quiesced_ = true;
  for (auto& [name, track] : tracks_) CancelLocked(track);
  if (autostart_timer_ != 0) timer_->Cancel(autostart_timer_);
  autostart_timer_ = 0;
}

size_t Supervisor::PendingRestarts() {
  absl::MutexLock lock(&mu_);
  return std::count_if(tracks_.begin(), tracks_.end(),
                       [](const auto& entry) { return entry.second.timer != 0; });
}

void Supervisor::CancelLocked(Track& track) {
  if (track.timer != 0) timer_->Cancel(track.timer);
  track.timer = 0;
  ++track.generation;  // A restart already posted to the executor finds itself stale.
}

void Supervisor::Post(Task task) {
  if (auto s = executor_->Post(std::move(task)); !s.ok()) {
    Log()->warn("Cannot queue supervision work: {}", std::string(s.message()));
  }
}

// Runs on the publishing thread: bookkeeping only, the rest is posted.
void Supervisor::OnEvent(const Event& event) {
  if (event.type == EventType::kExited) {
    {
      absl::MutexLock lock(&mu_);
      if (quiesced_) return;
      auto it = tracks_.find(event.container);
      if (it != tracks_.end() && it->second.user_stopped) return;
    }
    Post([this, name = event.container, code = event.exit_code] { HandleExit(name, code); });
    return;
  }
  absl::MutexLock lock(&mu_);
  switch (event.type) {
    case EventType::kStarted: {
      Track& track = tracks_[event.container];
      track.last_start = event.time;
      track.user_stopped = false;
      if (!track.restarting) {  // Started by the user: a fresh start, nothing pending.
        CancelLocked(track);
        track.restarts = 0;
      }
      break;
    }
    case EventType::kStopped: {
      Track& track = tracks_[event.container];
      CancelLocked(track);
      track.user_stopped = true;
      track.restarts = 0;
      break;
    }
    case EventType::kDeleted:
    case EventType::kRenamed: {
      // kRenamed: `detail` is the old name, whose bookkeeping goes.
      auto it = tracks_.find(event.type == EventType::kDeleted ? event.container : event.detail);
      if (it != tracks_.end()) {
        CancelLocked(it->second);
        tracks_.erase(it);
      }
      break;
    }
    default:
      break;
  }
}

void Supervisor::HandleExit(const std::string& name, std::optional<int> exit_code) {
  auto record = store_->Get(name);
  if (!record.ok()) return;  // Deleted meanwhile.
  const SupervisionSettings settings = SupervisionFromConfig(ExpandedConfigOrOwn(*store_, *record));
  if (settings.restart_policy == RestartPolicy::kNever) return;
  if (settings.restart_policy == RestartPolicy::kOnFailure && exit_code && *exit_code == 0) {
    Log()->info("Container \"{}\" exited cleanly; restart.policy on-failure leaves it stopped",
                name);
    return;
  }
  // A container that rebooted itself is running again with a new init: nothing to restart.
  if (auto view = manager_->Get(name, /*with_live=*/true);
      view.ok() && view->live && view->live->state != LiveState::kStopped) {
    Log()->info("Container \"{}\" is running again (it rebooted); nothing to restart", name);
    return;
  }
  Schedule(name, settings,
           exit_code ? absl::StrCat("its init exited with code ", *exit_code)
                     : std::string("its init exited (exit code unknown)"));
}

void Supervisor::Schedule(const std::string& name, const SupervisionSettings& settings,
                          const std::string& why) {
  Event event;
  event.container = name;
  event.state = LiveState::kStopped;
  {
    absl::MutexLock lock(&mu_);
    if (quiesced_) return;
    Track& track = tracks_[name];
    if (track.user_stopped) return;
    CancelLocked(track);
    if (clock_->Now() - track.last_start >= options_.reset_after) track.restarts = 0;
    if (settings.restart_max > 0 && track.restarts >= settings.restart_max) {
      event.type = EventType::kRestartGivenUp;
      event.detail = absl::StrCat(why, "; restart.max (", settings.restart_max,
                                  ") restarts in a row did not help, so it stays stopped; ",
                                  "start it by hand");
    } else {
      absl::Duration delay = options_.first_backoff;
      for (int i = 0; i < track.restarts && delay < options_.max_backoff; ++i) delay *= 2;
      delay = std::min(delay, options_.max_backoff);
      ++track.restarts;
      const uint64_t generation = track.generation;
      track.timer = timer_->After(delay, [this, name, generation] {
        Post([this, name, generation] { RestartNow(name, generation); });
      });
      event.type = EventType::kRestarting;
      event.detail = absl::StrCat(why, "; restart ", track.restarts,
                                  settings.restart_max > 0
                                      ? absl::StrCat(" of at most ", settings.restart_max)
                                      : std::string(),
                                  " in ", Seconds(delay));
    }
  }
  if (event.type == EventType::kRestartGivenUp) {
    Log()->warn("Container \"{}\": {}", name, event.detail);
  } else {
    Log()->info("Container \"{}\": {}", name, event.detail);
  }
  events_->Publish(std::move(event));
}

void Supervisor::RestartNow(const std::string& name, uint64_t generation) {
  {
    absl::MutexLock lock(&mu_);
    if (quiesced_) return;
    auto it = tracks_.find(name);
    if (it == tracks_.end() || it->second.generation != generation || it->second.timer == 0) {
      return;  // Cancelled meanwhile.
    }
    it->second.timer = 0;
    it->second.restarting = true;
  }
  auto started = manager_->Start(name);
  {
    absl::MutexLock lock(&mu_);
    if (auto it = tracks_.find(name); it != tracks_.end()) it->second.restarting = false;
  }
  if (started.ok()) {
    Log()->info("Restarted container \"{}\" (restart.policy)", name);
    return;
  }
  if (absl::IsNotFound(started.status()) || absl::IsFailedPrecondition(started.status())) {
    // Deleted, running again (it rebooted, or someone started it) or mid-operation: not ours.
    Log()->info("Not restarting container \"{}\": {}", name,
                std::string(started.status().message()));
    return;
  }
  auto record = store_->Get(name);
  if (!record.ok()) return;
  Schedule(name, SupervisionFromConfig(ExpandedConfigOrOwn(*store_, *record)),
           absl::StrCat("the restart failed: ", started.status().message()));
}

void Supervisor::Autostart(Task done) {
  if (options_.recorded_boot_id_path.empty()) {
    if (done) std::move(done)();
    return;
  }
  Post([this, done = std::move(done)]() mutable {
    boot_id_ = ReadFirstLine(options_.boot_id_path);
    if (boot_id_.empty()) {
      Log()->warn("Cannot read the boot id from \"{}\"; not autostarting containers",
                  options_.boot_id_path);
      if (done) std::move(done)();
      return;
    }
    if (ReadFirstLine(options_.recorded_boot_id_path) == boot_id_) {
      Log()->info("Containers were already autostarted in this boot ({}); not again", boot_id_);
      if (done) std::move(done)();
      return;
    }
    auto records = store_->List();
    if (!records.ok()) {
      Log()->error("Cannot list containers to autostart: {}",
                   std::string(records.status().message()));
      if (done) std::move(done)();
      return;
    }
    std::vector<std::pair<int, std::string>> order;  // (-priority, name): sorts as wanted
    for (const auto& record : *records) {
      if (record.phase != storage::Phase::kReady) continue;
      const SupervisionSettings s = SupervisionFromConfig(ExpandedConfigOrOwn(*store_, record));
      if (s.autostart) order.emplace_back(-s.autostart_priority, record.name);
    }
    std::sort(order.begin(), order.end());
    std::vector<std::string> names;
    for (auto& [priority, name] : order) names.push_back(std::move(name));
    Log()->info("New host boot ({}): autostarting {} container(s)", boot_id_, names.size());
    AutostartStep(std::move(names), 0, std::move(done));
  });
}

void Supervisor::AutostartStep(std::vector<std::string> names, size_t index, Task done) {
  {
    absl::MutexLock lock(&mu_);
    autostart_timer_ = 0;
    if (quiesced_) return;  // Not recorded: the next berthd of this boot tries again.
  }
  if (index == names.size()) {
    FinishAutostart(std::move(done));
    return;
  }
  const std::string name = names[index];
  absl::Duration delay = absl::ZeroDuration();
  auto view = manager_->Get(name, /*with_live=*/true);
  if (!view.ok()) {
    Log()->warn("Cannot autostart container \"{}\": {}", name,
                std::string(view.status().message()));
  } else if (view->live && view->live->state != LiveState::kStopped) {
    Log()->info("Container \"{}\" is already running; not autostarting it", name);
  } else if (auto started = manager_->Start(name); !started.ok()) {
    Log()->error("Cannot autostart container \"{}\": {}", name,
                 std::string(started.status().message()));
  } else {
    delay = SupervisionFromConfig(ExpandedConfigOrOwn(*store_, view->definition)).autostart_delay;
    Log()->info("Autostarted container \"{}\"{}", name,
                delay > absl::ZeroDuration() ? absl::StrCat("; next in ", Seconds(delay)) : "");
  }
  Task next = [this, names = std::move(names), index, done = std::move(done)]() mutable {
    AutostartStep(std::move(names), index + 1, std::move(done));
  };
  if (delay <= absl::ZeroDuration()) {
    Post(std::move(next));
    return;
  }
  absl::MutexLock lock(&mu_);
  if (quiesced_) return;
  autostart_timer_ = timer_->After(
      delay, [this, next = std::move(next)]() mutable { Post(std::move(next)); });
}

void Supervisor::FinishAutostart(Task done) {
  if (auto s = WriteFileAtomically(options_.recorded_boot_id_path, boot_id_ + "\n"); !s.ok()) {
    Log()->error("Autostart done but the boot id could not be recorded: {}",
                 std::string(s.message()));
  } else {
    Log()->info("Autostart done for boot {}", boot_id_);
  }
  if (done) std::move(done)();
}

int Supervisor::StopAll() {
  Quiesce();
  auto views = manager_->List(/*with_live=*/true);
  if (!views.ok()) {
    Log()->error("Cannot list containers to stop: {}", std::string(views.status().message()));
    return 0;
  }
  // Lowest priority first: the reverse of the autostart order.
  std::map<int, std::vector<std::pair<std::string, absl::Duration>>> groups;
  for (const auto& view : *views) {
    if (!view.live || view.live->state == LiveState::kStopped) continue;
    const SupervisionSettings s = SupervisionFromConfig(ExpandedConfigOrOwn(*store_, view.definition));
    groups[s.autostart_priority].emplace_back(view.definition.name, s.stop_timeout);
  }
  std::atomic<int> stopped{0};
  for (const auto& [priority, group] : groups) {
    Log()->info("Host shutdown: stopping {} container(s) of priority {}", group.size(), priority);
    // One thread each: a clean halt can take its whole timeout, and the executor may be busy.
    std::vector<std::thread> threads;
    for (const auto& [name, timeout] : group) {
      threads.emplace_back([this, &stopped, name = name, timeout = timeout] {
        auto result = manager_->Stop(name, timeout, /*force=*/false);
        if (result.ok()) {
          ++stopped;
        } else if (!absl::IsFailedPrecondition(result.status())) {
          Log()->error("Host shutdown: cannot stop container \"{}\": {}", name,
                       std::string(result.status().message()));
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  Log()->info("Host shutdown: stopped {} container(s)", stopped.load());
  return stopped.load();
}

}  // namespace berth::core
