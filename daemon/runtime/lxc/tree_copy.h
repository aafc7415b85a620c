#pragma once

// Copies of a container's files (its rootfs, or the upper "delta" layer of an overlay rootfs)
// for snapshots and copies. Done by the daemon itself, without liblxc (whose copy forks) and
// without following a single symbolic link: every entry is reached from its parent directory's
// fd with *at calls and O_NOFOLLOW, so a container that plants a link in its own rootfs cannot
// make berth read or write outside the tree.

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::runtime::lxc {

struct TreeUsage {
  uint64_t bytes = 0;  // allocated bytes (st_blocks * 512) of regular files, the most a copy needs
  uint64_t entries = 0;  // every name, directories included
};

// What a tree under `path` would take to copy. Does not cross into other mounts. INTERNAL when
// it cannot be read.
absl::StatusOr<TreeUsage> MeasureTree(const std::string& path);

// FAILED_PRECONDITION ("not enough free space ...") unless the filesystem holding `dir` has
// `needed` bytes free for root, plus a margin of 1% of it or 16 MiB, whichever is less.
absl::Status CheckFreeSpace(const std::string& dir, uint64_t needed);

// Copies the tree at `from` to `to` (which must not exist; its parent must), keeping types,
// permission bits, owners, times, hard links within the tree and extended attributes (overlay
// layers carry whiteouts as 0/0 character devices and opaque directories as trusted.overlay.*
// xattrs; both are copied). Regular file data is shared with FICLONE where the filesystem can
// (btrfs, XFS: copy on write, so the cost does not depend on the data) and copied in the kernel
// with copy_file_range otherwise. Does not cross into other mounts (a mount point is copied as
// an empty directory). On failure removes what it created and returns INTERNAL naming the entry
// (ENOSPC says "no space left").
absl::Status CopyTree(const std::string& from, const std::string& to);

}  // namespace berth::runtime::lxc
