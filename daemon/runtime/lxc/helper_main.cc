// berth-lxc-helper: runs one liblxc call that forks (create from a template, daemonized start,
// destroy) on behalf of berthd, so the multi-threaded daemon never forks inside liblxc.
//
// Single-threaded on purpose. The protocol (argv, exit codes, output) is in helper_protocol.h.
// While the liblxc call runs, this process's stdout and stderr point at an in-memory file: what a
// template or liblxc prints is kept there and only its tail goes into the message. The message
// goes to the daemon's pipe through a private duplicate of the original stdout.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "lxc/fs_util.h"
#include "lxc/helper_protocol.h"
#include "lxc/log_errors.h"
#include "lxc/lxc_config.h"
#include "lxc/lxc_handle.h"
#include "lxc/string_views.h"
#include "lxc/validation.h"

namespace berth::runtime::lxc {
namespace {

constexpr size_t kOutputTailBytes = 4096;
constexpr size_t kMaxConfigBytes = 1 << 20;
constexpr size_t kMaxMessageBytes = kMaxHelperOutputBytes - 1024;

// Points stdout and stderr at an anonymous in-memory file for the life of the object; the tail of
// what was written can be read back. Construct before any liblxc call.
class OutputCapture {
 public:
  OutputCapture() : memfd_(::memfd_create("berth-helper-output", MFD_CLOEXEC)) {
    if (!memfd_.valid()) return;
    std::fflush(stdout);
    std::fflush(stderr);
    ::dup2(memfd_.get(), STDOUT_FILENO);
    ::dup2(memfd_.get(), STDERR_FILENO);
  }

  // The last bytes written as one line: non-empty lines trimmed and joined with " | ", other
  // control characters replaced.
  std::string Tail() const {
    std::fflush(stdout);
    std::fflush(stderr);
    const std::string raw = ReadTail(memfd_.get(), kOutputTailBytes);
    std::string tail;
    for (absl::string_view line : absl::StrSplit(raw, '\n', absl::SkipWhitespace())) {
      if (!tail.empty()) tail += " | ";
      absl::StrAppend(&tail, absl::StripAsciiWhitespace(line));
    }
    for (char& c : tail) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) c = '?';
    }
    return tail;
  }

 private:
  UniqueFd memfd_;
};

// Sends liblxc's own log for this process to an in-memory file (used for calls where no
// container log applies: create and destroy). Not for start: the daemonized monitor inherits the
// process's log, and it must write the container's own lxc.log for as long as it runs.
class LogCapture {
 public:
  LogCapture(const std::string& name, const std::string& lxc_path)
      : memfd_(::memfd_create("berth-helper-lxc-log", MFD_CLOEXEC)) {
    if (!memfd_.valid()) return;
    const std::string file = absl::StrCat("/proc/self/fd/", memfd_.get());
    lxc_log log = {};
    log.name = name.c_str();
    log.lxcpath = lxc_path.c_str();
    log.file = file.c_str();
    log.level = "WARN";
    log.prefix = "berth-lxc-helper";
    log.quiet = true;
    initialized_ = lxc_log_init(&log) == 0;
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  ~LogCapture() {
    if (initialized_) lxc_log_close();
  }

  std::vector<std::string> ErrorLines() const {
    return ExtractErrorLines(ReadTail(memfd_.get(), 1 << 20));
  }

 private:
  UniqueFd memfd_;
  bool initialized_ = false;
};

// "<what>: <error lines>[; output: <tail>]", bounded.
std::string Describe(std::string_view what, const std::vector<std::string>& error_lines,
                     const OutputCapture& output) {
  std::string message = absl::StrCat(ToAbsl(what), ": ",
                                     JoinErrorLines(error_lines, "no ERROR lines in the LXC log"));
  const std::string tail = output.Tail();
  if (!tail.empty()) absl::StrAppend(&message, "; output: ", tail);
  if (message.size() > kMaxMessageBytes) message.resize(kMaxMessageBytes);
  return message;
}

absl::Status CheckCommon(const std::string& lxc_path, const std::string& name) {
  if (lxc_path.empty() || lxc_path.front() != '/' || HasControlChars(lxc_path)) {
    return absl::InvalidArgumentError("lxcpath must be an absolute path");
  }
  return ValidateContainerName(name);
}

absl::StatusOr<LxcHandle> OpenContainer(const std::string& lxc_path, const std::string& name) {
  LxcHandle c(lxc_container_new(name.c_str(), lxc_path.c_str()));
  if (!c) {
    return absl::InternalError(
        absl::StrCat("liblxc could not load container \"", name, "\" (is its config valid?)"));
  }
  return c;
}

std::string TemplateNameFromPath(const std::string& path) {
  absl::string_view base = absl::string_view(path).substr(path.rfind('/') + 1);
  if (!absl::ConsumePrefix(&base, "lxc-") || !ValidateTemplateName(ToStd(base)).ok()) return "";
  return std::string(base);
}

// Replaces the config the template left with the one berth renders.
absl::Status RewriteConfig(const std::string& lxc_path, const std::string& name,
                           const std::string& template_path) {
  const std::string path = ContainerConfigPath(lxc_path, name);
  absl::StatusOr<std::string> text = ReadFileToString(path, kMaxConfigBytes);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::vector<ConfigEntry>> entries = ParseLxcConfig(*text);
  if (!entries.ok()) {
    return absl::InternalError(
        absl::StrCat("The template left an unreadable config: ", entries.status().message()));
  }
  BerthConfig config{lxc_path, name, TemplateNameFromPath(template_path),
                     FilterTemplateEntries(*entries)};
  absl::StatusOr<std::string> rendered = RenderLxcConfig(config);
  if (!rendered.ok()) return rendered.status();
  return WriteFileAtomically(path, *rendered, 0640);
}

absl::Status Create(const std::string& lxc_path, const std::string& name,
                    const std::string& template_path, const std::vector<std::string>& args,
                    const OutputCapture& output) {
  if (absl::Status status = CheckCommon(lxc_path, name); !status.ok()) return status;
  if (absl::Status status = ValidateTemplateArgs(args); !status.ok()) return status;
  if (template_path.empty() || template_path.front() != '/' || HasControlChars(template_path) ||
      ::access(template_path.c_str(), X_OK) != 0) {
    return absl::InvalidArgumentError("The template must be an absolute path to an executable");
  }
  const std::string dir = ContainerDir(lxc_path, name);
  if (PathExists(dir)) {
    return absl::AlreadyExistsError(absl::StrCat("\"", dir, "\" already exists"));
  }

  LogCapture log(name, lxc_path);
  absl::StatusOr<LxcHandle> c = OpenContainer(lxc_path, name);
  if (!c.ok()) return c.status();
  if ((*c)->is_defined(c->get())) {
    return absl::AlreadyExistsError(absl::StrCat("Container \"", name, "\" already exists"));
  }
  // Setting any item gives the container a config of its own, so create() does not load the
  // system default config (/etc/lxc/default.conf, which may name a bridge berth does not use).
  if (!(*c)->set_config_item(c->get(), "lxc.net.0.type", "empty")) {
    return absl::InternalError("liblxc refused to set lxc.net.0.type");
  }

  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const bool created =
      (*c)->create(c->get(), template_path.c_str(), "dir", nullptr, 0, argv.data());

  absl::Status status;
  if (!created) {
    status = absl::InternalError(Describe(
        absl::StrCat("Creating \"", name, "\" from template \"", template_path, "\" failed"),
        log.ErrorLines(), output));
  } else {
    status = RewriteConfig(lxc_path, name, template_path);
  }
  if (!status.ok()) {
    // liblxc removes what it made when the template fails; make sure, and cover our own
    // failures after a successful create.
    if (absl::Status removed = RemoveTree(dir); !removed.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat(status.message(), "; cleanup failed: ", removed.message()));
    }
  }
  return status;
}

absl::Status Start(const std::string& lxc_path, const std::string& name,
                   const OutputCapture& output) {
  if (absl::Status status = CheckCommon(lxc_path, name); !status.ok()) return status;
  absl::StatusOr<LxcHandle> c = OpenContainer(lxc_path, name);
  if (!c.ok()) return c.status();
  if (!(*c)->is_defined(c->get())) {
    return absl::NotFoundError(absl::StrCat("Container \"", name, "\" does not exist"));
  }
  if ((*c)->is_running(c->get())) {
    return absl::FailedPreconditionError(
        absl::StrCat("Container \"", name, "\" is ", (*c)->state(c->get())));
  }
  const std::string log_path = ContainerLogPath(lxc_path, name);
  const off_t offset = LogOffset(log_path);
  (*c)->want_daemonize(c->get(), true);
  (*c)->want_close_all_fds(c->get(), true);
  if (!(*c)->start(c->get(), 0, nullptr)) {
    std::string what = absl::StrCat("Starting \"", name, "\" failed");
    if ((*c)->error_num != 0) absl::StrAppend(&what, " (liblxc error ", (*c)->error_num, ")");
    return absl::InternalError(Describe(what, ErrorLinesSince(log_path, offset), output));
  }
  return absl::OkStatus();
}

absl::Status Destroy(const std::string& lxc_path, const std::string& name,
                     const OutputCapture& output) {
  if (absl::Status status = CheckCommon(lxc_path, name); !status.ok()) return status;
  LogCapture log(name, lxc_path);
  absl::StatusOr<LxcHandle> c = OpenContainer(lxc_path, name);
  if (!c.ok()) return c.status();
  if (!(*c)->is_defined(c->get())) {
    return absl::NotFoundError(absl::StrCat("Container \"", name, "\" does not exist"));
  }
  if ((*c)->is_running(c->get())) {
    return absl::FailedPreconditionError(
        absl::StrCat("Container \"", name, "\" is ", (*c)->state(c->get())));
  }
  if (!(*c)->destroy(c->get())) {
    return absl::InternalError(
        Describe(absl::StrCat("Destroying \"", name, "\" failed"), log.ErrorLines(), output));
  }
  return RemoveTree(ContainerDir(lxc_path, name));
}

// The pid of the liblxc monitor of a container whose init is `init_pid`: its parent.
pid_t ParentPid(pid_t pid) {
  absl::StatusOr<std::string> status =
      ReadFileToString(absl::StrCat("/proc/", pid, "/status"), 64 * 1024);
  if (!status.ok()) return -1;
  for (absl::string_view line : absl::StrSplit(*status, '\n')) {
    if (absl::ConsumePrefix(&line, "PPid:")) {
      pid_t ppid = -1;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &ppid)) return ppid;
    }
  }
  return -1;
}

// Sends one byte 'F' with `fds` attached over the socket `sock`.
absl::Status SendFds(int sock, const std::vector<int>& fds) {
  char byte = 'F';
  iovec iov = {&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kConsoleFdCount)] = {};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  ssize_t n;
  do {
    n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n != 1) return ErrnoError(errno, "Cannot hand the console to berthd");
  return absl::OkStatus();
}

// Gets the console of a running container and hands it to the daemon (see helper_protocol.h).
absl::Status Console(const std::string& lxc_path, const std::string& name, int report_fd,
                     const OutputCapture& output) {
  if (absl::Status status = CheckCommon(lxc_path, name); !status.ok()) return status;
  if (report_fd < 0) return absl::InternalError("console: no socket to berthd");
  LogCapture log(name, lxc_path);
  absl::StatusOr<LxcHandle> c = OpenContainer(lxc_path, name);
  if (!c.ok()) return c.status();
  if (!(*c)->is_defined(c->get())) {
    return absl::NotFoundError(absl::StrCat("Container \"", name, "\" does not exist"));
  }
  if (!(*c)->is_running(c->get())) {
    return absl::FailedPreconditionError(
        absl::StrCat("Container \"", name, "\" is ", (*c)->state(c->get())));
  }
  const pid_t init = (*c)->init_pid(c->get());
  const pid_t monitor = init > 0 ? ParentPid(init) : -1;
  UniqueFd monitor_pidfd(monitor > 1 ? static_cast<int>(::syscall(SYS_pidfd_open, monitor, 0))
                                     : -1);
  if (!monitor_pidfd.valid()) {
    return absl::InternalError(
        absl::StrCat("Cannot find the liblxc monitor of \"", name, "\" (init pid ", init, ")"));
  }
  int ttynum = 0;  // 0: the console itself, not one of lxc.tty.max's ttys
  int terminal = -1;
  UniqueFd command(((*c)->console_getfd(c->get(), &ttynum, &terminal)));
  UniqueFd terminal_fd(terminal);
  if (!command.valid() || !terminal_fd.valid()) {
    // The monitor answers "busy" when a client (another berth console, lxc-console) holds it.
    return absl::FailedPreconditionError(Describe(
        absl::StrCat("Cannot attach to the console of \"", name,
                     "\"; is another client (lxc-console?) attached to it? Detach that one first"),
        log.ErrorLines(), output));
  }
  return SendFds(report_fd, {terminal_fd.get(), command.get(), monitor_pidfd.get()});
}

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// --- exec: attach a process to a running container (see helper_protocol.h) ---

constexpr int kReportFd = 3;
constexpr int kControlFd = 4;

struct ExecPayload {
  std::vector<char*> argv;
  std::string cwd = "/";
  bool tty = false;
};

// Runs inside the container (after liblxc entered its namespaces and cgroup, set the uid/gid and
// the environment). Its return value becomes the exit code when exec fails.
int ExecInContainer(void* data) {
  auto* payload = static_cast<ExecPayload*>(data);
  ::setsid();
  if (payload->tty) ::ioctl(STDIN_FILENO, TIOCSCTTY, 0);
  if (::chdir(payload->cwd.c_str()) != 0) {
    std::fprintf(stderr, "berth: cannot change directory to %s: %s\n", payload->cwd.c_str(),
                 ::strerrordesc_np(errno));
    return 1;
  }
  ::execvp(payload->argv[0], payload->argv.data());
  const int err = errno;
  std::fprintf(stderr, "berth: %s: %s\n", payload->argv[0],
               err == ENOENT ? "command not found" : ::strerrordesc_np(err));
  return err == ENOENT ? 127 : 126;
}

bool ParseId(const char* text, uint32_t& out) {
  return absl::SimpleAtoi(absl::string_view(text), &out) && out < (1u << 31);
}

// The process runs; forward signals from the control pipe until it exits. Returns the wait status.
int SuperviseExec(pid_t pid) {
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  bool control_open = true;
  auto signal_group = [pid](int sig) {
    if (::kill(-pid, sig) != 0) ::kill(pid, sig);  // no group when setsid failed
  };
  while (true) {
    pollfd fds[2] = {{pidfd.get(), POLLIN, 0}, {control_open ? kControlFd : -1, POLLIN, 0}};
    const int ready = ::poll(fds, 2, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0 || !pidfd.valid() || (fds[0].revents & POLLIN) != 0) break;
    if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      int32_t sigs[64];
      const ssize_t n = ::read(kControlFd, sigs, sizeof(sigs));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        control_open = false;
        signal_group(SIGKILL);  // the daemon let go of the session
        continue;
      }
      for (ssize_t i = 0; i < n / static_cast<ssize_t>(sizeof(int32_t)); ++i) {
        if (sigs[i] > 0 && sigs[i] < NSIG) signal_group(sigs[i]);
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

absl::Status Exec(int argc, char** argv, std::string& report_line) {
  if (argc < 4)
    return absl::InvalidArgumentError("usage: berth-lxc-helper exec <lxcpath> <name> ...");
  const std::string lxc_path = argv[2];
  const std::string name = argv[3];
  if (absl::Status status = CheckCommon(lxc_path, name); !status.ok()) return status;
  ExecPayload payload;
  std::vector<std::string> env;
  uint32_t uid = 0;
  uint32_t gid = 0;
  int i = 4;
  for (; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg == "--tty") {
      payload.tty = true;
    } else if (arg == "--uid" && i + 1 < argc && ParseId(argv[i + 1], uid)) {
      ++i;
    } else if (arg == "--gid" && i + 1 < argc && ParseId(argv[i + 1], gid)) {
      ++i;
    } else if (arg == "--cwd" && i + 1 < argc && argv[i + 1][0] == '/') {
      payload.cwd = argv[++i];
    } else if (arg == "--env" && i + 1 < argc && std::strchr(argv[i + 1], '=') != nullptr) {
      env.emplace_back(argv[++i]);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("exec: bad argument \"", ToAbsl(arg), "\""));
    }
  }
  if (i >= argc) return absl::InvalidArgumentError("exec: no command after --");
  for (; i < argc; ++i) payload.argv.push_back(argv[i]);
  payload.argv.push_back(nullptr);

  // The process's stdio, kept off 0-2 so liblxc's own output can be captured there.
  UniqueFd in(::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 5));
  UniqueFd out(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 5));
  UniqueFd err(::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 5));
  if (!in.valid() || !out.valid() || !err.valid()) {
    return absl::InternalError("exec: the standard fds are not open");
  }
  OutputCapture output;
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull >= 0) {
    ::dup2(devnull, STDIN_FILENO);
    ::close(devnull);
  }

  LogCapture log(name, lxc_path);
  absl::StatusOr<LxcHandle> c = OpenContainer(lxc_path, name);
  if (!c.ok()) return c.status();
  if (!(*c)->is_defined(c->get())) {
    return absl::NotFoundError(absl::StrCat("Container \"", name, "\" does not exist"));
  }
  if (!(*c)->is_running(c->get())) {
    return absl::FailedPreconditionError(
        absl::StrCat("Container \"", name, "\" is ", (*c)->state(c->get())));
  }

  std::vector<char*> env_ptrs;
  for (std::string& var : env) env_ptrs.push_back(var.data());
  env_ptrs.push_back(nullptr);
  lxc_attach_options_t options = LXC_ATTACH_OPTIONS_DEFAULT;
  options.env_policy = LXC_ATTACH_CLEAR_ENV;
  options.extra_env_vars = env_ptrs.data();
  options.uid = uid;
  options.gid = gid;
  options.stdin_fd = in.get();
  options.stdout_fd = out.get();
  options.stderr_fd = err.get();
  pid_t pid = -1;
  if ((*c)->attach(c->get(), ExecInContainer, &payload, &options, &pid) < 0 || pid <= 0) {
    return absl::InternalError(
        Describe(absl::StrCat("Attaching to \"", name, "\" failed"), log.ErrorLines(), output));
  }
  // Only the process holds its stdio now: EOF reaches the daemon when it (and its children) end.
  in.reset();
  out.reset();
  err.reset();
  const int status = SuperviseExec(pid);
  int code = 255;
  int sig = 0;
  if (status >= 0 && WIFEXITED(status)) code = WEXITSTATUS(status);
  if (status >= 0 && WIFSIGNALED(status)) {
    sig = WTERMSIG(status);
    code = 128 + sig;
  }
  report_line = absl::StrCat("exit ", code, " ", sig, "\n");
  return absl::OkStatus();
}

int ExecMain(int argc, char** argv) {
  ::umask(022);
  ::fcntl(kReportFd, F_SETFD, FD_CLOEXEC);
  ::fcntl(kControlFd, F_SETFD, FD_CLOEXEC);
  std::string report_line;
  absl::Status status = Exec(argc, argv, report_line);
  if (status.ok()) {
    WriteAll(kReportFd, report_line);
    return 0;
  }
  std::string message(status.message());
  if (message.size() > kMaxMessageBytes) message.resize(kMaxMessageBytes);
  WriteAll(kReportFd, message);
  return HelperExitCode(status.code());
}

// berthd waits for every helper it runs. If berthd dies, the call is void: nobody was told it
// succeeded, and start-up reconciliation undoes it. So the helper must not go on, least of all a
// template still writing a root filesystem while reconciliation removes it. With `whole_group` the
// helper's process group goes too (the helper leads its own session, see helper_client.cc, so the
// group is the helper and the template it runs); without, only the helper (a container it started
// belongs to liblxc's monitor and must live on).
void KillGroup(int) { ::kill(0, SIGKILL); }

void DieWithDaemon(bool whole_group) {
  if (whole_group) ::signal(SIGUSR2, KillGroup);
  ::prctl(PR_SET_PDEATHSIG, whole_group ? SIGUSR2 : SIGKILL);
  // berthd died before the line above: the helper was reparented already.
  if (::getppid() == 1) {
    if (whole_group) KillGroup(0);
    ::_exit(HelperExitCode(absl::StatusCode::kAborted));
  }
}

int Main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "exec") return ExecMain(argc, argv);
  ::signal(SIGPIPE, SIG_IGN);  // finish the operation even if the daemon went away
  ::umask(022);
  UniqueFd report(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3));

  absl::Status status;
  std::optional<HelperOp> op = argc >= 4 ? ParseHelperOp(argv[1]) : std::nullopt;
  if (!op.has_value()) {
    status = absl::InvalidArgumentError(
        "usage: berth-lxc-helper create|start|destroy|console <lxcpath> <name> [template "
        "[args...]]");
  } else {
    OutputCapture output;
    const std::string lxc_path = argv[2];
    const std::string name = argv[3];
    DieWithDaemon(/*whole_group=*/*op != HelperOp::kStart);
    switch (*op) {
      case HelperOp::kCreate:
        if (argc < 5) {
          status = absl::InvalidArgumentError("create needs a template path");
        } else {
          status = Create(lxc_path, name, argv[4], std::vector<std::string>(argv + 5, argv + argc),
                          output);
        }
        break;
      case HelperOp::kStart:
        status = argc == 4 ? Start(lxc_path, name, output)
                           : absl::InvalidArgumentError("start takes no extra arguments");
        break;
      case HelperOp::kDestroy:
        status = argc == 4 ? Destroy(lxc_path, name, output)
                           : absl::InvalidArgumentError("destroy takes no extra arguments");
        break;
      case HelperOp::kExec:
        status = absl::InternalError("exec is handled before");
        break;
      case HelperOp::kConsole:
        status = argc == 4 ? Console(lxc_path, name, report.get(), output)
                           : absl::InvalidArgumentError("console takes no extra arguments");
        break;
    }
  }
  std::string message(status.message());
  if (message.size() > kMaxMessageBytes) message.resize(kMaxMessageBytes);
  if (report.valid()) WriteAll(report.get(), message);
  return HelperExitCode(status.code());
}

}  // namespace
}  // namespace berth::runtime::lxc

int main(int argc, char** argv) { return berth::runtime::lxc::Main(argc, argv); }
