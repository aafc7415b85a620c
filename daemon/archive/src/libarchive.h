#pragma once

// libarchive, loaded on first use instead of at every process start.
//
// The CLI is one process per command and only `file push -r`/`pull -r` use libarchive, whose
// shared library brings eleven more (libxml2, libicu, nettle, the compressors): mapping and
// relocating them cost every berth command about 1 ms before main. So nothing links it;
// tree.cc calls it through this table, filled by dlopen/dlsym the first time a tree is written or
// extracted. (Its static archive is no way out: its format tables pull in all of those libraries.)

#include <archive.h>
#include <archive_entry.h>

#include "absl/status/status.h"

namespace berth::archive {

// Every libarchive function tree.cc calls.
#define BERTH_LIBARCHIVE_FUNCTIONS(X)  \
  X(archive_entry_atime)               \
  X(archive_entry_atime_is_set)        \
  X(archive_entry_atime_nsec)          \
  X(archive_entry_filetype)            \
  X(archive_entry_free)                \
  X(archive_entry_gid)                 \
  X(archive_entry_hardlink)            \
  X(archive_entry_mtime)               \
  X(archive_entry_mtime_is_set)        \
  X(archive_entry_mtime_nsec)          \
  X(archive_entry_new2)                \
  X(archive_entry_pathname)            \
  X(archive_entry_perm)                \
  X(archive_entry_set_filetype)        \
  X(archive_entry_set_gid)             \
  X(archive_entry_set_hardlink)        \
  X(archive_entry_set_mtime)           \
  X(archive_entry_set_pathname)        \
  X(archive_entry_set_perm)            \
  X(archive_entry_set_size)            \
  X(archive_entry_set_symlink)         \
  X(archive_entry_set_uid)             \
  X(archive_entry_size)                \
  X(archive_entry_size_is_set)         \
  X(archive_entry_symlink)             \
  X(archive_entry_uid)                 \
  X(archive_error_string)              \
  X(archive_read_data_block)           \
  X(archive_read_data_skip)            \
  X(archive_read_free)                 \
  X(archive_read_new)                  \
  X(archive_read_next_header)          \
  X(archive_read_open)                 \
  X(archive_read_support_filter_bzip2) \
  X(archive_read_support_filter_gzip)  \
  X(archive_read_support_filter_xz)    \
  X(archive_read_support_filter_zstd)  \
  X(archive_read_support_format_tar)   \
  X(archive_set_error)                 \
  X(archive_write_close)               \
  X(archive_write_data)                \
  X(archive_write_fail)                \
  X(archive_write_free)                \
  X(archive_write_header)              \
  X(archive_write_new)                 \
  X(archive_write_open)                \
  X(archive_write_set_bytes_per_block) \
  X(archive_write_set_format_pax)      \
  X(archive_write_set_options)

// The functions, each under its own name and with its own type (decltype of the declaration in
// archive.h: the compiler checks every call as if it were direct).
struct Libarchive {
#define BERTH_LIBARCHIVE_MEMBER(name) decltype(&::name) name = nullptr;
  BERTH_LIBARCHIVE_FUNCTIONS(BERTH_LIBARCHIVE_MEMBER)
#undef BERTH_LIBARCHIVE_MEMBER
};

// Loads the library once per process (thread-safe); later calls return the first outcome.
// FAILED_PRECONDITION naming the library and the package to install when it cannot be loaded.
absl::Status LoadLibarchive();

// The loaded table. Only after LoadLibarchive() returned OK.
const Libarchive& Lib();

}  // namespace berth::archive
