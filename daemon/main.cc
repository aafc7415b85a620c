// berthd: flags, config, wiring, signals, sd_notify — nothing else.

#include <grp.h>
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "berth/api/server.h"
#include "berth/core/clock.h"
#include "berth/core/container_manager.h"
#include "berth/core/event_bus.h"
#include "berth/core/executor.h"
#include "berth/core/image_manager.h"
#include "berth/core/supervisor.h"
#include "berth/core/timer.h"
#include "berth/runtime/lxc_driver.h"
#include "berth/storage/sqlite_store.h"
#include "berth/tls/certificates.h"
#include "berth/version.h"
#include "config.h"
#include "journal_format.h"
#include "watchdog.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"
#include "systemd/sd-daemon.h"

namespace berth {
namespace {

constexpr size_t kExecutorThreads = 16;
constexpr size_t kMaxQueuedOperations = 1024;

// Under systemd (stderr is a journal stream) lines carry the <N> syslog priority and no timestamp:
// the journal adds its own and files each line under that priority (journal_format.h).
void SetUpLogging(const std::string& level) {
  bool journal = getenv("JOURNAL_STREAM") != nullptr;
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto root = std::make_shared<spdlog::logger>("berthd", sink);
  spdlog::set_default_logger(root);
  for (const char* name : {"core", "api", "audit", "runtime", "storage", "supervisor"}) {
    spdlog::register_logger(std::make_shared<spdlog::logger>(name, sink));
  }
  if (journal) {
    spdlog::set_formatter(MakeJournalFormatter());
  } else {
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [%n] %v");
  }
  spdlog::set_level(spdlog::level::from_str(level));
}

std::string DefaultHelperPath() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto beside = self.parent_path() / "berth-lxc-helper";
    if (std::filesystem::exists(beside, ec)) return beside.string();
  }
  return kHelperPath;
}

void PublishDaemonEvent(core::EventBus& events, core::EventType type, std::string detail) {
  core::Event event;
  event.type = type;
  event.detail = std::move(detail);
  events.Publish(std::move(event));
}

int Fail(const absl::Status& status) {
  spdlog::critical("{}", std::string(status.message()));
  sd_notifyf(0, "STATUS=Failed: %s", std::string(status.message()).c_str());
  return 1;
}

int Run(int argc, char** argv) {
  // glibc gives each thread that allocates an arena of its own (up to 8 per core); berthd's
  // executor threads each touch one, which is most of the resident memory an idle berthd keeps
  // after a burst of work (21 MiB vs 17 MiB with two arenas, berth-benchmark with 20 containers).
  // Two arenas are plenty for its allocation rate.
  mallopt(M_ARENA_MAX, 2);
  // Whatever berthd writes (the database, its WAL, logs) is root's alone unless it says otherwise
  // (the socket is chmod'ed to 0660, the state dir to 0711; the helper sets its own umask).
  umask(0077);
  // Block the signals we handle before any thread exists, so only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  // SIGPWR: the host is shutting down (systemd's ExecStop sends it only then, see
  // systemd/berthd.service): stop the containers in order before exiting.
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGPWR}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  CLI::App app{"berthd: the berth system container daemon"};
  std::string config_path;
  DaemonConfig config;
  DaemonConfig flags;
  app.add_option("--config", config_path,
                 absl::StrCat("Config file (default ", kDefaultConfigPath, " if it exists)"));
  app.add_option("--socket", flags.socket_path, "Unix socket to serve on")
      ->capture_default_str();
  app.add_option("--socket-group", flags.socket_group, "Group allowed to use the socket")
      ->capture_default_str();
  app.add_option("--state-dir", flags.state_dir, "State directory (database, containers)")
      ->capture_default_str();
  app.add_option("--lxc-path", flags.lxc_path, "LXC container directory (default STATE_DIR/containers)");
  app.add_option("--log-level", flags.log_level, "trace|debug|info|warn|error")
      ->capture_default_str();
  app.add_option("--helper", flags.helper_path, "Path of berth-lxc-helper");
  app.add_option("--listen-tcp", flags.listen_tcp,
                 "Also serve remote clients over TCP with mutual TLS on HOST:PORT (off by default)");
  app.set_version_flag("--version", std::string(kVersion));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  // File first, then every flag given on the command line wins.
  if (!config_path.empty() || std::filesystem::exists(kDefaultConfigPath)) {
    std::string path = config_path.empty() ? kDefaultConfigPath : config_path;
    if (auto s = LoadConfigFile(path, &config); !s.ok()) {
      std::fprintf(stderr, "berthd: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  auto given = [&](const char* flag) { return app.count(flag) > 0; };
  if (given("--socket")) config.socket_path = flags.socket_path;
  if (given("--socket-group")) config.socket_group = flags.socket_group;
  if (given("--state-dir")) config.state_dir = flags.state_dir;
  if (given("--lxc-path")) config.lxc_path = flags.lxc_path;
  if (given("--log-level")) config.log_level = flags.log_level;
  if (given("--helper")) config.helper_path = flags.helper_path;
  if (given("--listen-tcp")) config.listen_tcp = flags.listen_tcp;
  if (auto s = ValidateConfig(config); !s.ok()) {
    std::fprintf(stderr, "berthd: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  if (config.lxc_path.empty()) config.lxc_path = config.state_dir + "/containers";
  if (config.helper_path.empty()) config.helper_path = DefaultHelperPath();

  SetUpLogging(config.log_level);
  spdlog::info("berthd {} starting (state dir \"{}\", socket \"{}\")", kVersion, config.state_dir,
               config.socket_path);

  std::error_code ec;
  std::filesystem::create_directories(config.state_dir, ec);
  if (ec) {
    return Fail(absl::FailedPreconditionError(
        absl::StrCat("cannot create state dir \"", config.state_dir, "\": ", ec.message())));
  }
  chmod(config.state_dir.c_str(), 0711);

  auto store = storage::SqliteStore::Open(config.state_dir + "/berth.db");
  if (!store.ok()) return Fail(store.status());
  auto driver = runtime::LxcDriver::Open({.lxc_path = config.lxc_path, .helper_path = config.helper_path});
  if (!driver.ok()) return Fail(driver.status());

  core::RealClock clock;
  core::EventBus events(&clock, &(*store)->events(),
                        {.keep_count = config.events_keep,
                         .max_age = absl::Hours(24 * config.events_max_age_days)});
  if (auto s = events.OpenLog(); !s.ok()) return Fail(s);
  core::ContainerManager manager(store->get(), driver->get(), &clock, &events);
  core::ImageManager images(config.state_dir + "/images", &(*store)->images(), store->get(),
                            &clock);
  if (auto s = images.Init(); !s.ok()) return Fail(s);
  (*driver)->SetExitHandler([&manager](const std::string& name, std::optional<int> exit_code) {
    manager.OnContainerExit(name, exit_code);
  });
  // Paused until reconciliation is done: calls that arrive meanwhile wait instead of seeing
  // half-reconciled state.
  core::ThreadPoolExecutor executor(kExecutorThreads, kMaxQueuedOperations, /*paused=*/true);
  // Restart backoff and autostart delays. Reset explicitly at the end, before the supervisor
  // whose tasks it runs goes away.
  auto timer = std::make_unique<core::ThreadTimer>();
  core::SupervisorOptions supervisor_options;
  supervisor_options.recorded_boot_id_path = config.state_dir + "/boot_id";
  core::Supervisor supervisor(&manager, store->get(), &events, &executor, timer.get(), &clock,
                              supervisor_options);

  api::Server::Options options;
  options.listener.path = config.socket_path;
  // Socket activation: systemd bound the socket (berthd.socket) and hands it over; berthd accepts
  // on it itself and leaves the file to systemd.
  int listen_fds = sd_listen_fds(/*unset_environment=*/1);
  if (listen_fds < 0) {
    return Fail(absl::InternalError(absl::StrCat("sd_listen_fds: ", std::strerror(-listen_fds))));
  }
  if (listen_fds > 1) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "systemd passed ", listen_fds, " sockets; berthd.socket must listen on exactly one")));
  }
  if (listen_fds == 1) {
    options.inherited_listen_fd = SD_LISTEN_FDS_START;
    spdlog::info("Socket activation: serving on the socket systemd passed (fd {})",
                 SD_LISTEN_FDS_START);
  }
  if (group* g = getgrnam(config.socket_group.c_str())) {
    options.listener.group = g->gr_gid;
  } else {
    spdlog::info("Group \"{}\" does not exist: only root may use the socket",
                 config.socket_group);
  }
  options.facts.liblxc_version = runtime::LxcDriver::Version();
  options.facts.state_dir = config.state_dir;
  options.facts.lxc_path = config.lxc_path;
  options.facts.started_at = absl::Now();
  options.trust = &(*store)->trust();
  if (!config.listen_tcp.empty()) {
    // berthd's identity for remote clients, created on first start unless the admin gave one.
    auto identity = tls::LoadOrCreate(
        config.tls_key.empty() ? config.state_dir + "/server.key" : config.tls_key,
        config.tls_cert.empty() ? config.state_dir + "/server.crt" : config.tls_cert,
        {.common_name = "berthd", .dns_names = {"berthd"}});
    if (!identity.ok()) return Fail(identity.status());
    options.remote.address = config.listen_tcp;
    options.remote.identity = *std::move(identity);
  }
  auto server = api::Server::Start(options, &manager, &executor, &images);
  if (!server.ok()) return Fail(server.status());
  PublishDaemonEvent(events, core::EventType::kDaemonStarted,
                     absl::StrCat("berthd ", kVersion, " (pid ", getpid(), ")"));

  if (auto s = manager.Reconcile(); !s.ok()) {
    return Fail(absl::Status(s.code(), absl::StrCat("start-up reconciliation failed: ",
                                                    s.message())));
  }
  auto counts = manager.Counts();
  PublishDaemonEvent(events, core::EventType::kDaemonReconciled,
                     counts.ok() ? absl::StrCat(counts->total, " containers, ", counts->running,
                                                " running")
                                 : std::string());
  executor.Resume();
  (*server)->SetServing(true);
  spdlog::info("berthd ready on \"{}\"", config.socket_path);
  if ((*server)->remote_port() != 0) {
    spdlog::info("Remote control on \"{}\" (port {}), server certificate {}", config.listen_tcp,
                 (*server)->remote_port(),
                 tls::Fingerprint(options.remote.identity.cert_pem).value_or("?"));
  }
  sd_notifyf(0, "READY=1\nSTATUS=Serving %u containers (%u running)",
             counts.ok() ? counts->total : 0, counts.ok() ? counts->running : 0);
  // After reconciliation, on the executor: the API serves meanwhile.
  supervisor.Autostart();
  // WatchdogSec= in berthd.service: ping at half the period, from executor threads.
  std::unique_ptr<ExecutorWatchdog> watchdog;
  uint64_t watchdog_usec = 0;
  if (sd_watchdog_enabled(/*unset_environment=*/1, &watchdog_usec) > 0) {
    watchdog = std::make_unique<ExecutorWatchdog>(
        &executor, absl::Microseconds(watchdog_usec / 2), [] { sd_notify(0, "WATCHDOG=1"); });
  }

  int sig = 0;
  sigwait(&signals, &sig);
  if (sig == SIGPWR) {
    spdlog::info("Received {}: the host is shutting down; stopping containers, then exiting",
                 strsignal(sig));
    sd_notify(0, "STOPPING=1\nSTATUS=Host shutdown: stopping containers");
    (*server)->Drain();  // No new calls: nothing starts a container behind the stops.
    supervisor.StopAll();
  } else {
    spdlog::info("Received {}: draining; containers keep running", strsignal(sig));
    sd_notify(0, "STOPPING=1\nSTATUS=Draining");
    (*server)->Drain();
  }
  supervisor.Quiesce();  // No restart or autostart from here on.
  watchdog.reset();
  executor.Shutdown();  // Operations already begun run to their end.
  timer.reset();        // Joins the timer thread: no task reaches the supervisor after this.
  (*server)->Shutdown(absl::Now() + absl::Seconds(5));
  server->reset();
  driver->reset();  // Joins the exit-monitor thread before the manager it calls goes away.
  spdlog::info("berthd stopped");
  return 0;
}

}  // namespace
}  // namespace berth

int main(int argc, char** argv) {
  try {
    return berth::Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "berthd: fatal: %s\n", e.what());
    return 1;
  }
}
