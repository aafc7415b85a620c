#pragma once

// Picks the lines a user needs out of an LXC log: those at level ERROR or worse.

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace berth::runtime::lxc {

// The most error lines kept (the last ones), and the most bytes kept of each.
inline constexpr size_t kMaxErrorLines = 20;
inline constexpr size_t kMaxErrorLineBytes = 512;

// The ERROR/CRIT/ALERT/FATAL lines of LXC log text, each starting at its level word (the prefix,
// container name and timestamp before it are dropped), runs of spaces collapsed. At most the last
// kMaxErrorLines, each cut to kMaxErrorLineBytes.
std::vector<std::string> ExtractErrorLines(std::string_view log_text);

// The size of the file at `path`, or 0 when it does not exist: the offset to pass to
// ErrorLinesSince after an operation.
off_t LogOffset(const std::string& path);

// ExtractErrorLines of what the file at `path` holds from `offset` on (at most its last 1 MiB).
// Empty when the file is missing or unreadable.
std::vector<std::string> ErrorLinesSince(const std::string& path, off_t offset);

// "; "-joined lines, or `if_none` when there are none.
std::string JoinErrorLines(const std::vector<std::string>& lines, std::string_view if_none);

}  // namespace berth::runtime::lxc
