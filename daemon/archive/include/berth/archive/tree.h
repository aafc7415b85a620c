#pragma once

// Directory trees as tar streams (POSIX pax, uncompressed), for `berth file push -r / pull -r`.
//
// One library for both ends, because both ends extract streams they did not make: berthd
// extracts what a client pushes into a container, the CLI extracts what berthd pulls out of one
// (whose names a container process chose). The same rules apply on both sides:
//
// - Everything is created relative to the destination directory's fd with *at calls and openat2
//   (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS): an entry is refused when its
//   name is absolute or has a ".." component, when it would be created through a symbolic link
//   (one from the stream or one already there, or one swapped in mid-transfer), or when it is a
//   hard link to a name that is not in the tree.
// - Only regular files, directories, symbolic links and hard links are created; a device node,
//   FIFO or socket entry is refused. Reading a tree skips those (and reports them).
// - Regular files are written to a temporary name in their directory and renamed over the target,
//   so each file appears whole or not at all; the tree as a whole is not atomic: a failure names
//   how many entries were already written.
// - Mode bits, uid/gid (when asked) and mtimes are set on the fd or with AT_SYMLINK_NOFOLLOW,
//   never by following a name; directories get theirs after their contents are written.
//
// Memory is bounded per transfer: data moves in chunks of at most kTreeChunkBytes, one file and
// one directory level open at a time, plus one list entry per directory (for its final metadata)
// and per multiply-linked file (to find its other names).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::archive {

inline constexpr size_t kTreeChunkBytes = 1024 * 1024;
// How many skipped names a WriteTree result lists (the count is exact).
inline constexpr size_t kMaxSkippedNames = 20;

// The next chunk of the stream; an empty string at its end. An error status ends the extraction
// with that status.
using ChunkSource = std::function<absl::StatusOr<std::string>()>;
// Takes the next chunk (at most kTreeChunkBytes); an error status ends the walk with that status.
using ChunkSink = std::function<absl::Status(std::string chunk)>;

struct ExtractOptions {
  // chown entries to the uid/gid in the stream. Off, they belong to the caller (an unprivileged
  // CLI user pulling a tree).
  bool preserve_owner = true;
  // Also accept streams compressed with gzip, xz, zstd or bzip2 (image files). Off: plain tar
  // only. Either way only tar formats are read.
  bool decompress = false;
  // Refuse the stream (INVALID_ARGUMENT) once its regular files hold more than this many bytes,
  // so a decompression bomb stops at the cap; 0: no cap.
  uint64_t max_bytes = 0;
};

struct TreeStats {
  uint64_t entries = 0;                    // entries written (extract) or read (walk)
  uint64_t bytes = 0;                      // bytes of regular file data
  uint64_t skipped = 0;                    // walk: device nodes, FIFOs and sockets left out
  std::vector<std::string> skipped_names;  // the first kMaxSkippedNames of them
};

// Extracts the tar stream from `source` into the directory `dest` (an fd, O_PATH is enough); the
// stream's "." entry, if any, gives `dest` its own metadata. Existing files and symlinks are
// replaced; existing directories are merged into.
// INVALID_ARGUMENT: a refused entry (named) or a malformed stream; FAILED_PRECONDITION: an
// existing non-directory where a directory is needed, or a directory where a file goes;
// INTERNAL: an I/O error; or the source's status. Every error but the source's says how many
// entries were already written.
absl::Status ExtractTree(int dest, const ChunkSource& source, const ExtractOptions& options,
                         TreeStats* stats);

// Reads the whole stream from `source` without writing anything and returns the bytes its
// regular files would take once extracted, so a caller can check free space first. Refuses what
// ExtractTree would refuse by name alone (absolute names, ".." components, device nodes, FIFOs,
// sockets) and a total above options.max_bytes, with INVALID_ARGUMENT; a malformed or truncated
// stream is INVALID_ARGUMENT too.
absl::StatusOr<uint64_t> MeasureTree(const ChunkSource& source, const ExtractOptions& options);

// Writes the tree under directory `dir` (an fd opened O_RDONLY | O_DIRECTORY) to `sink` as a tar
// stream: "." first, then every entry by its path relative to `dir`. Symbolic links are written
// as links, never followed; a name that changes type while it is read is skipped if it became a
// special file, and its current state is written otherwise. INTERNAL (I/O), INVALID_ARGUMENT (a
// tree deeper than kMaxTreeDepth), or the sink's status.
inline constexpr int kMaxTreeDepth = 256;
absl::Status WriteTree(int dir, const ChunkSink& sink, TreeStats* stats);

}  // namespace berth::archive
