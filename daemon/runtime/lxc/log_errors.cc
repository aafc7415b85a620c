#include "lxc/log_errors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <deque>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lxc/fs_util.h"
#include "lxc/string_views.h"

namespace berth::runtime::lxc {
namespace {

constexpr off_t kMaxLogBytesRead = 1 << 20;
constexpr std::array<absl::string_view, 4> kErrorLevels = {"ERROR", "CRIT", "ALERT", "FATAL"};

// liblxc's log lines look like
//   "<prefix> <name> <timestamp> <LEVEL>    <category> - <file>:<func>:<line> - <message>"
// and, on stderr, "<prefix>: <name>: <file>: <func>: <line> <message>" (no level; not ours).
// Returns the position of the level word, or npos.
size_t FindErrorLevel(absl::string_view line) {
  std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
  // The level is the first field that is one of the level words, within the first five fields
  // (the prefix is one word in our logs, but be lenient).
  for (size_t i = 0; i < fields.size() && i < 5; ++i) {
    for (absl::string_view level : kErrorLevels) {
      if (fields[i] == level) return static_cast<size_t>(fields[i].data() - line.data());
    }
  }
  return absl::string_view::npos;
}

std::string CollapseSpaces(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool last_space = false;
  for (char c : s) {
    const bool space = c == ' ' || c == '\t';
    if (space && last_space) continue;
    out.push_back(space ? ' ' : c);
    last_space = space;
  }
  return out;
}

}  // namespace

std::vector<std::string> ExtractErrorLines(std::string_view log_text) {
  std::deque<std::string> kept;
  for (absl::string_view line : absl::StrSplit(ToAbsl(log_text), '\n')) {
    line = absl::StripAsciiWhitespace(line);
    const size_t level = FindErrorLevel(line);
    if (level == absl::string_view::npos) continue;
    std::string text = CollapseSpaces(line.substr(level));
    if (text.size() > kMaxErrorLineBytes) text.resize(kMaxErrorLineBytes);
    kept.push_back(std::move(text));
    if (kept.size() > kMaxErrorLines) kept.pop_front();
  }
  return {kept.begin(), kept.end()};
}

off_t LogOffset(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_size;
}

std::vector<std::string> ErrorLinesSince(const std::string& path, off_t offset) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return {};
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return {};
  // A log that shrank (truncated or replaced) since the offset was taken: read it from the start.
  if (offset > st.st_size) offset = 0;
  if (st.st_size - offset > kMaxLogBytesRead) offset = st.st_size - kMaxLogBytesRead;
  std::string text(static_cast<size_t>(st.st_size - offset), '\0');
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::pread(fd.get(), text.data() + done, text.size() - done,
                              offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  text.resize(done);
  return ExtractErrorLines(text);
}

std::string JoinErrorLines(const std::vector<std::string>& lines, std::string_view if_none) {
  if (lines.empty()) return std::string(if_none);
  return absl::StrJoin(lines, "; ");
}

}  // namespace berth::runtime::lxc
