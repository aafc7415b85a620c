#include "berth/client/image_command.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <absl/strings/str_split.h>
#include <absl/strings/strip.h>
#include <absl/time/time.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <functional>
#include <cstring>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "berth/client/errors.h"
#include "berth/client/exit_codes.h"
#include "berth/client/output.h"
#include "berth/v1/images.grpc.pb.h"

namespace berth::client {
namespace {

constexpr size_t kChunk = 1024 * 1024;

constexpr char kImageUsage[] =
    "usage: berth image import FILE [METADATA.yaml] [--meta KEY=VALUE[,KEY=VALUE...]] "
    "[--alias ALIAS]...\n"
    "       berth image build busybox [--alias ALIAS]...\n"
    "       berth image list [--format table|json]\n"
    "       berth image info REF [--format table|json]\n"
    "       berth image alias add REF ALIAS\n"
    "       berth image alias remove ALIAS\n"
    "       berth image delete REF\n"
    "       berth image export REF OUT   (OUT may be - for stdout)\n"
    "An image is a tar archive of a root filesystem (plain, gzip, xz, zstd or bzip2), stored\n"
    "once by berthd under its fingerprint (the SHA-256 of the file). REF is an alias or at\n"
    "least 12 hex digits of a fingerprint. Create containers from one with\n"
    "'berth launch NAME --image REF'. METADATA.yaml: 'key: value' lines (top level, or under\n"
    "'properties:'), as in LXD's metadata.yaml; --meta adds or overrides entries.\n";

struct ImageArgs {
  std::string socket;
  bool debug = false;
  std::vector<std::string> positional;
  std::vector<std::string> aliases;
  std::vector<std::string> meta;
  std::string format = "table";
};

int UsageError(const std::string& what) {
  std::cerr << "berth: " << what << "; run 'berth image --help' for usage\n";
  return kExitUsage;
}

int LocalError(const std::string& what) {
  std::cerr << "berth: " << what << ": " << std::strerror(errno) << "\n";
  return kExitFailure;
}

int Report(const grpc::Status& status, const ImageArgs& a, const char* rpc) {
  return ReportCallError(status, CallContext(a.socket, rpc, status), a.debug, std::cerr);
}

// Progress on stderr: a bar redrawn in place on a terminal, one line per stage (and per 25%)
// otherwise, so logs stay short.
class ProgressView {
 public:
  ProgressView() : tty_(::isatty(2) == 1) {}
  ~ProgressView() { Done(); }

  void Show(const v1::ImageProgress& p) {
    if (tty_) {
      std::string bar;
      if (p.percent() >= 0) {
        const int filled = p.percent() * 30 / 100;
        bar = absl::StrCat("[", std::string(filled, '#'), std::string(30 - filled, ' '), "] ",
                           p.percent(), "%");
      }
      std::cerr << "\r\033[K" << p.stage() << " " << bar << " " << FormatBytes(p.done_bytes());
      if (p.total_bytes() > 0) std::cerr << " / " << FormatBytes(p.total_bytes());
      std::cerr << std::flush;
      drawn_ = true;
      return;
    }
    const int quarter = p.percent() < 0 ? -1 : p.percent() / 25;
    if (p.stage() == stage_ && quarter == quarter_) return;
    stage_ = p.stage();
    quarter_ = quarter;
    std::cerr << p.stage();
    if (p.percent() >= 0) std::cerr << " " << p.percent() << "%";
    std::cerr << " " << p.done_bytes() << " bytes\n";
  }

  void Done() {
    if (drawn_) std::cerr << "\r\033[K" << std::flush;
    drawn_ = false;
  }

 private:
  const bool tty_;
  bool drawn_ = false;
  std::string stage_;
  int quarter_ = -2;
};

nlohmann::json ToJson(const v1::Image& image) {
  nlohmann::json j;
  j["fingerprint"] = image.fingerprint();
  j["aliases"] = std::vector<std::string>(image.aliases().begin(), image.aliases().end());
  j["metadata"] = std::map<std::string, std::string>(image.metadata().begin(),
                                                     image.metadata().end());
  j["file_size_bytes"] = image.file_size_bytes();
  j["unpacked_size_bytes"] = image.unpacked_size_bytes();
  j["created_at"] = FormatRfc3339(image.created_at());
  j["used_by"] = std::vector<std::string>(image.used_by().begin(), image.used_by().end());
  return j;
}

void PrintInfo(const v1::Image& image, const std::string& format) {
  if (format == "json") {
    std::cout << ToJson(image).dump(2) << "\n";
    return;
  }
  std::cout << "Fingerprint:  " << image.fingerprint() << "\n"
            << "Aliases:      " << absl::StrJoin(image.aliases(), ", ") << "\n"
            << "File size:    " << FormatBytes(image.file_size_bytes()) << "\n"
            << "Unpacked:     " << FormatBytes(image.unpacked_size_bytes()) << "\n"
            << "Created:      " << FormatLocalTime(image.created_at(), absl::LocalTimeZone())
            << "\n"
            << "Used by:      " << absl::StrJoin(image.used_by(), ", ") << "\n";
  if (!image.metadata().empty()) {
    std::cout << "Metadata:\n";
    std::map<std::string, std::string> sorted(image.metadata().begin(), image.metadata().end());
    for (const auto& [k, v] : sorted) std::cout << "  " << k << ": " << v << "\n";
  }
}

// Reads metadata.yaml: top-level scalars and the scalars under "properties".
bool ReadMetadataFile(const std::string& path, std::map<std::string, std::string>& out) {
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (!root.IsMap()) {
      std::cerr << "berth: " << path << " is not a YAML mapping of key: value lines\n";
      return false;
    }
    auto take = [&](const YAML::Node& map) {
      for (const auto& item : map) {
        if (item.second.IsScalar()) out[item.first.as<std::string>()] = item.second.as<std::string>();
      }
    };
    take(root);
    if (root["properties"] && root["properties"].IsMap()) take(root["properties"]);
    return true;
  } catch (const YAML::Exception& e) {
    std::cerr << "berth: cannot read metadata file " << path << ": " << e.what() << "\n";
    return false;
  }
}

// Reads the final frames of a progress stream; prints the image.
int FinishProgress(const std::function<bool(v1::ImageProgress*)>& read, const ImageArgs& a,
                   const char* rpc, const std::function<grpc::Status()>& finish) {
  ProgressView view;
  v1::ImageProgress frame;
  v1::Image image;
  bool got_image = false;
  while (read(&frame)) {
    if (frame.has_image()) {
      image = frame.image();
      got_image = true;
    } else {
      view.Show(frame);
    }
  }
  view.Done();
  const grpc::Status status = finish();
  if (!status.ok()) return Report(status, a, rpc);
  if (!got_image) {
    std::cerr << "berth: the daemon ended the " << rpc << " stream without an image\n";
    return kExitFailure;
  }
  std::cout << "Image " << image.fingerprint().substr(0, 12);
  if (!image.aliases().empty()) std::cout << " (" << absl::StrJoin(image.aliases(), ", ") << ")";
  std::cout << " ready\n";
  return kExitOk;
}

int Import(const ImageArgs& a, v1::Images::Stub& stub) {
  if (a.positional.empty() || a.positional.size() > 2) {
    return UsageError("berth image import needs FILE and at most one METADATA.yaml");
  }
  v1::ImportImageRequest start_frame;
  auto* start = start_frame.mutable_start();
  std::map<std::string, std::string> metadata;
  if (a.positional.size() == 2 && !ReadMetadataFile(a.positional[1], metadata)) {
    return kExitFailure;
  }
  for (const std::string& list : a.meta) {
    for (absl::string_view item : absl::StrSplit(list, ',', absl::SkipEmpty())) {
      const size_t eq = item.find('=');
      if (eq == absl::string_view::npos || eq == 0) {
        return UsageError(absl::StrCat("--meta needs KEY=VALUE, not \"", item, "\""));
      }
      metadata[std::string(item.substr(0, eq))] = std::string(item.substr(eq + 1));
    }
  }
  start->mutable_metadata()->insert(metadata.begin(), metadata.end());
  for (const std::string& alias : a.aliases) start->add_aliases(alias);
  const int fd = ::open(a.positional[0].c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return LocalError(absl::StrCat("cannot open ", a.positional[0]));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    std::cerr << "berth: " << a.positional[0] << " is not a regular file\n";
    return kExitFailure;
  }
  start->set_size_bytes(static_cast<uint64_t>(st.st_size));

  grpc::ClientContext ctx;
  auto stream = stub.ImportImage(&ctx);
  bool sending = stream->Write(start_frame);
  std::string buf(kChunk, '\0');
  int local_failed = 0;
  while (sending) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      local_failed = LocalError(absl::StrCat("reading ", a.positional[0]));
      ctx.TryCancel();  // the daemon then removes what it stored
      break;
    }
    if (n == 0) break;
    v1::ImportImageRequest data;
    data.set_data(buf.data(), static_cast<size_t>(n));
    sending = stream->Write(data);
  }
  ::close(fd);
  if (local_failed) {
    (void)stream->Finish();
    return local_failed;
  }
  stream->WritesDone();
  return FinishProgress([&](v1::ImageProgress* f) { return stream->Read(f); }, a, "ImportImage",
                        [&] { return stream->Finish(); });
}

int Build(const ImageArgs& a, v1::Images::Stub& stub) {
  if (a.positional.size() != 1) return UsageError("berth image build needs what to build (busybox)");
  v1::BuildImageRequest request;
  request.set_distribution(a.positional[0]);
  for (const std::string& alias : a.aliases) request.add_aliases(alias);
  grpc::ClientContext ctx;
  auto reader = stub.BuildImage(&ctx, request);
  return FinishProgress([&](v1::ImageProgress* f) { return reader->Read(f); }, a, "BuildImage",
                        [&] { return reader->Finish(); });
}

int Export(const ImageArgs& a, v1::Images::Stub& stub) {
  if (a.positional.size() != 2) return UsageError("berth image export needs REF and OUT");
  const bool to_stdout = a.positional[1] == "-";
  const std::string& out = a.positional[1];
  const std::string temp = absl::StrCat(out, ".part-", ::getpid());
  int fd = 1;
  if (!to_stdout) {
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return LocalError(absl::StrCat("cannot create ", temp));
  }
  grpc::ClientContext ctx;
  v1::ExportImageRequest request;
  request.set_image(a.positional[0]);
  auto reader = stub.ExportImage(&ctx, request);
  v1::ExportImageResponse frame;
  uint64_t total = 0, done = 0;
  ProgressView view;
  int local_failed = 0;
  while (!local_failed && reader->Read(&frame)) {
    if (frame.has_info()) {
      total = frame.info().file_size_bytes();
      continue;
    }
    const std::string& data = frame.data();
    size_t written = 0;
    while (written < data.size()) {
      const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        local_failed = LocalError(absl::StrCat("writing ", to_stdout ? "stdout" : temp));
        ctx.TryCancel();
        break;
      }
      written += static_cast<size_t>(n);
    }
    done += data.size();
    if (!to_stdout) {
      v1::ImageProgress p;
      p.set_stage("export");
      p.set_done_bytes(done);
      p.set_total_bytes(total);
      p.set_percent(total == 0 ? -1 : static_cast<int>(done * 100 / total));
      view.Show(p);
    }
  }
  view.Done();
  const grpc::Status status = reader->Finish();
  if (!to_stdout) {
    const bool ok = !local_failed && status.ok() && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(temp.c_str(), out.c_str()) != 0) {
      const int err = errno;
      ::unlink(temp.c_str());
      if (local_failed) return local_failed;
      if (!status.ok()) return Report(status, a, "ExportImage");
      errno = err;
      return LocalError(absl::StrCat("cannot write ", out));
    }
  }
  if (local_failed) return local_failed;
  if (!status.ok()) return Report(status, a, "ExportImage");
  return kExitOk;
}

int List(const ImageArgs& a, v1::Images::Stub& stub) {
  if (!a.positional.empty()) return UsageError("berth image list takes no arguments");
  grpc::ClientContext ctx;
  v1::ListImagesResponse response;
  const grpc::Status status = stub.ListImages(&ctx, v1::ListImagesRequest(), &response);
  if (!status.ok()) return Report(status, a, "ListImages");
  if (a.format == "json") {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& image : response.images()) list.push_back(ToJson(image));
    std::cout << list.dump(2) << "\n";
    return kExitOk;
  }
  std::printf("%-14s %-24s %-10s %-10s %-20s %s\n", "FINGERPRINT", "ALIASES", "SIZE", "UNPACKED",
              "CREATED", "USED BY");
  for (const auto& image : response.images()) {
    std::printf("%-14s %-24s %-10s %-10s %-20s %s\n", image.fingerprint().substr(0, 12).c_str(),
                absl::StrJoin(image.aliases(), ",").c_str(),
                FormatBytes(image.file_size_bytes()).c_str(),
                FormatBytes(image.unpacked_size_bytes()).c_str(),
                FormatLocalTime(image.created_at(), absl::LocalTimeZone()).c_str(),
                absl::StrJoin(image.used_by(), ",").c_str());
  }
  return kExitOk;
}

int Simple(const ImageArgs& a, v1::Images::Stub& stub, const std::string& verb) {
  grpc::ClientContext ctx;
  v1::Image image;
  if (verb == "info") {
    if (a.positional.size() != 1) return UsageError("berth image info needs REF");
    v1::GetImageRequest request;
    request.set_image(a.positional[0]);
    const grpc::Status status = stub.GetImage(&ctx, request, &image);
    if (!status.ok()) return Report(status, a, "GetImage");
    PrintInfo(image, a.format);
    return kExitOk;
  }
  if (verb == "delete") {
    if (a.positional.size() != 1) return UsageError("berth image delete needs REF");
    v1::DeleteImageRequest request;
    request.set_image(a.positional[0]);
    v1::DeleteImageResponse response;
    const grpc::Status status = stub.DeleteImage(&ctx, request, &response);
    if (!status.ok()) return Report(status, a, "DeleteImage");
    return kExitOk;
  }
  // alias add REF ALIAS | alias remove ALIAS
  if (a.positional.empty()) return UsageError("berth image alias needs add or remove");
  if (a.positional[0] == "add" && a.positional.size() == 3) {
    v1::AddImageAliasRequest request;
    request.set_image(a.positional[1]);
    request.set_alias(a.positional[2]);
    const grpc::Status status = stub.AddImageAlias(&ctx, request, &image);
    if (!status.ok()) return Report(status, a, "AddImageAlias");
    return kExitOk;
  }
  if ((a.positional[0] == "remove" || a.positional[0] == "rm") && a.positional.size() == 2) {
    v1::RemoveImageAliasRequest request;
    request.set_alias(a.positional[1]);
    const grpc::Status status = stub.RemoveImageAlias(&ctx, request, &image);
    if (!status.ok()) return Report(status, a, "RemoveImageAlias");
    return kExitOk;
  }
  return UsageError("use 'berth image alias add REF ALIAS' or 'berth image alias remove ALIAS'");
}

}  // namespace

std::optional<int> RunImageCommandLine(const std::vector<std::string>& args,
                                       const Environment& env) {
  ImageArgs a;
  const LeadingOptions leading = ParseLeadingOptions(args);
  a.socket = leading.socket;
  a.debug = leading.debug;
  const size_t index = leading.command_index;
  if (index >= args.size() || args[index] != "image") return std::nullopt;
  std::string verb;
  bool options_done = false;
  for (size_t i = index + 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&](const char* what) -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      (void)what;
      return args[++i];
    };
    if (options_done) {
      a.positional.push_back(arg);
    } else if (arg == "--") {
      options_done = true;
    } else if (arg == "-h" || arg == "--help") {
      std::cout << kImageUsage;
      return kExitOk;
    } else if (arg == "--socket") {
      auto v = value("--socket");
      if (!v) return UsageError("--socket needs a path");
      a.socket = *v;
    } else if (arg == "--debug") {
      a.debug = true;
    } else if (arg == "--alias") {
      auto v = value("--alias");
      if (!v) return UsageError("--alias needs a name");
      a.aliases.push_back(*v);
    } else if (arg == "--meta") {
      auto v = value("--meta");
      if (!v) return UsageError("--meta needs KEY=VALUE[,KEY=VALUE...]");
      a.meta.push_back(*v);
    } else if (arg == "--format") {
      auto v = value("--format");
      if (!v || (*v != "table" && *v != "json")) return UsageError("--format must be table or json");
      a.format = *v;
    } else if (arg.size() > 1 && arg[0] == '-' && arg != "-") {
      return UsageError(absl::StrCat("unknown option ", arg));
    } else if (verb.empty()) {
      verb = arg;
    } else {
      a.positional.push_back(arg);
    }
  }
  static const char* kVerbs[] = {"import", "build", "list", "ls", "info", "alias", "delete", "rm",
                                 "export"};
  if (std::find(std::begin(kVerbs), std::end(kVerbs), verb) == std::end(kVerbs)) {
    return UsageError(verb.empty() ? "berth image needs a command"
                                   : absl::StrCat("unknown image command \"", verb, "\""));
  }
  if (!a.aliases.empty() && verb != "import" && verb != "build") {
    return UsageError("--alias is for import and build");
  }
  if (!a.meta.empty() && verb != "import") return UsageError("--meta is for import");
  if (a.socket.empty()) a.socket = env.berth_socket.value_or(kDefaultSocketPath);
  ::signal(SIGPIPE, SIG_IGN);
  auto channel =
      grpc::CreateChannel(absl::StrCat("unix:", a.socket), grpc::InsecureChannelCredentials());
  auto stub = v1::Images::NewStub(channel);
  if (verb == "import") return Import(a, *stub);
  if (verb == "build") return Build(a, *stub);
  if (verb == "export") return Export(a, *stub);
  if (verb == "list" || verb == "ls") return List(a, *stub);
  return Simple(a, *stub, verb == "rm" ? "delete" : verb);
}

}  // namespace berth::client
