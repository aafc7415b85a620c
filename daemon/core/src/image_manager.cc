#include "berth/core/image_manager.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "berth/archive/file_fd.h"
#include "berth/core/logging.h"

namespace berth::core {
namespace {

using archive::FileFd;

std::shared_ptr<spdlog::logger> Log() { return NamedLogger("images"); }

std::string Q(absl::string_view s) { return absl::StrCat("\"", absl::CEscape(s), "\""); }

constexpr size_t kMinPrefix = 12;
constexpr size_t kFingerprintLength = 64;
constexpr size_t kMaxAlias = 128;
constexpr size_t kMaxMetadataKey = 64;
constexpr size_t kMaxMetadataValue = 1024;
constexpr size_t kMaxMetadataEntries = 64;
constexpr uint64_t kProgressEvery = uint64_t{4} << 20;
constexpr char kTempPrefix[] = ".tmp-";

// The LXC settings an image may ask for through its metadata; the runtime checks them again
// against its own allow-list before it writes them.
constexpr const char* kImageLxcKeys[] = {"lxc.signal.halt", "lxc.signal.reboot", "lxc.signal.stop",
                                         "lxc.init.cmd"};

bool IsLowerHex(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

bool HasControl(absl::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

std::string Short(const std::string& fingerprint) { return fingerprint.substr(0, kMinPrefix); }

std::string MiB(uint64_t bytes) {
  return absl::StrCat((bytes + (1 << 20) - 1) >> 20, " MiB");
}

absl::Status ErrnoStatus(int err, absl::string_view what) {
  if (err == ENOSPC || err == EDQUOT) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what, ": no space left on the device; free some space and retry"));
  }
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
}

absl::Status ValidateMetadata(const std::map<std::string, std::string>& metadata) {
  if (metadata.size() > kMaxMetadataEntries) {
    return absl::InvalidArgumentError(
        absl::StrCat("an image has at most ", kMaxMetadataEntries, " metadata entries"));
  }
  for (const auto& [key, value] : metadata) {
    const bool key_ok =
        !key.empty() && key.size() <= kMaxMetadataKey && absl::ascii_islower(key[0]) &&
        std::all_of(key.begin(), key.end(), [](char c) {
          return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.' || c == '_' ||
                 c == '-';
        });
    if (!key_ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid image metadata key ", Q(key),
          ": use 1-64 lowercase letters, digits and '._-', starting with a letter"));
    }
    if (value.size() > kMaxMetadataValue || HasControl(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the value of image metadata key ", Q(key),
                       " must be at most 1024 characters without control characters"));
    }
    if (absl::StartsWith(key, "lxc.") &&
        std::none_of(std::begin(kImageLxcKeys), std::end(kImageLxcKeys),
                     [&](const char* k) { return key == k; })) {
      return absl::InvalidArgumentError(absl::StrCat(
          "image metadata key ", Q(key), " is not an LXC setting an image may carry; allowed: ",
          absl::StrJoin(kImageLxcKeys, ", ")));
    }
  }
  return absl::OkStatus();
}

// SHA-256 over a stream of writes.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
      ctx_.reset();
    }
  }
  bool ok() const { return ctx_ != nullptr; }
  void Update(absl::string_view data) { EVP_DigestUpdate(ctx_.get(), data.data(), data.size()); }
  std::string HexDigest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx_.get(), digest, &length);
    return absl::BytesToHexString(
        absl::string_view(reinterpret_cast<const char*>(digest), length));
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

// Writes chunks to a new file while hashing them.
class HashingWriter {
 public:
  static absl::StatusOr<HashingWriter> Create(const std::string& path) {
    FileFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return ErrnoStatus(errno, absl::StrCat("creating ", Q(path)));
    return HashingWriter(std::move(fd), path);
  }
  absl::Status Write(absl::string_view data) {
    if (!sha_.ok()) return absl::InternalError("SHA-256 is not available (OpenSSL)");
    sha_.Update(data);
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::write(fd_.get(), data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return ErrnoStatus(errno, absl::StrCat("storing the image file (", size_ + done,
                                               " bytes stored)"));
      }
      done += static_cast<size_t>(n);
    }
    size_ += data.size();
    return absl::OkStatus();
  }
  absl::Status Finish() {
    if (::fdatasync(fd_.get()) != 0) return ErrnoStatus(errno, "storing the image file");
    return absl::OkStatus();
  }
  uint64_t size() const { return size_; }
  std::string HexDigest() { return sha_.HexDigest(); }

 private:
  HashingWriter(FileFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  FileFd fd_;
  std::string path_;
  Sha256 sha_;
  uint64_t size_ = 0;
};

// Reads a file in chunks, reporting progress as `stage`.
archive::ChunkSource FileSource(int fd, uint64_t total, std::string stage,
                                const ImageProgressFn& progress) {
  auto done = std::make_shared<uint64_t>(0);
  auto reported = std::make_shared<uint64_t>(0);
  return [fd, total, stage = std::move(stage), &progress, done,
          reported]() -> absl::StatusOr<std::string> {
    std::string chunk(archive::kTreeChunkBytes, '\0');
    ssize_t n;
    do {
      n = ::read(fd, chunk.data(), chunk.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) return ErrnoStatus(errno, "reading the image file");
    chunk.resize(static_cast<size_t>(n));
    *done += static_cast<uint64_t>(n);
    if (progress && (*done - *reported >= kProgressEvery || n == 0)) {
      *reported = *done;
      progress({stage, *done, total,
                total == 0 ? -1 : static_cast<int>(std::min<uint64_t>(100, *done * 100 / total))});
    }
    return chunk;
  };
}

absl::StatusOr<FileFd> OpenFile(const std::string& path) {
  FileFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return ErrnoStatus(errno, absl::StrCat("opening ", Q(path)));
  return fd;
}

void RemoveAll(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) Log()->error("Cannot remove \"{}\": {}", path, ec.message());
}

absl::Status WriteSmallFile(const std::string& path, absl::string_view text, mode_t mode) {
  FileFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd.valid()) return ErrnoStatus(errno, absl::StrCat("creating ", Q(path)));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, absl::StrCat("writing ", Q(path)));
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd.get(), mode) != 0) return ErrnoStatus(errno, absl::StrCat("chmod ", Q(path)));
  return absl::OkStatus();
}

// metadata.yaml: one "key: value" line per entry, values as YAML double-quoted strings.
std::string MetadataYaml(const storage::ImageRecord& record) {
  std::string out = absl::StrCat("fingerprint: ", record.fingerprint, "\nmetadata:\n");
  for (const auto& [key, value] : record.metadata) {
    absl::StrAppend(&out, "  ", key, ": \"", absl::CEscape(value), "\"\n");
  }
  return out;
}

// The host's busybox, if it is a static executable (the image has no libraries).
absl::StatusOr<std::string> FindStaticBusybox() {
  for (const char* path : {"/usr/bin/busybox", "/bin/busybox", "/usr/sbin/busybox"}) {
    FileFd fd(::open(path, O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) continue;
    Elf64_Ehdr header;
    if (::pread(fd.get(), &header, sizeof(header), 0) != sizeof(header) ||
        std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 ||
        header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_phentsize != sizeof(Elf64_Phdr)) {
      continue;
    }
    bool dynamic = false;
    for (int i = 0; i < header.e_phnum; ++i) {
      Elf64_Phdr ph;
      const off_t at = static_cast<off_t>(header.e_phoff + i * sizeof(Elf64_Phdr));
      if (::pread(fd.get(), &ph, sizeof(ph), at) != sizeof(ph)) break;
      if (ph.p_type == PT_INTERP) dynamic = true;
    }
    if (dynamic) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " is linked dynamically; an image needs a static busybox (install "
                "busybox-static)"));
    }
    return std::string(path);
  }
  return absl::FailedPreconditionError(
      "no busybox on this host; install busybox-static to build a busybox image");
}

// The applet names `busybox --list` prints. Spawned, never forked: the daemon has threads.
absl::StatusOr<std::vector<std::string>> BusyboxApplets(const std::string& busybox) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe");
  FileFd read_end(fds[0]);
  FileFd write_end(fds[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::string arg0 = busybox;
  std::string arg1 = "--list";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  char* envp[] = {nullptr};
  pid_t pid = 0;
  const int err = posix_spawn(&pid, busybox.c_str(), &actions, nullptr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return ErrnoStatus(err, absl::StrCat("running ", busybox, " --list"));
  write_end = FileFd();
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(read_end.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || out.size() > (1 << 20)) break;
    out.append(buf, static_cast<size_t>(n));
  }
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(busybox, " --list failed"));
  }
  std::vector<std::string> applets;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    line = absl::StripAsciiWhitespace(line);
    // Applet names are plain words; anything else is not ours to create.
    if (line.empty() || line == "busybox" || line.find('/') != absl::string_view::npos ||
        line == "." || line == "..") {
      continue;
    }
    applets.emplace_back(line);
  }
  return applets;
}

// Lays out a busybox root filesystem under `root` (the same tree as LXC's busybox template,
// without networking).
absl::Status LayOutBusybox(const std::string& root, const std::string& busybox) {
  auto applets = BusyboxApplets(busybox);
  if (!applets.ok()) return applets.status();
  for (const char* dir : {"", "/dev", "/dev/pts", "/home", "/root", "/etc", "/etc/init.d", "/bin",
                          "/sbin", "/usr", "/usr/bin", "/usr/sbin", "/proc", "/sys", "/mnt",
                          "/tmp", "/var", "/var/log", "/var/run", "/lib", "/usr/lib"}) {
    const std::string path = root + dir;
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, absl::StrCat("creating ", Q(path)));
    }
    if (::chmod(path.c_str(), 0755) != 0) return ErrnoStatus(errno, "chmod");
  }
  if (::chmod((root + "/tmp").c_str(), 01777) != 0) return ErrnoStatus(errno, "chmod /tmp");
  if (::chmod((root + "/root").c_str(), 0700) != 0) return ErrnoStatus(errno, "chmod /root");
  const std::pair<const char*, const char*> files[] = {
      {"/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"},
      {"/etc/group", "root:x:0:root\n"},
      {"/etc/shadow", ""},
      {"/etc/fstab", ""},
      {"/etc/inittab", "::sysinit:/etc/init.d/rcS\nconsole::askfirst:/bin/sh\n"},
  };
  for (const auto& [name, text] : files) {
    if (auto s = WriteSmallFile(root + name, text, 0644); !s.ok()) return s;
  }
  if (auto s = WriteSmallFile(root + "/etc/init.d/rcS", "#!/bin/sh\n/bin/syslogd\n/bin/mount -a\n",
                              0744);
      !s.ok()) {
    return s;
  }
  std::error_code ec;
  std::filesystem::copy_file(busybox, root + "/bin/busybox", ec);
  if (ec) return absl::InternalError(absl::StrCat("copying ", busybox, ": ", ec.message()));
  if (::chmod((root + "/bin/busybox").c_str(), 0755) != 0) return ErrnoStatus(errno, "chmod");
  if (::link((root + "/bin/busybox").c_str(), (root + "/sbin/init").c_str()) != 0) {
    return ErrnoStatus(errno, "linking /sbin/init");
  }
  for (const std::string& applet : *applets) {
    const std::string link = absl::StrCat(root, "/bin/", applet);
    if (::symlink("busybox", link.c_str()) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, absl::StrCat("creating ", Q(link)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateImageAlias(const std::string& alias) {
  const bool chars_ok = std::all_of(alias.begin(), alias.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-' || c == '/';
  });
  if (alias.empty() || alias.size() > kMaxAlias || !chars_ok || !absl::ascii_isalnum(alias[0]) ||
      alias.back() == '/' || absl::StrContains(alias, "//")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid image alias ", Q(alias),
        ": use 1-128 letters, digits and '._-/', starting with a letter or digit, without "
        "\"//\" or a trailing '/' (e.g. debian/12)"));
  }
  if (alias.size() >= kMinPrefix && IsLowerHex(alias)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid image alias ", Q(alias), ": it would read as a fingerprint; add a letter g-z"));
  }
  return absl::OkStatus();
}

ImageManager::ImageManager(std::string image_dir, storage::ImageStore* images,
                           storage::ContainerStore* containers, Clock* clock, ImageLimits limits)
    : image_dir_(std::move(image_dir)),
      images_(images),
      containers_(containers),
      clock_(clock),
      limits_(limits) {}

std::string ImageManager::ImagePath(const std::string& fingerprint) const {
  return absl::StrCat(image_dir_, "/", fingerprint);
}

absl::Status ImageManager::Init() {
  if (::mkdir(image_dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, absl::StrCat("creating the image directory ", Q(image_dir_)));
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(image_dir_, ec)) {
    const std::string name = entry.path().filename();
    if (absl::StartsWith(name, kTempPrefix)) {
      Log()->info("Removing \"{}\", left by an interrupted image operation", entry.path().string());
      RemoveAll(entry.path());
    } else if (name.size() == kFingerprintLength && IsLowerHex(name) &&
               absl::IsNotFound(images_->Get(name).status())) {
      Log()->info("Removing \"{}\", an image directory without a record", entry.path().string());
      RemoveAll(entry.path());
    }
  }
  if (ec) {
    return absl::InternalError(absl::StrCat("reading ", Q(image_dir_), ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ImageManager::MakeTempDir() {
  std::string path = absl::StrCat(image_dir_, "/", kTempPrefix, "XXXXXX");
  if (::mkdtemp(path.data()) == nullptr) {
    return ErrnoStatus(errno, absl::StrCat("creating a temporary directory in ", Q(image_dir_)));
  }
  return path;
}

absl::StatusOr<std::string> ImageManager::Resolve(const std::string& ref) {
  if (ref.empty()) {
    return absl::InvalidArgumentError("no image given: name an alias or a fingerprint prefix");
  }
  auto by_alias = images_->ResolveAlias(ref);
  if (by_alias.ok() || !absl::IsNotFound(by_alias.status())) return by_alias;
  const std::string not_found =
      absl::StrCat("no image has the alias or fingerprint ", Q(ref), "; see 'berth image list'");
  if (!IsLowerHex(ref) || ref.size() > kFingerprintLength) return absl::NotFoundError(not_found);
  if (ref.size() < kMinPrefix) {
    return absl::NotFoundError(absl::StrCat(not_found, " (a fingerprint prefix needs at least ",
                                            kMinPrefix, " hex digits)"));
  }
  auto all = images_->List();
  if (!all.ok()) return all.status();
  std::vector<std::string> matches;
  for (const auto& record : *all) {
    if (absl::StartsWith(record.fingerprint, ref)) matches.push_back(record.fingerprint);
  }
  if (matches.empty()) return absl::NotFoundError(not_found);
  if (matches.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("fingerprint prefix ", Q(ref), " names ", matches.size(),
                     " images; give more digits"));
  }
  return matches.front();
}

absl::StatusOr<ImageView> ImageManager::ViewOf(storage::ImageRecord record) {
  ImageView view;
  auto containers = containers_->List();
  if (!containers.ok()) return containers.status();
  for (const auto& c : *containers) {
    if (c.source_kind == kImageSourceKind && c.source_name == record.fingerprint) {
      view.used_by.push_back(c.name);
    }
  }
  view.record = std::move(record);
  return view;
}

absl::StatusOr<ImageView> ImageManager::Import(const ImportParams& params,
                                               const archive::ChunkSource& source,
                                               const ImageProgressFn& progress) {
  for (const std::string& alias : params.aliases) {
    if (auto s = ValidateImageAlias(alias); !s.ok()) return s;
    auto taken = images_->ResolveAlias(alias);
    if (taken.ok()) {
      return absl::AlreadyExistsError(absl::StrCat("image alias ", Q(alias), " names image ",
                                                   Short(*taken),
                                                   " already; remove it first or pick another"));
    }
    if (!absl::IsNotFound(taken.status())) return taken.status();
  }
  if (auto s = ValidateMetadata(params.metadata); !s.ok()) return s;

  auto tmp = MakeTempDir();
  if (!tmp.ok()) return tmp.status();
  // Renamed away when the import succeeds; everything else goes.
  absl::Cleanup remove_tmp = [&] { RemoveAll(*tmp); };

  auto writer = HashingWriter::Create(*tmp + "/image");
  if (!writer.ok()) return writer.status();
  uint64_t reported = 0;
  for (;;) {
    auto chunk = source();
    if (!chunk.ok()) return chunk.status();
    if (chunk->empty()) break;
    if (auto s = writer->Write(*chunk); !s.ok()) return s;
    if (progress && writer->size() - reported >= kProgressEvery) {
      reported = writer->size();
      const uint64_t total = params.expected_size;
      progress({"receive", reported, total,
                total == 0 ? -1
                           : static_cast<int>(std::min<uint64_t>(100, reported * 100 / total))});
    }
  }
  if (auto s = writer->Finish(); !s.ok()) return s;
  if (progress) progress({"receive", writer->size(), writer->size(), 100});
  if (writer->size() == 0) return absl::InvalidArgumentError("the image file is empty");
  return Unpack(params, *tmp, writer->HexDigest(), writer->size(), progress);
}

absl::StatusOr<ImageView> ImageManager::Unpack(const ImportParams& params, const std::string& tmp,
                                               const std::string& fingerprint,
                                               uint64_t file_size,
                                               const ImageProgressFn& progress) {
  if (auto existing = images_->Get(fingerprint); existing.ok()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "image ", Short(fingerprint), " is imported already",
        existing->aliases.empty() ? "" : absl::StrCat(" (aliases: ", absl::StrJoin(existing->aliases, ", "), ")"),
        "; add an alias with 'berth image alias add'"));
  } else if (!absl::IsNotFound(existing.status())) {
    return existing.status();
  }
  const std::string image_file = tmp + "/image";
  const uint64_t cap = std::min(limits_.max_unpacked_bytes,
                                std::max(limits_.ratio_floor_bytes, file_size * limits_.max_ratio));
  const archive::ExtractOptions options{
      .preserve_owner = true, .decompress = true, .max_bytes = cap};

  uint64_t unpacked = 0;
  {
    auto fd = OpenFile(image_file);
    if (!fd.ok()) return fd.status();
    auto measured = archive::MeasureTree(FileSource(fd->get(), file_size, "verify", progress),
                                         options);
    if (!measured.ok()) {
      return absl::Status(measured.status().code(),
                          absl::StrCat("the image is refused: ", measured.status().message()));
    }
    unpacked = *measured;
  }
  struct statvfs fs;
  if (::statvfs(tmp.c_str(), &fs) != 0) return ErrnoStatus(errno, "statvfs");
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (free_bytes < unpacked + limits_.reserve_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "not enough disk space in ", Q(image_dir_), ": the image unpacks to ", MiB(unpacked),
        " and needs ", MiB(limits_.reserve_bytes), " more to spare, but ", MiB(free_bytes),
        " are free; free some space and retry"));
  }

  const std::string rootfs = tmp + "/rootfs";
  if (::mkdir(rootfs.c_str(), 0755) != 0) return ErrnoStatus(errno, "creating the rootfs");
  {
    FileFd dest(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dest.valid()) return ErrnoStatus(errno, "opening the rootfs");
    auto fd = OpenFile(image_file);
    if (!fd.ok()) return fd.status();
    archive::TreeStats stats;
    absl::Status s = archive::ExtractTree(
        dest.get(), FileSource(fd->get(), file_size, "unpack", progress), options, &stats);
    if (!s.ok()) {
      // The extractor reports I/O errors as INTERNAL with strerror; a full disk is the user's to
      // fix, so it gets its own code.
      const bool full = absl::StrContains(s.message(), std::strerror(ENOSPC)) ||
                        absl::StrContains(s.message(), std::strerror(EDQUOT));
      return absl::Status(full ? absl::StatusCode::kResourceExhausted : s.code(),
                          absl::StrCat("unpacking the image failed: ", s.message(),
                                       full ? "; free some space and retry" : ""));
    }
  }

  storage::ImageRecord record;
  record.fingerprint = fingerprint;
  record.file_size = file_size;
  record.unpacked_size = unpacked;
  record.created_at = clock_->Now();
  record.metadata = params.metadata;
  record.aliases = params.aliases;
  std::sort(record.aliases.begin(), record.aliases.end());
  record.aliases.erase(std::unique(record.aliases.begin(), record.aliases.end()),
                       record.aliases.end());
  if (auto s = WriteSmallFile(tmp + "/metadata.yaml", MetadataYaml(record), 0644); !s.ok()) {
    return s;
  }
  if (progress) progress({"store", file_size, file_size, 100});

  absl::MutexLock lock(&lease_mu_);
  const std::string final_path = ImagePath(fingerprint);
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_path.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(
          absl::StrCat("image ", Short(fingerprint), " is being imported or exists already"));
    }
    return ErrnoStatus(errno, "moving the image into place");
  }
  if (auto s = images_->Create(record); !s.ok()) {
    // Back to the temporary name, which the caller's cleanup removes.
    if (::rename(final_path.c_str(), tmp.c_str()) != 0) RemoveAll(final_path);
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(absl::StrCat("cannot store the image: ", s.message()));
    }
    return s;
  }
  Log()->info("Imported image {} ({} bytes, {} unpacked){}", fingerprint, file_size, unpacked,
              record.aliases.empty() ? ""
                                     : absl::StrCat(" as ", absl::StrJoin(record.aliases, ", ")));
  return ViewOf(std::move(record));
}

absl::StatusOr<ImageView> ImageManager::Build(const std::string& distribution,
                                              const std::vector<std::string>& aliases,
                                              const ImageProgressFn& progress) {
  if (distribution != "busybox") {
    return absl::InvalidArgumentError(
        absl::StrCat("berth cannot build ", Q(distribution),
                     "; it builds \"busybox\" (from the host, no network); import other images "
                     "with 'berth image import'"));
  }
  for (const std::string& alias : aliases) {
    if (auto s = ValidateImageAlias(alias); !s.ok()) return s;
  }
  auto busybox = FindStaticBusybox();
  if (!busybox.ok()) return busybox.status();
  auto tmp = MakeTempDir();
  if (!tmp.ok()) return tmp.status();
  absl::Cleanup remove_tmp = [&] { RemoveAll(*tmp); };
  if (progress) progress({"build", 0, 0, -1});
  const std::string tree = *tmp + "/build";
  if (auto s = LayOutBusybox(tree, *busybox); !s.ok()) return s;

  auto writer = HashingWriter::Create(*tmp + "/image");
  if (!writer.ok()) return writer.status();
  {
    FileFd dir(::open(tree.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid()) return ErrnoStatus(errno, "opening the build tree");
    archive::TreeStats stats;
    if (auto s = archive::WriteTree(
            dir.get(), [&](std::string chunk) { return writer->Write(chunk); }, &stats);
        !s.ok()) {
      return s;
    }
  }
  if (auto s = writer->Finish(); !s.ok()) return s;
  RemoveAll(tree);

  ImportParams params;
  params.aliases = aliases;
  struct utsname uts;
  params.metadata = {{"os", "busybox"},
                     {"description", absl::StrCat("busybox from the host (", *busybox, ")")},
                     // busybox's init halts on SIGUSR1 and reboots on SIGTERM.
                     {"lxc.signal.halt", "SIGUSR1"},
                     {"lxc.signal.reboot", "SIGTERM"}};
  if (::uname(&uts) == 0) params.metadata["architecture"] = uts.machine;
  return Unpack(params, *tmp, writer->HexDigest(), writer->size(), progress);
}

absl::StatusOr<std::vector<ImageView>> ImageManager::List() {
  auto records = images_->List();
  if (!records.ok()) return records.status();
  std::vector<ImageView> views;
  for (auto& record : *records) {
    auto view = ViewOf(std::move(record));
    if (!view.ok()) return view.status();
    views.push_back(*std::move(view));
  }
  return views;
}

absl::StatusOr<ImageView> ImageManager::Get(const std::string& ref) {
  auto fingerprint = Resolve(ref);
  if (!fingerprint.ok()) return fingerprint.status();
  auto record = images_->Get(*fingerprint);
  if (!record.ok()) return record.status();
  return ViewOf(*std::move(record));
}

absl::Status ImageManager::Delete(const std::string& ref) {
  absl::MutexLock lock(&lease_mu_);
  auto view = Get(ref);
  if (!view.ok()) return view.status();
  const std::string& fingerprint = view->record.fingerprint;
  if (!view->used_by.empty()) {
    std::vector<std::string> quoted;
    for (const std::string& name : view->used_by) quoted.push_back(Q(name));
    return absl::FailedPreconditionError(
        absl::StrCat("image ", Short(fingerprint), " is used by container",
                     quoted.size() == 1 ? " " : "s ", absl::StrJoin(quoted, ", "),
                     "; delete ", quoted.size() == 1 ? "it" : "them", " first"));
  }
  if (auto s = images_->Delete(fingerprint); !s.ok()) return s;
  // Out of sight at once, then removed; what a crash leaves is removed by Init.
  const std::string doomed = absl::StrCat(image_dir_, "/", kTempPrefix, "delete-", fingerprint);
  const std::string path = ImagePath(fingerprint);
  RemoveAll(::rename(path.c_str(), doomed.c_str()) == 0 ? doomed : path);
  Log()->info("Deleted image {}", fingerprint);
  return absl::OkStatus();
}

absl::StatusOr<ImageView> ImageManager::AddAlias(const std::string& ref, const std::string& alias) {
  if (auto s = ValidateImageAlias(alias); !s.ok()) return s;
  auto fingerprint = Resolve(ref);
  if (!fingerprint.ok()) return fingerprint.status();
  if (auto s = images_->AddAlias(*fingerprint, alias); !s.ok()) {
    if (absl::IsAlreadyExists(s)) {
      auto other = images_->ResolveAlias(alias);
      return absl::AlreadyExistsError(absl::StrCat(
          "image alias ", Q(alias), " names image ", other.ok() ? Short(*other) : "?",
          " already; remove it first or pick another"));
    }
    return s;
  }
  return Get(*fingerprint);
}

absl::StatusOr<ImageView> ImageManager::RemoveAlias(const std::string& alias) {
  auto fingerprint = images_->ResolveAlias(alias);
  if (!fingerprint.ok()) return fingerprint.status();
  if (auto s = images_->RemoveAlias(alias); !s.ok()) return s;
  return Get(*fingerprint);
}

absl::Status ImageManager::Export(const std::string& ref,
                                  const std::function<absl::Status(const ImageView&)>& info,
                                  const archive::ChunkSink& sink) {
  FileFd fd;
  ImageView view;
  {
    // Opened under the lease: a deletion that comes later cannot take the file away.
    absl::ReaderMutexLock lock(&lease_mu_);
    auto got = Get(ref);
    if (!got.ok()) return got.status();
    view = *std::move(got);
    auto opened = OpenFile(ImagePath(view.record.fingerprint) + "/image");
    if (!opened.ok()) return opened.status();
    fd = *std::move(opened);
  }
  if (auto s = info(view); !s.ok()) return s;
  const ImageProgressFn none;
  auto source = FileSource(fd.get(), view.record.file_size, "export", none);
  for (;;) {
    auto chunk = source();
    if (!chunk.ok()) return chunk.status();
    if (chunk->empty()) return absl::OkStatus();
    if (auto s = sink(*std::move(chunk)); !s.ok()) return s;
  }
}

absl::Status ImageManager::WithImage(const std::string& ref,
                                     absl::FunctionRef<absl::Status(const ImageLease&)> create) {
  absl::ReaderMutexLock lock(&lease_mu_);
  auto fingerprint = Resolve(ref);
  if (!fingerprint.ok()) return fingerprint.status();
  auto record = images_->Get(*fingerprint);
  if (!record.ok()) return record.status();
  ImageLease lease;
  lease.fingerprint = *fingerprint;
  lease.rootfs = ImagePath(*fingerprint) + "/rootfs";
  for (const auto& [key, value] : record->metadata) {
    if (absl::StartsWith(key, "lxc.")) lease.lxc_entries.emplace_back(key, value);
  }
  return create(lease);
}

}  // namespace berth::core
