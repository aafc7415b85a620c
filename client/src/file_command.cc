#include "berth/client/file_command.h"

#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "berth/archive/file_fd.h"
#include "berth/archive/tree.h"
#include "berth/client/command_line.h"
#include "berth/client/errors.h"
#include "berth/client/exit_codes.h"
#include "berth/client/remote.h"
#include "berth/v1/files.grpc.pb.h"

namespace berth::client {
namespace {

constexpr size_t kChunk = 1024 * 1024;

constexpr char kFileUsage[] =
    "usage: berth file push LOCAL NAME/PATH [--mode MODE] [--uid N] [--gid N]\n"
    "       berth file pull NAME/PATH LOCAL\n"
    "       berth file push -r LOCALDIR NAME/PATH\n"
    "       berth file pull -r NAME/PATH LOCALDIR\n"
    "Copies one regular file into or out of container NAME (running or stopped). PATH is\n"
    "resolved inside the container's root: '..' and symlinks never leave it. push: MODE is\n"
    "octal (default: the local file's), owner uid/gid 0 unless given; the file appears whole or\n"
    "not at all. pull: LOCAL may be a directory (the base name is kept) or - for stdout.\n"
    "-r copies a directory tree as one tar stream: the contents of LOCALDIR become PATH (or\n"
    "PATH's contents become LOCALDIR), created if missing, merged into if it exists; modes,\n"
    "owners, mtimes and symbolic links are kept; device nodes, FIFOs and sockets are left out.\n";

struct FileArgs {
  std::string socket;
  bool debug = false;
  std::string verb;
  std::vector<std::string> positional;
  std::optional<uint32_t> mode;
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool ids_given = false;
  bool recursive = false;
};

int UsageError(const std::string& what) {
  std::cerr << "berth: " << what << "; run 'berth file --help' for usage\n";
  return kExitUsage;
}

int LocalError(const std::string& what) {
  std::cerr << "berth: " << what << ": " << std::strerror(errno) << "\n";
  return kExitFailure;
}

// NAME/PATH -> (NAME, /PATH).
bool SplitRemote(const std::string& remote, std::string& name, std::string& path) {
  const size_t slash = remote.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= remote.size()) return false;
  name = remote.substr(0, slash);
  path = remote.substr(slash);
  return true;
}

int ReportStatus(const grpc::Status& status, const FileArgs& a, const char* rpc) {
  return ReportCallError(status, CallContext(a.socket, rpc, status), a.debug, std::cerr);
}

int Push(const FileArgs& a, v1::Files::Stub& stub) {
  std::string name, path;
  if (!SplitRemote(a.positional[1], name, path)) {
    return UsageError("the target must be NAME/PATH, e.g. web/etc/motd");
  }
  const int fd = ::open(a.positional[0].c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return LocalError(absl::StrCat("cannot open ", a.positional[0]));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    std::cerr << "berth: " << a.positional[0] << " is not a regular file\n";
    return kExitFailure;
  }
  grpc::ClientContext ctx;
  v1::PushFileResponse response;
  auto stream = stub.PushFile(&ctx, &response);
  v1::PushFileRequest req;
  auto* start = req.mutable_start();
  start->set_container(name);
  start->set_path(path);
  start->set_mode(a.mode.value_or(st.st_mode & 07777));
  start->set_uid(a.uid);
  start->set_gid(a.gid);
  bool sending = stream->Write(req);
  std::string buf(kChunk, '\0');
  int local_failed = 0;
  while (sending) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      local_failed = LocalError(absl::StrCat("reading ", a.positional[0]));
      ctx.TryCancel();  // the daemon then removes what it wrote
      break;
    }
    if (n == 0) break;
    req.Clear();
    req.set_data(buf.data(), static_cast<size_t>(n));
    sending = stream->Write(req);
  }
  ::close(fd);
  if (!local_failed) stream->WritesDone();
  const grpc::Status status = stream->Finish();
  if (local_failed) return local_failed;
  if (!status.ok()) return ReportStatus(status, a, "PushFile");
  return kExitOk;
}

int Pull(const FileArgs& a, v1::Files::Stub& stub) {
  std::string name, path;
  if (!SplitRemote(a.positional[0], name, path)) {
    return UsageError("the source must be NAME/PATH, e.g. web/etc/hostname");
  }
  std::string local = a.positional[1];
  const bool to_stdout = local == "-";
  struct stat st;
  if (!to_stdout && ::stat(local.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    local = absl::StrCat(local, "/", path.substr(path.rfind('/') + 1));
  }
  const std::string temp = absl::StrCat(local, ".berth-pull-", ::getpid());

  grpc::ClientContext ctx;
  v1::PullFileRequest request;
  request.set_container(name);
  request.set_path(path);
  auto stream = stub.PullFile(&ctx, request);
  v1::PullFileResponse response;
  int out = to_stdout ? STDOUT_FILENO : -1;
  int local_failed = 0;
  while (stream->Read(&response)) {
    if (response.has_info()) {
      if (!to_stdout) {
        out = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                     response.info().mode() & 0777);
        if (out < 0) {
          local_failed = LocalError(absl::StrCat("cannot create ", local));
          ctx.TryCancel();
          break;
        }
        (void)::fchmod(out, response.info().mode() & 0777);
      }
      continue;
    }
    const std::string& data = response.data();
    size_t done = 0;
    while (out >= 0 && done < data.size()) {
      const ssize_t n = ::write(out, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    if (done < data.size()) {
      local_failed = LocalError(absl::StrCat("writing ", to_stdout ? "stdout" : local));
      ctx.TryCancel();
      break;
    }
  }
  const grpc::Status status = stream->Finish();
  if (!to_stdout && out >= 0) {
    if (::close(out) != 0 && !local_failed) local_failed = LocalError("closing " + local);
    if (status.ok() && !local_failed && ::rename(temp.c_str(), local.c_str()) != 0) {
      local_failed = LocalError(absl::StrCat("cannot rename into ", local));
    }
    if (!status.ok() || local_failed) ::unlink(temp.c_str());
  }
  if (local_failed) return local_failed;
  if (!status.ok()) return ReportStatus(status, a, "PullFile");
  return kExitOk;
}

void WarnSkipped(uint64_t count, const std::vector<std::string>& names) {
  if (count == 0) return;
  std::cerr << "berth: warning: left out " << count
            << " device node(s), FIFO(s) or socket(s) (only files, directories and links are "
               "copied):";
  for (const std::string& name : names) std::cerr << " " << name;
  if (count > names.size()) std::cerr << " ...";
  std::cerr << "\n";
}

int PushTree(const FileArgs& a, v1::Files::Stub& stub) {
  std::string name, path;
  if (!SplitRemote(a.positional[1], name, path)) {
    return UsageError("the target must be NAME/PATH, e.g. web/opt/app");
  }
  const std::string& local = a.positional[0];
  archive::FileFd dir(::open(local.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    if (errno == ENOTDIR) {
      std::cerr << "berth: " << local << " is not a directory; push a single file without -r\n";
      return kExitFailure;
    }
    return LocalError(absl::StrCat("cannot open ", local));
  }
  grpc::ClientContext ctx;
  v1::PushTreeResponse response;
  auto stream = stub.PushTree(&ctx, &response);
  v1::PushTreeRequest req;
  req.mutable_start()->set_container(name);
  req.mutable_start()->set_path(path);
  bool daemon_ended = !stream->Write(req);
  archive::TreeStats stats;
  const absl::Status local_status =
      daemon_ended ? absl::OkStatus()
                   : archive::WriteTree(
                         dir.get(),
                         [&](std::string chunk) {
                           v1::PushTreeRequest frame;
                           frame.set_data(std::move(chunk));
                           if (!stream->Write(frame)) {
                             daemon_ended = true;  // Finish tells why
                             return absl::AbortedError("berthd ended the stream");
                           }
                           return absl::OkStatus();
                         },
                         &stats);
  const bool local_failed = !local_status.ok() && !daemon_ended;
  if (local_failed) {
    ctx.TryCancel();  // the daemon stops; files it finished stay (it says so when it fails)
  } else {
    stream->WritesDone();
  }
  const grpc::Status status = stream->Finish();
  WarnSkipped(stats.skipped, stats.skipped_names);
  if (local_failed) {
    std::cerr << "berth: reading " << local << ": " << local_status.message()
              << "; the push was cancelled, files already sent may be in place\n";
    return kExitFailure;
  }
  if (!status.ok()) return ReportStatus(status, a, "PushTree");
  return kExitOk;
}

int PullTree(const FileArgs& a, v1::Files::Stub& stub) {
  std::string name, path;
  if (!SplitRemote(a.positional[0], name, path)) {
    return UsageError("the source must be NAME/PATH, e.g. web/var/log");
  }
  const std::string& local = a.positional[1];
  grpc::ClientContext ctx;
  v1::PullTreeRequest request;
  request.set_container(name);
  request.set_path(path);
  auto reader = stub.PullTree(&ctx, request);
  v1::PullTreeResponse frame;
  // Nothing is created here until berthd has the tree open.
  if (!reader->Read(&frame) || !frame.has_started()) {
    const grpc::Status status = reader->Finish();
    if (!status.ok()) return ReportStatus(status, a, "PullTree");
    std::cerr << "berth: berthd sent no tree\n";
    return kExitFailure;
  }
  if (::mkdir(local.c_str(), 0755) != 0 && errno != EEXIST) {
    const int code = LocalError(absl::StrCat("cannot create ", local));
    ctx.TryCancel();
    (void)reader->Finish();
    return code;
  }
  archive::FileFd dir(::open(local.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    const int code = errno == ENOTDIR
                         ? (std::cerr << "berth: " << local
                                      << " exists and is not a directory; give a directory\n",
                            kExitFailure)
                         : LocalError(absl::StrCat("cannot open ", local));
    ctx.TryCancel();
    (void)reader->Finish();
    return code;
  }
  grpc::Status status;
  bool finished = false;
  v1::PullTreeSummary summary;
  auto source = [&]() -> absl::StatusOr<std::string> {
    while (reader->Read(&frame)) {
      if (frame.has_summary()) summary = frame.summary();
      if (frame.frame_case() == v1::PullTreeResponse::kData) {
        return std::move(*frame.mutable_data());
      }
    }
    status = reader->Finish();
    finished = true;
    if (!status.ok()) return absl::AbortedError("berthd ended the stream");  // reported below
    return std::string();
  };
  archive::TreeStats stats;
  // Owners are kept when we may set them (root), as tar does; otherwise files are the caller's.
  const absl::Status extracted = archive::ExtractTree(
      dir.get(), source, archive::ExtractOptions{.preserve_owner = ::geteuid() == 0}, &stats);
  if (!finished) {
    ctx.TryCancel();
    status = reader->Finish();
  }
  // A local failure came first (and cancelled the call); otherwise berthd's status is the reason.
  if (!extracted.ok() && !absl::IsAborted(extracted)) {
    std::cerr << "berth: extracting into " << local << ": " << extracted.message() << "\n";
    return kExitFailure;
  }
  if (!status.ok()) return ReportStatus(status, a, "PullTree");
  std::vector<std::string> skipped(summary.skipped_paths().begin(), summary.skipped_paths().end());
  WarnSkipped(summary.skipped(), skipped);
  return kExitOk;
}

}  // namespace

std::optional<int> RunFileCommandLine(const std::vector<std::string>& args,
                                      const Environment& env) {
  FileArgs a;
  const LeadingOptions leading = ParseLeadingOptions(args);
  a.socket = leading.socket;
  a.debug = leading.debug;
  const size_t index = leading.command_index;
  if (index >= args.size() || args[index] != "file") return std::nullopt;
  for (size_t i = index + 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto number = [&](int base, uint32_t& out) {
      if (i + 1 >= args.size()) return false;
      const std::string& v = args[++i];
      char* end = nullptr;
      errno = 0;
      const unsigned long n = std::strtoul(v.c_str(), &end, base);
      if (v.empty() || *end != '\0' || errno != 0 || n > 0xffffffffUL) return false;
      out = static_cast<uint32_t>(n);
      return true;
    };
    uint32_t v = 0;
    if (arg == "-h" || arg == "--help") {
      std::cout << kFileUsage;
      return kExitOk;
    } else if (arg == "--socket") {
      if (i + 1 >= args.size()) return UsageError("--socket needs a path");
      a.socket = args[++i];
    } else if (arg == "--debug") {
      a.debug = true;
    } else if (arg == "--mode") {
      if (!number(8, v) || v > 07777) return UsageError("--mode needs octal permission bits");
      a.mode = v;
    } else if (arg == "--uid") {
      if (!number(10, a.uid)) return UsageError("--uid needs a number");
      a.ids_given = true;
    } else if (arg == "--gid") {
      if (!number(10, a.gid)) return UsageError("--gid needs a number");
      a.ids_given = true;
    } else if (arg == "-r" || arg == "--recursive") {
      a.recursive = true;
    } else if (a.verb.empty()) {
      a.verb = arg;
    } else if (arg.size() > 1 && arg[0] == '-') {
      return UsageError(absl::StrCat("unknown option ", arg));
    } else {
      a.positional.push_back(arg);
    }
  }
  if (a.verb != "push" && a.verb != "pull") return UsageError("berth file needs push or pull");
  if (a.positional.size() != 2) {
    return UsageError(a.verb == "push" ? "berth file push needs LOCAL and NAME/PATH"
                                       : "berth file pull needs NAME/PATH and LOCAL");
  }
  if (a.verb == "pull" && a.mode.has_value()) return UsageError("--mode is for push only");
  if (a.recursive && (a.mode.has_value() || a.ids_given)) {
    return UsageError("--mode, --uid and --gid are for single files; -r keeps each file's own");
  }
  if (a.recursive && a.verb == "pull" && a.positional[1] == "-") {
    return UsageError("pull -r needs a local directory, not -");
  }
  if (a.socket.empty()) a.socket = env.berth_socket.value_or(kDefaultSocketPath);
  ::signal(SIGPIPE, SIG_IGN);
  auto channel =
      OpenChannel(a.socket);
  auto stub = v1::Files::NewStub(channel);
  if (a.recursive) return a.verb == "push" ? PushTree(a, *stub) : PullTree(a, *stub);
  return a.verb == "push" ? Push(a, *stub) : Pull(a, *stub);
}

}  // namespace berth::client
