#include "libarchive.h"

#include <dlfcn.h>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace berth::archive {
namespace {

// The soname of Debian 12's libarchive13 (the ABI archive.h describes).
constexpr char kSoname[] = "libarchive.so.13";

absl::StatusOr<Libarchive> Load() {
  // RTLD_LOCAL: its symbols stay out of the global scope. Never closed: the table lives as long
  // as the process.
  void* handle = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = ::dlerror();
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load ", kSoname, " (", error == nullptr ? "unknown error" : error,
                     ") to copy a directory tree; install the libarchive13 package"));
  }
  Libarchive lib;
  const char* missing = nullptr;
#define BERTH_LIBARCHIVE_RESOLVE(name)                                    \
  lib.name = reinterpret_cast<decltype(&::name)>(::dlsym(handle, #name)); \
  if (lib.name == nullptr && missing == nullptr) missing = #name;
  BERTH_LIBARCHIVE_FUNCTIONS(BERTH_LIBARCHIVE_RESOLVE)
#undef BERTH_LIBARCHIVE_RESOLVE
  if (missing != nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        kSoname, " has no function ", missing, "; install Debian 12's libarchive13 package"));
  }
  return lib;
}

const absl::StatusOr<Libarchive>& Loaded() {
  static const absl::StatusOr<Libarchive>* const loaded = new absl::StatusOr<Libarchive>(Load());
  return *loaded;
}

}  // namespace

absl::Status LoadLibarchive() { return Loaded().status(); }

const Libarchive& Lib() { return *Loaded(); }

}  // namespace berth::archive
